"""Everything a ``SegmentWidget`` computes for a new photo, done ahead of time (any thread).

:func:`prepare` decodes and validates the photo, builds the coarse pyramid level of the fast
path, the display viewport and the encoded display photo, and hashes the file. It touches no
widget, so the Annotator runs it in its prefetch thread and ``SegmentWidget.set_image`` then
only swaps references and sends the ready bytes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from . import render
from ._validation import as_image
from .geometry import Viewport
from .multiscale import Multiscale
from .session import file_sha256, pixels_sha256


@dataclass
class PreparedImage:
    """A photo made ready for :meth:`ipyseg.SegmentWidget.set_image`.

    Attributes
    ----------
    image : (H, W, 3|4) ndarray of uint8
        The validated photo (read-only).
    path : Path or None
        The file it was read from.
    multiscale : ipyseg.multiscale.Multiscale
        The fast path's pyramid, final level built.
    viewport : ipyseg.geometry.Viewport
        Whole-image view for ``max_display_pixels``.
    photo : bytes
        PNG of the display-resolution photo (lossless).
    preview : bytes
        The same as JPEG (quality 92, about a tenth of the bytes): shown first, then replaced
        by ``photo`` in the next message, so that the new photo appears sooner.
    file_sha256, pixels_sha256 : str or None
        Hashes recorded in saved sessions.
    max_display_pixels : int
    """

    image: np.ndarray
    path: Path | None
    multiscale: Multiscale
    viewport: Viewport
    photo: bytes
    preview: bytes
    file_sha256: str | None
    pixels_sha256: str
    max_display_pixels: int


def display_photo(image: np.ndarray, vp: Viewport) -> np.ndarray:
    """The whole photo at the viewport's canvas size (area-averaged when shrunk)."""
    if vp.scale >= 1.0:
        rows, cols = vp.canvas_pixel_sources()
        return render.sample_nearest(image, rows, cols)
    return cv2.resize(image, (vp.canvas_width, vp.canvas_height), interpolation=cv2.INTER_AREA)


def prepare(image, max_display_pixels: int, name: str = "image") -> PreparedImage:
    """Decode, validate and pre-compute a photo for a widget (thread-safe, no widgets)."""
    path = Path(os.fspath(image)).resolve() if isinstance(image, (str, os.PathLike)) else None
    img = as_image(image, name)
    img.flags.writeable = False
    fast = Multiscale(img)
    fast.level(fast.final_factor)
    vp = Viewport(img.shape, int(max_display_pixels))
    shown = display_photo(img, vp)
    photo = render.encode_png(shown)
    preview = render.encode_jpeg(shown, 92)
    return PreparedImage(
        image=img,
        path=path,
        multiscale=fast,
        viewport=vp,
        photo=photo,
        preview=preview,
        file_sha256=file_sha256(path) if path is not None else None,
        pixels_sha256=pixels_sha256(img),
        max_display_pixels=int(max_display_pixels),
    )

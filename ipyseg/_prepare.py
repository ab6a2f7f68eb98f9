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

import numpy as np

from . import display, render
from .display import Picture, as_picture
from .geometry import Viewport
from .multiscale import Multiscale
from .session import file_sha256, pixels_sha256


@dataclass
class PreparedImage:
    """A photo made ready for :meth:`ipyseg.SegmentWidget.set_image`.

    Attributes
    ----------
    picture : ipyseg.display.Picture
        The image's data at full precision and how it is shown (default display settings).
    image : (H, W, 3|4) ndarray of uint8
        The photo as shown (read-only).
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

    picture: Picture
    image: np.ndarray
    path: Path | None
    multiscale: Multiscale
    viewport: Viewport
    photo: bytes
    preview: bytes
    file_sha256: str | None
    pixels_sha256: str
    max_display_pixels: int


def prepare(image, max_display_pixels: int, name: str = "image") -> PreparedImage:
    """Decode, validate and pre-compute a photo for a widget (thread-safe, no widgets)."""
    path = Path(os.fspath(image)).resolve() if isinstance(image, (str, os.PathLike)) else None
    pic = as_picture(image, name=name)
    img = pic.image()
    fast = Multiscale(pic.segmentation_image())
    fast.level(fast.final_factor)
    vp = Viewport(img.shape, int(max_display_pixels))
    shown = pic.render(display.sample_view(pic.data3, vp))  # as the widget draws it (_drawing.py)
    photo = render.encode_png(shown)
    preview = render.encode_jpeg(shown, 92)
    return PreparedImage(
        picture=pic,
        image=img,
        path=path,
        multiscale=fast,
        viewport=vp,
        photo=photo,
        preview=preview,
        file_sha256=file_sha256(path) if path is not None else None,
        pixels_sha256=pixels_sha256(pic.data),
        max_display_pixels=int(max_display_pixels),
    )

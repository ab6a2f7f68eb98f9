"""Everything a ``SegmentWidget`` computes for a new photo, done ahead of time (any thread).

:func:`prepare` decodes and validates the photo, builds the coarse pyramid level of the fast
path, the display viewport and the encoded display photo, and hashes the file. It touches no
widget, so the Annotator runs it in its prefetch thread and ``SegmentWidget.set_image`` then
only swaps references and sends the ready bytes. :func:`prepare_segmenter` runs a method's own
per-photo work (``prepare``, e.g. Segment-Anything's image encoder) on the image exactly as the
widget's segmentation will pass it, so that the widget later finds it done (cached).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ipyseg import segmenters
from ipyseg.display import DISPLAY_SETTINGS, Mapping, Picture, as_picture, sample_view
from ipyseg.geometry import Viewport
from ipyseg.io import TiffPlane
from ipyseg.segmentation.multiscale import Multiscale
from ipyseg.session import file_sha256, pixels_sha256
from ipyseg.ui import render

__all__ = ["DISPLAY_SETTINGS", "PreparedImage", "prepare", "prepare_segmenter"]


@dataclass
class PreparedImage:
    """A photo made ready for :meth:`ipyseg.SegmentWidget.set_image`.

    Attributes
    ----------
    picture : ipyseg.display.Picture
        The image's data at full precision and how it is shown.
    image : (H, W, 3|4) ndarray of uint8
        The photo as shown (read-only).
    path : Path or None
        The file it was read from (for a plane of a TIFF stack: the stack's file).
    multiscale : ipyseg.segmentation.multiscale.Multiscale
        The fast path's pyramid, final level built.
    viewport : ipyseg.geometry.Viewport
        Whole-image view for ``max_display_pixels``.
    photo : bytes
        PNG of the display-resolution photo (lossless).
    preview : bytes
        The same as JPEG (quality 92, about a tenth of the bytes): shown first, then replaced
        by ``photo`` in the next message, so that the new photo appears sooner.
    file_sha256, pixels_sha256 : str or None
        Hashes recorded in saved sessions (``pixels_sha256``: of the data, whatever the display
        settings; ``file_sha256``: of the whole file, not computed for a plane of a stack).
    max_display_pixels : int
    mapping : ipyseg.display.Mapping
        The display mapping ``photo`` and ``preview`` were rendered with (``picture``'s mapping
        may change later; ``set_image`` then redraws instead of sending stale bytes).
    plane : int or None
        The plane number of a TIFF stack (see :class:`ipyseg.io.TiffPlane`).
    prepared_for : tuple or None
        ``(method, params)`` whose ``prepare`` ran on this photo (:func:`prepare_segmenter`).
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
    mapping: Mapping | None = None
    plane: int | None = None
    prepared_for: tuple | None = None

    @property
    def photo_current(self) -> bool:
        """Whether ``photo`` shows ``picture`` with its current mapping."""
        return self.mapping is None or self.mapping == self.picture.mapping


def check_display(display) -> dict:
    """Display settings as keyword arguments of :func:`ipyseg.display.as_picture`."""
    if display is None:
        return {}
    if not isinstance(display, dict):
        raise TypeError(f"`display` must be a dict of display settings; got {type(display).__name__}")
    unknown = sorted(set(display) - set(DISPLAY_SETTINGS))
    if unknown:
        raise TypeError(f"unknown display setting(s) {unknown}; accepted: {list(DISPLAY_SETTINGS)}")
    return {k: v for k, v in display.items() if k != "gamma" or v is not None}


def prepare(
    image,
    max_display_pixels: int,
    name: str = "image",
    *,
    method: str | None = None,
    params: dict | None = None,
    display: dict | None = None,
) -> PreparedImage:
    """Decode, validate and pre-compute a photo for a widget (thread-safe, no widgets).

    Parameters
    ----------
    image : array_like, PIL image, path or ipyseg.io.TiffPlane
    max_display_pixels : int
    name : str
        Argument name used in error messages.
    method : str, optional
        Also run this method's ``prepare`` (see :func:`prepare_segmenter`); ``None``: do not. If
        it fails, ``prepared_for`` stays ``None``: the widget runs it again when it shows the
        photo, and reports the error then.
    params : dict, optional
        ``method``'s parameters.
    display : dict, optional
        Display settings (``channel_axis``, ``rgb``, ``channels``, ``channel_colors``,
        ``display_range``, ``gamma``), as ``SegmentWidget`` takes them.

    Returns
    -------
    PreparedImage
    """
    plane = image.index if isinstance(image, TiffPlane) else None
    if isinstance(image, TiffPlane):
        path = image.path.resolve()
    elif isinstance(image, (str, os.PathLike)):
        path = Path(os.fspath(image)).resolve()
    else:
        path = None
    pic = as_picture(image, name=name, **check_display(display))
    img = pic.image()
    fast = Multiscale(pic.segmentation_image())
    fast.level(fast.final_factor)
    vp, mapping, photo, preview = _photos(pic, img.shape, max_display_pixels)
    prepared = PreparedImage(
        picture=pic,
        image=img,
        path=path,
        multiscale=fast,
        viewport=vp,
        photo=photo,
        preview=preview,
        file_sha256=file_sha256(path) if path is not None and plane is None else None,
        pixels_sha256=pixels_sha256(pic.data),
        max_display_pixels=int(max_display_pixels),
        mapping=mapping,
        plane=plane,
    )
    if method is not None:
        try:
            prepare_segmenter(prepared, method, params)
        except Exception:  # noqa: BLE001 - the widget prepares the photo again itself and reports it
            prepared.prepared_for = None
    return prepared


def _photos(pic: Picture, shape: tuple, max_display_pixels: int):
    """Whole-image viewport, the mapping used, and the display photo as PNG and JPEG."""
    vp = Viewport(shape, int(max_display_pixels))
    mapping = pic.mapping
    shown = pic.render(sample_view(pic.data3, vp), mapping)  # as the widget draws it (_drawing.py)
    return vp, mapping, render.encode_png(shown), render.encode_jpeg(shown, 92)


def resized_for(prepared: PreparedImage, max_display_pixels: int) -> PreparedImage:
    """``prepared`` for another ``max_display_pixels``: a new viewport and display photo, the rest shared."""
    vp, mapping, photo, preview = _photos(prepared.picture, prepared.image.shape, max_display_pixels)
    return dataclasses.replace(
        prepared,
        viewport=vp,
        photo=photo,
        preview=preview,
        mapping=mapping,
        max_display_pixels=int(max_display_pixels),
    )


def prepare_segmenter(prepared: PreparedImage, method: str | None, params: dict | None = None) -> bool:
    """Run ``method``'s ``prepare(image, **params)`` on the image its segmentation will receive.

    That image is the one ``SegmentWidget`` passes (``_compute``): the fast path's full-resolution
    image of what is shown, in the dtype the method was registered for. Methods without a
    ``prepare`` (the classical ones) cost nothing here. Errors propagate (the widget reports
    them when it prepares the photo itself).

    Returns
    -------
    bool
        Whether the method has a ``prepare`` (and it ran).
    """
    func = segmenters.get(method)
    run = getattr(func, "prepare", None)
    if run is None:
        return False
    params = dict(params or {})
    fast = prepared.multiscale
    fast.set_image(prepared.picture.segmentation_image())  # as _compute does: the mapping may have changed
    run(segmenters.adapt_image(func, fast.image), **params)
    prepared.prepared_for = (method, params)
    return True

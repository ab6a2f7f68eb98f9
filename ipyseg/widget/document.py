"""Everything ``SegmentWidget`` knows about the photo it shows, in one object.

A new photo is one assignment (``widget.document = ImageDocument(...)``): the seeds and their
undo history, the boxes, the loaded mask, the fast path's pyramid, the file's identity and the
caches derived from the picture all go with it, so no field can be left over from the last
photo. What stays across photos (method, params, tool, view settings) lives on the widget.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from ipyseg._constants import FOREGROUND
from ipyseg.display import Picture, as_picture
from ipyseg.io import TiffPlane
from ipyseg.seeds import SeedState, codes_present
from ipyseg.segmentation.livewire import LiveWire
from ipyseg.segmentation.multiscale import Multiscale
from ipyseg.session import file_sha256, pixels_sha256

if TYPE_CHECKING:
    from ipyseg.widget.prepare import PreparedImage


class ImageDocument:
    """One photo and its annotation state.

    Parameters
    ----------
    picture : ipyseg.display.Picture
        The image's data and how it is shown; ``picture.shape`` is (H, W, 3|4).
    multiscale : ipyseg.segmentation.multiscale.Multiscale, optional
        The fast path's pyramid of ``picture`` (built here when not given).
    path : Path, optional
        The file it was read from.
    plane : int, optional
        Its plane in a TIFF stack.
    file_sha256, pixels_sha256 : str, optional
        Hashes recorded in sessions (``pixels_sha256`` is computed on first use when not given).

    Attributes
    ----------
    seed_state : ipyseg.seeds.SeedState
        The (H, W) seeds, the boxes and their undo history.
    prior : (H, W) ndarray of uint16 or None
        A loaded mask (``0`` background, ``k`` object k), read-only.
    label_ids : list of int
        The objects present in the widget's labels.
    last_object_code : int
        The seed code of the object drawn last (the current object while erasing).
    """

    def __init__(
        self,
        picture: Picture,
        multiscale: Multiscale | None = None,
        *,
        path: Path | None = None,
        plane: int | None = None,
        file_sha256: str | None = None,
        pixels_sha256: str | None = None,
    ) -> None:
        self.picture = picture
        self.multiscale = Multiscale(picture.segmentation_image()) if multiscale is None else multiscale
        self.path = path
        self.plane = plane
        self._hashes = (file_sha256, pixels_sha256)
        self.seed_state = SeedState(picture.shape)
        self.prior: np.ndarray | None = None
        self.label_ids: list[int] = []
        self.last_object_code = FOREGROUND
        self._wand_image: np.ndarray | None = None
        self._livewire = None

    @classmethod
    def open(cls, image, **display) -> ImageDocument:
        """The document of a photo given as ``SegmentWidget`` accepts it.

        Parameters
        ----------
        image : array_like, PIL image, path or ipyseg.io.TiffPlane
            The photo (a path's file is hashed; a plane of a stack is hashed by its data).
        **display
            The display settings of :func:`ipyseg.display.as_picture` (``channel_axis`` ...
            ``gamma``).

        Returns
        -------
        ImageDocument
            With no seeds, boxes or labels yet.
        """
        picture = as_picture(image, **display)
        if isinstance(image, TiffPlane):
            return cls(picture, path=image.path.resolve(), plane=image.index)
        path = Path(os.fspath(image)).resolve() if isinstance(image, (str, os.PathLike)) else None
        return cls(picture, path=path, file_sha256=path and file_sha256(path))

    @classmethod
    def from_prepared(cls, prepared: PreparedImage) -> ImageDocument:
        """The document of a photo made ready by :func:`ipyseg.widget.prepare.prepare`."""
        return cls(
            prepared.picture,
            prepared.multiscale,
            path=prepared.path,
            plane=prepared.plane,
            file_sha256=prepared.file_sha256,
            pixels_sha256=prepared.pixels_sha256,
        )

    @property
    def shape(self) -> tuple[int, int]:
        """(H, W) of the photo."""
        return self.picture.shape[:2]

    def hashes(self) -> tuple[str | None, str]:
        """``(file_sha256, pixels_sha256)``: the file's (``None`` if there is none) and the data's."""
        if self._hashes[1] is None:  # the data as loaded, whatever the display settings
            self._hashes = (self._hashes[0], pixels_sha256(self.picture.data))
        return self._hashes

    def note_labels(self, labels: np.ndarray) -> None:
        """Record which objects a new (H, W) label image holds."""
        self.label_ids = [int(k) for k in codes_present(labels) if k > 0]

    def use_picture(self, picture: Picture) -> None:
        """Show the same photo with other display settings: caches of what is seen are dropped."""
        self.picture = picture
        self._wand_image = self._livewire = None
        if self.multiscale is not None and self.multiscale.shape == picture.shape[:2]:
            self.multiscale.set_image(picture.segmentation_image())

    def show_as(self, mapping) -> bool:
        """Show the photo with ``mapping`` (an :class:`ipyseg.display.Mapping`).

        Returns
        -------
        bool
            Whether what is segmented changed with it: then call :meth:`use_picture` (after
            the redraw, which the user waits for) so that the caches of what is seen follow.
        """
        before = self.picture.segmentation_key()
        self.picture.set_mapping(mapping)
        return self.picture.segmentation_key() != before

    def has_marks(self) -> bool:
        """Whether anything asks for a segmentation: object seeds, a box or a loaded mask."""
        state = self.seed_state
        return self.prior is not None or bool(state.boxes) or bool((state.array >= FOREGROUND).any())

    def wand(self, row: float, col: float, tolerance: float, connectivity: int):
        """The region around ``(row, col)`` within ``tolerance`` of its colour, as seen.

        Returns
        -------
        window : tuple of int or None
            ``(r0, r1, c0, c1)`` bounding the region (end exclusive); ``None`` outside the image.
        footprint : (r1 - r0, c1 - c0) ndarray of bool or None
        """
        h, w = self.shape
        r, c = int(round(row)), int(round(col))
        if not (0 <= r < h and 0 <= c < w):
            return None, None
        if self._wand_image is None:  # floodFill needs a writable image even in mask-only mode
            self._wand_image = np.array(self.picture.segmentation_image(), order="C")
        mask = np.zeros((h + 2, w + 2), np.uint8)
        scale = 1.0 if self._wand_image.dtype == np.uint8 else 1.0 / 255.0  # float images lie in [0, 1]
        tol = (tolerance * scale,) * 3
        flags = connectivity | cv2.FLOODFILL_MASK_ONLY | cv2.FLOODFILL_FIXED_RANGE | (1 << 8)
        _, _, _, (x, y, bw, bh) = cv2.floodFill(self._wand_image, mask, (c, r), (0, 0, 0), tol, tol, flags)
        return (y, y + bh, x, x + bw), mask[1 + y : 1 + y + bh, 1 + x : 1 + x + bw].astype(bool)

    def livewire(self):
        """The edge-snapping path finder of the photo as seen (built on first use)."""
        if self._livewire is None:
            self._livewire = LiveWire(self.picture.segmentation_image())
        return self._livewire

    def release(self) -> None:
        """Free the working memory (undo history, pyramid, caches); arrays on show stay readable."""
        self.multiscale = None
        self.picture.release()
        self.seed_state.forget_history()
        self._wand_image = self._livewire = None

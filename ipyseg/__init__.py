"""ipyseg: interactive image segmentation in Jupyter.

Public API: :class:`SegmentWidget`, :func:`segment`, :func:`methods`, :func:`register_method`,
the seed codes ``UNMARKED``, ``BACKGROUND``, ``FOREGROUND``, and :mod:`ipyseg.export`.
"""

from . import display, export, io
from ._constants import BACKGROUND, FOREGROUND, MAX_OBJECTS, UNMARKED
from ._segment import segment
from ._validation import sample_path
from .segmenters import available as methods
from .segmenters import register as _register
from .widget import SegmentationWarning, SegmentWidget

__version__ = "0.1.0"


def register_method(name: str, func, *, overwrite: bool = False, dtype: str = "uint8"):
    """Plug in a segmenter ``func(image, seeds, **params) -> labels``.

    ``image`` arrives as a validated (H, W, 3) uint8 RGB array (the image as shown) and
    ``seeds`` as (H, W) uint8 codes; return (H, W) integer labels (``0`` background, ``k``
    object k) or a bool mask. With ``dtype="float32"`` the image arrives as float32 in [0, 1]:
    the image as shown at full precision (a 16-bit image's display range applied without
    rounding to 8 bits); ``dtype="any"`` passes uint8 for images exact in 8 bits (8-bit photos
    with the default display) and float32 otherwise.
    """
    return _register(name, func, overwrite=overwrite, dtype=dtype)


def sample_image():
    """The bundled sample photo as an (H, W, 3) uint8 RGB array."""
    from ._validation import as_image

    return as_image(sample_path())


__all__ = [
    "BACKGROUND",
    "FOREGROUND",
    "MAX_OBJECTS",
    "UNMARKED",
    "SegmentWidget",
    "SegmentationWarning",
    "display",
    "export",
    "io",
    "methods",
    "register_method",
    "sample_image",
    "sample_path",
    "segment",
]

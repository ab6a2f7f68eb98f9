"""ipyseg: interactive image segmentation in Jupyter.

Public API: :class:`SegmentWidget`, :class:`Annotator`, :func:`segment`, :func:`methods`, :func:`register_method`,
the seed codes ``UNMARKED``, ``BACKGROUND``, ``FOREGROUND``, and :mod:`ipyseg.export`.
"""

from . import export, session, sources
from ._constants import BACKGROUND, FOREGROUND, MAX_OBJECTS, UNMARKED
from ._segment import segment
from ._validation import sample_path
from .annotator import Annotator  # noqa: E402  (after the widget it composes)
from .segmenters import available as methods
from .segmenters import register as _register
from .widget import SegmentationWarning, SegmentWidget

__version__ = "0.1.0"


def register_method(name: str, func, *, overwrite: bool = False):
    """Plug in a segmenter ``func(image, seeds, **params) -> labels``.

    ``image`` arrives as a validated (H, W, 3) uint8 RGB array and ``seeds`` as (H, W) uint8
    codes; return (H, W) integer labels (``0`` background, ``k`` object k) or a bool mask.
    """
    return _register(name, func, overwrite=overwrite)


def sample_image():
    """The bundled sample photo as an (H, W, 3) uint8 RGB array."""
    from ._validation import as_image

    return as_image(sample_path())


__all__ = [
    "Annotator",
    "BACKGROUND",
    "FOREGROUND",
    "MAX_OBJECTS",
    "UNMARKED",
    "SegmentWidget",
    "SegmentationWarning",
    "export",
    "methods",
    "register_method",
    "sample_image",
    "sample_path",
    "segment",
    "session",
    "sources",
]

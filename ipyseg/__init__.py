"""ipyseg: interactive image segmentation in Jupyter.

Public API: :class:`SegmentWidget`, :class:`Annotator`, :func:`segment`, :func:`methods`, :func:`register_method`,
:class:`Param`, the seed codes ``UNMARKED``, ``BACKGROUND``, ``FOREGROUND``, and :mod:`ipyseg.export`.
"""

from ipyseg import display, export, io, sam, session, sources
from ipyseg._constants import BACKGROUND, FOREGROUND, MAX_OBJECTS, UNMARKED
from ipyseg._validation import as_image, sample_path
from ipyseg.dataset import Annotator
from ipyseg.segmentation import propose, segment
from ipyseg.segmenters import Param
from ipyseg.segmenters import available as methods
from ipyseg.segmenters import register as _register
from ipyseg.widget import SegmentationWarning, SegmentWidget

__version__ = "0.1.0"


def register_method(name: str, func, *, params: dict | None = None, overwrite: bool = False, dtype: str = "uint8"):
    """Plug in a segmenter ``func(image, seeds, **params) -> labels``.

    ``image`` arrives as a validated (H, W, 3) uint8 RGB array (the image as shown) and
    ``seeds`` as (H, W) uint8 codes; return (H, W) integer labels (``0`` background, ``k``
    object k, ``k <= 254``) or a bool mask. Add a ``prior=None`` keyword to receive boxes and
    loaded masks.

    Parameters
    ----------
    name : str
        The method's name (``segment(..., method=name)``, ``w.method = name``).
    func : callable
    params : dict of str to Param or type, optional
        Declared type and range of ``func``'s parameters, e.g.
        ``{"radius": ipyseg.Param(float, 0, 50), "mode": ipyseg.Param(str, choices=("a", "b"))}``
        (a bare ``int``, ``float``, ``bool`` or ``str`` means any value of that kind). Values
        are then checked and converted wherever they are set; undeclared parameters are only
        checked by name. ``func``'s defaults must fit their declarations.
    overwrite : bool
        Replace a method already registered under ``name``.
    dtype : {"uint8", "float32", "any"}
        The image ``func`` wants: ``"uint8"`` (the 8-bit image as shown); ``"float32"`` (values
        in [0, 1], the image as shown at full precision: a 16-bit image's display range applied
        without rounding to 8 bits); ``"any"`` (uint8 for images exact in 8 bits, such as 8-bit
        photos with the default display, float32 otherwise).

    Returns
    -------
    callable
        ``func``.
    """
    return _register(name, func, params=params, overwrite=overwrite, dtype=dtype)


def sample_image():
    """The bundled sample photo as an (H, W, 3) uint8 RGB array."""
    return as_image(sample_path())


__all__ = [
    "Annotator",
    "BACKGROUND",
    "FOREGROUND",
    "MAX_OBJECTS",
    "Param",
    "UNMARKED",
    "SegmentWidget",
    "SegmentationWarning",
    "display",
    "export",
    "io",
    "methods",
    "propose",
    "register_method",
    "sam",
    "sample_image",
    "sample_path",
    "segment",
    "session",
    "sources",
]

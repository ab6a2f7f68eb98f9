"""Segmenter registry.

A segmenter is a function ``func(image, seeds, *, prior=None, **params) -> labels`` where
``image`` is a validated (H, W, 3) RGB array (uint8 by default; float32 in [0, 1] at full
precision for segmenters registered with ``dtype="float32"``, either for ``dtype="any"``; see
:func:`adapt_image`), ``seeds`` a validated (H, W) uint16 seed array
(``0`` unmarked, ``1`` background, ``k + 1`` object k), ``prior`` an optional (H, W) uint16 label
image (a loaded mask or a box) that unmarked pixels should lean towards, and ``labels`` an (H, W)
integer array (``0`` background, ``k`` object k). Segmenters are pure: no widgets, no globals.

Optional seams, any segmenter (function or callable object) may use them:

* keyword inputs besides ``prior``, detected from the signature (:func:`accepts`):
  ``boxes`` receives the box tool's rectangles ``{seed code: (r0, r1, c0, c1)}`` (end
  exclusive) as they are; a segmenter without it gets them as a prior plus background seeds
  outside the boxes (GrabCut's rectangle). ``cache`` receives an
  :class:`~ipyseg.segmenters.local.ObjectScores` the caller keeps for one photo (the
  one-vs-rest methods reuse the score crops of the objects an edit did not touch).
* ``func.local``: set by :func:`~ipyseg.segmenters.common.one_vs_rest`; ``True`` when each object
  is solved in its own window, ``False`` for methods that need the whole image (``grabcut``).
* ``func.prepare(image, **params)``: expensive per-photo work (an image encoder, say). The widget
  calls it in its background thread as soon as the photo or method is set, with the busy state
  shown; ``func`` itself must still work when ``prepare`` was not called.
* ``func.full_resolution = True``: the widget's coarse-to-fine fast path (``multiscale.py``)
  calls ``func`` on the full-resolution photo instead of a block-averaged copy.
* a keyword-only parameter without a default (``sam``'s ``model``) is required: such methods are
  left out of :func:`available` unless ``include_all`` (they cannot run on defaults).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping

import cv2
import numpy as np

from ipyseg._util.arrays import ArrayMemo, immutable
from ipyseg.segmenters.params import Param, as_param

_REGISTRY: dict[str, Callable] = {}
_SPECS: dict[str, dict[str, Param]] = {}  # name -> declared parameters (empty: names checked only)
_DTYPES: dict[Callable, str] = {}  # func -> the image dtype it wants (default "uint8")
DEFAULT_METHOD = "click_graphcut"
DTYPES = ("uint8", "float32", "any")
#: Inputs a segmenter receives from the caller, not from ``params``.
INPUTS = ("image", "seeds", "prior", "boxes", "cache")
_RESERVED = INPUTS


def register(
    name: str,
    func: Callable | None = None,
    *,
    params: Mapping | None = None,
    overwrite: bool = False,
    dtype: str = "uint8",
):
    """Register ``func`` under ``name``; usable as a decorator ``@register("name", params=...)``.

    Parameters
    ----------
    name : str
        Method name.
    func : callable
        ``func(image, seeds, *, prior=None, **params) -> labels``.
    params : mapping of str to Param or type, optional
        Declared type and range of some or all of ``func``'s parameters (a bare ``int``,
        ``float``, ``bool`` or ``str`` means any value of that kind). Declared parameters are
        checked and converted by :func:`check_params`; undeclared ones only by name.
    overwrite : bool
        Replace a method already registered under ``name``.
    dtype : {"uint8", "float32", "any"}
        The image the segmenter wants: ``"uint8"`` (the 8-bit image as shown), ``"float32"``
        (the image as shown at full precision, values in [0, 1]) or ``"any"`` (uint8 when the
        image is exact in 8 bits, such as an 8-bit photo with the default display, float32
        otherwise).
    """
    if dtype not in DTYPES:
        raise ValueError(f"`dtype` must be one of {list(DTYPES)}; got {dtype!r}")

    def deco(f):
        if not isinstance(name, str) or not name:
            raise TypeError(f"`name` must be a non-empty string; got {name!r}")
        if not callable(f):
            raise TypeError(f"`func` must be callable; got {type(f).__name__}")
        if not isinstance(overwrite, bool):
            raise TypeError(f"`overwrite` must be True or False; got {overwrite!r}")
        spec = _declared(f, params)
        if name in _REGISTRY and not overwrite and _REGISTRY[name] is not f:
            raise ValueError(f"`name`: a method called {name!r} is already registered (pass overwrite=True)")
        _REGISTRY[name] = f
        _SPECS[name] = spec
        _DTYPES[f] = dtype
        return f

    return deco if func is None else deco(func)


def _declared(func: Callable, params) -> dict[str, Param]:
    """Check a ``params`` declaration against ``func``'s signature and defaults."""
    if params is None:
        return {}
    if not isinstance(params, Mapping):
        raise TypeError(f"`params` must be a dict of parameter name -> ipyseg.Param; got {type(params).__name__}")
    sig = _signature(func)
    accepted, var_kw = _accepted(sig)
    spec = {}
    for pname, decl in params.items():
        if not isinstance(pname, str) or pname in _RESERVED:
            raise ValueError(f"`params` keys must be parameter names other than {list(_RESERVED)}; got {pname!r}")
        if not var_kw and pname not in accepted:
            raise ValueError(f"`params` declares {pname!r}, which `func` does not accept; accepted: {accepted}")
        spec[pname] = as_param(decl, pname)
        default = sig.parameters[pname].default if sig is not None and pname in sig.parameters else None
        if default is not None and default is not inspect.Parameter.empty:
            try:
                spec[pname].check(default, pname)
            except (TypeError, ValueError) as err:
                raise ValueError(f"`params`: the default of {pname!r} does not fit its declaration ({err})") from None
    return spec


def _signature(func: Callable):
    try:
        return inspect.signature(func)
    except (TypeError, ValueError):  # some builtins have no signature: accept any name
        return None


def _accepted(sig) -> tuple[list[str], bool]:
    """Keyword parameter names of a segmenter and whether it takes ``**kwargs``."""
    if sig is None:
        return [], True
    ps = sig.parameters.values()
    var_kw = any(p.kind is p.VAR_KEYWORD for p in ps)
    names = [p.name for p in ps if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name not in _RESERVED]
    return names, var_kw


def image_dtype(func: Callable) -> str:
    """The image dtype ``func`` was registered for (``"uint8"`` for unregistered functions)."""
    return _DTYPES.get(func, "uint8")


def adapt_image(func: Callable, image: np.ndarray) -> np.ndarray:
    """``image`` (uint8, or float32 in [0, 1]) as the dtype ``func`` wants.

    float32 -> uint8 rounds (``cv2.convertScaleAbs``, the display image's pixels); uint8 ->
    float32 divides by 255.
    """
    want = image_dtype(func)
    if want == "any" or image.dtype == np.dtype(want):
        return image
    if want == "uint8":
        return _UINT8.get(image, _frozen_uint8) if immutable(image) else cv2.convertScaleAbs(image, alpha=255.0)
    return image.astype(np.float32) * np.float32(1.0 / 255.0)


#: uint8 versions of immutable float32 images (the widget's shown 16-bit/float photo and its
#: pyramid levels), so that a uint8 method converts them once, and a SAM model hashes the same
#: array object (once) rather than a new copy on every click. Entries go with their image.
_UINT8 = ArrayMemo()


def _frozen_uint8(image: np.ndarray) -> np.ndarray:
    out = cv2.convertScaleAbs(image, alpha=255.0)
    out.flags.writeable = False
    return out


def get(name: str | None) -> Callable:
    """The segmenter registered as ``name`` (``None`` = the default method)."""
    key = DEFAULT_METHOD if name is None else name
    try:
        return _REGISTRY[key]
    except (KeyError, TypeError):
        raise ValueError(f"`method` must be one of {available()} (or None for the default); got {name!r}") from None


def available(include_all: bool = False) -> list[str]:
    """Names of the registered methods, the default first.

    Methods with a required parameter (e.g. ``sam``'s ``model``) are listed only with
    ``include_all=True``.
    """
    names = [n for n in _REGISTRY if include_all or not required_params(_REGISTRY[n])]
    return sorted(names, key=lambda n: (n != DEFAULT_METHOD, n))


def required_params(func: Callable) -> list[str]:
    """Keyword-only parameters of ``func`` without a default (they must be in ``params``)."""
    sig = _signature(func)
    if sig is None:
        return []
    return [
        p.name
        for p in sig.parameters.values()
        if p.kind is p.KEYWORD_ONLY and p.default is p.empty and p.name not in INPUTS
    ]


def spec(name: str | None) -> dict[str, Param]:
    """Declared parameters of a method (``{}`` for a plug-in registered without ``params``)."""
    get(name)
    return dict(_SPECS[DEFAULT_METHOD if name is None else name])


def defaults(name: str | None) -> dict:
    """Default values of a method's keyword parameters (from its signature)."""
    sig = _signature(get(name))
    accepted, _ = _accepted(sig)
    return {n: sig.parameters[n].default for n in accepted if sig.parameters[n].default is not inspect.Parameter.empty}


def check_params(name: str | None, params) -> dict:
    """Check a method's parameters by name and value; return them converted.

    Parameters
    ----------
    name : str or None
        Method name (``None`` = the default method).
    params : mapping of str to value

    Returns
    -------
    dict
        A new dict: declared parameters converted to their kind (e.g. ``3.0`` -> ``3`` for an
        ``int``, ``numpy.float32`` -> ``float``), others unchanged.

    Raises
    ------
    TypeError
        ``params`` is not a mapping, a name is unknown to the method, or a value has the wrong
        kind (a string for a number, ``2.7`` for an integer, ``"yes"`` for a bool).
    ValueError
        A value is out of its declared range, not finite, or not among its choices.
    """
    func = get(name)
    method = DEFAULT_METHOD if name is None else name
    if not isinstance(params, Mapping):
        raise TypeError(f"`params` must be a dict of parameter name -> value; got {type(params).__name__}")
    bad_keys = [k for k in params if not isinstance(k, str)]
    if bad_keys:
        raise TypeError(f"`params` names must be strings; got {bad_keys!r} for method {method!r}")
    missing = [p for p in required_params(func) if p not in params]
    if missing:
        raise TypeError(f"method {method!r} needs the parameter(s) {missing}")
    accepted, var_kw = _accepted(_signature(func))
    unknown = sorted(set(params) - set(accepted))
    if unknown and not var_kw:
        raise TypeError(f"unknown parameter(s) {unknown} for method {method!r}; accepted: {accepted}")
    declared = _SPECS[method]
    return {k: declared[k].check(v, k, method) if k in declared else v for k, v in params.items()}


def check_func_params(func: Callable, params: dict) -> dict:
    """:func:`check_params` for a registered function (values only; unregistered: unchanged)."""
    for name, f in _REGISTRY.items():
        if f is func:
            declared = _SPECS[name]
            return {k: declared[k].check(v, k, name) if k in declared else v for k, v in params.items()}
    return dict(params)


def accepts(func: Callable, name: str, *, var_keyword: bool = False) -> bool:
    """Whether ``func``'s signature names the keyword input ``name`` (``"prior"``, ``"boxes"``).

    ``var_keyword``: a ``**params`` catch-all counts too (true of ``prior`` since the start).
    A callable without a signature accepts anything.
    """
    sig = _signature(func)
    if sig is None:
        return True
    return name in sig.parameters or (var_keyword and _accepted(sig)[1])


def accepts_prior(func: Callable) -> bool:
    """Whether ``func`` takes a ``prior`` (by name or through ``**kwargs``)."""
    return accepts(func, "prior", var_keyword=True)


def full_resolution(func: Callable) -> bool:
    """Whether ``func`` asks to be called at full resolution (``func.full_resolution``)."""
    return bool(getattr(func, "full_resolution", False))


def unregister(name: str) -> None:
    """Remove the method registered under ``name`` (a plug-in's or a test's); unknown names are ignored."""
    func = _REGISTRY.pop(name, None)
    _SPECS.pop(name, None)
    if func is not None and func not in _REGISTRY.values():
        _DTYPES.pop(func, None)


def snapshot() -> tuple:
    """The registry's current contents, for :func:`restore` (tests register and remove methods)."""
    return dict(_REGISTRY), dict(_SPECS), dict(_DTYPES)


def restore(state: tuple) -> None:
    """Put back the registry's contents saved by :func:`snapshot`."""
    for table, saved in zip((_REGISTRY, _SPECS, _DTYPES), state, strict=True):
        table.clear()
        table.update(saved)

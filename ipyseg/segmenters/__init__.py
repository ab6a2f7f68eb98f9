"""Segmenter registry.

A segmenter is a function ``func(image, seeds, *, prior=None, **params) -> labels`` where
``image`` is a validated (H, W, 3) uint8 RGB array, ``seeds`` a validated (H, W) uint8 seed array
(``0`` unmarked, ``1`` background, ``k + 1`` object k), ``prior`` an optional (H, W) uint8 label
image (a loaded mask or a box) that unmarked pixels should lean towards, and ``labels`` an (H, W)
integer array (``0`` background, ``k`` object k). Segmenters are pure: no widgets, no globals.

Optional seams, any segmenter (function or callable object) may use them:

* keyword inputs besides ``prior``, detected from the signature (:func:`accepts`):
  ``boxes`` receives the box tool's rectangles ``{seed code: (r0, r1, c0, c1)}`` (end
  exclusive) as they are; a segmenter without it gets them as a prior plus background seeds
  outside the boxes (GrabCut's rectangle).
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
from collections.abc import Callable

_REGISTRY: dict[str, Callable] = {}
DEFAULT_METHOD = "click_graphcut"


def register(name: str, func: Callable | None = None, *, overwrite: bool = False):
    """Register ``func`` under ``name``; usable as a decorator ``@register("name")``."""

    def deco(f):
        if not isinstance(name, str) or not name:
            raise TypeError(f"`name` must be a non-empty string; got {name!r}")
        if not callable(f):
            raise TypeError(f"`func` must be callable; got {type(f).__name__}")
        if name in _REGISTRY and not overwrite and _REGISTRY[name] is not f:
            raise ValueError(f"`name`: a method called {name!r} is already registered (pass overwrite=True)")
        _REGISTRY[name] = f
        return f

    return deco if func is None else deco(func)


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


#: Inputs a segmenter receives from the caller, not from ``params``.
INPUTS = ("image", "seeds", "prior", "boxes")


def required_params(func: Callable) -> list[str]:
    """Keyword-only parameters of ``func`` without a default (they must be in ``params``)."""
    return [
        p.name
        for p in inspect.signature(func).parameters.values()
        if p.kind is p.KEYWORD_ONLY and p.default is p.empty and p.name not in INPUTS
    ]


def check_params(name: str | None, params: dict) -> None:
    """Raise ``TypeError`` naming any parameter the method does not accept, or a required one missing."""
    func = get(name)
    missing = [p for p in required_params(func) if p not in params]
    if missing:
        raise TypeError(f"method {name or DEFAULT_METHOD!r} needs the parameter(s) {missing}")
    sig = inspect.signature(func)
    if any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
        return
    accepted = [
        p.name
        for p in sig.parameters.values()
        if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name not in INPUTS
    ]
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise TypeError(f"unknown parameter(s) {unknown} for method {name or DEFAULT_METHOD!r}; accepted: {accepted}")


def accepts(func: Callable, name: str, *, var_keyword: bool = False) -> bool:
    """Whether ``func``'s signature names the keyword input ``name`` (``"prior"``, ``"boxes"``).

    ``var_keyword``: a ``**params`` catch-all counts too (true of ``prior`` since the start).
    """
    params = inspect.signature(func).parameters
    return name in params or (var_keyword and any(p.kind is p.VAR_KEYWORD for p in params.values()))


def accepts_prior(func: Callable) -> bool:
    return accepts(func, "prior", var_keyword=True)


def full_resolution(func: Callable) -> bool:
    """Whether ``func`` asks to be called at full resolution (``func.full_resolution``)."""
    return bool(getattr(func, "full_resolution", False))


from .. import sam as _sam  # noqa: E402,F401  (registers "sam"; needs model=SamModel(...))
from . import click_graphcut as _click_graphcut  # noqa: E402,F401  (registers "click_graphcut")
from . import grabcut as _grabcut  # noqa: E402,F401  (registers "grabcut")
from . import watershed as _watershed  # noqa: E402,F401  (registers "watershed")

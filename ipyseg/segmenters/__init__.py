"""Segmenter registry.

A segmenter is a function ``func(image, seeds, *, prior=None, **params) -> labels`` where
``image`` is a validated (H, W, 3) uint8 RGB array, ``seeds`` a validated (H, W) uint8 seed array
(``0`` unmarked, ``1`` background, ``k + 1`` object k), ``prior`` an optional (H, W) uint8 label
image (a loaded mask or a box) that unmarked pixels should lean towards, and ``labels`` an (H, W)
integer array (``0`` background, ``k`` object k). Segmenters are pure: no widgets, no globals.
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


def available() -> list[str]:
    """Names of the registered methods, the default first."""
    return sorted(_REGISTRY, key=lambda n: (n != DEFAULT_METHOD, n))


def check_params(name: str | None, params: dict) -> None:
    """Raise ``TypeError`` naming any parameter the method does not accept."""
    func = get(name)
    sig = inspect.signature(func)
    if any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
        return
    accepted = [
        p.name
        for p in sig.parameters.values()
        if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name not in ("image", "seeds", "prior")
    ]
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise TypeError(f"unknown parameter(s) {unknown} for method {name or DEFAULT_METHOD!r}; accepted: {accepted}")


def accepts_prior(func: Callable) -> bool:
    params = inspect.signature(func).parameters
    return "prior" in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


from . import click_graphcut as _click_graphcut  # noqa: E402,F401  (registers "click_graphcut")
from . import grabcut as _grabcut  # noqa: E402,F401  (registers "grabcut")
from . import watershed as _watershed  # noqa: E402,F401  (registers "watershed")

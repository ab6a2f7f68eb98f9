"""Segmenter registry.

A segmenter is a function ``func(image, seeds, *, prior=None, **params) -> labels`` where
``image`` is a validated (H, W, 3) RGB array (uint8 by default; float32 in [0, 1] at full
precision for segmenters registered with ``dtype="float32"``, either for ``dtype="any"``; see
:func:`adapt_image`), ``seeds`` a validated (H, W) uint8 seed array
(``0`` unmarked, ``1`` background, ``k + 1`` object k), ``prior`` an optional (H, W) uint8 label
image (a loaded mask or a box) that unmarked pixels should lean towards, and ``labels`` an (H, W)
integer array (``0`` background, ``k`` object k). Segmenters are pure: no widgets, no globals.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

import cv2
import numpy as np

_REGISTRY: dict[str, Callable] = {}
_DTYPES: dict[Callable, str] = {}  # func -> the image dtype it wants (default "uint8")
DEFAULT_METHOD = "click_graphcut"
DTYPES = ("uint8", "float32", "any")


def register(name: str, func: Callable | None = None, *, overwrite: bool = False, dtype: str = "uint8"):
    """Register ``func`` under ``name``; usable as a decorator ``@register("name")``.

    ``dtype`` is the image the segmenter wants: ``"uint8"`` (the 8-bit image as shown),
    ``"float32"`` (the image as shown at full precision, values in [0, 1]) or ``"any"`` (uint8
    when the image is exact in 8 bits, such as an 8-bit photo with the default display, float32
    otherwise).
    """
    if dtype not in DTYPES:
        raise ValueError(f"`dtype` must be one of {list(DTYPES)}; got {dtype!r}")

    def deco(f):
        if not isinstance(name, str) or not name:
            raise TypeError(f"`name` must be a non-empty string; got {name!r}")
        if not callable(f):
            raise TypeError(f"`func` must be callable; got {type(f).__name__}")
        if name in _REGISTRY and not overwrite and _REGISTRY[name] is not f:
            raise ValueError(f"`name`: a method called {name!r} is already registered (pass overwrite=True)")
        _REGISTRY[name] = f
        _DTYPES[f] = dtype
        return f

    return deco if func is None else deco(func)


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
        return cv2.convertScaleAbs(image, alpha=255.0)
    return image.astype(np.float32) * np.float32(1.0 / 255.0)


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

"""Segmenters: the registry, declared parameters and the built-in methods.

Each method is a pure function ``image + seeds -> labels`` (see :mod:`ipyseg.segmenters.registry`
for the contract and its optional seams). This package imports nothing of ``ipyseg.sam``,
widgets or files; ``sam`` registers itself when :mod:`ipyseg.sam` is imported.
"""

# The built-in methods register themselves on import.
from ipyseg.segmenters import click_graphcut, grabcut, watershed  # noqa: E402,I001
from ipyseg.segmenters.params import Param, as_param
from ipyseg.segmenters.registry import (
    DEFAULT_METHOD,
    DTYPES,
    INPUTS,
    accepts,
    accepts_prior,
    adapt_image,
    available,
    check_func_params,
    check_params,
    defaults,
    full_resolution,
    get,
    image_dtype,
    register,
    required_params,
    restore,
    snapshot,
    spec,
    unregister,
)

__all__ = [
    "DEFAULT_METHOD",
    "DTYPES",
    "INPUTS",
    "Param",
    "accepts",
    "accepts_prior",
    "adapt_image",
    "as_param",
    "available",
    "check_func_params",
    "check_params",
    "click_graphcut",
    "defaults",
    "full_resolution",
    "get",
    "grabcut",
    "image_dtype",
    "register",
    "required_params",
    "restore",
    "snapshot",
    "spec",
    "unregister",
    "watershed",
]

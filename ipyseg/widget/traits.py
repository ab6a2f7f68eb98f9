"""The trait types of ``SegmentWidget`` and the checks of its plain traits.

Each check takes the proposed value and returns it converted, or raises an error that names the
trait, the expected and the received value. :data:`PLAIN_CHECKS` maps a trait name to its check
for the traits whose validity does not depend on the photo (those are checked on the widget).
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import traitlets

from ipyseg import segmenters
from ipyseg._constants import MAX_OBJECTS
from ipyseg._validation import as_label_code
from ipyseg.display import check_gamma
from ipyseg.ui.tools import Tool

#: How the labels are drawn: filled with the opacity, as contours, or not at all.
OVERLAY_MODES = ("filled", "contour", "hidden")


class ArrayTrait(traitlets.Instance):
    """An ndarray trait that notifies on every new array object.

    Stock traitlets compares old and new values with ``==``, an element-wise pass over the
    whole image per update; here identity decides.
    """

    def __init__(self, **kwargs):
        super().__init__(np.ndarray, **kwargs)

    def set(self, obj, value):
        """Store ``value`` and notify unless it is the same object."""
        new_value = self._validate(obj, value)
        old_value = obj._trait_values.get(self.name, self.default_value)
        obj._trait_values[self.name] = new_value
        if old_value is not new_value:
            obj._notify_trait(self.name, old_value, new_value)


class Setting(traitlets.Any):
    """A value checked by the widget's validator, ``None`` included (it means "the default")."""

    allow_none = False  # stock traitlets would store None without asking the validator


class Real(traitlets.Float):
    """A float trait that takes any real number (numpy scalars too) but not a bool or NaN/inf,
    with errors that name the trait (the trait's own ``@validate`` then checks the range).
    """

    def validate(self, obj, value):
        """``float(value)``, refusing bools, non-numbers and NaN/inf."""
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
            raise TypeError(f"`{self.name}` must be a number; got {value!r}")
        v = float(value)
        if not math.isfinite(v):
            raise ValueError(f"`{self.name}` must be a finite number; got {value!r}")
        return v


class MethodName(traitlets.Unicode):
    """A method name; ``None`` means the default method (as in the constructor and ``segment``)."""

    def validate(self, obj, value):
        """The method name (``None`` -> the default method)."""
        if value is None:
            return segmenters.DEFAULT_METHOD
        if not isinstance(value, str):
            raise TypeError(f"`method` must be a method name (one of {segmenters.available()}) or None; got {value!r}")
        return value


def in_range(value, lo: float, hi: float, name: str) -> float:
    """``float(value)`` if it lies in ``[lo, hi]``, else a ValueError naming ``name``."""
    v = float(value)
    if not lo <= v <= hi:
        raise ValueError(f"`{name}` must be in [{lo:g}, {hi:g}]; got {value}")
    return v


def frozen(arr: np.ndarray) -> np.ndarray:
    """``arr``, made read-only (the widget's published arrays)."""
    arr.flags.writeable = False
    return arr


def check_tool(value) -> str:
    """The tool's name (a :class:`~ipyseg.ui.tools.Tool` value)."""
    try:
        return Tool(value).value
    except ValueError:
        raise ValueError(f"`tool` must be one of {[t.value for t in Tool]}; got {value!r}") from None


def check_overlay_mode(value) -> str:
    """One of :data:`OVERLAY_MODES`."""
    if value not in OVERLAY_MODES:
        raise ValueError(f"`overlay_mode` must be one of {list(OVERLAY_MODES)}; got {value!r}")
    return value


def check_connectivity(value) -> int:
    """4 or 8 (the magic wand's neighbourhood)."""
    if value not in (4, 8):
        raise ValueError(f"`wand_connectivity` must be 4 or 8; got {value!r}")
    return value


def _object_id(k, trait: str) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= int(k) <= MAX_OBJECTS:
        raise ValueError(f"`{trait}` keys must be object ids in [1, {MAX_OBJECTS}]; got {k!r}")
    return int(k)


def check_object_names(value) -> dict:
    """``{object id: name}`` with ids in [1, MAX_OBJECTS] and names as str."""
    return {_object_id(k, "object_names"): str(v) for k, v in dict(value).items()}


def check_object_classes(value) -> dict:
    """``{object id: class name}`` with ids in [1, MAX_OBJECTS] and non-empty str names."""
    classes = {}
    for k, v in dict(value).items():
        k = _object_id(k, "object_classes")
        if not isinstance(v, str) or not v:
            raise ValueError(f"`object_classes` values must be non-empty class names (str); got {v!r} for {k}")
        classes[k] = v
    return classes


def check_classes(value) -> list:
    """Distinct non-empty category names."""
    names = list(value)
    if any(not n for n in names) or len(set(names)) != len(names):
        raise ValueError(f"`classes` must be distinct non-empty names; got {names!r}")
    return names


#: Trait name -> its check, for the traits whose validity does not depend on the photo.
PLAIN_CHECKS = {
    "label": as_label_code,
    "tool": check_tool,
    "opacity": lambda v: in_range(v, 0.0, 1.0, "opacity"),
    "overlay_mode": check_overlay_mode,
    "wand_tolerance": lambda v: in_range(v, 0.0, 255.0, "wand_tolerance"),
    "wand_connectivity": check_connectivity,
    "gamma": check_gamma,
    "object_names": check_object_names,
    "object_classes": check_object_classes,
    "classes": check_classes,
}

"""Declared parameter types and ranges of segmenters, and the one place values are checked.

A method declares ``{name: Param(...)}`` when it is registered; :func:`check_value` turns a
user's value into the declared type or raises an error that names the parameter, the method,
what was expected and what was received.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

KINDS = (int, float, bool, str)


@dataclass(frozen=True)
class Param:
    """Type and range of one segmenter parameter.

    Parameters
    ----------
    kind : {int, float, bool, str}
        ``int``: integers, numpy integers, and floats with an integral value (``3.0`` -> ``3``;
        ``2.7`` is rejected); never ``bool``. ``float``: any finite real number, numpy scalars
        included (returned as ``float``); never ``bool``. ``bool``: ``True``/``False`` or
        ``numpy.bool_`` only (not ``0``/``1``, not ``"yes"``). ``str``: a string.
    lo, hi : float, optional
        Inclusive bounds of ``int`` and ``float`` parameters.
    choices : tuple, optional
        Allowed values (e.g. the modes of a ``str`` parameter).
    doc : str
        One line for documentation.

    Examples
    --------
    >>> Param(int, 1, 10)        # an integer in [1, 10]
    >>> Param(float, 0.0)        # a finite number >= 0
    >>> Param(str, choices=("fast", "exact"))
    """

    kind: type
    lo: float | None = None
    hi: float | None = None
    choices: tuple | None = None
    doc: str = ""

    def __post_init__(self):
        if self.kind not in KINDS:
            raise TypeError(f"`kind` must be one of int, float, bool, str; got {self.kind!r}")
        for bound in ("lo", "hi"):
            value = getattr(self, bound)
            if value is None:
                continue
            if self.kind not in (int, float):
                raise TypeError(f"`{bound}` applies to int and float parameters only; got {bound}={value!r}")
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
                raise TypeError(f"`{bound}` must be a finite number or None; got {value!r}")
        if self.lo is not None and self.hi is not None and self.lo > self.hi:
            raise ValueError(f"`lo` must be <= `hi`; got lo={self.lo!r}, hi={self.hi!r}")
        if self.choices is not None:
            if not isinstance(self.choices, tuple) or not self.choices:
                raise TypeError(f"`choices` must be a non-empty tuple or None; got {self.choices!r}")
            bad = [c for c in self.choices if _convert(self.kind, c) is _INVALID]
            if bad:
                raise TypeError(f"`choices` must all be of kind {self.kind.__name__}; got {bad!r}")

    def expected(self) -> str:
        """What a valid value is, in words (used in error messages and the README)."""
        if self.choices is not None:
            return f"one of {self.choices!r}"
        if self.kind is bool:
            return "True or False"
        if self.kind is str:
            return "a string"
        noun = "an integer" if self.kind is int else "a finite number"
        if self.lo is not None and self.hi is not None:
            return f"{noun} in [{_num(self.lo)}, {_num(self.hi)}]"
        if self.lo is not None:
            return f"{noun} >= {_num(self.lo)}"
        if self.hi is not None:
            return f"{noun} <= {_num(self.hi)}"
        return noun

    def check(self, value, name: str, method: str | None = None):
        """``value`` converted to :attr:`kind`, or ``TypeError`` / ``ValueError`` naming ``name``.

        Wrong kind (a string for a number, ``2.7`` for an integer, ``1`` for a bool) raises
        ``TypeError``; the right kind out of range, not finite or not among ``choices`` raises
        ``ValueError``.
        """
        where = f"`{name}`" if method is None else f"`{name}` (parameter of method {method!r})"
        out = _convert(self.kind, value)
        if out is _INVALID and self.kind is int and _not_finite(value):
            raise ValueError(f"{where} must be {self.expected()}; got {_show(value)}")
        if out is _INVALID:
            raise TypeError(f"{where} must be {self.expected()}; got {_show(value)}")
        if self.kind is float and not math.isfinite(out):
            raise ValueError(f"{where} must be {self.expected()}; got {_show(value)}")
        if (self.lo is not None and out < self.lo) or (self.hi is not None and out > self.hi):
            raise ValueError(f"{where} must be {self.expected()}; got {_show(value)}")
        if self.choices is not None and out not in self.choices:
            raise ValueError(f"{where} must be {self.expected()}; got {_show(value)}")
        return out


_INVALID = object()


def _convert(kind: type, value):
    """``value`` as ``kind`` under the rules of :class:`Param`, or ``_INVALID``."""
    if kind is bool:
        return bool(value) if _is_bool(value) else _INVALID
    if kind is str:
        return value if isinstance(value, str) else _INVALID
    if _is_bool(value) or not isinstance(value, numbers.Real):
        return _INVALID
    if kind is float:
        try:
            return float(value)
        except OverflowError:  # an int too large for a float
            return math.inf
    if isinstance(value, numbers.Integral):
        return int(value)
    as_float = float(value)
    return int(as_float) if math.isfinite(as_float) and as_float.is_integer() else _INVALID


def _num(x) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


def _show(value) -> str:
    """A received value for an error message: ``nan``, ``2.7``, ``str 'x'``, ``NoneType None``."""
    if not _is_bool(value) and isinstance(value, numbers.Integral):
        try:
            return str(int(value))
        except ValueError:  # more digits than Python converts (sys.get_int_max_str_digits)
            return f"an integer of about {int(int(value).bit_length() * 0.30103)} digits"
    if not _is_bool(value) and isinstance(value, numbers.Real):
        return repr(float(value))
    return f"{type(value).__name__} {value!r}"[:200]


def _not_finite(value) -> bool:
    return not _is_bool(value) and isinstance(value, numbers.Real) and not math.isfinite(float(value))


def _is_bool(value) -> bool:
    return isinstance(value, (bool, np.bool_))


def as_param(spec, name: str) -> Param:
    """A :class:`Param` from a declaration: a ``Param`` or a bare kind (``int``, ``float``, ...)."""
    if isinstance(spec, Param):
        return spec
    if spec in KINDS:
        return Param(spec)
    raise TypeError(f"`params[{name!r}]` must be an ipyseg.Param or one of int, float, bool, str; got {spec!r}")

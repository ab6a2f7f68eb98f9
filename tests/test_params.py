"""Parameter values are checked where they are set, in one place (issue 9.2)."""

import math

import numpy as np
import pytest
from conftest import disk_scene

import ipyseg
from ipyseg import FOREGROUND, Param, segmenters
from ipyseg.segmentation.multiscale import segment_fast


@pytest.fixture
def small():
    image, _ = disk_scene(h=40, w=50)
    seeds = np.zeros((40, 50), np.uint8)
    seeds[20, 27] = FOREGROUND
    return image, seeds


# ------------------------------------------------------------------ Param rules
@pytest.mark.parametrize(
    "value, out", [(3, 3), (np.int64(3), 3), (3.0, 3), (np.float32(3.0), 3), (np.uint8(20), 20), (1, 1)]
)
def test_int_accepts_integers_and_integral_floats(value, out):
    got = Param(int, 1, 20).check(value, "n")
    assert got == out and type(got) is int


@pytest.mark.parametrize(
    "value, exc",
    [
        (2.7, TypeError),
        (float("nan"), ValueError),
        (math.inf, ValueError),
        ("3", TypeError),
        (None, TypeError),
        (True, TypeError),
        (np.bool_(True), TypeError),
        ([3], TypeError),
        (0, ValueError),
        (21, ValueError),
        (10**100, ValueError),
    ],
)
def test_int_rejects(value, exc):
    with pytest.raises(exc, match=r"`n` must be an integer in \[1, 20\]; got "):
        Param(int, 1, 20).check(value, "n")


@pytest.mark.parametrize("value", [0, 1, 0.5, np.float32(0.25), np.float64(1.0), np.int16(1)])
def test_float_accepts_real_numbers(value):
    got = Param(float, 0.0, 1.0).check(value, "x")
    assert got == float(value) and type(got) is float


@pytest.mark.parametrize(
    "value, exc",
    [
        (float("nan"), ValueError),
        (np.float64("nan"), ValueError),
        (math.inf, ValueError),
        (-math.inf, ValueError),
        (10**400, ValueError),
        (1.5, ValueError),
        (-0.1, ValueError),
        ("0.5", TypeError),
        (None, TypeError),
        (False, TypeError),
        (1j, TypeError),
        (np.array([0.5]), TypeError),
    ],
)
def test_float_rejects(value, exc):
    with pytest.raises(exc, match=r"`x` must be a finite number in \[0, 1\]; got "):
        Param(float, 0.0, 1.0).check(value, "x")


def test_bool_and_str_and_messages():
    p = Param(bool)
    assert p.check(True, "b") is True and p.check(np.bool_(False), "b") is False
    for bad in ("yes", 1, 0, None, 1.0):
        with pytest.raises(TypeError, match="`b` must be True or False; got "):
            p.check(bad, "b")
    s = Param(str, choices=("fast", "exact"))
    assert s.check("fast", "mode") == "fast"
    with pytest.raises(ValueError, match=r"`mode` must be one of \('fast', 'exact'\); got str 'slow'"):
        s.check("slow", "mode")
    with pytest.raises(TypeError, match="`mode`"):
        s.check(3, "mode")
    with pytest.raises(
        ValueError, match=r"`smoothness` \(parameter of method 'm'\) must be a finite number >= 0; got nan"
    ):
        Param(float, 0.0).check(float("nan"), "smoothness", "m")
    assert Param(float, hi=2.5).expected() == "a finite number <= 2.5" and Param(int).expected() == "an integer"


@pytest.mark.parametrize(
    "kwargs, exc",
    [
        (dict(kind=list), TypeError),
        (dict(kind=int, lo=5, hi=1), ValueError),
        (dict(kind=float, lo=float("nan")), TypeError),
        (dict(kind=bool, lo=0), TypeError),
        (dict(kind=str, choices=("a", 1)), TypeError),
        (dict(kind=str, choices=[]), TypeError),
    ],
)
def test_bad_declarations(kwargs, exc):
    with pytest.raises(exc):
        Param(**kwargs)


# ------------------------------------------------------------------ check_params
def test_check_params_converts_and_returns_a_new_dict():
    params = {"iterations": 3.0, "smoothness": np.float32(20), "clean": np.bool_(False)}
    out = segmenters.check_params(None, params)
    assert out == {"iterations": 3, "smoothness": 20.0, "clean": False} and out is not params
    assert type(out["iterations"]) is int and type(out["smoothness"]) is float and type(out["clean"]) is bool
    with pytest.raises(TypeError, match=r"`params` must be a dict"):
        segmenters.check_params(None, [("iterations", 3)])
    with pytest.raises(TypeError, match=r"unknown parameter\(s\) \['colour'\]"):
        segmenters.check_params("grabcut", {"colour": 1})
    with pytest.raises(TypeError, match=r"`params` names must be strings"):
        segmenters.check_params("grabcut", {1: 1})


def test_every_built_in_declares_every_parameter_with_a_default_in_range():
    for name in ipyseg.methods():
        spec, defaults = segmenters.spec(name), segmenters.defaults(name)
        assert set(spec) == set(defaults), name
        assert segmenters.check_params(name, defaults) == defaults


# The reproducers of issue 9.2, each a call that used to hang, run for minutes or pass silently.
@pytest.mark.timeout(20)
@pytest.mark.parametrize(
    "method, params, exc, words",
    [
        (
            None,
            {"smoothness": float("nan")},
            ValueError,
            "`smoothness` (parameter of method 'click_graphcut') must be a finite number in [0, 1000]; got nan",
        ),
        (None, {"smoothness": None}, TypeError, "`smoothness`"),
        (None, {"click_weight": math.inf}, ValueError, "`click_weight`"),
        (None, {"click_sigma": float("nan")}, ValueError, "`click_sigma`"),
        (None, {"coarse_pixels": "x"}, TypeError, "`coarse_pixels`"),
        (
            None,
            {"iterations": 2.7},
            TypeError,
            "`iterations` (parameter of method 'click_graphcut') must be an integer in [1, 10]; got 2.7",
        ),
        (None, {"clean": "yes"}, TypeError, "`clean`"),
        (None, {"band": 0}, ValueError, "`band`"),
        (
            "watershed",
            {"blur": 1e6},
            ValueError,
            "`blur` (parameter of method 'watershed') must be a finite number in [0, 20]; got 1000000.0",
        ),
        ("watershed", {"border_prior": 1}, TypeError, "`border_prior`"),
        (
            "grabcut",
            {"iterations": 10**9},
            ValueError,
            "`iterations` (parameter of method 'grabcut') must be an integer in [1, 10]; got 1000000000",
        ),
    ],
)
def test_bad_values_fail_at_once_everywhere(small, method, params, exc, words):
    image, seeds = small
    with pytest.raises(exc) as err:
        ipyseg.segment(image, seeds, method, **params)
    assert words in str(err.value)
    with pytest.raises(exc, match=list(params)[0]):  # the pure fast path checks too
        segment_fast(segmenters.get(method), image, seeds, None, params)
    with pytest.raises(exc, match=list(params)[0]):
        ipyseg.SegmentWidget(image, method=method, **params)
    w = ipyseg.SegmentWidget(image, method=method)
    good = dict(w.params)
    with pytest.raises(exc, match=list(params)[0]):
        w.params = params
    assert w.params == good
    w.close()


def test_widget_accepts_good_values_and_checks_method_switches(small):
    image, seeds = small
    w = ipyseg.SegmentWidget(image, iterations=2, smoothness=np.float64(30))
    w.params = {"iterations": 3.0}
    assert w.last_error is None
    w.method = "grabcut"
    w.params = {"iterations": 5}
    w.method = "watershed"
    with pytest.raises(TypeError, match="unknown parameter"):
        w.params = {"iterations": 5}
    w.method = "grabcut"
    assert w.params == {"iterations": 5}
    w.close()


@pytest.mark.parametrize("method", ["click_graphcut", "grabcut", "watershed"])
def test_upper_bounds_are_usable(small, method):
    image, seeds = small
    top = {
        k: (p.hi if p.hi is not None else (True if p.kind is bool else None))
        for k, p in segmenters.spec(method).items()
    }
    labels = ipyseg.segment(image, seeds, method, **{k: v for k, v in top.items() if v is not None})
    assert labels.shape == seeds.shape and labels[20, 27] == 1


# ------------------------------------------------------------------ plug-ins
def _plugin(image, seeds, *, radius: float = 2.0, mode: str = "fast", steps: int = 3):
    return seeds >= 2


def test_plug_in_declares_its_parameters(small):
    image, seeds = small
    spec = {"radius": Param(float, 0.0, 10.0), "mode": Param(str, choices=("fast", "exact")), "steps": int}
    ipyseg.register_method("plug", _plugin, params=spec, overwrite=True)
    try:
        assert segmenters.check_params("plug", {"steps": 4.0, "radius": 1}) == {"steps": 4, "radius": 1.0}
        assert ipyseg.segment(image, seeds, "plug", radius=np.float32(3), mode="exact")[20, 27] == 1
        with pytest.raises(
            ValueError, match=r"`radius` \(parameter of method 'plug'\) must be a finite number in \[0, 10\]; got nan"
        ):
            ipyseg.segment(image, seeds, "plug", radius=float("nan"))
        with pytest.raises(TypeError, match="`steps`"):
            ipyseg.segment(image, seeds, "plug", steps=1.5)
        with pytest.raises(ValueError, match="`mode`"):
            ipyseg.SegmentWidget(image, method="plug", mode="slow")
    finally:
        segmenters.unregister("plug")


def test_plug_in_without_a_spec_keeps_the_name_check(small):
    image, seeds = small
    ipyseg.register_method("plug", _plugin, overwrite=True)
    try:
        assert segmenters.spec("plug") == {}
        assert segmenters.check_params("plug", {"radius": "anything"}) == {"radius": "anything"}
        with pytest.raises(TypeError, match="unknown parameter"):
            ipyseg.segment(image, seeds, "plug", colour=1)
    finally:
        segmenters.unregister("plug")


@pytest.mark.parametrize(
    "params, exc, words",
    [
        ({"colour": float}, ValueError, "does not accept"),
        ({"radius": "float"}, TypeError, "`params['radius']`"),
        ({"radius": Param(float, 5.0, 10.0)}, ValueError, "default of 'radius'"),
        ({"steps": Param(bool)}, ValueError, "default of 'steps'"),
        ({"seeds": int}, ValueError, "`params` keys"),
        ([("radius", float)], TypeError, "`params` must be a dict"),
    ],
)
def test_bad_plug_in_declarations(params, exc, words):
    with pytest.raises(exc) as err:
        ipyseg.register_method("plug", _plugin, params=params)
    assert words in str(err.value) and "plug" not in segmenters.available(include_all=True)


def test_non_finite_integers_are_value_errors_and_huge_ints_are_named():
    for bad in (float("nan"), float("inf"), -float("inf")):
        with pytest.raises(ValueError, match=r"`iterations` \(parameter of method 'grabcut'\) must be an integer"):
            segmenters.check_params("grabcut", {"iterations": bad})
    with pytest.raises(ValueError, match=r"`blur`.*got an integer of about 5000 digits"):
        segmenters.check_params("watershed", {"blur": 10**5000})

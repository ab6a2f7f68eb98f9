"""The seeded event fuzzer (tests/fuzzer.py) in CI: 500 sequences, no uncaught exception, no violation.

The long run is ``python tests/fuzzer.py --sequences 10000`` (docs/benchmarks.md, "Fuzzing").
"""

import time

import pytest
from fuzzer import Fuzzer


@pytest.mark.filterwarnings("ignore::ipyseg.SegmentationWarning")  # plug-in failures; the fuzzer records them
def test_500_fuzzed_sequences_break_nothing():
    t0 = time.perf_counter()
    report = Fuzzer(seed=2026).run(500)
    print(report.summary())
    assert report.sequences == 500 and report.events > 5000
    assert not report.uncaught, "\n".join(report.uncaught[:10])
    assert not report.violations, "\n".join(report.violations[:20])
    assert time.perf_counter() - t0 < 120  # about a minute on an idle CI machine


def test_the_fuzzer_detects_a_planted_bug(monkeypatch):
    """The invariants can fail: a widget whose toolbar stops following its trait is caught."""
    from ipyseg.ui import toolbar

    monkeypatch.setattr(toolbar.Toolbar, "_bind", lambda self, name: None)
    report = Fuzzer(seed=1).run(20)
    assert any("toolbar" in v for v in report.violations)

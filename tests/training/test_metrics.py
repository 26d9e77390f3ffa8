"""The numpy metrics and calibration behind every reported classifier number."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moderation.training import calibrate, metrics


def test_perfect_and_inverted_ranking() -> None:
    y = np.array([0, 0, 1, 1])
    assert metrics.auroc(y, np.array([0.1, 0.2, 0.8, 0.9])) == 1.0
    assert metrics.auroc(y, np.array([0.9, 0.8, 0.2, 0.1])) == 0.0
    assert metrics.average_precision(y, np.array([0.1, 0.2, 0.8, 0.9])) == 1.0


def test_ties_count_half() -> None:
    assert metrics.auroc(np.array([0, 1]), np.array([0.5, 0.5])) == 0.5


def test_missing_class_is_nan() -> None:
    assert np.isnan(metrics.auroc(np.array([1, 1]), np.array([0.1, 0.2])))


def test_threshold_keeps_false_positive_budget() -> None:
    human = np.linspace(0, 1, 100)
    t = metrics.threshold_at_fpr(human, 0.01)
    assert np.sum(human >= t) == 1  # exactly 1% of 100 hand-made works
    t5 = metrics.threshold_at_fpr(human, 0.05)
    assert np.sum(human >= t5) == 5


def test_tpr_at_fpr() -> None:
    y = np.array([0] * 100 + [1] * 4)
    s = np.r_[np.linspace(0, 0.9, 100), [0.95, 0.99, 0.5, 0.1]]
    assert metrics.tpr_at_fpr(y, s, 0.01) == 0.5


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 20)), min_size=2, max_size=60))
def test_matches_scikit_learn(pairs: list[tuple[bool, int]]) -> None:
    sk = pytest.importorskip("sklearn.metrics")
    y = np.array([p[0] for p in pairs])
    s = np.array([p[1] for p in pairs], dtype=float)
    if y.all() or not y.any():
        return
    assert metrics.auroc(y, s) == pytest.approx(sk.roc_auc_score(y, s))
    assert metrics.average_precision(y, s) == pytest.approx(sk.average_precision_score(y, s))


def test_temperature_fixes_overconfidence() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 2000)
    x = np.where(y == 1, 1.0, -1.0) + rng.normal(0, 1.0, 2000)
    # For unit-variance classes at +-1 the true log-odds are 2x; 5x is 2.5 times too sure.
    overconfident = x * 5.0
    t = calibrate.fit_temperature(overconfident, y)
    assert 2.0 < t < 3.0
    assert calibrate.nll(overconfident, y, t) < calibrate.nll(overconfident, y, 1.0)


def test_thresholds_are_calibrated_probabilities() -> None:
    z = np.r_[np.linspace(-5, 1, 200), np.linspace(-1, 5, 50)]
    y = np.r_[np.zeros(200), np.ones(50)]
    th = calibrate.thresholds(z, y, 1.0)
    assert th["review"] == th["fpr_0.01"]
    assert 0.0 < th["fpr_0.05"] <= th["fpr_0.01"] <= 1.0
    p = calibrate.sigmoid(z[:200])
    assert np.mean(p >= th["fpr_0.01"]) <= 0.01

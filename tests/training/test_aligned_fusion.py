"""Fusion and threshold transfer: the stack learns a known rule; thresholds hold FPR."""

from __future__ import annotations

import numpy as np

from moderation.training.aligned import fusion


def _toy(n: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    trace = rng.normal(0, 1, n) + 2.0 * y  # informative
    semantic = rng.normal(0, 1, n)  # noise
    return np.c_[trace, semantic], y


def test_stack_weights_the_informative_score() -> None:
    x, y = _toy(2000)
    stack = fusion.fit_stack(x, y, l2=0.1)
    # The true rule: log-odds 2 * trace - 2, semantic irrelevant.
    assert abs(stack.weights[0] - 2.0) < 0.3 and abs(stack.weights[1]) < 0.2
    p = stack.predict(x)
    assert np.all((p >= 0) & (p <= 1))
    assert np.mean((p > 0.5) == (y == 1)) > 0.8


def test_stack_is_unbiased_under_class_imbalance() -> None:
    x, y = _toy(1000, 1)
    keep = (y == 0) | (np.arange(len(y)) % 5 == 0)  # 5x fewer positives
    stack = fusion.fit_stack(x[keep], y[keep], l2=0.01)
    # Balanced weighting: the decision boundary sits midway between the class means.
    assert abs(-stack.bias / stack.weights[0] - 1.0) < 0.3


def test_out_of_fold_never_uses_the_rows_group() -> None:
    x, y = _toy(200, 2)
    groups = [f"g{i % 4}" for i in range(len(y))]
    oof = fusion.out_of_fold(x, y, groups)
    assert oof.shape == (200,)
    # A group whose labels were flipped cannot be fitted by its own rows.
    y2 = y.copy()
    mask = np.asarray(groups) == "g0"
    y2[mask] = 1 - y2[mask]
    oof2 = fusion.out_of_fold(x, y2, groups)
    assert np.allclose(oof2[mask], oof[mask], atol=0.2)


def test_threshold_holds_fpr_and_transfer_reports_each_source() -> None:
    rng = np.random.default_rng(3)
    human = rng.uniform(0, 1, 300)
    t = fusion.threshold_for(human, 0.01)
    assert np.mean(human >= t) <= 0.01
    scores = np.r_[human, rng.uniform(0.5, 1.5, 100)]
    y = np.r_[np.zeros(300), np.ones(100)]
    sources = ["a"] * 100 + ["b"] * 200 + ["ai"] * 100
    out = fusion.transfer(scores, y, sources, 0.05)
    assert set(out) == {"a", "b"}
    assert all(0.0 <= v["fpr_held_out"] <= 1.0 and v["n"] > 0 for v in out.values())

"""Fusion and threshold transfer: the stack learns a known rule; thresholds hold FPR."""

from __future__ import annotations

import numpy as np
import pytest

from moderation.training import metrics
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


def test_blend_weight_follows_the_informative_detector() -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 600).astype(bool)
    informative = rng.normal(0, 1, 600) + 1.5 * y
    noise = rng.normal(0, 1, 600)
    assert fusion.choose_weight([noise], [informative], y) >= 0.9
    assert fusion.choose_weight([informative], [noise], y) <= 0.1


def test_blend_of_complementary_detectors_beats_either() -> None:
    """Each detector fails on another half of the data: the blend must not."""
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 800).astype(bool)
    half = np.arange(800) < 400
    a = rng.normal(0, 1, 800) + np.where(half, 2.0, 0.0) * y
    b = rng.normal(0, 1, 800) + np.where(half, 0.0, 2.0) * y
    w = fusion.choose_weight([a], [b], y)
    assert 0.3 <= w <= 0.7
    blended = metrics.auroc(y, fusion.blend(a, b, w))
    assert blended > max(metrics.auroc(y, a), metrics.auroc(y, b)) + 0.03


def test_out_of_fold_blend_chooses_each_weight_without_the_fold() -> None:
    rng = np.random.default_rng(5)
    y = np.r_[np.ones(300, bool), np.zeros(300, bool)]
    folds = np.r_[np.repeat(["ai/a", "ai/b", "ai/c"], 100), np.repeat(["h/x", "h/y"], 150)]
    sem = rng.normal(0, 1, 600) + 1.0 * y
    tr = rng.normal(0, 1, 600) + 1.0 * y
    # Fold ai/c is where only the trace detector sees anything: its held-out weight is
    # chosen on the other folds, where both detectors are equally good.
    sem[folds == "ai/c"] = rng.normal(0, 1, 100)
    fused, weights = fusion.out_of_fold_blend({"clean": sem}, {"clean": tr}, y, list(folds))
    assert set(weights) == {"ai/a", "ai/b", "ai/c", "h/x", "h/y"}
    assert weights["ai/c"] <= 0.7  # it never saw fold c's reason to trust the trace more
    chosen_with_c = fusion.choose_weight([sem], [tr], y)
    assert chosen_with_c >= weights["ai/c"]
    assert fused["clean"].shape == (600,)


def test_out_of_fold_blend_rejects_a_fold_that_leaves_one_class() -> None:
    y = np.r_[np.ones(10, bool), np.zeros(10, bool)]
    folds = ["ai"] * 10 + ["human"] * 10
    with pytest.raises(ValueError, match="one class"):
        fusion.out_of_fold_blend({"clean": np.zeros(20)}, {"clean": np.zeros(20)}, y, folds)


def test_scale_is_label_free_and_puts_logits_in_common_units() -> None:
    pool = np.r_[np.full(50, 3.0), np.full(50, 7.0)]
    scale = fusion.scale_of(pool)
    z = scale.apply(pool)
    assert abs(float(np.median(z))) < 1e-9 and abs(float(np.std(z)) - 1.0) < 1e-6


def test_blend_stack_is_the_blend_expanded_into_raw_logits() -> None:
    """The stack a bundle carries must give the blend report's probabilities exactly."""
    scales = [{"centre": 0.3, "spread": 2.0}, {"centre": -1.0, "spread": 0.5},
              {"centre": 0.2, "spread": 0.8}]
    report = {"platt": {"a": 1.7, "b": -0.4}, "weight_all_groups": 0.35, "scales": scales}
    rng = np.random.default_rng(6)
    raw = rng.normal(0, 2, (50, 3))
    z = [(raw[:, i] - s["centre"]) / s["spread"] for i, s in enumerate(scales)]
    blended = fusion.blend(z[0], (z[1] + z[2]) / 2, 0.35)
    expected = fusion.sigmoid(1.7 * blended - 0.4)
    assert np.allclose(fusion.blend_stack(report).predict(raw), expected)

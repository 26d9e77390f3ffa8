"""Trace model pieces: pair post-processing is symmetric; the net takes any crop size."""

from __future__ import annotations

import random

import numpy as np

from moderation.training.aligned import trace


def test_identical_members_stay_identical_after_postprocessing() -> None:
    rng = np.random.default_rng(0)
    crop = rng.integers(0, 256, (120, 136, 3), dtype=np.uint8)
    for seed in range(20):
        a, b = trace.postprocess_pair(crop, crop.copy(), random.Random(seed))
        assert a.shape == (trace.PATCH, trace.PATCH, 3)
        assert np.array_equal(a, b)


def test_postprocessing_never_shrinks_below_the_patch() -> None:
    crop = np.zeros((96, 96, 3), np.uint8)
    out = trace.apply_postprocess(crop, {"scale": 0.5, "resample": 3})
    assert min(out.shape[:2]) >= trace.PATCH


def test_trace_net_scores_any_crop_size() -> None:
    import torch

    model = trace.build_model().eval()
    with torch.no_grad():
        for size in (64, 96, 224):
            z = model(torch.rand(2, 3, size, size) * 255)
            assert z.shape == (2,)
    scores = trace.score_images(model, [np.zeros((300, 200, 3), np.uint8)], 224, 3)
    assert scores.shape == (1,) and np.isfinite(scores).all()

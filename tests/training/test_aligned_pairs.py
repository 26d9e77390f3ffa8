"""Aligned pair generation: TAEF2 loads strictly and reconstructs; items are deterministic."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from moderation.training.aligned import pairs
from moderation.training.aligned.taef2 import TAEF2, psnr

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def test_taef2_loads_strictly_and_round_trips_above_28_db() -> None:
    # CI has torch and the shared weights: a missing one is a failure, not a skip.
    import torch

    torch.set_num_threads(1)
    model = TAEF2(SHARED / "taef2")  # load_state_dict(strict=True) inside
    image = Image.open(SHARED / "ai-devset" / "iclight__imgs_o1.png").convert("RGB")
    rgb = np.asarray(image, dtype=np.uint8)[128:256, 128:256]
    out = model.reconstruct(rgb)
    assert out.shape == rgb.shape and out.dtype == np.uint8
    assert psnr(rgb, out) > 28.0


def test_taef2_rejects_sides_not_divisible_by_8() -> None:
    model = TAEF2(SHARED / "taef2")
    with pytest.raises(ValueError):
        model.reconstruct(np.zeros((100, 96, 3), np.uint8))


def _blur_twin(rgb: np.ndarray) -> np.ndarray:
    """A cheap, deterministic stand-in for a reconstruction network."""
    h, w = rgb.shape[:2]
    small = Image.fromarray(rgb).resize((w // 2, h // 2), Image.Resampling.BILINEAR)
    return np.asarray(small.resize((w, h), Image.Resampling.BICUBIC), dtype=np.uint8)


def _source(tmp_path: Path) -> pairs.Source:
    rng = np.random.default_rng(1)
    arr = rng.integers(0, 256, (300, 280, 4), dtype=np.uint8)
    path = tmp_path / "img.png"
    Image.fromarray(arr, "RGBA").save(path)
    return pairs.Source(path, "ab" * 32, "test-source")


def test_pair_generation_is_deterministic_under_a_seed(tmp_path: Path) -> None:
    families = {"blur": _blur_twin, "identity": lambda a: a.copy()}
    weights = {"blur": 1.0, "identity": 1.0}
    source = _source(tmp_path)
    tasks = pairs.plan([source], seed=7, crops=lambda s: 5)
    first = [pairs.make_item(t, families, weights) for t in tasks]
    second = [pairs.make_item(t, families, weights) for t in pairs.plan([source], 7,
                                                                     crops=lambda s: 5)]
    for a, b in zip(first, second, strict=True):
        assert a is not None and b is not None
        assert np.array_equal(a["real"], b["real"]) and np.array_equal(a["fake"], b["fake"])
        assert a["family"] == b["family"]
        size = int(a["size"])
        assert pairs.CROP_MIN <= size <= pairs.CROP_MAX and size % pairs.CROP_STEP == 0
    other = pairs.make_item(pairs.plan([source], 8, crops=lambda s: 1)[0], families, weights)
    head = first[0]
    assert other is not None and head is not None
    assert not np.array_equal(other["real"], head["real"])


def test_pair_cache_is_resumable(tmp_path: Path) -> None:
    calls: list[int] = []

    def counting(rgb: np.ndarray) -> np.ndarray:
        calls.append(1)
        return _blur_twin(rgb)

    source = _source(tmp_path)
    tasks = pairs.plan([source], seed=3, crops=lambda s: 3)
    out = tmp_path / "cache"
    made = list(pairs.run(tasks, out, {"blur": counting}, {"blur": 1.0}, progress=False))
    assert len(calls) == 3 and all(p is not None for _, p in made)
    again = list(pairs.run(tasks, out, {"blur": counting}, {"blur": 1.0}, progress=False))
    assert len(calls) == 3 and [p for _, p in again] == [p for _, p in made]
    item = pairs.load_item(pairs.index(out)[0])
    assert item["recipe"] == pairs.RECIPE and item["source"] == "test-source"


def test_flat_crops_are_skipped() -> None:
    import random

    flat = np.full((200, 200, 3), 128, np.uint8)
    assert pairs.pick_crop(flat, random.Random(0)) is None
    assert pairs.pick_crop(np.zeros((64, 64, 3), np.uint8), random.Random(0)) is None


def test_reading_a_source_leaves_the_bomb_guard_in_place(tmp_path: Path) -> None:
    """Registry wallpapers are read without Pillow's pixel limit, but only while they are
    read: a worker that runs the site loop goes on scanning uploads with the guard."""
    path = tmp_path / "wallpaper.png"
    Image.new("RGB", (300, 200), (10, 20, 30)).save(path)
    before = Image.MAX_IMAGE_PIXELS
    assert before is not None
    image = pairs.load_source(path)
    assert image.size == (300, 200)
    assert before == Image.MAX_IMAGE_PIXELS

"""Dataset-builder rules: what counts as AI output, control maps, dedup and group splits."""

from __future__ import annotations

import random

import numpy as np
from PIL import Image

from moderation.training import augment, filters, splits
from moderation.training.dataset import _output_indices, generator_family


def _noise(size: tuple[int, int] = (300, 300), seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


def test_edit_pairs_keep_only_the_output_side() -> None:
    named: dict[str, object] = {"thumbnail": ["input/photo.png", "output/edit.png"]}
    assert _output_indices(named, 2) == [2]
    assert _output_indices({"thumbnailVariant": "compareSlider"}, 2) == [2]
    assert _output_indices({"thumbnailVariant": "compareSlider"}, 1) == []
    assert _output_indices({}, 1) == [1]


def test_generator_families_merge_versions() -> None:
    assert generator_family(["FLUX.2 Dev"]) == generator_family(["FLUX"]) == "flux"
    assert generator_family(["Stable Diffusion 3.5"]) == "sd"
    assert generator_family([]) == "unknown"


def test_control_maps_and_flat_graphics_are_rejected() -> None:
    grey = Image.fromarray(np.tile(np.arange(256, dtype=np.uint8), (256, 1))).convert("RGB")
    assert filters.is_control_map(grey)
    normal = Image.new("RGB", (256, 256), (128, 128, 255))
    assert filters.is_control_map(normal)
    assert not filters.is_control_map(_noise())
    logo = Image.new("RGB", (300, 300), (255, 255, 255))
    logo.paste((200, 0, 0), (50, 50, 250, 250))
    assert filters.is_flat_graphic(logo)
    assert not filters.is_flat_graphic(_noise())


def test_dhash_survives_reencoding_but_separates_pictures() -> None:
    image = _noise((400, 300)).resize((100, 75)).resize((400, 300))
    reencoded = augment.reencode(image, random.Random(1))
    assert filters.hamming(filters.dhash(image), filters.dhash(reencoded)) <= 4
    assert filters.hamming(filters.dhash(image), filters.dhash(_noise(seed=5))) > 10


def test_badge_and_caption_bands_are_cropped() -> None:
    cropped = filters.crop_badge_band(Image.new("RGB", (400, 400)))
    assert cropped.size == (400, 400 - 80 - 48)


def test_views_are_identical_processing_for_any_input() -> None:
    rgba = Image.new("RGBA", (500, 300), (0, 0, 0, 0))
    out = augment.views(rgba, 3, 224, 1024, random.Random(0))
    assert [v.shape for v in out] == [(224, 224, 3)] * 3
    small = augment.views(Image.new("RGB", (100, 80)), 1, 224, 1024, random.Random(0))
    assert small[0].shape == (224, 224, 3)  # mirror-padded, never upscaled


def test_splits_hold_out_whole_groups() -> None:
    rows = []
    for fam in ("flux", "qwen", "sdxl", "gpt", "kling", "recraft", "hidream"):
        rows += [{"label": "ai", "generator": fam, "source": "media"}] * 10
    for src in ("wesnoth-1.16-data", "openclipart-png", "plasma-workspace-wallpapers",
                "flare-game"):
        rows += [{"label": "human", "generator": "human", "source": src}] * 10
    fold = splits.assign(rows, folds=3)
    by_group: dict[str, set[int]] = {}
    for r, f in zip(rows, fold, strict=True):
        by_group.setdefault(r["generator"] + r["source"], set()).add(f)
    assert all(len(f) == 1 for f in by_group.values())  # a group never straddles folds
    assert by_group["humanflare-game"] == {-1}
    assert any(f == {-1} for k, f in by_group.items() if k.endswith("media"))
    for k in range(3):
        labels = {r["label"] for r, f in zip(rows, fold, strict=True) if f == k}
        assert labels == {"ai", "human"}

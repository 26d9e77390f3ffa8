"""``moderation_evaluate``: the issue's JSON keys, per-folder results, perturbations, plot."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from PIL import Image

from moderation.training.evaluate import perturbed_bytes

KEYS = {"n_ai", "n_human", "auroc", "ap", "tpr_at_fpr", "fpr_at_threshold", "threshold",
        "ms_per_image", "per_folder"}


def _write(path: Path, seed: int, smooth: bool) -> None:
    rng = np.random.default_rng(seed)
    if smooth:
        small = Image.fromarray(rng.integers(0, 256, (6, 6, 3), dtype=np.uint8))
        im = small.resize((300, 260), Image.Resampling.BICUBIC)
    else:
        im = Image.fromarray(rng.integers(0, 256, (260, 300, 3), dtype=np.uint8))
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path)


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    ai, human = tmp_path / "ai", tmp_path / "human"
    for i in range(3):
        _write(ai / "genA" / f"{i}.png", i, smooth=True)
        _write(human / "artists" / f"{i}.png", 10 + i, smooth=False)
    _write(human / "loose.png", 99, smooth=False)
    (human / "notes.txt").write_text("not an image")
    return ai, human


def test_json_report_has_the_issue_keys(folders: tuple[Path, Path]) -> None:
    ai, human = folders
    out = io.StringIO()
    call_command("moderation_evaluate", "--ai", str(ai), "--human", str(human), "--json",
                 "--perturb", "jpeg85,resize0.75", stdout=out)
    report = json.loads(out.getvalue())
    assert set(report) >= KEYS
    assert (report["n_ai"], report["n_human"]) == (3, 4)
    assert set(report["tpr_at_fpr"]) == {"0.01", "0.05"}
    assert set(report["per_folder"]) == {"ai/genA", "human/artists", "human/."}
    assert report["per_folder"]["ai/genA"]["n"] == 3
    assert 0.0 <= report["auroc"] <= 1.0 and report["ms_per_image"] > 0
    assert set(report["perturbed"]) == {"jpeg85", "resize0.75"}
    assert set(report["perturbed"]["jpeg85"]) >= KEYS


def test_plot_is_written(folders: tuple[Path, Path], tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    ai, human = folders
    png = tmp_path / "roc.png"
    call_command("moderation_evaluate", "--ai", str(ai), "--human", str(human),
                 "--plot", str(png), stdout=io.StringIO(), stderr=io.StringIO())
    with Image.open(png) as im:
        assert im.width > 500


def test_perturbations_change_the_bytes() -> None:
    buf = io.BytesIO()
    Image.new("RGB", (200, 100), (10, 200, 30)).save(buf, format="PNG")
    with Image.open(io.BytesIO(perturbed_bytes(buf.getvalue(), "jpeg85"))) as im:
        assert im.format == "JPEG"
    with Image.open(io.BytesIO(perturbed_bytes(buf.getvalue(), "resize0.75"))) as im:
        assert im.size == (150, 75)
    with pytest.raises(ValueError, match="unknown perturbation"):
        perturbed_bytes(buf.getvalue(), "blur3")


def test_missing_folder_is_a_command_error(tmp_path: Path) -> None:
    with pytest.raises(CommandError):
        call_command("moderation_evaluate", "--ai", str(tmp_path / "nope"),
                     "--human", str(tmp_path))

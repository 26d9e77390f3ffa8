"""The site-adaptive loop on a small synthetic site, and per-version confusion counts.

Needs the ``[train]`` extras (torch); skipped where they are not installed. Kept small
(three dozen 128 px works, one view each, a blend with two-layer trace CNNs) so it runs
in about a minute on one loaded core.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from PIL import Image, ImageDraw

from moderation.constants import Label
from moderation.models import Evidence, ModerationCase
from moderation.training.confusion import confusion_counts, rates
from tests.factories import make_user
from tests.testapp.models import Artwork
from tests.training.tiny_blend import tiny_blend_base

SHIPPED = Path(__file__).resolve().parents[2] / "moderation" / "data" / "classifier"
#: Side of the synthetic works: one detector crop each, so the loop's held-out scoring
#: and the int8 calibration stay quick.
SIDE = 128


def _ai_like(seed: int) -> bytes:
    """Smooth colour fields up-sampled 2x (the up-sampling trace the loop can learn)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    half = SIDE // 2
    base = Image.fromarray(small).resize((half, half), Image.Resampling.BICUBIC)
    noise = rng.normal(0, 12, (half, half, 3))
    arr = np.clip(np.asarray(base, dtype=np.float64) + noise, 0, 255).astype(np.uint8)
    im = Image.fromarray(arr).resize((SIDE, SIDE), Image.Resampling.NEAREST)
    buf = io.BytesIO()
    im.save(buf, format="PNG", pnginfo=None)
    return buf.getvalue()


def _hand_like(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    im = Image.new("RGB", (SIDE, SIDE), (250, 246, 236))
    draw = ImageDraw.Draw(im)
    for _ in range(40):
        xy = [tuple(int(v) for v in rng.integers(0, SIDE, 2)) for _ in range(2)]
        draw.line(xy, fill=tuple(int(v) for v in rng.integers(0, 160, 3)),
                  width=int(rng.integers(1, 4)))
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def _site(n_owners: int = 12, per_owner: int = 3) -> None:
    moderator = make_user("mod", moderator=True)
    for o in range(n_owners):
        owner = make_user(f"artist{o}")
        for k in range(per_owner):
            seed = o * 10 + k
            ai = (o + k) % 2 == 0
            data = _ai_like(seed) if ai else _hand_like(seed)
            art = Artwork.objects.create(
                owner=owner, image=SimpleUploadedFile("w.png", data, content_type="image/png"))
            case = ModerationCase.objects.for_instance(art).get()
            if ai and k == 2:  # proved by provenance, never reviewed
                Evidence.objects.create(case=case, detector="provenance", detector_version="1",
                                        content_sha256="b" * 64, label="ai", strength="proof",
                                        message="c2pa_trusted_ai")
                continue
            ModerationCase.objects.filter(pk=case.pk).update(
                label=Label.AI if ai else Label.HUMAN, decided_by=moderator)
            Evidence.objects.create(case=case, detector="classifier", detector_version="1:v1",
                                    content_sha256="b" * 64, label="ai" if ai else "none",
                                    strength="weak", score=0.9 if ai else 0.1,
                                    details={"kind": "classifier"})


@pytest.mark.django_db
def test_from_site_installs_a_shadow_version_with_comparison(tmp_path: Path,
                                                             capsys: Any) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("efficientnet_lite_pytorch")
    _site()
    install = tmp_path / "bundles"
    call_command("moderation_train", "--from-site", "--install-dir", str(install),
                 "--base-bundle", str(tiny_blend_base(tmp_path)), "--epochs", "2", "--views", "1",
                 "--trace-steps", "3", "--pairs-per-upload", "1")
    entries = json.loads((install / "installed.json").read_text())
    assert len(entries) == 1 and entries[0]["status"] == "shadow"
    assert entries[0]["adapted"] == "semantic + trace CNNs + blend"
    assert (install / entries[0]["path"] / "trace-1.pt").is_file()
    version = entries[0]["version"]
    assert (install / "shadow").resolve() == (install / version).resolve()
    for side in ("old", "new"):
        m = entries[0]["metrics"][side]
        assert m["n_ai"] > 0 and m["n_human"] > 0 and 0.0 <= m["auroc"] <= 1.0
    assert entries[0]["train_cases"] + entries[0]["heldout_cases"] == 36
    out = capsys.readouterr().out
    assert "shadow" in out and '"MODE": "shadow"' in out

    # The shadow bundle is loadable by the production backend in shadow mode.
    from moderation.detectors.onnx import OnnxClassifier
    from moderation.internal.imaging import load_image

    shadow = OnnxClassifier("classifier-shadow", {"BUNDLE": str(install / "shadow")},
                            mode="shadow")
    assert shadow.enabled and shadow.bundle is not None
    assert shadow.bundle.version == version
    assert 0.0 <= shadow.predict(load_image(_ai_like(999)))[0] <= 1.0

    with pytest.raises(CommandError):
        call_command("moderation_train", "--promote", version, "--install-dir", str(install))
    if not entries[0]["beats_installed"]:
        # The rule holds from the command line too: a version that lost stays in shadow.
        assert "does not beat the installed bundle" in out
        with pytest.raises(CommandError, match="does not beat"):
            call_command("moderation_train", "--promote", version, "--install-dir",
                         str(install), "--yes")
        assert not (install / "current").exists()
        return
    call_command("moderation_train", "--promote", version, "--install-dir", str(install),
                 "--yes")
    entries = json.loads((install / "installed.json").read_text())
    assert entries[0]["status"] == "current"
    assert (install / "current").resolve() == (install / version).resolve()


@pytest.mark.django_db
def test_too_few_site_cases_is_a_clear_error(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    with pytest.raises(CommandError, match="labelled site cases"):
        call_command("moderation_train", "--from-site", "--install-dir", str(tmp_path),
                     "--base-bundle", str(SHIPPED))


@pytest.mark.django_db
def test_confusion_counts_per_detector_version() -> None:
    moderator = make_user("mod", moderator=True)
    owner = make_user("artist")
    truth_and_said = [(Label.AI, "ai"), (Label.AI, "none"), (Label.HUMAN, "ai"),
                      (Label.HUMAN, "none"), (Label.HUMAN, "none")]
    for truth, said in truth_and_said:
        art = Artwork.objects.create(
            owner=owner, image=SimpleUploadedFile("w.png", _hand_like(1),
                                                  content_type="image/png"))
        case = ModerationCase.objects.for_instance(art).get()
        ModerationCase.objects.filter(pk=case.pk).update(label=truth, decided_by=moderator)
        Evidence.objects.create(case=case, detector="classifier", detector_version="1:a",
                                content_sha256="c" * 64, label=said, strength="weak")
        Evidence.objects.create(case=case, detector="classifier-shadow",
                                detector_version="1:b", mode="shadow", content_sha256="c" * 64,
                                label="ai" if truth == Label.AI else "none", strength="weak")
    # An undecided case never counts.
    art = Artwork.objects.create(
        owner=owner, image=SimpleUploadedFile("w.png", _hand_like(2), content_type="image/png"))
    Evidence.objects.create(case=ModerationCase.objects.for_instance(art).get(),
                            detector="classifier", detector_version="1:a",
                            content_sha256="d" * 64, label="ai", strength="weak")
    counts = confusion_counts()
    assert counts[("classifier", "1:a", "enforce")] == {"tp": 1, "fn": 1, "fp": 1, "tn": 2}
    assert counts[("classifier-shadow", "1:b", "shadow")] == {"tp": 2, "fn": 0, "fp": 0,
                                                              "tn": 3}
    r = rates(counts[("classifier", "1:a", "enforce")])
    assert r["precision"] == 0.5 and r["fpr"] == pytest.approx(1 / 3) and r["n"] == 5

"""The classifier bundle shipped inside the package: integrity, format and inference."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from moderation.detectors.onnx import OnnxClassifier
from moderation.internal.bundle import default_bundle_dir, file_sha256, load_bundle
from moderation.internal.imaging import load_image

SHIPPED = Path(__file__).resolve().parents[2] / "moderation" / "data" / "classifier"


def _png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def _drawing(seed: int, size: tuple[int, int] = (420, 300)) -> bytes:
    rng = np.random.default_rng(seed)
    im = Image.new("RGB", size, (245, 240, 230))
    draw = ImageDraw.Draw(im)
    for _ in range(40):
        xy = [tuple(int(v) for v in rng.integers(0, max(size), 2)) for _ in range(2)]
        colour = tuple(int(v) for v in rng.integers(0, 200, 3))
        draw.line(xy, fill=colour, width=int(rng.integers(1, 6)))
    return _png(im)


def test_the_shipped_bundle_is_the_default() -> None:
    assert default_bundle_dir() == SHIPPED


def test_shipped_files_and_checksum() -> None:
    meta = json.loads((SHIPPED / "model.json").read_text())
    assert file_sha256(SHIPPED / "model.onnx") == meta["sha256"]
    total = sum(p.stat().st_size for p in SHIPPED.iterdir() if p.is_file())
    assert total <= 20 * 1024 * 1024
    bundle = load_bundle(SHIPPED)
    assert bundle.photo_index is not None and bundle.ai_index != bundle.photo_index
    assert 0 < bundle.thresholds["fpr_0.05"] <= bundle.thresholds["fpr_0.01"] <= 1


def test_model_card_names_the_training_manifest() -> None:
    manifest = SHIPPED / "training-manifest.csv"
    digest = hashlib.sha256(manifest.read_bytes()).hexdigest()
    meta = json.loads((SHIPPED / "model.json").read_text())
    assert meta["training"]["manifest_sha256"] == digest
    assert digest in (SHIPPED / "MODEL_CARD.md").read_text()
    with manifest.open() as fh:
        rows = list(csv.DictReader(fh))
    assert {r["label"] for r in rows} == {"ai", "human"}
    assert all(r["licence"] and len(r["sha256"]) == 64 and r["source_package"] for r in rows)


def test_a_tampered_model_is_refused(tmp_path: Path) -> None:
    for name in ("model.json", "model.onnx"):
        (tmp_path / name).write_bytes((SHIPPED / name).read_bytes())
    with (tmp_path / "model.onnx").open("ab") as fh:
        fh.write(b"\0")
    detector = OnnxClassifier("classifier", {"BUNDLE": str(tmp_path)})
    assert not detector.enabled


@pytest.mark.parametrize("size", [(420, 300), (150, 120), (2400, 1600)])
def test_classifies_images_the_suite_makes(size: tuple[int, int]) -> None:
    detector = OnnxClassifier("classifier", {})
    assert detector.enabled
    result = detector.detect(load_image(_drawing(1, size)))
    assert result.score is not None and 0.0 <= result.score <= 1.0
    assert result.strength == "weak"  # a pixel classifier never proves anything
    assert 1 <= result.details["crops"] <= 9
    photo = result.details["photo_probability"]
    assert photo is not None and 0.0 <= photo <= 1.0


def test_scores_are_deterministic_and_depend_on_pixels() -> None:
    detector = OnnxClassifier("classifier", {})
    a = detector.predict(load_image(_drawing(1)))[0]
    assert detector.predict(load_image(_drawing(1)))[0] == a
    noise = np.random.default_rng(3).integers(0, 256, (300, 420, 3), dtype=np.uint8)
    assert detector.predict(load_image(_png(Image.fromarray(noise))))[0] != a


SEMANTIC = SHIPPED.parent / "classifier-semantic"


def test_one_row_per_call_scores_as_one_batch() -> None:
    """The default runs the crops one per call (a smaller onnxruntime arena); the int8
    graph's activations are quantised with fixed scales, so the score, logits and
    embedding are those of a single call over the whole batch. The semantic-only
    bundle, because a diagonal blend (the default bundle) always takes one call."""
    image = load_image(_drawing(5, (1600, 1200)))
    rows = OnnxClassifier("classifier", {"BUNDLE": str(SEMANTIC)}).run(image)
    batch = OnnxClassifier("classifier", {"BUNDLE": str(SEMANTIC), "BATCH_SIZE": 0}).run(image)
    assert rows.crops == batch.crops == 9
    np.testing.assert_allclose(rows.logits, batch.logits, atol=1e-5)
    assert rows.score == pytest.approx(batch.score, abs=1e-6)
    assert rows.embedding is not None and batch.embedding is not None
    np.testing.assert_allclose(rows.embedding, batch.embedding, atol=1e-5)


def test_the_shipped_graph_is_the_blend_its_model_json_states() -> None:
    """Per image, the shipped logit equals the stated stack over its parts' logits.

    The parts: the semantic-only bundle 1.1.0 (shipped beside it for speed) and the
    trace CNNs whose weights the bundle carries, read on the crops model.json names
    (``trace_rows``); the stack is what the blend report's scales, weight and Platt
    scaling expand to.
    """
    torch = pytest.importorskip("torch")
    from moderation.training.aligned import trace  # needs torch: the train extra

    meta = json.loads((SHIPPED / "model.json").read_text())
    weights = meta["fusion"]["stack_weights_semantic_then_traces"]
    nets = []
    for i in range(len(weights) - 1):
        net = trace.build_model()
        net.load_state_dict(torch.load(SHIPPED / f"trace-{i}.pt", weights_only=True))
        nets.append(net)
    blended = OnnxClassifier("classifier", {})
    semantic = OnnxClassifier("semantic", {"BUNDLE": str(SEMANTIC)})
    assert semantic.enabled and semantic.bundle is not None
    for seed in (1, 2):
        image = load_image(_drawing(seed, (520, 400)))
        got = blended.predict(image)[2]
        z_sem = semantic.predict(image)[2]
        rgb = np.asarray(image.image.convert("RGB"), dtype=np.uint8)
        rows = meta.get("trace_rows", "all")
        z_traces = [float(trace.score_images(net, [rgb], rows=rows)[0]) for net in nets]
        expected = (weights[0] * (z_sem[semantic.bundle.ai_index] - z_sem[0])
                    + sum(w * z for w, z in zip(weights[1:], z_traces, strict=True))
                    + meta["fusion"]["bias"])
        assert abs((got[1] - got[0]) - expected) < 0.05


def test_the_semantic_only_bundle_ships_for_speed() -> None:
    bundle = load_bundle(SEMANTIC)
    assert json.loads((SEMANTIC / "model.json").read_text())["version"] == "1.1.0"
    detector = OnnxClassifier("semantic", {"BUNDLE": str(SEMANTIC)})
    result = detector.detect(load_image(_drawing(3)))
    assert bundle.ai_index == 1 and result.score is not None

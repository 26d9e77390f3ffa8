"""Static int8 quantisation of a bundle: reproducible, recorded, and still a bundle."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
from PIL import Image

from moderation.detectors.onnx import OnnxClassifier
from moderation.internal.bundle import load_bundle
from moderation.internal.imaging import load_image
from moderation.training.quantize import calibration_batches, quantize_bundle
from tests.factories import png_bytes
from tests.fixtures.tiny_onnx import write_bundle


def _images(folder: Path, count: int) -> list[Path]:
    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        path = folder / f"calib-{i}.png"
        Image.fromarray(rng.integers(0, 256, (80, 96, 3), dtype=np.uint8)).save(path)
        paths.append(path)
    (folder / "broken.png").write_bytes(b"not an image")  # skipped, never fatal
    return [*paths, folder / "broken.png"]


def test_quantized_bundle_records_itself_and_scores_like_the_original(tmp_path: Path) -> None:
    src = write_bundle(tmp_path / "fp32")
    images = _images(tmp_path, 6)
    meta = quantize_bundle(src, tmp_path / "int8", images, count=5, version="9.9.9")

    dst = tmp_path / "int8"
    assert meta["sha256"] == hashlib.sha256((dst / "model.onnx").read_bytes()).hexdigest()
    stored = json.loads((dst / "model.json").read_text())
    assert stored["version"] == "9.9.9"
    assert stored["export"]["quantization"]["fp32_sha256"] == json.loads(
        (src / "model.json").read_text())["sha256"]
    assert load_bundle(dst).label.endswith("9.9.9")  # a valid bundle the loader accepts

    image = load_image(png_bytes((120, 90), (30, 160, 90)))
    before = OnnxClassifier("fp32", {"BUNDLE": str(src)}).detect(image).score
    after = OnnxClassifier("int8", {"BUNDLE": str(dst)}).detect(image).score
    assert before is not None and after is not None
    assert abs(before - after) < 0.05


def test_calibration_uses_the_detectors_crops_and_is_seeded(tmp_path: Path) -> None:
    src = write_bundle(tmp_path / "fp32")
    bundle = load_bundle(src)
    images = _images(tmp_path, 4)
    first = [b["crops"].shape for b in calibration_batches(images, bundle, 3, seed=1)]
    again = [b["crops"].shape for b in calibration_batches(images, bundle, 3, seed=1)]
    assert first == again and len(first) == 3
    assert all(shape[1:] == (3, 32, 32) for shape in first)  # NCHW crops of the bundle

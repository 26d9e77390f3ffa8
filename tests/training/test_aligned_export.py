"""A blend whose trace CNNs read only the diagonal crops: graph, bundle and detector agree."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
from PIL import Image, ImageDraw
from torch import nn

from moderation.detectors.onnx import OnnxClassifier
from moderation.internal.bundle import default_bundle_dir, load_bundle
from moderation.internal.imaging import load_image
from moderation.internal.preprocess import diagonal_rows, make_crop_grid
from moderation.training.aligned import export, trace
from moderation.training.aligned.fusion import Stack


class TinySemantic(nn.Module):
    """Stands in for EfficientNet: [human, ai, photo] logits from channel means."""

    def __init__(self) -> None:
        super().__init__()
        self.head = nn.Linear(3, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(x.mean(dim=(2, 3)))


def _parts(seed: int) -> tuple[nn.Module, list[nn.Module]]:
    torch.manual_seed(seed)
    return TinySemantic().eval(), [trace.build_model().eval() for _ in range(2)]


STACK = Stack((0.7, 0.4, -0.3), 0.2)


def _expected(semantic: nn.Module, nets: list[nn.Module], crops: np.ndarray,
              rows: np.ndarray) -> float:
    """The stated blend: semantic mean over every crop + trace means over ``rows``."""
    x = torch.from_numpy(crops)
    with torch.no_grad():
        sem = semantic(x)
        z = STACK.weights[0] * (sem[:, 1] - sem[:, 0]).mean() + STACK.bias
        pixels = x[torch.from_numpy(rows)] * 128.0 + 127.0
        for w, net in zip(STACK.weights[1:], nets, strict=True):
            z = z + w * net(pixels).mean()
    return float(z)


def test_diagonal_module_exports_with_a_rows_input(tmp_path: Path) -> None:
    semantic, nets = _parts(0)
    fused = export.fused_module(semantic, nets, STACK, 127.0, 128.0, rows="diagonal")
    diff = export.export(fused, tmp_path / "m.onnx", 64)
    assert diff < 1e-4
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["input", "trace_rows"]
    crops = np.random.default_rng(1).uniform(-1, 1, (9, 3, 64, 64)).astype(np.float32)
    rows = diagonal_rows(3, 3)
    logits = session.run(None, {"input": crops, "trace_rows": rows})[0]
    z = float(np.mean(logits[:, 1] - logits[:, 0]))
    assert z == pytest.approx(_expected(semantic, nets, crops, rows), abs=1e-4)
    # The crops off the diagonal reach the semantic part only.
    changed = crops.copy()
    changed[1] = -changed[1]
    again = session.run(None, {"input": changed, "trace_rows": rows})[0]
    z_again = float(np.mean(again[:, 1] - again[:, 0]))
    assert z_again == pytest.approx(_expected(semantic, nets, changed, rows), abs=1e-4)
    assert z_again != pytest.approx(z, abs=1e-4)


def test_unknown_rows_are_refused() -> None:
    semantic, nets = _parts(0)
    with pytest.raises(ValueError, match="unknown trace rows"):
        export.fused_module(semantic, nets, STACK, 127.0, 128.0, rows="corners")


def _picture(size: tuple[int, int]) -> bytes:
    rng = np.random.default_rng(5)
    im = Image.new("RGB", size, (240, 235, 225))
    draw = ImageDraw.Draw(im)
    for _ in range(60):
        xy = [tuple(int(v) for v in rng.integers(0, max(size), 2)) for _ in range(2)]
        draw.line(xy, fill=tuple(int(v) for v in rng.integers(0, 220, 3)), width=3)
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def test_the_detector_feeds_a_diagonal_bundle_its_rows(tmp_path: Path) -> None:
    shipped = default_bundle_dir()
    assert shipped is not None
    base_meta = json.loads((shipped / "model.json").read_text())
    semantic, nets = _parts(3)
    fused = export.fused_module(semantic, nets, STACK, 127.0, 128.0, rows="diagonal")
    out = tmp_path / "bundle"
    export.write_fused_bundle(fused, base_meta, out, version="0.0.1",
                              thresholds={"fpr_0.01": 0.9, "fpr_0.05": 0.8, "review": 0.9},
                              extra={"trace_rows": "diagonal"})
    bundle = load_bundle(out)
    assert bundle.trace_rows == "diagonal"
    detector = OnnxClassifier("classifier", {"BUNDLE": str(out)})
    for size in ((700, 520), (600, 200)):  # a 3 x 3 grid, and one row of three
        image = load_image(_picture(size))
        logits = detector.predict(image)[2]
        crops, grid = make_crop_grid(image.image, bundle)
        expected = _expected(semantic, nets, crops, diagonal_rows(*grid))
        assert float(logits[1] - logits[0]) == pytest.approx(expected, abs=1e-3)


def test_offline_scores_read_the_same_diagonal() -> None:
    model = trace.build_model().eval()
    rgb = np.random.default_rng(2).integers(0, 256, (700, 520, 3), dtype=np.uint8)
    crops = trace.crop_grid(rgb, 224, 3)
    with torch.no_grad():
        expected = float(model(trace.batch_tensor([crops[i] for i in (0, 4, 8)])).mean())
    got = float(trace.score_images(model, [rgb], 224, 3, rows="diagonal")[0])
    assert got == pytest.approx(expected, abs=1e-5)
    assert trace.crop_grid_shape(np.zeros((100, 600, 3), np.uint8), 224, 3) == (1, 3)

"""Write a model bundle in the format :mod:`moderation.internal.bundle` loads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from moderation.internal.bundle import file_sha256, load_bundle
from moderation.training.backbone import INPUT_SIZE, MEAN, STD, Classifier

#: Logit layout of the exported network (see :class:`Classifier`).
AI_INDEX, PHOTO_INDEX = 1, 2
OPSET = 17


def export_onnx(model: Classifier, path: Path) -> float:
    """Export with the legacy TorchScript exporter; return max |onnx - torch| on a probe."""
    import onnxruntime as ort

    model.eval()
    probe = torch.randn(2, 3, INPUT_SIZE, INPUT_SIZE)
    torch.onnx.export(model, (probe,), str(path), dynamo=False, opset_version=OPSET,
                      input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    with torch.no_grad():
        expected = model(probe).numpy()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {"input": probe.numpy()})[0]
    return float(np.max(np.abs(got - expected)))


def write_bundle(model: Classifier, out: Path, *, name: str, version: str, grid: int,
                 max_side: int, temperature: float, thresholds: dict[str, float],
                 extra: dict[str, Any]) -> dict[str, Any]:
    """Export ``model`` and its ``model.json`` into ``out``; return the JSON written."""
    out.mkdir(parents=True, exist_ok=True)
    diff = export_onnx(model, out / "model.onnx")
    meta: dict[str, Any] = {
        "name": name,
        "version": version,
        "sha256": file_sha256(out / "model.onnx"),
        "input_size": INPUT_SIZE,
        "normalisation": {"mean": [MEAN] * 3, "std": [STD] * 3},
        "crop": {"type": "grid", "size": INPUT_SIZE, "grid": grid, "max_side": max_side},
        "outputs": {"logits": "logits", "ai_index": AI_INDEX, "photo_index": PHOTO_INDEX},
        "calibration": {"temperature": round(temperature, 6)},
        "thresholds": {k: round(v, 6) for k, v in thresholds.items()},
        "input_name": "input",
        "layout": "NCHW",
        "export": {"opset": OPSET, "exporter": "torch.onnx legacy (dynamo=False)",
                   "torch": torch.__version__, "max_abs_diff_vs_torch": diff},
        **extra,
    }
    (out / "model.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n")
    load_bundle(out)  # the same validation the detector runs
    return meta

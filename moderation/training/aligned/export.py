"""One ONNX graph for the fused classifier: semantic network + trace CNN + stack.

The production detector runs one graph over the bundle's crops and averages logits, so
fusion is folded into the graph: per crop ``z = a * (ai - human) + b * trace + c`` is
emitted as ``[-z/2, z/2, photo]``. The stack is linear in both logits, so the mean over
crops of the fused logit equals the stack applied to the mean logits it was fitted on.
The bundle format and the detector stay as they are.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from moderation.internal.bundle import file_sha256, load_bundle
from moderation.training.aligned.fusion import Stack

if TYPE_CHECKING:
    from torch import nn

OPSET = 17


def fused_module(semantic: nn.Module, trace_net: nn.Module, stack: Stack,
                 mean: float, std: float) -> nn.Module:
    """Wrap both networks; the input is the semantic bundle's normalised crops."""
    import torch  # heavy optional dependency (export only)
    from torch import nn

    class Fused(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.semantic, self.trace = semantic, trace_net
            self.w_sem, self.w_trace = (float(w) for w in stack.weights)
            self.bias = float(stack.bias)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            sem = self.semantic(x)  # [-z/2, z/2, photo]
            z_sem = sem[:, 1] - sem[:, 0]
            z_trace = self.trace(x * std + mean)  # the trace net reads 0..255 pixels
            z = self.w_sem * z_sem + self.w_trace * z_trace + self.bias
            return torch.stack([-z / 2, z / 2, sem[:, 2]], dim=1)

    return Fused().eval()


def export(module: nn.Module, path: Path, size: int) -> float:
    """Export with the legacy exporter; return max |onnx - torch| on a random probe."""
    import onnxruntime as ort  # inference runtime, only to check the export
    import torch  # heavy optional dependency (export only)

    probe = torch.randn(2, 3, size, size)
    torch.onnx.export(module, (probe,), str(path), dynamo=False, opset_version=OPSET,
                      input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    with torch.no_grad():
        expected = module(probe).numpy()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {"input": probe.numpy()})[0]
    return float(np.max(np.abs(got - expected)))


def write_fused_bundle(module: nn.Module, base_meta: dict[str, Any], out: Path, *,
                       version: str, thresholds: dict[str, float],
                       extra: dict[str, Any]) -> dict[str, Any]:
    """Write model.onnx and model.json (base bundle's crops and normalisation, T = 1)."""
    import torch  # heavy optional dependency (export only)

    out.mkdir(parents=True, exist_ok=True)
    diff = export(module, out / "model.onnx", int(base_meta["input_size"]))
    meta = {**base_meta, "name": "tegaki-effnetlite0-trace", "version": version,
            "sha256": file_sha256(out / "model.onnx"),
            "calibration": {"temperature": 1.0},
            "thresholds": {k: round(v, 6) for k, v in thresholds.items()},
            "export": {"opset": OPSET, "exporter": "torch.onnx legacy (dynamo=False)",
                       "torch": torch.__version__, "max_abs_diff_vs_torch": diff},
            **extra}
    (out / "model.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n")
    load_bundle(out)  # the detector's own validation
    return meta

"""One ONNX graph for the fused classifier: semantic network + trace CNN + stack.

The production detector runs one graph over the bundle's crops and averages logits, so
fusion is folded into the graph: per crop ``z = a * (ai - human) + b * trace + c`` is
emitted as ``[-z/2, z/2, photo]``. The stack is linear in both logits, so the mean over
crops of the fused logit equals the stack applied to the mean logits it was fitted on.
A blend may read its trace CNNs on some crops only (``trace_rows`` in model.json): the
graph then takes those crops' indices as a second input, which the detector feeds.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from moderation.internal.bundle import file_sha256, load_bundle
from moderation.training.aligned.fusion import Stack

if TYPE_CHECKING:
    from torch import nn

OPSET = 17


def fused_module(semantic: nn.Module, trace_nets: Sequence[nn.Module], stack: Stack,
                 mean: float, std: float, rows: str = "all") -> nn.Module:
    """Wrap the semantic network and one or more trace CNNs; the input is the semantic
    bundle's normalised crops. ``stack.weights`` are (semantic, trace 1, ..., trace k).

    With ``rows="diagonal"`` the module takes a second input, ``trace_rows`` (indices of
    the crops the trace CNNs read); their mean logit over those crops is added to every
    crop's semantic logit, so the detector's mean over all crops equals the semantic mean
    plus the trace mean over the chosen ones."""
    import torch  # heavy optional dependency (export only)
    from torch import nn

    if len(stack.weights) != 1 + len(trace_nets):
        raise ValueError(f"{len(stack.weights)} weights for 1 + {len(trace_nets)} inputs")

    class Parts(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.semantic = semantic
            self.traces = nn.ModuleList(trace_nets)
            self.w_sem = float(stack.weights[0])
            self.w_traces = [float(w) for w in stack.weights[1:]]
            self.bias = float(stack.bias)

        def semantic_part(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            """The stacked semantic logit per crop, and the photo logit."""
            sem = self.semantic(x)  # [-z/2, z/2, photo]
            return self.w_sem * (sem[:, 1] - sem[:, 0]) + self.bias, sem[:, 2]

    class Fused(Parts):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            z, photo = self.semantic_part(x)
            pixels = x * std + mean  # the trace nets read 0..255 pixels
            for weight, net in zip(self.w_traces, self.traces, strict=True):
                z = z + weight * net(pixels)
            return torch.stack([-z / 2, z / 2, photo], dim=1)

    class FusedOnRows(Parts):
        def forward(self, x: torch.Tensor, trace_rows: torch.Tensor) -> torch.Tensor:
            z, photo = self.semantic_part(x)
            pixels = x[trace_rows] * std + mean
            for weight, net in zip(self.w_traces, self.traces, strict=True):
                z = z + weight * net(pixels).mean()
            return torch.stack([-z / 2, z / 2, photo], dim=1)

    if rows == "all":
        return Fused().eval()
    if rows != "diagonal":
        raise ValueError(f"unknown trace rows {rows!r}")
    return FusedOnRows().eval()


def export(module: nn.Module, path: Path, size: int) -> float:
    """Export with the legacy exporter; return max |onnx - torch| on a random probe."""
    import onnxruntime as ort  # inference runtime, only to check the export
    import torch  # heavy optional dependency (export only)

    probe = torch.randn(3, 3, size, size)
    takes_rows = len(inspect.signature(module.forward).parameters) == 2
    args: tuple[torch.Tensor, ...] = (probe,)
    names, axes = ["input"], {"input": {0: "batch"}, "logits": {0: "batch"}}
    if takes_rows:  # a blend whose trace CNNs read only some crops
        args = (probe, torch.tensor([0, 2]))
        names.append("trace_rows")
        axes["trace_rows"] = {0: "rows"}
    torch.onnx.export(module, args, str(path), dynamo=False, opset_version=OPSET,
                      input_names=names, output_names=["logits"], dynamic_axes=axes)
    with torch.no_grad():
        expected = module(*args).numpy()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {n: a.numpy() for n, a in zip(names, args, strict=True)})[0]
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

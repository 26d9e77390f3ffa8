"""A blend base for the site-loop tests: the shipped bundle with tiny trace CNNs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch

from moderation.training.aligned import trace

SHIPPED = Path(__file__).resolve().parents[2] / "moderation" / "data" / "classifier"

#: Two-layer trace CNNs swapped into the shipped blend: the loop's every step, in seconds.
TINY = ((6, 1), (8, 2))


def tiny_blend_base(root: Path) -> Path:
    """The shipped blend with as many tiny trace CNNs as it states (its ONNX graph only
    scores the "old" side of a comparison; the loop rebuilds the new one from the parts)."""
    base = root / "base"
    base.mkdir()
    for name in ("model.onnx", "trainable.pt", "blend-report.json"):
        shutil.copy(SHIPPED / name, base / name)
    meta = json.loads((SHIPPED / "model.json").read_text())
    meta["fusion"]["trace_layers"] = [list(v) for v in TINY]
    (base / "model.json").write_text(json.dumps(meta))
    for i in range(len(meta["fusion"]["stack_weights_semantic_then_traces"]) - 1):
        torch.manual_seed(i)
        torch.save(trace.build_model(TINY).state_dict(), base / f"trace-{i}.pt")
    return base

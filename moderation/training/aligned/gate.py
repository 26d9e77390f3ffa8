"""The go/no-go gate on the full-resolution dev set (``ai-devset`` vs ``human-devset``).

Images are decoded by the production decoder after the same re-upload perturbations
``moderation_evaluate`` applies, then scored by the shipped semantic bundle (through the
production ONNX detector) and by a trace model. Every table is split by generator (AI)
and by source (hand-made), with and without the browser-rescaled ControlNet tiles, which
carry SD content but no native pixel traces.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from moderation.detectors.onnx import OnnxClassifier
from moderation.internal.imaging import load_image
from moderation.training import metrics
from moderation.training.aligned import trace
from moderation.training.evaluate import perturbed_bytes

KINDS = ("clean", "jpeg85", "resize0.75")
#: Gate thresholds (AUROC) for clean and for each perturbation.
GATE = {"clean": 0.90, "jpeg85": 0.85, "resize0.75": 0.85}


@dataclass(frozen=True)
class DevImage:
    """One dev-set file with its grouping labels."""

    path: Path
    ai: bool
    group: str  # generator (AI) or source (hand-made)
    sha256: str
    tile: bool  # a browser-rescaled ControlNet gallery tile


def dev_images(ai_dir: Path, human_dir: Path) -> list[DevImage]:
    """Read both manifests; human groups are the source before its first ``__``."""
    out = []
    for folder, is_ai in ((ai_dir, True), (human_dir, False)):
        with (folder / "MANIFEST.csv").open(newline="") as fh:
            for row in csv.DictReader(fh):
                group = row["generator"] if is_ai else row["file"].split("__", 1)[0]
                out.append(DevImage(folder / row["file"], is_ai, group, row["sha256"],
                                    row["file"].startswith("controlnet10__")))
    return out


def manifest_records(ai_dir: Path, human_dir: Path) -> list[dict[str, str]]:
    """The dev manifests' rows (repository, commit, path, licence, sha256) for the record."""
    rows = []
    for folder in (ai_dir, human_dir):
        with (folder / "MANIFEST.csv").open(newline="") as fh:
            rows += [{**r, "folder": folder.name} for r in csv.DictReader(fh)]
    return rows


def decode(image: DevImage, kind: str) -> Any:
    """Production decode of the file after one perturbation (needs Django settings)."""
    data = image.path.read_bytes()
    if kind != "clean":
        data = perturbed_bytes(data, kind)
    return load_image(data, name=image.path.name)


def cached_scores(cache: Path, key: str, images: Sequence[DevImage], kind: str,
                  score: Callable[[Any], float]) -> np.ndarray:
    """Score every image under ``kind``, reading and writing ``cache/<key>.json``."""
    path = cache / f"{key}.json"
    done: dict[str, float] = json.loads(path.read_text()) if path.exists() else {}
    fresh = 0
    for image in images:
        k = f"{image.sha256}|{kind}"
        if k not in done:
            done[k] = float(score(decode(image, kind)))
            fresh += 1
            if fresh % 25 == 0:  # a killed run keeps most of its work
                _write_json(path, done)
    if fresh:
        _write_json(path, done)
    return np.asarray([done[f"{i.sha256}|{kind}"] for i in images])


def _write_json(path: Path, data: dict[str, float]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data))
    tmp.replace(path)


def semantic_scorer(bundle_dir: Path | None, prefix: str = "semantic"
                    ) -> tuple[str, Callable[[Any], float]]:
    """The shipped (or given) bundle's AI logit (ai minus human) through the production
    detector, and a cache key ``<prefix>-<sha256>`` (``bundle`` for a blended bundle's
    whole score, as the learning curves read it)."""
    detector = OnnxClassifier("gate", {"BUNDLE": str(bundle_dir) if bundle_dir else None,
                                       "INTRA_OP_NUM_THREADS": 1, "INTER_OP_NUM_THREADS": 1})
    bundle = detector.bundle
    if bundle is None:
        raise ValueError(f"no usable bundle at {detector.bundle_dir}")

    def score(image: Any) -> float:
        logits = detector.predict(image)[2]
        return float(logits[bundle.ai_index] - logits[1 - bundle.ai_index])

    return f"{prefix}-{bundle.sha256[:16]}", score


def trace_scorer(model: Any, weights: Path, size: int = 224, grid: int = 3,
                 rows: str = "all") -> tuple[str, Callable[[Any], float]]:
    """A trace model's mean logit over the bundle-style crops, and a cache key."""
    return trace_key(weights, size, grid, rows), _trace_score(model, size, grid, rows)


def trace_key(weights: Path, size: int = 224, grid: int = 3, rows: str = "all") -> str:
    """The score cache's key for a trace model read on ``rows`` of its crops."""
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()[:16]
    return f"trace-{digest}-{size}-{grid}" + ("" if rows == "all" else f"-{rows}")


def _trace_score(model: Any, size: int, grid: int, rows: str) -> Callable[[Any], float]:
    def score(image: Any) -> float:
        rgb = np.asarray(image.image.convert("RGB"), dtype=np.uint8)
        return float(trace.score_images(model, [rgb], size, grid, rows)[0])
    return score


def table(y: np.ndarray, s: np.ndarray, groups: Sequence[str], tiles: np.ndarray,
          threshold: float | None = None) -> dict[str, Any]:
    """Overall metrics, without tiles, per generator and per hand-made source."""
    g = np.asarray(groups)
    out: dict[str, Any] = {"all": metrics.summary(y, s, threshold),
                           "without_tiles": metrics.summary(y[~tiles], s[~tiles], threshold)}
    per: dict[str, Any] = {}
    for name in sorted(set(g[y])):
        m = (g == name) & y
        both = m | ~y
        per[f"ai/{name}"] = {"n": int(m.sum()), "auroc": metrics.auroc(y[both], s[both])}
        if threshold is not None:
            per[f"ai/{name}"]["tpr_at_threshold"] = float(np.mean(s[m] >= threshold))
    for name in sorted(set(g[~y])):
        m = (g == name) & ~y
        both = m | y
        per[f"human/{name}"] = {"n": int(m.sum()), "auroc": metrics.auroc(y[both], s[both])}
        if threshold is not None:
            per[f"human/{name}"]["fpr_at_threshold"] = float(np.mean(s[m] >= threshold))
    m = tiles & y
    if m.any():
        per["ai/sd15 ControlNet tiles only"] = {
            "n": int(m.sum()), "auroc": metrics.auroc(y[m | ~y], s[m | ~y])}
    out["groups"] = per
    return out


def passes(aurocs: dict[str, float]) -> bool:
    """Whether clean, jpeg85 and resize0.75 AUROCs all reach the gate."""
    return all(aurocs.get(k, 0.0) >= v for k, v in GATE.items())

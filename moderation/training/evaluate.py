"""``moderation_evaluate``: the classifier alone on two folders, optionally perturbed.

Images go through the production decoder and the production ONNX detector, so the
numbers (and ms per image) are what a worker would see; provenance metadata is ignored
on purpose, because the question is how well pixels alone separate the classes.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from moderation.detectors.onnx import OnnxClassifier
from moderation.internal.imaging import load_image
from moderation.training import metrics
from moderation.training.augment import perturb

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".gif", ".avif", ".heic", ".bmp", ".tif",
                  ".tiff"}
Progress = Callable[[str], None]


def iter_images(root: Path) -> Iterator[tuple[str, Path]]:
    """Yield (first-level subfolder or ".", path) for every image under ``root``."""
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file():
            rel = path.relative_to(root)
            yield (rel.parts[0] if len(rel.parts) > 1 else "."), path


def perturbed_bytes(data: bytes, kind: str) -> bytes:
    """Return ``data`` as it would arrive after one re-upload transformation."""
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        out = perturb(im, kind)
    buf = io.BytesIO()
    if kind.startswith("jpeg"):
        out.save(buf, format="JPEG", quality=int(kind[4:]))
    elif kind.startswith("webp"):
        out.save(buf, format="WEBP", quality=int(kind[4:]))
    else:
        out.save(buf, format="PNG")
    return buf.getvalue()


def score_folders(ai: Path, human: Path, bundle: Path | None, perturbation: str | None,
                  progress: Progress) -> dict[str, Any]:
    """Score every image; return the report with the keys the issue specifies."""
    options = {"BUNDLE": str(bundle) if bundle else None, "INTRA_OP_NUM_THREADS": 1,
               "INTER_OP_NUM_THREADS": 1}
    detector = OnnxClassifier("evaluate", options)
    loaded = detector.bundle
    if loaded is None:
        raise ValueError(f"no usable model bundle: {detector.bundle_dir}")
    items = [("ai", f, p) for f, p in iter_images(ai)] + \
        [("human", f, p) for f, p in iter_images(human)]
    labels, scores, folders, elapsed = [], [], [], []
    skipped = 0
    for i, (label, folder, path) in enumerate(items):
        if i % 50 == 0:
            progress(f"  {i}/{len(items)}")
        data = path.read_bytes()
        if perturbation:
            data = perturbed_bytes(data, perturbation)
        start = time.perf_counter()
        try:
            image = load_image(data, name=path.name)
            score = detector.predict(image)[0]
        except Exception as exc:
            progress(f"  skipped {path}: {exc}")
            skipped += 1
            continue
        elapsed.append((time.perf_counter() - start) * 1000.0)
        labels.append(label == "ai")
        scores.append(score)
        folders.append(f"{label}/{folder}")
    y, s = np.asarray(labels, dtype=bool), np.asarray(scores)
    threshold = loaded.review_threshold
    report = metrics.summary(y, s, threshold)
    report["ms_per_image"] = float(np.mean(elapsed)) if elapsed else None
    report["bundle"] = loaded.label
    report["perturbation"] = perturbation or "none"
    report["skipped"] = skipped
    per_folder: dict[str, Any] = {}
    names = np.asarray(folders)
    for name in sorted(set(folders)):
        m = names == name
        is_ai = name.startswith("ai/")
        other = (~y) if is_ai else y
        both = m | other
        per_folder[name] = {
            "n": int(m.sum()), "mean_score": float(np.mean(s[m])),
            "auroc_vs_other_class": metrics.auroc(y[both], s[both]),
            ("tpr_at_threshold" if is_ai else "fpr_at_threshold"):
                float(np.mean(s[m] >= threshold)),
        }
    report["per_folder"] = per_folder
    report["_scores"] = (y, s)
    return report


def plot(report: dict[str, Any], path: Path) -> None:
    """Write a ROC curve and the two classes' score histograms to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    y, s = report["_scores"]
    fpr, tpr = metrics.roc_curve(y, s)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.plot(fpr, tpr)
    ax1.plot([0, 1], [0, 1], linestyle=":", color="grey")
    ax1.axvline(0.01, color="red", linewidth=0.8)
    ax1.set(xlabel="false-positive rate (hand-made)", ylabel="true-positive rate (AI)",
            title=f"ROC, AUROC {report['auroc']:.3f}")
    bins = np.linspace(0, 1, 41)
    ax2.hist(s[~y], bins=bins, alpha=0.6, label="hand-made")
    ax2.hist(s[y], bins=bins, alpha=0.6, label="AI")
    ax2.axvline(report["threshold"], color="red", linewidth=0.8, label="review threshold")
    ax2.set(xlabel="calibrated P(AI)", ylabel="images", title="scores")
    ax2.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def public(report: dict[str, Any]) -> dict[str, Any]:
    """Drop private keys (raw score arrays) before printing or JSON output."""
    return {k: v for k, v in report.items() if not k.startswith("_")}

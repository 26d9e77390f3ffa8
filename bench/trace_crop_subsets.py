#!/usr/bin/env python
"""Which crops a blended bundle's trace CNNs need: dev-set AUROC per crop subset and window.

Usage (``--json`` prints one object)::

    .venv/bin/python bench/trace_crop_subsets.py --ai ../shared/data/ai-devset \\
        --human ../shared/data/human-devset [--bundle moderation/data/classifier] \\
        --cache DIR [--json]

The trace CNNs cost most of a blended bundle's time (nine crops each), and each one
averages a score map over its crops. One pass through the production decoder and crop
layout (clean, JPEG q85, 0.75x: the ``moderation_evaluate`` perturbations) keeps every
crop's semantic logit and each trace CNN's score map; every variant is then scored from
them without running the network again:

* crop subsets: all nine, centre and corners (5), the diagonal (3), the centre (1);
* windows: the central 100/75/50/33 % of each crop's score map, which approximates
  feeding the trace CNNs a smaller centre crop (their receptive field makes it inexact
  near the window's edge).

The blend is linear in the per-crop logits (the detector averages them), so a subset's
score is the semantic mean over every crop plus each trace CNN's weight times its mean
over the subset. Works only for bundles that read every crop (``trace_rows: all``), whose
graph emits the stack's parts under the exporter's node names. The cache holds one
pickle per perturbation, so a second run only re-scores.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import django
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
django.setup()

import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402
from onnx import numpy_helper  # noqa: E402
from tqdm import tqdm  # noqa: E402

from moderation.internal.bundle import default_bundle_dir, load_bundle  # noqa: E402
from moderation.internal.imaging import load_image  # noqa: E402
from moderation.internal.preprocess import make_crops  # noqa: E402
from moderation.training import metrics  # noqa: E402
from moderation.training.evaluate import iter_images, perturbed_bytes  # noqa: E402

KINDS = ("clean", "jpeg85", "resize0.75")
SEMANTIC_PART = "/Add_output_0"  # w_sem * (ai - human) + bias, per crop
SUBSETS: dict[str, Callable[[int], np.ndarray]] = {
    "all": lambda n: np.arange(n),
    "centre+corners": lambda n: np.array([0, 2, 4, 6, 8]) if n == 9 else np.arange(n),
    "diagonal": lambda n: np.array([0, 4, 8]) if n == 9 else np.arange(n)[:3],
    "centre": lambda n: np.array([n // 2]),
}
WINDOWS = (1.0, 0.75, 0.5, 0.33)


def trace_parts(model: onnx.ModelProto) -> list[tuple[str, float]]:
    """(score-map output, stack weight) of every trace CNN in the graph."""
    consts = {n.output[0]: numpy_helper.to_array(n.attribute[0].t)
              for n in model.graph.node if n.op_type == "Constant" and n.attribute}
    consts.update({i.name: numpy_helper.to_array(i) for i in model.graph.initializer})
    parts = []
    for node in model.graph.node:  # /Mul_k multiplies /traces.i/ReduceMean by its weight
        if (node.op_type == "Mul" and node.input[0].startswith("/traces.")
                and node.input[0].endswith("/ReduceMean_output_0")):
            index = node.input[0].split("/")[1]
            parts.append((f"/{index}/score/Conv_output_0", float(consts[node.input[1]])))
    if not parts:
        raise SystemExit("this graph has no trace CNNs read on every crop")
    return parts


def score_maps(bundle_dir: Path, ai: Path, human: Path, kind: str,
               cache: Path) -> dict[str, Any]:
    """Per image: label, group, semantic part per crop and each trace CNN's score maps."""
    path = cache / f"{load_bundle(bundle_dir).sha256[:16]}-{kind}.pkl"
    if path.exists():
        # The cache is this script's own output in a folder the operator named.
        return dict(pickle.loads(path.read_bytes()))  # noqa: S301
    bundle = load_bundle(bundle_dir)
    model = onnx.load(str(bundle_dir / "model.onnx"))
    parts = trace_parts(model)
    names = [SEMANTIC_PART] + [name for name, _ in parts]
    for name in names:
        model.graph.output.append(onnx.helper.make_empty_tensor_value_info(name))
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = ort.InferenceSession(model.SerializeToString(), options,
                                   providers=["CPUExecutionProvider"])
    items = [("ai", f, p) for f, p in iter_images(ai)] + \
        [("human", f, p) for f, p in iter_images(human)]
    rows = []
    for label, folder, image_path in tqdm(items, desc=kind):
        data = image_path.read_bytes()
        if kind != "clean":
            data = perturbed_bytes(data, kind)
        image = load_image(data, name=image_path.name)
        full = (image.width, image.height) if image.reduced > 1 else None
        out = session.run(names, {bundle.input_name or "input": make_crops(image.image, bundle,
                                                                             full)})
        rows.append({"ai": label == "ai", "group": f"{label}/{folder}", "semantic": out[0],
                     "maps": [o[:, 0] for o in out[1:]]})
    result = {"weights": [w for _, w in parts], "rows": rows}
    cache.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(result))
    return result


def variant_scores(maps: dict[str, Any], subset: Callable[[int], np.ndarray],
                   window: float) -> tuple[np.ndarray, np.ndarray]:
    """(is AI, blended logit) per image for one crop subset and window."""
    y, s = [], []
    for row in maps["rows"]:
        chosen = subset(len(row["semantic"]))
        z = float(np.mean(row["semantic"]))
        for weight, m in zip(maps["weights"], row["maps"], strict=True):
            h, w = m.shape[-2:]
            kh, kw = max(1, round(h * window)), max(1, round(w * window))
            top, left = (h - kh) // 2, (w - kw) // 2
            z += weight * float(m[chosen, top:top + kh, left:left + kw].mean())
        y.append(row["ai"])
        s.append(z)
    return np.asarray(y), np.asarray(s)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ai", type=Path, required=True)
    parser.add_argument("--human", type=Path, required=True)
    parser.add_argument("--bundle", type=Path, default=None)
    parser.add_argument("--cache", type=Path, required=True,
                        help="folder for the score maps (one pickle per perturbation)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    bundle_dir = args.bundle or default_bundle_dir()
    assert bundle_dir is not None
    maps = {k: score_maps(bundle_dir, args.ai, args.human, k, args.cache) for k in KINDS}
    report: dict[str, Any] = {"bundle": str(bundle_dir), "variants": []}
    for name, subset in SUBSETS.items():
        for window in WINDOWS:
            entry: dict[str, Any] = {"crops": name, "window": window,
                                     "trace_cost": len(subset(9)) / 9 * window * window}
            for kind in KINDS:
                y, s = variant_scores(maps[kind], subset, window)
                entry[kind] = {"auroc": metrics.auroc(y, s),
                               "tpr_at_1pct_fpr": metrics.tpr_at_fpr(y, s, 0.01)}
            report["variants"].append(entry)
    if args.json:
        print(json.dumps(report, indent=1))
        return
    print("crops            window  trace cost  " + "  ".join(f"{k:>18s}" for k in KINDS))
    for e in report["variants"]:
        cells = "  ".join(f"{e[k]['auroc']:.3f} / {e[k]['tpr_at_1pct_fpr']:.3f}".rjust(18)
                          for k in KINDS)
        print(f"{e['crops']:16s} {e['window']:6.2f}  x{e['trace_cost']:.2f}       {cells}")


if __name__ == "__main__":
    main()

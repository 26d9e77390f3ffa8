"""Training the trace CNN on aligned pairs (offline; CPU, a few threads).

Every batch holds whole pairs: a human crop and its reconstruction, post-processed with
one shared random upload history. The ComfyUI thumbnails of the training set are kept
as a small share of extra positives, balanced by as many unpaired human crops.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from moderation.training import metrics
from moderation.training.aligned import pairs, trace
from moderation.training.augment import flatten_alpha
from moderation.training.dataset import read_manifest
from moderation.training.sources import AI, HUMAN


@dataclass
class FitConfig:
    """Everything that decides a training run (written next to the weights)."""

    pairs_dir: Path
    dataset: Path
    out: Path
    steps: int = 1500
    pairs_per_batch: int = 24
    extras_per_batch: int = 8
    lr: float = 2e-3
    weight_decay: float = 1e-4
    seed: int = 0
    threads: int = 2
    #: Human sources whose pairs are held out for model selection.
    holdout_sources: tuple[str, ...] = ("flare-game",)
    #: Extra positives outside the pairs: images (uint8 RGB) with their group names.
    extra_ai: list[np.ndarray] = field(default_factory=list, repr=False)
    #: Share of the extra positives drawn from ``extra_ai`` rather than ComfyUI thumbnails.
    extra_ai_share: float = 0.0
    #: Site-confirmed hand-made images (unpaired negatives) and their aligned pairs.
    extra_human: list[np.ndarray] = field(default_factory=list, repr=False)
    extra_pairs: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list, repr=False)
    #: Start from these weights (a fine-tune) instead of from scratch.
    init_from: Path | None = None
    log_every: int = 50


def load_pairs(pairs_dir: Path) -> trace.PairSet:
    """Read every cached pair into memory."""
    out = trace.PairSet([], [], [], [])
    for path in pairs.index(pairs_dir):
        item = pairs.load_item(path)
        out.real.append(item["real"])
        out.fake.append(item["fake"])
        out.source.append(str(item["source"]))
        out.family.append(str(item["family"]))
    return out


def load_rgb(path: Path, rng: random.Random) -> np.ndarray:
    """Decode one image to uint8 RGB, transparency flattened on a random colour."""
    with Image.open(path) as im:
        im.load()
        return np.asarray(flatten_alpha(im, rng), dtype=np.uint8)


def dataset_images(dataset: Path, label: str, rng: random.Random,
                   exclude_sources: tuple[str, ...] = (), max_side: int = 1024,
                   window_dir: Path | None = None) -> list[np.ndarray]:
    """The training set's images of one label, centre-cut to ``max_side`` (no resampling)."""
    out = []
    for row in read_manifest(dataset / "manifest.csv"):
        if row["label"] != label or row["source"] in exclude_sources:
            continue
        # The pair generator's window cache spares decoding 168 MP wallpapers again.
        source = pairs.load_source(dataset / row["path"], window_dir)
        rgb = np.asarray(flatten_alpha(source, rng), dtype=np.uint8)
        h, w = rgb.shape[:2]
        y, x = max(0, (h - max_side) // 2), max(0, (w - max_side) // 2)
        out.append(np.ascontiguousarray(rgb[y:y + max_side, x:x + max_side]))
    return out


def train_step(net: Any, opt: Any, sched: Any, loss_fn: Any, patches: list[np.ndarray],
               labels: list[float], rng: random.Random) -> float:
    """One optimiser step on a batch of patches (both members of every pair among them);
    a random horizontal flip of the whole batch keeps each pair aligned. Returns the loss."""
    import torch  # heavy optional dependency (training only)

    x = trace.batch_tensor(patches)
    if rng.random() < 0.5:
        x = x.flip(-1)
    loss = loss_fn(net(x), torch.tensor(labels))
    opt.zero_grad()
    loss.backward()
    opt.step()
    sched.step()
    return float(loss.item())


def single_patch(rgb: np.ndarray, rng: random.Random) -> np.ndarray:
    """Post-process one unpaired image and cut a training patch from it."""
    params = trace.postprocess_params(rng)
    h, w = rgb.shape[:2]
    side = min(h, w, rng.randint(96, 256))
    y, x = rng.randint(0, h - side), rng.randint(0, w - side)
    out = trace.apply_postprocess(np.ascontiguousarray(rgb[y:y + side, x:x + side]), params)
    return trace.same_patch(out, out, trace.PATCH, rng)[0]


def pair_auroc(model: Any, data: trace.PairSet, idx: list[int],
               history: dict[str, Any] | None) -> float:
    """AUROC of held-out pairs under one fixed upload history (None: untouched)."""
    real, fake = [], []
    for i in idx:
        a, b = data.real[i], data.fake[i]
        if history is not None:
            a, b = trace.apply_postprocess(a, history), trace.apply_postprocess(b, history)
        real.append(a)
        fake.append(b)
    s_real = trace.score_images(model, real, size=96, grid=2)
    s_fake = trace.score_images(model, fake, size=96, grid=2)
    y = np.r_[np.zeros(len(s_real)), np.ones(len(s_fake))].astype(bool)
    return metrics.auroc(y, np.r_[s_real, s_fake])


def fit(cfg: FitConfig) -> dict[str, Any]:
    """Train, select nothing (fixed schedule), save weights and a report under ``cfg.out``."""
    import torch  # heavy optional dependency (training only)

    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    rng = random.Random(cfg.seed)
    data = load_pairs(cfg.pairs_dir)
    for real, fake in cfg.extra_pairs:
        data.real.append(real)
        data.fake.append(fake)
        data.source.append("site")
        data.family.append("site")
    train_idx = [i for i, s in enumerate(data.source)
                 if s not in cfg.holdout_sources and s != "site"]
    # Site pairs are few among thousands: they get a fixed share of every batch.
    site_idx = [i for i, s in enumerate(data.source) if s == "site"]
    held_idx = [i for i, s in enumerate(data.source) if s in cfg.holdout_sources]
    humans = dataset_images(cfg.dataset, HUMAN, rng, exclude_sources=cfg.holdout_sources,
                            window_dir=cfg.pairs_dir / "windows")
    comfy = dataset_images(cfg.dataset, AI, rng)
    model = trace.build_model()
    if cfg.init_from is not None:
        model.load_state_dict(torch.load(cfg.init_from, map_location="cpu", weights_only=True))
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.steps,
                                                pct_start=0.1)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    log: list[dict[str, float]] = []
    started, running = time.time(), 0.0
    for step in range(1, cfg.steps + 1):
        model.train()
        patches, labels = [], []
        n_site = round(cfg.pairs_per_batch * cfg.extra_ai_share) if site_idx else 0
        chosen = [rng.choice(site_idx) for _ in range(n_site)] + rng.sample(
            train_idx, min(cfg.pairs_per_batch - n_site, len(train_idx)))
        for i in chosen:
            a, b = trace.postprocess_pair(data.real[i], data.fake[i], rng)
            patches += [a, b]
            labels += [0.0, 1.0]
        for _ in range(cfg.extras_per_batch // 2):
            pool = cfg.extra_ai if cfg.extra_ai and rng.random() < cfg.extra_ai_share else comfy
            patches.append(single_patch(rng.choice(pool), rng))
            labels.append(1.0)
            pool = cfg.extra_human if cfg.extra_human and rng.random() < cfg.extra_ai_share \
                else humans
            patches.append(single_patch(rng.choice(pool), rng))
            labels.append(0.0)
        loss = train_step(model, opt, sched, loss_fn, patches, labels, rng)
        running = 0.95 * running + 0.05 * loss if step > 1 else loss
        if step % cfg.log_every == 0 or step == cfg.steps:
            entry = {"step": step, "loss": round(running, 4),
                     "seconds": round(time.time() - started, 1)}
            log.append(entry)
            print(json.dumps(entry), flush=True)
    held = held_idx[:400]
    report: dict[str, Any] = {
        "config": {f.name: (str(v) if isinstance(v := getattr(cfg, f.name), Path) else v)
                   for f in fields(cfg)
                   if f.name not in {"extra_ai", "extra_human", "extra_pairs"}},
        "pairs": {"train": len(train_idx), "held_out": len(held_idx)},
        "comfy_ai_images": len(comfy), "extra_ai_images": len(cfg.extra_ai),
        "human_images": len(humans),
        "seconds": round(time.time() - started, 1), "log": log,
        "held_out_pair_auroc": {
            "clean": pair_auroc(model, data, held, None),
            "jpeg85": pair_auroc(model, data, held, {"format": "JPEG", "quality": 85}),
            "resize0.75": pair_auroc(model, data, held,
                                     {"scale": 0.75, "resample": Image.Resampling.BICUBIC}),
        } if held else None,
    }
    cfg.out.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), cfg.out / "trace.pt")
    (cfg.out / "report.json").write_text(json.dumps(report, indent=2, default=str))
    return report


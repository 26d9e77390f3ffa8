"""``moderation_train``: choose, fit, calibrate and export the bundled classifier.

Every choice (input variant, probe vs fine-tune) is made on leave-groups-out folds of
the dev groups; calibration and thresholds come from those folds' out-of-fold scores;
the test groups (unseen sources and generator families) are only scored at the end.
"""

from __future__ import annotations

import copy
import csv
import hashlib
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from moderation.training import calibrate, heads, metrics, splits
from moderation.training.backbone import Classifier, Tail, Trunk, load_pretrained
from moderation.training.dataset import MANIFEST_FIELDS, read_manifest
from moderation.training.evaluate import public, score_folders
from moderation.training.export import write_bundle
from moderation.training.features import build_crops, trunk_activations
from moderation.training.modelcard import write_model_card
from moderation.training.sources import AI

Progress = Callable[[str], None]
PHOTO_LABELS = Path(__file__).with_name("photo_labels.csv")
#: Trainable weights shipped next to model.onnx (loaded with ``weights_only=True``).
TRAINABLE_STATE = "trainable.pt"
#: Inverse regularisation strengths tried for the photo head (chosen on dev folds).
PHOTO_C = (0.02, 0.2, 1.0)
#: Sources that are drawn or painted by construction (no photographs in them).
DRAWN_SOURCES = frozenset({"wesnoth-1.16-data", "flare-game", "renpy-demo",
                           "renpy-thequestion", "openclipart-png"})


@dataclass
class TrainConfig:
    """Knobs of one training run (defaults are what the shipped bundle used)."""

    dataset: Path
    out: Path
    version: str
    name: str = "tegaki-effnetlite0"
    views: int = 4
    max_side: int = 1024
    grid: int = 3
    folds: int = 3
    epochs: int = 4
    seed: int = 0
    variants: tuple[str, ...] = ("rgb", "npr")
    evaluate: bool = True
    perturbations: tuple[str, ...] = ("jpeg85", "resize0.75")
    progress: Progress = print
    report: dict[str, Any] = field(default_factory=dict)


def image_logits(crop_logits: np.ndarray, owner: np.ndarray, n_rows: int) -> np.ndarray:
    """Average crop logits per image, as the detector averages its grid crops."""
    sums = np.bincount(owner, weights=crop_logits, minlength=n_rows)
    counts = np.bincount(owner, minlength=n_rows)
    return sums / np.maximum(counts, 1)


def selection_score(y: np.ndarray, z: np.ndarray) -> float:
    """What "validates better" means: ranking (AUROC) plus catch rate at 5% FPR."""
    return metrics.auroc(y, z) + metrics.tpr_at_fpr(y, z, 0.05)


def photo_labels(rows: list[dict[str, str]]) -> np.ndarray:
    """Return 1 photographic, 0 drawn, -1 unknown for every manifest row."""
    table: dict[str, int] = {}
    with PHOTO_LABELS.open() as fh:
        for row in csv.DictReader(line for line in fh if not line.startswith("#")):
            table[row["sha256"]] = int(row["photographic"])
    out = []
    for r in rows:
        if r["sha256"] in table:
            out.append(table[r["sha256"]])
        else:
            out.append(0 if r["source"] in DRAWN_SOURCES else -1)
    return np.asarray(out)


def group_key(row: dict[str, str], by: str) -> str:
    """``generator``: AI rows by generator family, hand-made rows by source package;
    ``source``: every row by the package it came from."""
    if by == "generator" and row["label"] == AI:
        return f"ai:{row['generator']}"
    return f"{row['label']}:{row['source']}"


def group_report(rows: list[dict[str, str]], y: np.ndarray, p: np.ndarray, mask: np.ndarray,
                 thresholds: dict[str, float], by: str) -> dict[str, dict[str, Any]]:
    """Per-group metrics: each AI group against all hand-made images of ``mask`` and vice
    versa, with the catch / false-positive rates at the shipped thresholds."""
    out: dict[str, dict[str, Any]] = {}
    keys = np.asarray([group_key(r, by) for r in rows])
    for g in sorted(set(keys[mask])):
        gm = mask & (keys == g)
        is_ai = bool(y[gm].all())
        other = mask & (y == (0 if is_ai else 1))
        both = gm | other
        entry: dict[str, Any] = {"label": "ai" if is_ai else "human", "n": int(gm.sum()),
                                 "auroc_vs_other_class": metrics.auroc(y[both], p[both])}
        for name, t in thresholds.items():
            entry[f"{'tpr' if is_ai else 'fpr'}_at_{name}"] = float(np.mean(p[gm] >= t))
        out[g] = entry
    return out


def run(cfg: TrainConfig) -> dict[str, Any]:
    """Train, validate, calibrate and export; return the report written to the card."""
    torch.set_num_threads(1)
    say = cfg.progress
    rows = read_manifest(cfg.dataset / "manifest.csv")
    n = len(rows)
    y = np.asarray([r["label"] == AI for r in rows], dtype=np.int64)
    fold = np.asarray(splits.assign(rows, cfg.folds))
    dev, test = fold >= 0, fold < 0
    say(f"{n} images: dev {int(dev.sum())} ({int(y[dev].sum())} AI), "
        f"test {int(test.sum())} ({int(y[test].sum())} AI)")

    crops, owner = build_crops(cfg.dataset, rows, cfg.views, cfg.max_side, cfg.seed, say)
    crop_fold, crop_y = fold[owner], y[owner]
    base = load_pretrained()
    cache = cfg.dataset / "cache"

    def oof(per_fold: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> np.ndarray:
        """Out-of-fold image logits for dev rows (NaN elsewhere)."""
        z = np.full(n, np.nan)
        for k in range(cfg.folds):
            train_c = (crop_fold >= 0) & (crop_fold != k)
            val_c = crop_fold == k
            crop_z = per_fold(train_c, val_c)
            # Rows of fold k own only validation crops, so their means are clean.
            img = image_logits(np.where(val_c, crop_z, 0.0), owner, n)
            z[fold == k] = img[fold == k]
        return z

    results: dict[str, dict[str, Any]] = {}
    acts_by: dict[str, torch.Tensor] = {}
    feats_by: dict[str, np.ndarray] = {}
    for variant in cfg.variants:
        say(f"variant {variant}: trunk activations")
        trunk = Trunk(base, npr=variant == "npr")
        acts = trunk_activations(trunk, crops, cache / f"trunk-{variant}-t13.pt", say)
        feats = heads.pooled(Tail(base), acts)
        acts_by[variant], feats_by[variant] = acts, feats

        def probe(train_c: np.ndarray, val_c: np.ndarray, feats: np.ndarray = feats
                  ) -> np.ndarray:
            layer = heads.fit_linear(feats[train_c], crop_y[train_c])
            return heads.linear_logits(layer, feats)

        z = oof(probe)
        results[f"{variant}/probe"] = {"z": z, "score": selection_score(y[dev], z[dev])}
        say(f"  {variant}/probe: AUROC {metrics.auroc(y[dev], z[dev]):.3f} "
            f"TPR@5% {metrics.tpr_at_fpr(y[dev], z[dev], 0.05):.3f}")

    best_variant = max(cfg.variants, key=lambda v: results[f"{v}/probe"]["score"])
    acts, feats = acts_by[best_variant], feats_by[best_variant]
    tail0 = Tail(base)
    if cfg.epochs > 0:
        say(f"fine-tuning the last blocks ({best_variant})")

        def tune(train_c: np.ndarray, val_c: np.ndarray) -> np.ndarray:
            head0 = heads.fit_linear(feats[train_c], crop_y[train_c])
            tail, head = heads.finetune(tail0, head0, acts[torch.from_numpy(train_c)],
                                        crop_y[train_c], cfg.epochs, say, cfg.seed)
            return heads.tail_logits(tail, head, acts)

        z = oof(tune)
        results[f"{best_variant}/finetune"] = {"z": z,
                                                "score": selection_score(y[dev], z[dev])}
        say(f"  {best_variant}/finetune: AUROC {metrics.auroc(y[dev], z[dev]):.3f} "
            f"TPR@5% {metrics.tpr_at_fpr(y[dev], z[dev], 0.05):.3f}")
    chosen = max(results, key=lambda k: results[k]["score"])
    say(f"chosen: {chosen}")

    # Calibrate on out-of-fold dev scores of the chosen configuration.
    z_oof = results[chosen]["z"]
    temperature = calibrate.fit_temperature(z_oof[dev], y[dev])
    thresholds = calibrate.thresholds(z_oof[dev], y[dev], temperature)

    # Final fit on every dev group.
    head = heads.fit_linear(feats[crop_fold >= 0], crop_y[crop_fold >= 0])
    tail = copy.deepcopy(tail0)
    if chosen.endswith("finetune"):
        tail, head = heads.finetune(tail0, head, acts[torch.from_numpy(crop_fold >= 0)],
                                    crop_y[crop_fold >= 0], cfg.epochs, say, cfg.seed)
    z_all = image_logits(heads.tail_logits(tail, head, acts), owner, n)
    p_all = calibrate.sigmoid(z_all / temperature)
    p_oof = calibrate.sigmoid(z_oof / temperature)

    # Photographic-vs-drawn head on the frozen trunk's pooled features; its strength is
    # chosen on the dev folds like everything else.
    photo = photo_labels(rows)
    trunk_feats = acts.float().mean(dim=(2, 3)).numpy()
    crop_photo = photo[owner]
    known = crop_photo >= 0

    def photo_oof(c: float) -> float:
        z = np.full(n, np.nan)
        for k in range(cfg.folds):
            fit = known & (crop_fold >= 0) & (crop_fold != k)
            layer = heads.fit_linear(trunk_feats[fit], crop_photo[fit], c=c)
            z[fold == k] = image_logits(heads.linear_logits(layer, trunk_feats), owner,
                                        n)[fold == k]
        m = dev & (photo >= 0)
        return metrics.auroc(photo[m], z[m])

    photo_c = max(PHOTO_C, key=photo_oof)
    fit_mask = (crop_fold >= 0) & known
    photo_head = heads.fit_linear(trunk_feats[fit_mask], crop_photo[fit_mask], c=photo_c)
    photo_p = calibrate.sigmoid(image_logits(heads.linear_logits(photo_head, trunk_feats),
                                             owner, n))
    photo_eval = test & (photo >= 0)

    report: dict[str, Any] = {
        "chosen": chosen,
        "candidates": {k: {"auroc": metrics.auroc(y[dev], v["z"][dev]),
                           "tpr_at_fpr_0.05": metrics.tpr_at_fpr(y[dev], v["z"][dev], 0.05),
                           "tpr_at_fpr_0.01": metrics.tpr_at_fpr(y[dev], v["z"][dev], 0.01)}
                       for k, v in results.items()},
        "temperature": temperature,
        "thresholds": thresholds,
        "dev_oof": metrics.summary(y[dev], p_oof[dev], thresholds["review"]),
        "dev_oof_groups": group_report(rows, y, p_oof, dev, thresholds, "generator"),
        "dev_oof_sources": group_report(rows, y, p_oof, dev, thresholds, "source"),
        "test": metrics.summary(y[test], p_all[test], thresholds["review"]),
        "test_groups": group_report(rows, y, p_all, test, thresholds, "generator"),
        "test_sources": group_report(rows, y, p_all, test, thresholds, "source"),
        "photo_head": {"n_test": int(photo_eval.sum()), "c": photo_c,
                       "auroc_dev_oof": photo_oof(photo_c),
                       "n_test_photographic": int((photo[photo_eval] == 1).sum()),
                       "auroc_test": metrics.auroc(photo[photo_eval], photo_p[photo_eval]),
                       "n_train": int(((fold >= 0) & (photo >= 0)).sum())},
        "counts": {"images": n, "dev": int(dev.sum()), "test": int(test.sum()),
                   "crops": len(crops), "views_per_image": cfg.views},
        "test_generators": sorted({r["generator"] for r, f in zip(rows, fold, strict=True)
                                   if f < 0 and r["label"] == AI}),
        "test_human_sources": sorted(splits.TEST_HUMAN_SOURCES),
    }
    cfg.report.update(report)
    say(f"test (unseen groups, augmented views): AUROC {report['test']['auroc']:.3f} "
        f"AP {report['test']['ap']:.3f} TPR@1% {report['test']['tpr_at_fpr']['0.01']:.3f} "
        f"TPR@5% {report['test']['tpr_at_fpr']['0.05']:.3f}")

    trunk = Trunk(base, npr=chosen.startswith("npr"))
    model = Classifier(trunk, tail, head, photo_head)
    cfg.out.mkdir(parents=True, exist_ok=True)
    manifest_out = cfg.out / "training-manifest.csv"
    write_training_manifest(rows, fold, manifest_out)
    manifest_sha = hashlib.sha256(manifest_out.read_bytes()).hexdigest()
    meta = write_bundle(model, cfg.out, name=cfg.name, version=cfg.version, grid=cfg.grid,
                        max_side=cfg.max_side, temperature=temperature, thresholds=thresholds,
                        extra={"input_variant": chosen.split("/")[0],
                               "training": {"method": chosen, "manifest_sha256": manifest_sha,
                                            "images": n}})
    save_trainable(cfg.out / TRAINABLE_STATE, chosen, tail, head, photo_head)
    report["bundle"] = {"sha256": meta["sha256"],
                        "max_abs_diff_vs_torch": meta["export"]["max_abs_diff_vs_torch"]}
    write_eval_folders(cfg.dataset, rows, fold)
    if cfg.evaluate:
        report["evaluation"] = evaluate_bundle(cfg.dataset, cfg.out, cfg.perturbations, say)
    write_model_card(cfg.out / "MODEL_CARD.md", meta, report, rows)
    return report


def evaluate_bundle(dataset: Path, bundle: Path, perturbations: tuple[str, ...],
                    say: Progress) -> dict[str, Any]:
    """Score the exported bundle on the held-out test folders through the production
    decoder and detector: clean and after each re-upload perturbation."""
    root = dataset / "eval" / "test"
    out = {}
    for kind in (None, *perturbations):
        say(f"evaluating the exported bundle on the test groups ({kind or 'clean'})")
        res = public(score_folders(root / "ai", root / "human", bundle, kind, say))
        out[kind or "clean"] = res
    return out


def save_trainable(path: Path, method: str, tail: Tail, head: torch.nn.Linear,
                   photo_head: torch.nn.Linear) -> None:
    """Save what differs from the pretrained backbone, so ``--from-site`` can fine-tune
    from this bundle (the ONNX graph has BatchNorm folded into convolutions and cannot
    be trained further). The tail is stored only when it was fine-tuned, in float16."""
    state: dict[str, Any] = {
        "method": method,
        "ai_head": head.state_dict(),
        "photo_head": photo_head.state_dict(),
        "tail": ({k: v.half() for k, v in tail.state_dict().items()}
                 if method.endswith("finetune") else None),
    }
    torch.save(state, path)


def write_training_manifest(rows: list[dict[str, str]], fold: np.ndarray, path: Path) -> None:
    """List every image with its role: ``train`` (dev groups) or ``test`` (held out)."""
    fields = [f for f in MANIFEST_FIELDS if f not in {"path", "dhash"}] + ["role"]
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        for row, f in zip(rows, fold, strict=True):
            writer.writerow({**row, "role": "test" if f < 0 else "train"})


def write_eval_folders(dataset: Path, rows: list[dict[str, str]], fold: np.ndarray) -> None:
    """Lay the held-out test images out as ``eval/test/{ai,human}/<group>/`` for
    ``moderation_evaluate`` (symlinks; each subfolder becomes a per_folder entry)."""
    root = dataset / "eval" / "test"
    if root.exists():
        shutil.rmtree(root)
    for row, f in zip(rows, fold, strict=True):
        if f >= 0:
            continue
        sub = row["generator"] if row["label"] == AI else row["source"]
        dest = root / row["label"] / sub / Path(row["path"]).name
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.symlink_to((dataset / row["path"]).resolve())

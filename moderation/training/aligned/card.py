"""Model card and training manifest of a bundle that carries the trace detector.

The card is generated from the gate report so its tables are the measured ones; the
manifest lists every training image (registry packages) and every dev-set file used for
fusion and thresholds (repository, commit, path, licence, sha256), plus the TAEF2 and
upsampler sources the aligned twins were made with.
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path
from typing import Any

from moderation.training.aligned import gate

#: The shipped manifest's columns (the bundle tests read them), plus the row's role.
MANIFEST_FIELDS = ("source_package", "version", "path_inside", "licence", "sha256", "label",
                   "source", "generator", "group", "role")


#: The card's first section, the same for every bundle carrying the trace detector.
INTENDED_USE = (
    "## Intended use",
    "A weak, pixel-level signal that an illustration upload may be AI-generated, for",
    "routing works to human review. It never decides alone and is never proof about a",
    "person's work.", "",
)


def write_manifest(path: Path, dataset_rows: list[dict[str, str]],
                   dev_rows: list[dict[str, str]]) -> None:
    """One CSV: training images (registry packages) and dev files (fusion, thresholds)."""
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=MANIFEST_FIELDS)
        w.writeheader()
        for r in dataset_rows:
            w.writerow({**{k: r.get(k, "") for k in MANIFEST_FIELDS},
                        "role": "train (pairs, extra positives)"})
        for r in dev_rows:
            is_ai = r["label"] == "ai"
            group = r["generator"] if is_ai else r["file"].split("__", 1)[0]
            w.writerow({"source_package": r.get("source_repo") or r.get("source", ""),
                        "version": r.get("commit") or r.get("version_or_commit", ""),
                        "path_inside": r["source_path"], "licence": r["licence"],
                        "sha256": r["sha256"], "label": r["label"], "source": group,
                        "generator": r["generator"] if is_ai else "human", "group": group,
                        "role": "dev (fusion, thresholds, gate)"})


def _fmt(v: Any) -> str:
    return "n/a" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))


def gate_tables(entry: dict[str, Any]) -> list[str]:
    """Markdown: overall rows per perturbation, then per-group AUROC per perturbation."""
    lines = ["| perturbation | AUROC | AUROC without ControlNet tiles | TPR@1%FPR | "
             "TPR at review | FPR at review |", "|---|---|---|---|---|---|"]
    for kind in gate.KINDS:
        a, nt = entry[kind]["all"], entry[kind]["without_tiles"]
        lines.append(f"| {kind} | {_fmt(a['auroc'])} | {_fmt(nt['auroc'])} | "
                     f"{_fmt(a['tpr_at_fpr']['0.01'])} | {_fmt(a.get('tpr_at_threshold'))} | "
                     f"{_fmt(a.get('fpr_at_threshold'))} |")
    lines += ["", "| group | n | " + " | ".join(f"AUROC {k}" for k in gate.KINDS)
              + " | rate at review (clean) |", "|---|---|" + "---|" * (len(gate.KINDS) + 1)]
    for group, g in entry["clean"]["groups"].items():
        rate = g.get("tpr_at_threshold", g.get("fpr_at_threshold"))
        cells = " | ".join(_fmt(entry[k]["groups"][group]["auroc"]) for k in gate.KINDS)
        lines.append(f"| {group} | {g['n']} | {cells} | {_fmt(rate)} |")
    return lines


def model_card(meta: dict[str, Any], report: dict[str, Any], chosen: str,
               fit_report: dict[str, Any], pair_counts: Counter[str],
               notes: list[str], sources: list[str]) -> str:
    """Render MODEL_CARD.md for the fused bundle."""
    entry = report["models"][chosen]
    base = report["models"]["semantic"]
    aurocs = {k: entry[k]["all"]["auroc"] for k in gate.KINDS}
    verdict = "PASS" if gate.passes(aurocs) else "FAIL"
    rounded = {k: round(v, 3) for k, v in aurocs.items()}
    lines = [
        f"# Model card: {meta['name']} {meta['version']}", "",
        *INTENDED_USE,
        "## Model",
        "- One ONNX graph: the previous semantic EfficientNet-Lite0 classifier "
        "(unchanged weights) and a trace CNN on fixed high-pass residuals (NPR residual and "
        "image minus 3x3 box blur) at native resolution, combined by a stacked logistic "
        "regression folded into the graph: per crop "
        f"z = {meta['fusion']['w_semantic']:.4f}*(ai-human) + "
        f"{meta['fusion']['w_trace']:.4f}*trace + {meta['fusion']['bias']:.4f}, "
        "emitted as [-z/2, z/2, photo]; P(ai) = sigmoid(z) (T = 1).",
        f"- Same crops as before: {meta['crop']}. Thresholds: {meta['thresholds']}.",
        f"- model.onnx sha256 `{meta['sha256']}`; ONNX vs torch max abs diff "
        f"{meta['export']['max_abs_diff_vs_torch']:.2e}.", "",
        "## Trace detector training (aligned pairs)",
        "- Every hand-made training image (registry packages, `training-manifest.csv`) was "
        "cut into native-resolution crops (96-256 px, never resized); each crop got one AI "
        "twin from TAEF2 (FLUX.2 latent autoencoder) encode->decode or a neural upsampler "
        "(waifu2x CUNet/upconv_7, Real-ESRGAN x4plus/anime/animevideov3; shrunk by the "
        "model's factor, then upscaled); 25% of crops were JPEG-compressed first.",
        f"- Pairs by family: {dict(sorted(pair_counts.items()))}.",
        "- Training manifest: `training-manifest.csv`, sha256 "
        f"`{meta['training']['manifest_sha256']}`.",
        *[f"- Reconstruction source: {src}" for src in sources],
        "- Both members of a pair share one random upload history (resize 0.5-1.0, 0.75 "
        "a sixth of the time; light blur or sharpening; JPEG/WebP q60-100) and one patch "
        "position. ComfyUI thumbnails stay as extra positives (balanced by unpaired "
        "hand-made crops).",
        f"- Fit: {fit_report.get('pairs')}, {fit_report.get('config', {}).get('steps')} "
        f"steps, {fit_report.get('seconds')} s on CPU; held-out-source pair AUROC "
        f"{fit_report.get('held_out_pair_auroc')}.", "",
        "## Gate (dev set: ai-devset vs human-devset, full resolution)",
        f"Gate: AUROC >= 0.90 clean and >= 0.85 after jpeg85 and after resize0.75. Result: "
        f"{verdict} ({rounded}).",
        "", f"### This bundle ({chosen})", *gate_tables(entry), "",
        "### Previous bundle (semantic only) on the same set", *gate_tables(base), "",
        "## What the model cannot see", *[f"- {n}" for n in notes], "",
    ]
    return "\n".join(lines)


def _weight_lines(fusion: dict[str, Any]) -> list[str]:
    """How the blend weight was set: fixed beforehand, or chosen out of fold."""
    folds = fusion["weights_per_held_out_group"]
    if fusion.get("weight_source") == "fixed beforehand":
        return [f"- The weight was fixed beforehand (nothing fitted on the dev labels); "
                f"chosen by mean AUROC with one group left out at a time it would have "
                f"been {folds}."]
    return [f"- The weight was chosen by mean AUROC over clean, jpeg85 and resize0.75; "
            f"left out one group at a time it was {folds}."]


def blend_card(meta: dict[str, Any], blend: dict[str, Any], semantic: dict[str, Any],
               fit_reports: list[dict[str, Any]], pair_counts: Counter[str],
               notes: list[str]) -> str:
    """Render MODEL_CARD.md for a bundle whose trace ensemble is blended by one weight.

    ``blend`` is the ``blend`` command's report (out-of-fold tables), ``semantic`` the
    gate report's entry for the previous, semantic-only bundle on the same images.
    """
    aurocs = {k: blend[k]["all"]["auroc"] for k in gate.KINDS}
    verdict = "PASS" if gate.passes(aurocs) else "FAIL"
    fusion = meta["fusion"]
    transfer = blend["threshold_transfer_1pct"]
    lines = [
        f"# Model card: {meta['name']} {meta['version']}", "",
        *INTENDED_USE,
        "## Model",
        f"- One ONNX graph: the previous semantic EfficientNet-Lite0 classifier (int8) and "
        f"{len(fit_reports)} trace CNNs (float32; one training recipe, different seeds) on "
        "fixed high-pass residuals (NPR residual and image minus 3x3 box blur) at native "
        "resolution. Per crop, each logit is standardised on the unlabelled dev pool, the "
        f"trace logits are averaged and blended with weight {fusion['weight_trace']} "
        f"against the semantic logit, then Platt-scaled (a = {fusion['platt']['a']:.4f}, "
        f"b = {fusion['platt']['b']:.4f}); emitted as [-z/2, z/2, photo], P(ai) = "
        "sigmoid(z) (T = 1).",
        *_weight_lines(fusion),
        f"- Same crops as before: {meta['crop']}. " + (
            "The trace CNNs read only the crops on the grid's diagonal (three of a 3 x 3 "
            "grid; `trace_rows: diagonal`), a third of their time for the same ranking on "
            "the dev set; the semantic part reads every crop. "
            if meta.get("trace_rows") == "diagonal" else "")
        + f"Thresholds: {meta['thresholds']} (review: the 1% FPR point of the "
        + ("out-of-fold " if fusion.get("weight_source") != "fixed beforehand" else "")
        + "clean hand-made scores).",
        f"- Exported float32 graph sha256 `{meta['sha256']}` (the shipped graph, with "
        "its semantic part quantised to int8, is named in model.json).",
        "- The semantic part is the previous bundle 1.1.0 unchanged (its card, training "
        "report and manifest ship beside this bundle in `classifier-semantic/`, which "
        "operators who need the faster scan can select with the detector's `BUNDLE` "
        "option).",
        "- Training manifest: `training-manifest.csv`, sha256 "
        f"`{meta['training']['manifest_sha256']}` (the registry images the trace CNNs "
        "learnt from, and the dev files the blend's scales and thresholds were read from).",
        "",
        "## Trace detector training (aligned pairs)",
        "- Every hand-made training image (registry packages, `training-manifest.csv`) was "
        "cut into native-resolution crops (96-256 px, never resized); each crop got one AI "
        "twin from TAEF2 (FLUX.2 latent autoencoder) encode->decode or a neural upsampler "
        "(waifu2x CUNet/upconv_7, Real-ESRGAN x4plus/anime/animevideov3; shrunk by the "
        "model's factor, then upscaled); 25% of crops were JPEG-compressed first.",
        f"- Pairs by family: {dict(sorted(pair_counts.items()))}.",
        "- Both members of a pair share one random upload history (resize 0.5-1.0, 0.75 "
        "a sixth of the time; light blur or sharpening; JPEG/WebP q60-100) and one patch "
        "position. ComfyUI thumbnails stay as extra positives (balanced by unpaired "
        "hand-made crops).",
        *[f"- Trace model {i}: seed {r.get('config', {}).get('seed')}, {r.get('pairs')}, "
          f"{r.get('config', {}).get('steps')} steps, {r.get('seconds')} s on CPU; "
          f"held-out-source pair AUROC {_rounded(r.get('held_out_pair_auroc'))}."
          for i, r in enumerate(fit_reports)], "",
        "## Gate (dev set: ai-devset vs human-devset, full resolution)",
        ("The blend weight was fixed beforehand, so these scores fit nothing on the dev "
         "labels except the Platt scaling and the review threshold (in sample)."
         if fusion.get("weight_source") == "fixed beforehand" else
         "Scores of this bundle are out of fold: each row's blend weight was chosen "
         "without its generator family (AI) or its source (hand-made)."),
        f"Gate: AUROC >= 0.90 clean and >= 0.85 after jpeg85 and after resize0.75. Result: "
        f"{verdict} ({_rounded(aurocs)}).", "",
        "### This bundle", *gate_tables(blend), "",
        "### Previous bundle (semantic only) on the same set", *gate_tables(semantic), "",
        "### How far the review threshold transfers",
        "Threshold read at 1% FPR on the other hand-made sources; FPR on the held-out one:",
        "", "| held-out source | FPR held out | TPR |", "|---|---|---|",
        *[f"| {src} | {_fmt(row['fpr_held_out@0.01'])} | {_fmt(row['tpr@0.01'])} |"
          for src, row in transfer.items()], "",
        "## What the model cannot see", *[f"- {n}" for n in notes], "",
    ]
    return "\n".join(lines)


def _rounded(values: dict[str, float] | None) -> dict[str, float] | None:
    return None if values is None else {k: round(float(v), 3) for k, v in values.items()}

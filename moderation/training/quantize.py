"""Static int8 quantisation of a classifier bundle (``python -m moderation.training.quantize``).

Why static QDQ and not onnxruntime's dynamic quantisation: dynamic quantisation turns
every convolution into ``ConvInteger``, which has no fast CPU kernel (the shipped graph
ran four times slower that way); static quantisation with calibration crops keeps
quantise/dequantise pairs around ordinary ``Conv`` nodes, which onnxruntime fuses into
its u8s8 kernels (about twice as fast as fp32 on AVX2, a quarter of the file size).

The calibration crops come from hand-made and AI images the caller names (the training
set's images, never the dev set), cut exactly as the detector cuts them, so the
activation ranges are those the worker will see.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from moderation.internal.bundle import ModelBundle, load_bundle
from moderation.internal.preprocess import diagonal_rows, make_crop_grid

#: Image suffixes read for calibration.
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp"})


def calibration_batches(images: list[Path], bundle: ModelBundle, count: int,
                        seed: int = 0) -> Iterator[dict[str, np.ndarray]]:
    """The detector's feeds (``crops``, and ``trace_rows`` where the bundle's graph takes
    it) for ``count`` images drawn with ``seed``; unreadable files are skipped."""
    chosen = sorted(images)
    random.Random(seed).shuffle(chosen)
    used = 0
    for path in chosen:
        if used >= count:
            return
        try:
            with Image.open(path) as opened:
                rgb = opened.convert("RGB")
        except (OSError, UnidentifiedImageError):
            continue
        used += 1
        crops, grid = make_crop_grid(rgb, bundle)
        feeds = {"crops": crops}
        if bundle.trace_rows == "diagonal":
            feeds["trace_rows"] = diagonal_rows(*grid)
        yield feeds


def quantize_bundle(src: Path, dst: Path, images: list[Path], *, count: int = 40,
                    seed: int = 0, version: str | None = None,
                    only: tuple[str, ...] = ()) -> dict[str, Any]:
    """Write an int8 copy of the bundle ``src`` to ``dst``; return its ``model.json``.

    ``only`` names node-name prefixes to quantise (default: every node); the others stay
    float32. A blended bundle quantises its semantic network only: the trace CNNs read
    high-pass residuals a few grey levels wide, which uint8 activations would flatten.
    """
    # onnxruntime's quantisation tools are only needed here, never by the detector.
    import onnx
    import onnxruntime
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    bundle = load_bundle(src)
    meta = json.loads((src / "model.json").read_text())
    batches = calibration_batches(images, bundle, count, seed)
    input_name = bundle.input_name or onnxruntime.InferenceSession(
        str(src / "model.onnx"), providers=["CPUExecutionProvider"]).get_inputs()[0].name

    class Reader(CalibrationDataReader):
        def get_next(self) -> dict[str, np.ndarray] | None:
            feeds = next(batches, None)
            if feeds is None:
                return None
            return {(input_name if k == "crops" else k): v for k, v in feeds.items()}

    dst.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        prepared = Path(work) / "prepared.onnx"
        # Symbolic shape inference cannot follow the trace CNNs' shape arithmetic; ONNX
        # shape inference is enough for QDQ placement.
        quant_pre_process(str(src / "model.onnx"), str(prepared), skip_symbolic_shape=True)
        excluded = [node.name for node in onnx.load(str(prepared)).graph.node
                    if not node.name.startswith(only)] if only else []
        quantize_static(str(prepared), str(dst / "model.onnx"), Reader(),
                        quant_format=QuantFormat.QDQ, per_channel=True,
                        weight_type=QuantType.QInt8, activation_type=QuantType.QUInt8,
                        nodes_to_exclude=excluded)
    # Everything else in the bundle (fine-tunable weights, manifest, card, reports)
    # belongs to the int8 copy too.
    for path in src.iterdir():
        if path.is_file() and path.name not in {"model.onnx", "model.json"} and src != dst:
            shutil.copy2(path, dst / path.name)
    digest = hashlib.sha256((dst / "model.onnx").read_bytes()).hexdigest()
    meta["export"] = {**meta.get("export", {}), "quantization": {
        "scheme": "static QDQ: int8 per-channel weights, uint8 activations",
        "calibration_images": count, "calibration_seed": seed,
        "fp32_sha256": meta["sha256"], "float_nodes": len(excluded)}}
    meta["export"].pop("max_abs_diff_vs_torch", None)  # true of the fp32 graph only
    meta["sha256"] = digest
    if version:
        meta["version"] = version
    (dst / "model.json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src", type=Path, help="the fp32 bundle directory")
    parser.add_argument("dst", type=Path, help="where the int8 bundle is written")
    parser.add_argument("--images", type=Path, required=True, action="append",
                        help="folder of calibration images (training images; repeatable)")
    parser.add_argument("--count", type=int, default=40, help="calibration images")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--version", help="bundle version to record")
    parser.add_argument("--only", action="append", default=[],
                        help="quantise only nodes with this name prefix (repeatable), e.g. "
                             "/semantic for a blended bundle")
    args = parser.parse_args()
    images = [p for folder in args.images for p in folder.rglob("*")
              if p.suffix.lower() in IMAGE_SUFFIXES]
    meta = quantize_bundle(args.src, args.dst, images, count=args.count, seed=args.seed,
                           version=args.version, only=tuple(args.only))
    print(json.dumps({"sha256": meta["sha256"], "version": meta["version"]}))


if __name__ == "__main__":
    main()

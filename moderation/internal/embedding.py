"""The classifier's pooled features as a second output of the same forward pass.

The shipped ``model.onnx`` names one output (the logits). Its backbone ends in a global
average pool whose output, one vector per crop, describes what the image looks like
rather than whether a generator made it; near-identical works have near-identical
vectors, which is what the similarity index and the variation sets compare. The bundle's
files are never rewritten (their sha256 is the bundle's identity): the pool node is
found in the graph when the session is built, by op type, and its output is added as a
graph output of an in-memory copy. A bundle of another version or architecture works the
same as long as it pools globally somewhere.

The classifier reads crops at native resolution (generator traces die in resampling),
which makes their features change with the picture's scale: a copy resized or
re-encoded smaller would not look alike. So the batch gets one more row, the whole
picture resized to the network's input (:func:`global_view`); its pooled features are
the embedding, and its logits are left out of the score. Measured on derived images
(``bench/bench_similarity.py``), the whole-picture view raised recall at a 0.1 %
false-match rate from 0.16 to 0.98 for a 0.6x JPEG re-encode and from 0.10 to 0.62 for
a blur, against the crops' mean features.

A global pool is a ``GlobalAveragePool`` or a ``ReduceMean`` over every spatial axis of a
4-D tensor (axes {2, 3} for NCHW, {1, 2} for NHWC, given as an attribute before opset 18
or as a constant input from 18 on). A pool of a one-channel map is a score, not features
(a fused bundle's trace networks average their one-channel score map), and is skipped.
Pools are ordered by how far they lie from the graph's inputs (the longest chain of
nodes before them), not by their place in the node list: an exporter may write a later
pool's branch first (the fused fp32 bundle lists the 1280-wide head pool before the
192-wide backbone pool it builds on).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

#: Op types that pool a feature map into one vector per image.
GLOBAL_POOL_OPS = frozenset({"GlobalAveragePool", "ReduceMean"})


@dataclass(frozen=True)
class PoolNode:
    """One global pool found in a graph: its output tensor's name, its index in the node
    list and its depth (the longest chain of nodes from a graph input to it)."""

    output: str
    op_type: str
    position: int
    depth: int = 0


class NoPoolFound(ValueError):
    """The graph has no global pool to read features from."""


def _axes(node: Any, initializers: dict[str, Any]) -> tuple[int, ...] | None:
    from onnx import numpy_helper

    for attribute in node.attribute:
        if attribute.name == "axes":
            return tuple(int(a) for a in attribute.ints)
    if len(node.input) > 1 and node.input[1] in initializers:
        return tuple(int(a) for a in numpy_helper.to_array(initializers[node.input[1]]).ravel())
    return None


def _depths(model: Any) -> list[int]:
    """Each node's depth: 1 + the deepest node producing one of its inputs (0 for graph
    inputs and initializers). ONNX lists nodes in a topological order, so one pass does."""
    produced: dict[str, int] = {}
    depths: list[int] = []
    for node in model.graph.node:
        depth = 1 + max((produced.get(name, 0) for name in node.input if name), default=0)
        depths.append(depth)
        for name in node.output:
            produced[name] = depth
    return depths


def _channels(model: Any, layout: str) -> dict[str, int]:
    """Channel counts of the 4-D tensors whose channel dimension is known (by shape
    inference on a copy; an empty map when inference fails)."""
    from onnx import shape_inference

    try:
        inferred = shape_inference.infer_shapes(model)
    except Exception:  # an exotic graph: pools are then kept whatever their width
        return {}
    axis = 1 if layout == "NCHW" else 3
    channels: dict[str, int] = {}
    for value in (*inferred.graph.input, *inferred.graph.value_info):
        dims = value.type.tensor_type.shape.dim
        if len(dims) == 4 and dims[axis].HasField("dim_value"):
            channels[value.name] = int(dims[axis].dim_value)
    return channels


def find_global_pools(model: Any, layout: str = "NCHW") -> list[PoolNode]:
    """Every global pool of ``model`` (an ``onnx.ModelProto``) over a feature map of more
    than one channel, nearest the inputs first (graph order among equals)."""
    spatial = {2, 3} if layout == "NCHW" else {1, 2}
    initializers = {i.name: i for i in model.graph.initializer}
    depths = _depths(model)
    channels: dict[str, int] | None = None
    found: list[PoolNode] = []
    for position, node in enumerate(model.graph.node):
        if node.op_type not in GLOBAL_POOL_OPS:
            continue
        if node.op_type == "ReduceMean":
            axes = _axes(node, initializers)
            if axes is None or {a % 4 for a in axes} != spatial:
                continue  # reduces the channel axis too, or not every spatial one
        if channels is None:
            channels = _channels(model, layout)
        if channels.get(node.input[0]) == 1:
            continue  # a one-channel score map's mean is a score, not features
        found.append(PoolNode(node.output[0], node.op_type, position, depths[position]))
    return sorted(found, key=lambda pool: (pool.depth, pool.position))


def choose_pool(pools: list[PoolNode], which: str) -> PoolNode:
    """``which`` is "first" (the earliest pool: the backbone's generic features) or
    "last" (the pool feeding the final head)."""
    if not pools:
        raise NoPoolFound("the classifier graph has no global pool (GlobalAveragePool or a "
                          "spatial ReduceMean)")
    if which not in ("first", "last"):
        raise ValueError(f"pool must be 'first' or 'last', got {which!r}")
    return pools[0] if which == "first" else pools[-1]


def with_pooled_output(model_path: str | Path, which: str,
                       layout: str = "NCHW") -> tuple[bytes, str]:
    """Return the serialised graph of ``model_path`` with the chosen pool's output added
    as an extra graph output, and that output's name. The file is not modified."""
    import onnx

    model = onnx.load(str(model_path))
    pool = choose_pool(find_global_pools(model, layout), which)
    if pool.output not in {o.name for o in model.graph.output}:
        model.graph.output.append(
            onnx.helper.make_tensor_value_info(pool.output, onnx.TensorProto.FLOAT, None))
    return model.SerializeToString(), pool.output


def global_view(image: Image.Image, size: int, mean: tuple[float, float, float],
                std: tuple[float, float, float], layout: str = "NCHW") -> np.ndarray:
    """The whole picture resized to ``size`` x ``size``, normalised, as a batch of one."""
    # convert() copies even an RGB image: a 36 MB transient on a 12 MP upload.
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    arr = np.asarray(rgb.resize((size, size), Image.Resampling.BILINEAR), dtype=np.float32)
    row = (arr - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    if layout == "NCHW":
        row = row.transpose(2, 0, 1)
    return np.ascontiguousarray(row[None])


def pooled_vector(features: np.ndarray, row: int = -1) -> np.ndarray:
    """The L2-normalised float32 features of batch row ``row`` (default: the last, the
    whole-picture view) from a pool output shaped (batch, dims[, 1, 1])."""
    flat = np.asarray(features, dtype=np.float32).reshape(features.shape[0], -1)
    return normalise(flat[row])


def normalise(vector: np.ndarray) -> np.ndarray:
    """``vector`` scaled to unit length (a zero vector stays zero)."""
    vector = np.asarray(vector, dtype=np.float32)
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector

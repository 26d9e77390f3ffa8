"""The pooled embedding: found in the graph at load time, same run, shipped files intact."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from moderation.detectors.onnx import OnnxClassifier
from moderation.internal.bundle import default_bundle_dir, file_sha256, load_bundle
from moderation.internal.embedding import (
    NoPoolFound,
    choose_pool,
    find_global_pools,
    with_pooled_output,
)
from moderation.internal.imaging import load_image
from moderation.similarity.vectors import pack, unpack
from tests.similarity.pictures import composition, png


@pytest.fixture(scope="module")
def bundle():
    directory = default_bundle_dir()
    assert directory is not None
    return load_bundle(directory)


def test_pools_found_by_op_type_and_the_file_is_not_changed(bundle):
    before = file_sha256(bundle.model_path)
    pools = find_global_pools(onnx.load(str(bundle.model_path)))
    assert [p.op_type for p in pools] == ["ReduceMean", "ReduceMean"]
    data, name = with_pooled_output(bundle.model_path, "first")
    assert name == pools[0].output
    assert name in {o.name for o in onnx.load_from_string(data).graph.output}
    assert file_sha256(bundle.model_path) == before == bundle.sha256


def test_global_average_pool_and_opset18_axes_are_found():
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    axes = helper.make_tensor("axes", TensorProto.INT64, [2], [2, 3])
    nodes = [helper.make_node("GlobalAveragePool", ["x"], ["g"]),
             helper.make_node("ReduceMean", ["x", "axes"], ["r"], keepdims=0),
             helper.make_node("ReduceMean", ["x"], ["c"], axes=[1]),  # channels: not a pool
             helper.make_node("Add", ["g", "g"], ["y"])]
    graph = helper.make_graph(nodes, "g", [x], [y], initializer=[axes])
    pools = find_global_pools(helper.make_model(graph))
    assert [p.output for p in pools] == ["g", "r"]
    assert choose_pool(pools, "last").output == "r"
    with pytest.raises(NoPoolFound):
        choose_pool([], "first")


def test_pools_ordered_by_depth_and_score_maps_skipped():
    """A fused bundle: the exporter lists the head's pool before the backbone's, and a
    trace network averages its one-channel score map; "first" is the backbone's pool."""
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    weight = helper.make_tensor("w", TensorProto.FLOAT, [1, 4, 1, 1], [0.25] * 4)
    nodes = [helper.make_node("Relu", ["x"], ["a"]),
             helper.make_node("Relu", ["a"], ["b"]),
             helper.make_node("ReduceMean", ["b"], ["head"], axes=[2, 3], keepdims=0),
             helper.make_node("ReduceMean", ["a"], ["backbone"], axes=[2, 3], keepdims=0),
             helper.make_node("Conv", ["x", "w"], ["score"]),
             helper.make_node("GlobalAveragePool", ["score"], ["trace_pool"]),
             helper.make_node("ReduceMean", ["score"], ["trace_mean"], axes=[1, 2, 3],
                              keepdims=0),
             helper.make_node("Add", ["head", "backbone"], ["y"])]
    graph = helper.make_graph(nodes, "fused", [x], [y], initializer=[weight])
    pools = find_global_pools(helper.make_model(graph))
    assert [p.output for p in pools] == ["backbone", "head"]
    assert choose_pool(pools, "first").output == "backbone"
    assert choose_pool(pools, "last").output == "head"


def test_one_run_gives_the_same_score_and_a_unit_embedding():
    image = load_image(png(composition(5)))
    plain = OnnxClassifier("plain", {"EMBEDDING_POOL": ""}).run(image)
    pooled = OnnxClassifier("pooled", {"EMBEDDING_POOL": "first"}).run(image)
    assert plain.embedding is None
    assert pooled.score == pytest.approx(plain.score, abs=1e-9)
    assert pooled.photo == pytest.approx(plain.photo, abs=1e-9)
    assert pooled.crops == plain.crops
    assert pooled.embedding is not None and pooled.embedding.shape == (192,)
    assert float(np.linalg.norm(pooled.embedding)) == pytest.approx(1.0, abs=1e-5)
    result = OnnxClassifier("c", {}).detect(image)
    assert result.artifacts["embedding"].shape == (192,)
    assert "embedding" not in result.details  # never in the stored evidence


def test_stored_vector_is_float16_and_round_trips():
    vector = np.random.default_rng(0).normal(size=192).astype(np.float32)
    data = pack(vector)
    assert len(data) == 384
    back = unpack(data)
    assert float(np.dot(back, vector / np.linalg.norm(vector))) > 0.9999

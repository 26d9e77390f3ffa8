"""The ONNX classifier backend on a tiny graph the suite builds itself."""

from __future__ import annotations

import json
import os
from unittest import mock

import numpy as np
import pytest
from django.core.checks import run_checks
from django.core.files.base import ContentFile
from PIL import Image

from moderation.detectors import detectors
from moderation.detectors import onnx as onnx_backend
from moderation.detectors.onnx import OnnxClassifier, one_in
from moderation.evidence import ImageInput
from moderation.internal.bundle import BundleError, load_bundle
from moderation.internal.preprocess import (
    diagonal_rows,
    grid_offsets,
    make_crop_grid,
    make_crops,
    reduce_factor,
)
from tests.fixtures.tiny_onnx import write_bundle


def image_input(color: tuple[int, int, int], size: tuple[int, int] = (80, 60)) -> ImageInput:
    im = Image.new("RGB", size, color)
    return ImageInput(data=b"", sha256="0" * 64, format="PNG", mime="image/png", width=size[0],
                      height=size[1], frames=1, mode="RGB", image=im)


@pytest.fixture
def bundle_dir(tmp_path):
    return write_bundle(tmp_path / "bundle")


def test_red_scores_ai_blue_scores_none(bundle_dir):
    det = OnnxClassifier("classifier", {"BUNDLE": str(bundle_dir)})
    red = det.detect(image_input((255, 0, 0)))
    blue = det.detect(image_input((0, 0, 255)))
    # softmax([0, 3]) = 0.9526 for pure red; softmax([3, 0])[1] = 0.0474 for pure blue
    assert red.score == pytest.approx(0.952574, abs=1e-4)
    assert blue.score == pytest.approx(0.047426, abs=1e-4)
    assert red.label == "ai" and blue.label == "none"
    assert red.strength == "weak" and blue.strength == "weak"  # never more on its own
    assert red.details["crops"] == 4
    assert red.message == "classifier_score" and red.message_params["one_in"] == "100"
    assert det.get_version() == "1:tiny-test@1.0"


def test_temperature_flattens_scores(tmp_path):
    det = OnnxClassifier("c", {"BUNDLE": str(write_bundle(tmp_path / "b",
                                                          calibration={"temperature": 3.0}))})
    assert det.detect(image_input((255, 0, 0))).score == pytest.approx(1 / (1 + np.exp(-1)),
                                                                       abs=1e-4)


def test_nhwc_layout(tmp_path):
    det = OnnxClassifier("c", {"BUNDLE": str(write_bundle(tmp_path / "b", layout="NHWC"))})
    assert det.detect(image_input((255, 0, 0))).score == pytest.approx(0.952574, abs=1e-4)


def test_sha_mismatch_is_refused(bundle_dir):
    (bundle_dir / "model.onnx").write_bytes((bundle_dir / "model.onnx").read_bytes() + b"x")
    with pytest.raises(BundleError, match="sha256"):
        load_bundle(bundle_dir)
    det = OnnxClassifier("classifier", {"BUNDLE": str(bundle_dir)})
    assert det.enabled is False


@pytest.mark.parametrize("field", ["name", "sha256", "thresholds", "normalisation", "crop"])
def test_missing_fields_are_named(bundle_dir, field):
    meta = json.loads((bundle_dir / "model.json").read_text())
    del meta[field]
    (bundle_dir / "model.json").write_text(json.dumps(meta))
    with pytest.raises(BundleError, match=field):
        load_bundle(bundle_dir)


def test_diagonal_rows_of_every_grid_shape():
    assert diagonal_rows(3, 3).tolist() == [0, 4, 8]
    assert diagonal_rows(1, 3).tolist() == [0, 1, 2]
    assert diagonal_rows(3, 1).tolist() == [0, 1, 2]
    assert diagonal_rows(2, 2).tolist() == [0, 3]
    assert diagonal_rows(1, 1).tolist() == [0]
    assert diagonal_rows(2, 3).tolist() == [0, 1, 5]


def test_crop_grid_reports_its_shape(bundle_dir):
    bundle = load_bundle(bundle_dir)
    size = bundle.crop.size  # one crop high, six wide: a single row of crops
    crops, grid = make_crop_grid(Image.new("RGB", (6 * size, size), (9, 9, 9)), bundle)
    assert grid == (1, bundle.crop.grid) and len(crops) == grid[0] * grid[1]


def test_crop_grid_native_resolution(bundle_dir):
    bundle = load_bundle(bundle_dir)
    big = Image.new("RGB", (1000, 600))
    # 1000 > max_side 256 -> reduce by ceil(1000/256) = 4 -> 250x150, then a 2x2 grid
    assert reduce_factor(1000, 600, 256) == 4
    crops = make_crops(big, bundle)
    assert crops.shape == (4, 3, 32, 32)
    small = make_crops(Image.new("RGB", (10, 7), (255, 0, 0)), bundle)
    assert small.shape == (1, 3, 32, 32)  # padded by mirroring, not upscaled
    assert np.allclose(small[:, 0], 1.0)
    assert grid_offsets(100, 32, 3) == [0, 34, 68]
    assert grid_offsets(32, 32, 3) == [0]


def test_threads_option_reaches_session(bundle_dir):
    onnx_backend._drop_inherited_sessions()
    det = OnnxClassifier("c", {"BUNDLE": str(bundle_dir), "INTRA_OP_NUM_THREADS": 1})
    with mock.patch("onnxruntime.InferenceSession", wraps=__import__(
            "onnxruntime").InferenceSession) as session_cls:
        det.detect(image_input((10, 10, 10)))
        det.detect(image_input((20, 10, 10)))
    assert session_cls.call_count == 1  # lazily built once per process
    options = session_cls.call_args.kwargs["sess_options"]
    assert options.intra_op_num_threads == 1


def test_session_keeps_no_memory_pattern(bundle_dir):
    """A memory pattern would hold the activations a second time beside the arena."""
    onnx_backend._drop_inherited_sessions()
    det = OnnxClassifier("c", {"BUNDLE": str(bundle_dir)})
    with mock.patch("onnxruntime.InferenceSession", wraps=__import__(
            "onnxruntime").InferenceSession) as session_cls:
        det.detect(image_input((10, 10, 10)))
    assert session_cls.call_args.kwargs["sess_options"].enable_mem_pattern is False


@pytest.mark.parametrize(("batch_size", "calls"), [(1, 5), (2, 3), (4, 2), (0, 1), (9, 1)])
def test_batch_size_splits_calls_not_results(bundle_dir, batch_size, calls):
    """Four crops and the whole-picture row: BATCH_SIZE rows per call, same figures."""
    noise = np.random.default_rng(7).integers(0, 256, (60, 80, 3), dtype=np.uint8)
    im = Image.fromarray(noise, "RGB")
    image = ImageInput(data=b"", sha256="1" * 64, format="PNG", mime="image/png", width=80,
                       height=60, frames=1, mode="RGB", image=im)
    reference = OnnxClassifier("c", {"BUNDLE": str(bundle_dir), "BATCH_SIZE": 0}).run(image)
    det = OnnxClassifier("c", {"BUNDLE": str(bundle_dir), "BATCH_SIZE": batch_size})
    session = onnx_backend.get_session(load_bundle(bundle_dir).model_path, 1, 1, "first")
    with mock.patch.object(type(session), "run", autospec=True,
                           side_effect=type(session).run) as run:
        result = det.run(image)
    assert run.call_count == calls
    assert result.crops == reference.crops == 4
    np.testing.assert_allclose(result.logits, reference.logits, atol=1e-6)
    assert result.score == pytest.approx(reference.score, abs=1e-9)
    assert result.embedding is not None and reference.embedding is not None
    np.testing.assert_allclose(result.embedding, reference.embedding, atol=1e-6)


@pytest.mark.parametrize("value", [-1, "2", True, 1.5])
def test_bad_batch_size(value):
    with pytest.raises(BundleError, match="BATCH_SIZE"):
        OnnxClassifier("c", {"BATCH_SIZE": value})


def test_session_rebuilt_after_fork(bundle_dir):
    onnx_backend._drop_inherited_sessions()
    det = OnnxClassifier("c", {"BUNDLE": str(bundle_dir)})
    det.detect(image_input((10, 10, 10)))
    assert onnx_backend._SESSIONS
    child_pid = os.getpid() + 1
    with mock.patch.object(onnx_backend.os, "getpid", return_value=child_pid):
        onnx_backend.get_session(load_bundle(bundle_dir).model_path, 1, 1)
    assert child_pid == onnx_backend._SESSIONS_PID
    assert len(onnx_backend._SESSIONS) == 1  # the inherited one was dropped, one rebuilt


def test_bad_thread_option():
    with pytest.raises(BundleError, match="INTRA_OP_NUM_THREADS"):
        OnnxClassifier("c", {"INTRA_OP_NUM_THREADS": "two"})


def test_one_in():
    th = {"review": 0.5, "fpr_0.01": 0.9, "fpr_0.05": 0.6}
    assert one_in(0.95, th) == 100
    assert one_in(0.7, th) == 20
    assert one_in(0.1, th) is None


def classifier_settings(bundle) -> dict:
    return {"DETECTORS": {"classifier": {"BACKEND": "moderation.detectors.onnx.OnnxClassifier",
                                         "OPTIONS": {"BUNDLE": str(bundle) if bundle else None}}}}


def test_check_warns_when_off(settings, monkeypatch):
    monkeypatch.setattr("moderation.detectors.onnx.default_bundle_dir", lambda: None)
    settings.MODERATION = classifier_settings(None)
    ids = {m.id for m in run_checks(tags=["moderation"])}
    assert "moderation.W020" in ids


def test_check_errors_on_broken_bundle(settings, bundle_dir):
    (bundle_dir / "model.json").write_text("{not json")
    settings.MODERATION = classifier_settings(bundle_dir)
    messages = [m for m in run_checks(tags=["moderation"]) if m.id == "moderation.E022"]
    assert messages and "BUNDLE" in str(messages[0].hint)


def test_check_clean_with_good_bundle(settings, bundle_dir):
    settings.MODERATION = classifier_settings(bundle_dir)
    assert [m for m in run_checks(tags=["moderation"]) if str(m.id).startswith("moderation.")] == []


@pytest.mark.django_db
def test_classifier_through_pipeline_holds_never_labels_ai(settings, bundle_dir, user):
    from moderation import pipeline
    from moderation.models import ModerationCase
    from tests.factories import png_bytes
    from tests.testapp.models import Artwork

    settings.MODERATION = classifier_settings(bundle_dir)
    detectors.reset()
    with mock.patch("moderation.tasks.enqueue_scan"):
        art = Artwork(owner=user, declaration="none")
        art.image.save("red.png", ContentFile(png_bytes(color=(255, 0, 0))), save=True)
    case = ModerationCase.objects.for_instance(art).get()
    pipeline.scan(case.pk)
    case.refresh_from_db()
    assert case.label == "uncertain" and case.route == "held" and case.needs_review
    assert case.undisclosed_ai is False
    assert case.ai_score == pytest.approx(0.952574, abs=1e-4)
    assert case.evidence.get().detector_version == "1:tiny-test@1.0"

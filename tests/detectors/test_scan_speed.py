"""The scan's fast paths: one reduced JPEG decode where every detector allows it, and no
classifier run when provenance already proves the work AI."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from moderation.constants import RejectionReason
from moderation.detectors.base import ANY_REDUCTION
from moderation.detectors.onnx import OnnxClassifier
from moderation.detectors.provenance import ProvenanceDetector
from moderation.exceptions import ImageRejected
from moderation.internal.imaging import _dct_scale, load_image
from moderation.internal.preprocess import make_crops
from moderation.scanning import allowed_reduction, scan_bytes
from tests.fixtures.tiny_onnx import write_bundle

A1111 = ("1girl, watercolor\nNegative prompt: lowres\nSteps: 28, Sampler: Euler a, CFG scale: 7, "
         "Seed: 1, Size: 512x512, Model hash: 6ce0161689, Model: animagine")


def smooth(width: int, height: int) -> Image.Image:
    x = np.linspace(0, 255, width, dtype=np.float32)[None, :]
    y = np.linspace(0, 255, height, dtype=np.float32)[:, None]
    arr = np.stack([np.broadcast_to(x, (height, width)), np.broadcast_to(y, (height, width)),
                    (x + y) / 2], axis=-1)
    return Image.fromarray(arr.astype(np.uint8), "RGB")


def jpeg(image: Image.Image, **kwargs: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=92, **kwargs)
    return buf.getvalue()


def by(factor: int):
    return lambda fmt, width, height: factor


def test_jpeg_is_decoded_reduced_and_keeps_its_rendered_size() -> None:
    image = load_image(jpeg(smooth(1600, 1200)), reduction=by(4))
    assert image.reduced == 4 and image.image.size == (400, 300)
    assert (image.width, image.height) == (1600, 1200)
    assert image.raw is None  # the stored pixels at native size were never decoded


def test_reduction_is_asked_with_the_rendered_size() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees: stored 1600x1200, rendered 1200x1600
    asked: list[tuple[str, int, int]] = []

    def reduction(fmt: str, width: int, height: int) -> int:
        asked.append((fmt, width, height))
        return 2

    image = load_image(jpeg(smooth(1600, 1200), exif=exif.tobytes()), reduction=reduction)
    assert asked == [("JPEG", 1200, 1600)]
    assert (image.width, image.height) == (1200, 1600) and image.image.size == (600, 800)


def test_other_formats_always_decode_at_full_size() -> None:
    buf = io.BytesIO()
    smooth(800, 600).save(buf, "PNG")
    image = load_image(buf.getvalue(), reduction=by(8))
    assert image.reduced == 1 and image.image.size == (800, 600) and image.raw is not None


@pytest.mark.parametrize("progressive", [False, True])
@pytest.mark.parametrize("cut", [0.5, 0.97])
def test_a_reduced_decode_still_rejects_a_truncated_jpeg(progressive: bool, cut: float) -> None:
    # DCT scaling skips inverse-transform work, not entropy decoding: every block of every
    # scan is still read, so a file cut short is refused as by a full decode.
    data = jpeg(smooth(1600, 1200), progressive=progressive)
    with pytest.raises(ImageRejected) as info:
        load_image(data[:int(len(data) * cut)], reduction=by(8))
    assert info.value.code == RejectionReason.CORRUPT


@pytest.mark.parametrize(("allowed", "scale"), [(1, 1), (2, 2), (3, 1), (4, 4), (6, 2),
                                                (12, 4), (16, 8), (ANY_REDUCTION, 8)])
def test_dct_scale_divides_what_the_detectors_allow(allowed: int, scale: int) -> None:
    assert _dct_scale("JPEG", allowed) == scale
    assert _dct_scale("PNG", allowed) == 1


def test_classifier_allows_the_power_of_two_part_of_its_reduction(tmp_path) -> None:
    det = OnnxClassifier("c", {"BUNDLE": str(write_bundle(tmp_path / "b", max_side=256))})
    assert det.max_reduction(1024, 768) == 4  # reduced by 4 anyway
    assert det.max_reduction(768, 500) == 1  # by 3: a DCT scale of 2 would not divide it
    assert det.max_reduction(1536, 900) == 2  # by 6: 2 by DCT scaling, then 3 by boxes
    assert det.max_reduction(200, 100) == 1
    assert ProvenanceDetector("p").max_reduction(4000, 3000) == ANY_REDUCTION


def test_reduced_decode_gives_the_classifier_the_same_crops(tmp_path) -> None:
    bundle = OnnxClassifier("c", {"BUNDLE": str(write_bundle(
        tmp_path / "b", size=64, grid=3, max_side=256))}).bundle
    assert bundle is not None
    data = jpeg(smooth(1536, 1024))  # reduction 6: DCT 1/2, then boxes of 3
    full = load_image(data)
    reduced = load_image(data, reduction=by(2))
    a = make_crops(full.image, bundle)
    b = make_crops(reduced.image, bundle, (reduced.width, reduced.height))
    assert a.shape == b.shape == (9, 3, 64, 64)
    # Different filters (DCT scaling vs box averaging) of the same pixels: close, not equal.
    assert float(np.abs(a - b).mean()) * 255 < 2.0


def test_allowed_reduction_is_the_minimum_over_enabled_detectors(tmp_path) -> None:
    classifier = OnnxClassifier("c", {"BUNDLE": str(write_bundle(tmp_path / "b", max_side=256))})
    reduction = allowed_reduction([ProvenanceDetector("p"), classifier])
    assert reduction("JPEG", 2048, 1024) == 8
    assert reduction("JPEG", 768, 500) == 1
    assert allowed_reduction([ProvenanceDetector("p")])("JPEG", 100, 100) == ANY_REDUCTION


def test_allowed_reduction_is_a_power_of_two_every_step_accepts(tmp_path) -> None:
    """A 4000 x 3000 JPEG: the classifier allows 4, fingerprinting keeps a 1024 px long
    side (3); both take 1/2, which the decoder can do (it could not do 3)."""
    classifier = OnnxClassifier("c", {"BUNDLE": str(write_bundle(tmp_path / "b",
                                                                 max_side=1024))})
    keep_1024 = lambda width, height: max(width, height) // 1024  # noqa: E731
    reduction = allowed_reduction([ProvenanceDetector("p"), classifier], also=[keep_1024])
    assert classifier.max_reduction(4000, 3000) == 4
    assert reduction("JPEG", 4000, 3000) == 2
    assert reduction("JPEG", 1500, 1000) == 1
    assert reduction("JPEG", 8192, 6144) == 8
    image = load_image(jpeg(smooth(4000, 3000)), reduction=reduction)
    assert image.reduced == 2 and image.image.size == (2000, 1500)


def a1111_png() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", A1111)
    buf = io.BytesIO()
    smooth(320, 240).save(buf, "PNG", pnginfo=info)
    return buf.getvalue()


@pytest.fixture
def with_tiny_classifier(settings, tmp_path):
    bundle = write_bundle(tmp_path / "bundle")
    settings.MODERATION = {"DETECTORS": {
        # The classifier is listed first: metadata readers still run before it.
        "classifier": {"BACKEND": "moderation.detectors.onnx.OnnxClassifier",
                       "OPTIONS": {"BUNDLE": str(bundle)}},
        "provenance": {"BACKEND": "moderation.detectors.provenance.ProvenanceDetector"},
    }}
    return settings


def test_classifier_is_skipped_when_provenance_proves_ai(with_tiny_classifier) -> None:
    result = scan_bytes(a1111_png())
    classifier, provenance = result.evidence  # configured order is kept
    assert provenance.label == "ai" and provenance.strength == "strong"
    assert classifier.detector == "classifier" and classifier.score is None
    assert classifier.label == "none" and classifier.message == "classifier_skipped"
    assert classifier.message_params == {"detector": "provenance"}
    assert classifier.details["skipped"] is True
    assert result.decision is not None and result.decision.label == "ai"


def test_classifier_runs_when_skipping_is_off(with_tiny_classifier) -> None:
    with_tiny_classifier.MODERATION = {**with_tiny_classifier.MODERATION,
                                       "SKIP_CLASSIFIER_WHEN_PROVEN": False}
    classifier, _provenance = scan_bytes(a1111_png()).evidence
    assert classifier.score is not None and classifier.message != "classifier_skipped"


def test_classifier_runs_without_proof(with_tiny_classifier) -> None:
    buf = io.BytesIO()
    smooth(320, 240).save(buf, "PNG")
    classifier, provenance = scan_bytes(buf.getvalue()).evidence
    assert provenance.label == "none" and classifier.score is not None


def test_skipped_evidence_reads_in_both_languages() -> None:
    from django.utils import translation

    from moderation.reasons import describe

    for language, word in (("en", "classifier"), ("ja", "分類器")):
        with translation.override(language):
            assert word in str(describe("classifier_skipped", {"detector": "provenance"}))


def crop_bundle(tmp_path, plan: str):
    bundle = OnnxClassifier("c", {"BUNDLE": str(write_bundle(
        tmp_path / plan, size=32, grid=3, max_side=256,
        crop={"type": plan, "size": 32, "grid": 3, "max_side": 256}))}).bundle
    assert bundle is not None
    return bundle


@pytest.mark.parametrize(("size", "grid_crops", "coverage_crops"),
                         [((200, 50), 9, 6), ((64, 40), 9, 4), ((30, 20), 1, 1),
                          ((100, 100), 9, 9), ((512, 60), 3, 3)])
def test_coverage_plan_takes_only_the_crops_that_cover_the_image(tmp_path, size, grid_crops,
                                                                 coverage_crops) -> None:
    image = smooth(*size)
    grid = make_crops(image, crop_bundle(tmp_path, "grid"))
    coverage = make_crops(image, crop_bundle(tmp_path, "coverage"))
    assert (len(grid), len(coverage)) == (grid_crops, coverage_crops)
    # The coverage plan's crops are the grid's first and last along each axis.
    for crop in coverage:
        assert any(np.array_equal(crop, other) for other in grid)


def test_unknown_crop_plan_is_refused(tmp_path) -> None:
    from moderation.internal.bundle import BundleError, load_bundle

    root = write_bundle(tmp_path / "b", crop={"type": "random", "size": 32, "grid": 3,
                                              "max_side": 256})
    with pytest.raises(BundleError, match="coverage"):
        load_bundle(root)


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_crops_are_the_plain_normalised_pixels(tmp_path, layout) -> None:
    bundle = OnnxClassifier("c", {"BUNDLE": str(write_bundle(
        tmp_path / "b", size=32, grid=3, max_side=256, layout=layout,
        normalisation={"mean": [127.0, 120.0, 110.0], "std": [128.0, 60.0, 70.0]}))}).bundle
    assert bundle is not None
    image = smooth(300, 200)
    batch = make_crops(image, bundle)
    arr = np.asarray(image.reduce(2), np.uint8)  # 300 px > max_side 256: halved
    mean = np.asarray([127, 120, 110], dtype=np.float32)
    std = np.asarray([128, 60, 70], dtype=np.float32)
    first = (arr[:32, :32].astype(np.float32) - mean) / std
    expected = first.transpose(2, 0, 1) if layout == "NCHW" else first
    assert batch.dtype == np.float32 and batch.flags["C_CONTIGUOUS"]
    assert np.array_equal(batch[0], expected)  # bit for bit what the bundle was scored with


def test_stored_proof_skips_the_classifier_on_a_retry(with_tiny_classifier) -> None:
    # A retry finds the provenance evidence already stored (it is not run again) and is
    # handed it as ``prior``: the classifier is still not needed.
    from moderation.evidence import EvidenceResult
    from moderation.scanning import configured_detectors, run_detectors

    image = load_image(a1111_png())
    stored = EvidenceResult("provenance", "2", "ai", "strong", mode="enforce")
    classifier = [d for d in configured_detectors() if d.alias == "classifier"]
    (result,) = run_detectors(image, classifier, prior=[stored])
    assert result.message == "classifier_skipped" and result.score is None
    shadow = EvidenceResult("provenance", "2", "ai", "strong", mode="shadow")
    (result,) = run_detectors(image, classifier, prior=[shadow])  # shadow evidence proves nothing
    assert result.score is not None

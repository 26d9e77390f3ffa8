"""Invisible-watermark detector: payloads, threshold, decoding, evidence and the scan flag.

Carriers are generated here (smooth colour fields with texture, like a painting) and
marked with ``invisible-watermark`` itself, in the channel order each generator uses.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command
from PIL import Image

from moderation.constants import EvidenceLabel, Strength
from moderation.detectors import watermark as watermark_module
from moderation.detectors.base import BaseDetector
from moderation.detectors.watermark import INVISIBLE_WATERMARK, InvisibleWatermarkDetector
from moderation.evidence import EvidenceResult, ImageInput
from moderation.exceptions import InvalidDetectorConfig
from moderation.internal import watermark as wm
from moderation.internal.imaging import load_image
from moderation.scanning import configured_detectors, scan_bytes

imwatermark = pytest.importorskip("imwatermark", reason="the watermark extra is not installed")

PAYLOADS = {p.key: p for p in wm.PAYLOADS}


def carrier(size: tuple[int, int] = (512, 512), seed: int = 3) -> Image.Image:
    rng = np.random.default_rng(seed)
    coarse = Image.fromarray((rng.random((24, 24, 3)) * 255).astype(np.uint8))
    smooth = np.asarray(coarse.resize(size, Image.Resampling.BICUBIC), dtype=np.int16)
    grain = rng.integers(-12, 13, size=smooth.shape)
    return Image.fromarray(np.clip(smooth + grain, 0, 255).astype(np.uint8))


def mark(image: Image.Image, payload: wm.Payload, *, order: str = "bgr") -> Image.Image:
    encoder = imwatermark.WatermarkEncoder()
    encoder.set_watermark("bits", list(payload.bits))
    pixels = np.asarray(image)
    given = pixels[:, :, ::-1] if order == "bgr" else pixels
    out = encoder.encode(np.ascontiguousarray(given), "dwtDct")
    back = out[:, :, ::-1] if order == "bgr" else out
    return Image.fromarray(np.ascontiguousarray(back))


def png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def detect(data: bytes, **options) -> EvidenceResult:
    return InvisibleWatermarkDetector("watermark", options).detect(load_image(data))


# ------------------------------------------------------------------ payloads, threshold


def test_payloads_are_the_generators_bits():
    assert PAYLOADS["sd1"].length == 136 and PAYLOADS["sd2"].length == 32
    assert bytes(np.packbits(PAYLOADS["sd1"].bits)) == b"StableDiffusionV1"
    assert bytes(np.packbits(PAYLOADS["sd2"].bits)) == b"SDV2"
    sdxl = int("".join(map(str, PAYLOADS["sdxl"].bits)), 2)
    assert sdxl == 0xB3EC907BB19E and PAYLOADS["sdxl"].length == 48
    # FLUX's message starts with two zero bits that bin()[2:] drops: 46 bits embedded.
    assert PAYLOADS["flux"].length == 46 and PAYLOADS["flux"].bits[0] == 1


def test_thresholds_are_the_smallest_within_each_stage_budget():
    table = wm.thresholds()
    assert all(v is not None for v in table["aligned"].values())
    assert {k: v[0] for k, v in table["aligned"].items() if v is not None} == {
        "sd1": 104, "sd2": 32, "sdxl": 44, "flux": 43}
    shifted = table["shifted"]
    assert shifted["sd2"] is None  # 32 bits cannot reach the shifted budget
    assert {k: v[0] for k, v in shifted.items() if v} == {"sd1": 107, "sdxl": 45, "flux": 44}
    assert wm.ALIGNED_TESTS == 40 and wm.shifted_tests(48) == 4 * 2 * 48
    for stage in (wm.ALIGNED, wm.SHIFTED):
        alpha = wm.stage_alpha(stage)
        for payload in wm.PAYLOADS:
            k = wm.payload_threshold(payload, stage)
            if k is None:
                assert wm.payload_chance(payload, payload.length, stage) >= alpha
                continue
            assert wm.payload_chance(payload, k, stage) < alpha
            assert wm.payload_chance(payload, k - 1, stage) >= alpha
    # The two stages share the family-wise budget: both halves add up to it.
    assert wm.stage_alpha(wm.ALIGNED) + wm.stage_alpha(wm.SHIFTED) == pytest.approx(
        wm.FALSE_MATCH_PROBABILITY)


def test_vectorised_blocks_read_the_library_votes():
    """The decoder's own block reading gives the library's votes on a marked image."""
    import cv2
    import pywt
    from imwatermark.maxDct import EmbedMaxDct

    rgb = np.asarray(mark(carrier(), PAYLOADS["sdxl"]))
    bgr = np.ascontiguousarray(rgb[:, :, ::-1])
    approx, _ = pywt.dwt2(cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV)[:, :, 1], "haar")
    library = np.asarray(EmbedMaxDct(wmLen=1).decode_frame(approx, wm.SCALE, [[]])[0])
    blocks = wm.read_blocks(wm.chroma_plane(rgb, "bgr"), wm.saturated_pixels(rgb))
    ours = (blocks.soft() > 0).ravel().astype(int)
    assert ours.size == library.size
    assert (ours == library).mean() > 0.97  # float U versus the library's uint8 U


def test_chance_bound_holds_on_random_votes():
    """Unmarked images give exchangeable bits: random votes never reach a threshold, and
    the agreement seen stays near what the bound predicts."""
    rng = np.random.default_rng(0)
    for payload in wm.PAYLOADS:
        needed = wm.payload_threshold(payload)
        best = 0
        for _ in range(300):
            bias = rng.uniform(0.2, 0.8)  # carriers skew the votes; the bound allows it
            votes = (rng.random(4096) < bias).astype(np.float32)
            best = max(best, wm.best_agreement(wm.bit_shares(votes, payload.length),
                                               payload.bits))
        assert needed is not None and best < needed, (payload.key, best, needed)


def test_best_cut_reads_skewed_votes():
    bits = PAYLOADS["sdxl"].bits
    shares = np.where(np.asarray(bits) == 1, 1.0, 0.58)  # every 0-bit drifted to 58 % ones
    assert wm.best_agreement(shares, bits) == 48
    # The library's own cut (0.5) would read every bit as 1.
    assert int(((shares > 0.5) == np.asarray(bits)).sum()) == sum(bits)
    # A run of equal shares cannot be split.
    assert wm.best_agreement(np.full(48, 0.5), bits) == max(sum(bits), 48 - sum(bits))


def test_candidate_sizes():
    sizes = wm.candidate_sizes(1024, 1024, max_pixels=4_200_000)
    assert sizes[0] == (1024, 1024) and (512, 512) in sizes and (768, 768) in sizes
    assert all(min(s) % 64 == 0 and max(s) % 8 == 0 for s in sizes[1:])
    # A 0.9x copy of a 1152x896 render is tried back at its own size.
    assert (1152, 896) in wm.candidate_sizes(1037, 806, max_pixels=4_200_000)
    assert wm.candidate_sizes(200, 200, max_pixels=4_200_000) == []
    big = wm.candidate_sizes(4096, 4096, max_pixels=4_200_000)
    assert (4096, 4096) not in big and (1024, 1024) in big
    assert wm.candidate_sizes(1024, 1024, max_pixels=4_200_000, rescale=False) == [
        (1024, 1024)]


def test_saturated_blocks_are_left_out():
    rgb = np.full((64, 64, 3), 128, dtype=np.uint8)
    rgb[:8, :8] = 255
    blocks = wm.read_blocks(wm.chroma_plane(rgb, "bgr"), wm.saturated_pixels(rgb))
    assert blocks.shape == (8, 8)
    assert not blocks.usable[0, 0] and blocks.usable.sum() == 63


def test_the_grid_phase_and_row_step_are_estimated_without_the_payload():
    marked = mark(carrier((768, 768)), PAYLOADS["sdxl"], order="rgb")
    cropped = np.asarray(marked.crop((37, 21, 700, 740)))
    plane, saturated = wm.chroma_plane(cropped, "rgb"), wm.saturated_pixels(cropped)
    grids = wm.estimate_grids(plane, saturated, wm.grid_scores(cropped, "rgb"), [48])
    _blocks, phase, delta = grids[48]
    # The crop starts 21 and 37 pixels in: the grid restarts 3 pixels later each way;
    # the original rows had 96 blocks, 96 mod 48 = 0.
    assert phase == (3, 3) and delta == 0


@pytest.mark.parametrize("key,order", [("sd1", "bgr"), ("sdxl", "rgb"), ("flux", "bgr")])
def test_a_crop_that_shifts_the_grid_is_found_shifted(key, order):
    payload = PAYLOADS[key]
    marked = mark(carrier((768, 768)), payload, order=order)
    result = detect(png(marked.crop((37, 21, 700, 740))))
    assert result.label == EvidenceLabel.AI and result.generator == payload.generator
    assert result.details["stage"] == "shifted"
    assert result.details["grid_phase"] == [3, 3]
    assert result.details["agreeing_bits"] >= wm.payload_threshold(payload, wm.SHIFTED)
    assert result.details["chance_probability"] < wm.stage_alpha(wm.SHIFTED)


def test_odd_rescalings_are_found_at_the_generator_size():
    marked = mark(carrier((768, 768)), PAYLOADS["flux"])
    for side in (691, 614, 960):  # 0.9x, 0.8x, 1.25x
        result = detect(png(marked.resize((side, side), Image.Resampling.LANCZOS)))
        assert result.label == EvidenceLabel.AI, side
        assert result.details["decoded_size"] == [768, 768]


def test_jpeg_q95_is_still_read_with_soft_decisions():
    marked = mark(carrier((768, 768)), PAYLOADS["sdxl"], order="rgb")
    buf = io.BytesIO()
    marked.save(buf, "JPEG", quality=95)
    assert detect(buf.getvalue()).label == EvidenceLabel.AI


# ------------------------------------------------------------------ detection


@pytest.mark.parametrize("key,order", [("sd1", "bgr"), ("sd2", "bgr"), ("sdxl", "rgb"),
                                       ("flux", "bgr"), ("sdxl", "bgr")])
def test_marked_images_are_strong_ai(key, order):
    payload = PAYLOADS[key]
    result = detect(png(mark(carrier(), payload, order=order)))
    assert result.label == EvidenceLabel.AI and result.strength == Strength.STRONG
    assert result.generator == payload.generator
    assert result.reasons == (INVISIBLE_WATERMARK.code,)
    assert result.details["payload"] == key and result.details["channel_order"] == order
    assert result.details["agreeing_bits"] >= wm.payload_threshold(payload)
    assert result.details["chance_probability"] < 1e-6
    assert result.details["stage"] == "aligned"
    assert "CompVis" in result.details["payload_source"] or key != "sd1"


def test_unmarked_image_is_none_with_what_was_checked():
    result = detect(png(carrier(seed=9)))
    assert result.label == EvidenceLabel.NONE
    assert {c["payload"] for c in result.details["checked"]} == set(PAYLOADS)
    for checked in result.details["checked"]:
        assert checked["agreeing_bits"] < checked["needed"]


def test_a_075_resize_is_found_at_the_generator_size():
    marked = mark(carrier((1024, 1024)), PAYLOADS["sdxl"], order="rgb")
    small = marked.resize((768, 768), Image.Resampling.LANCZOS)
    result = detect(png(small))
    assert result.label == EvidenceLabel.AI
    assert result.details["rescaled"] and result.details["decoded_size"] == [1024, 1024]
    assert detect(png(small), RESCALE=False).label == EvidenceLabel.NONE


def test_small_images_are_not_checked():
    result = detect(png(carrier((200, 200))))
    assert result.label == EvidenceLabel.NONE and result.details["checked"] == []
    assert result.message == "invisible_watermark_not_checked"


def test_options_are_validated():
    with pytest.raises(InvalidDetectorConfig):
        InvisibleWatermarkDetector("w", {"MAX_PIXELS": 10})
    with pytest.raises(InvalidDetectorConfig):
        InvisibleWatermarkDetector("w", {"RESCALE": "yes"})


def test_missing_decoder_turns_the_detector_off_with_a_warning(monkeypatch):
    monkeypatch.setattr(watermark_module, "missing_modules", lambda: ["imwatermark"])
    detector = InvisibleWatermarkDetector("watermark")
    assert not detector.enabled
    (warning,) = detector.check()
    assert warning.id == "moderation.W042" and "--no-deps" in str(warning.hint)


# ------------------------------------------------------------------ policy and scan flag

WATERMARK_DETECTORS = {
    "provenance": {"BACKEND": "moderation.detectors.provenance.ProvenanceDetector"},
    "watermark": {"BACKEND": "moderation.detectors.watermark.InvisibleWatermarkDetector"},
    "pixels": {"BACKEND": "tests.detectors.test_watermark.LegacyPixelDetector"},
    "classifier": {"BACKEND": "tests.detectors.test_watermark.ScoreClassifier"},
}


class LegacyPixelDetector(BaseDetector):
    """A backend written before ``classifier`` existed: it reads pixels."""

    version = "1"

    def detect(self, image: ImageInput) -> EvidenceResult:
        return EvidenceResult(self.alias, self.version, EvidenceLabel.NONE, Strength.WEAK, "-")


class ScoreClassifier(LegacyPixelDetector):
    classifier = True
    needs_pixels = False  # even a classifier that reads no pixels is left out


def test_no_classifier_keeps_mark_decoders_and_metadata_readers(settings):
    settings.MODERATION = {"DETECTORS": WATERMARK_DETECTORS}
    assert [d.alias for d in configured_detectors(use_classifier=False)] == [
        "provenance", "watermark"]
    assert [d.alias for d in configured_detectors()] == list(WATERMARK_DETECTORS)


def test_a_watermark_alone_is_strong_never_proof(settings):
    settings.MODERATION = {"DETECTORS": WATERMARK_DETECTORS}
    data = png(mark(carrier(), PAYLOADS["sd1"]))
    result = scan_bytes(data, use_classifier=False)
    assert result.decision is not None and result.decision.label == "ai"
    assert "provenance_strong" in result.decision.reasons
    assert "provenance_proof" not in result.decision.reasons
    assert INVISIBLE_WATERMARK.code in result.decision.reasons
    assert result.decision.generator == "Stable Diffusion 1.x"
    # Declared hand-made, the watermark makes it undisclosed AI, held for review.
    held = scan_bytes(data, use_classifier=False, declaration="none")
    assert held.decision is not None and held.decision.undisclosed_ai


def test_moderation_scan_no_classifier_labels_marked_files_ai(settings, tmp_path: Path):
    settings.MODERATION = {"DETECTORS": WATERMARK_DETECTORS}
    for i, payload in enumerate(wm.PAYLOADS):
        order = "rgb" if payload.key == "sdxl" else "bgr"
        (tmp_path / f"{payload.key}.png").write_bytes(
            png(mark(carrier(seed=20 + i), payload, order=order)))
    out = io.StringIO()
    call_command("moderation_scan", str(tmp_path), "--json", "--no-classifier", stdout=out)
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(rows) == 4 and {r["label"] for r in rows} == {"ai"}
    assert {r["generator"] for r in rows} == {p.generator for p in wm.PAYLOADS}

"""Invisible-watermark detector: the DWT-DCT marks of Stable Diffusion, SDXL and FLUX.

These marks live in the pixels, so they survive the commonest evasion, stripping the
metadata, and also a lossless re-save, light JPEG (q95), a crop (the grid phase is
estimated) and a rescaling back to a generator size; they do not survive JPEG at quality
85 or below (``bench/watermark_bench.py`` measures the bit errors). A match is
**strong** evidence, never proof: anyone can embed the public payloads, as anyone can
write a generation record. Decoding is :mod:`moderation.internal.watermark` (payload
sources and the thresholds' derivation are documented there); this class turns its best
match into evidence.

Needs the ``watermark`` extra (``invisible-watermark`` installed without its
dependencies, ``opencv-python-headless``, ``PyWavelets``); without it the detector is
off and the system check says why.
"""

from __future__ import annotations

import importlib.util
from typing import Any, ClassVar

from django.core import checks
from django.utils.translation import gettext_lazy

from moderation.constants import EvidenceLabel, Strength
from moderation.detectors.base import BaseDetector
from moderation.evidence import EvidenceResult, ImageInput
from moderation.exceptions import InvalidDetectorConfig
from moderation.internal import watermark
from moderation.reasons import Reason, WhyGroup

WHY_WATERMARK = WhyGroup("invisible_watermark",
                         gettext_lazy("an invisible generator watermark in the pixels"))
INVISIBLE_WATERMARK = Reason(
    "invisible_watermark",
    gettext_lazy("The pixels carry a generator's invisible watermark (Stable Diffusion, "
                 "SDXL or FLUX)."), WHY_WATERMARK,
    detail=gettext_lazy("{generator} invisible watermark ({agreeing} of {bits} bits)."))
NO_WATERMARK = Reason("no_invisible_watermark",
                      gettext_lazy("No generator watermark found in the pixels."))
WATERMARK_NOT_CHECKED = Reason(
    "invisible_watermark_not_checked",
    gettext_lazy("Not checked for generator watermarks (image size out of range)."))
#: The modules the decoder needs (import names).
REQUIRED_MODULES = ("imwatermark", "cv2", "pywt")


def missing_modules() -> list[str]:
    return [name for name in REQUIRED_MODULES if importlib.util.find_spec(name) is None]


class InvisibleWatermarkDetector(BaseDetector):
    """Decode the known generator watermarks at native size and common re-scalings."""

    #: 2: soft decisions, saturated blocks left out, sizes and grid phase estimated,
    #: shifted-grid search after crops (thresholds of both stages in the decoder's doc).
    version = "2"
    needs_pixels = True
    #: A decoder of a known mark, not a learned classifier: it runs under --no-classifier.
    classifier = False
    default_options: ClassVar[dict[str, Any]] = {"MAX_PIXELS": 4_200_000, "RESCALE": True}
    reasons = (INVISIBLE_WATERMARK, NO_WATERMARK, WATERMARK_NOT_CHECKED)

    def validate(self) -> None:
        limit = self.options["MAX_PIXELS"]
        if not isinstance(limit, int) or isinstance(limit, bool) or \
                limit < watermark.MIN_PIXELS:
            raise InvalidDetectorConfig(
                f"Detector {self.alias!r}: OPTIONS['MAX_PIXELS'] must be an integer >= "
                f"{watermark.MIN_PIXELS}, got {limit!r}")
        if not isinstance(self.options["RESCALE"], bool):
            raise InvalidDetectorConfig(
                f"Detector {self.alias!r}: OPTIONS['RESCALE'] must be True or False")

    @property
    def enabled(self) -> bool:
        return not missing_modules()

    def check(self) -> list[checks.CheckMessage]:
        missing = missing_modules()
        if not missing:
            return []
        return [checks.Warning(
            f"Detector {self.alias!r} is off: {', '.join(missing)} cannot be imported.",
            hint='pip install "django-tegaki[watermark]" and then '
                 "pip install --no-deps invisible-watermark==0.2.0 (its own dependencies "
                 "pull in torch and a GUI build of OpenCV, which it does not need here).",
            id="moderation.W042")]

    def detect(self, image: ImageInput) -> EvidenceResult:
        matches = watermark.decode(image.image, max_pixels=self.options["MAX_PIXELS"],
                                   rescale=self.options["RESCALE"])
        details: dict[str, Any] = {
            "checked": [{"payload": m.payload.key, "agreeing_bits": m.agreeing,
                         "bits": m.payload.length, "needed": m.needed, "stage": m.stage}
                        for m in matches],
        }
        found = [m for m in matches if m.detected]
        if not found:
            message = (NO_WATERMARK if matches else WATERMARK_NOT_CHECKED).code
            return EvidenceResult(self.alias, self.get_version(), EvidenceLabel.NONE,
                                  Strength.WEAK, message, details=details)
        best = found[0]
        details.update({
            "payload": best.payload.key, "agreeing_bits": best.agreeing,
            "bits": best.payload.length, "channel_order": best.order,
            "decoded_size": list(best.size), "rescaled": best.size != image.image.size,
            "chance_probability": best.chance, "payload_source": best.payload.source,
            "stage": best.stage, "grid_phase": list(best.phase),
            "numbering": list(best.numbering),
        })
        return EvidenceResult(
            self.alias, self.get_version(), EvidenceLabel.AI, Strength.STRONG,
            INVISIBLE_WATERMARK.code, {
                "generator": best.payload.generator, "agreeing": best.agreeing,
                "bits": best.payload.length},
            details=details, generator=best.payload.generator,
            reasons=(INVISIBLE_WATERMARK.code,))

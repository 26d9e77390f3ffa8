"""Visible-mark detector: a generator's stamp in a corner (Gemini sparkle, DALL·E 2 colour
bar, Meta's "Imagined with AI", the "AI生成" labels, Grok's wordmark).

Such marks survive metadata stripping and re-encoding, but they are easy to crop or paint
over, and a hand-drawn sparkle can look like Gemini's: a match is weak or strong evidence
by how well it matches (and the sparkle is weak at most), never proof. Matching is in
:mod:`moderation.internal.visible_marks`; it needs OpenCV (the ``watermark`` extra).
"""

from __future__ import annotations

import importlib.util
from typing import Any, ClassVar

from django.core import checks
from django.utils.translation import gettext_lazy

from moderation.constants import EvidenceLabel, Strength
from moderation.detectors.base import BaseDetector
from moderation.evidence import EvidenceResult, ImageInput
from moderation.internal import visible_marks
from moderation.reasons import Reason, WhyGroup

WHY_VISIBLE_MARK = WhyGroup("visible_generator_mark",
                            gettext_lazy("a generator's visible mark in a corner"))
VISIBLE_MARK = Reason(
    "visible_generator_mark",
    gettext_lazy("A corner of the picture carries a generator's visible mark."),
    WHY_VISIBLE_MARK,
    detail=gettext_lazy("{generator} visible mark in a corner (match {score})."))
NO_VISIBLE_MARK = Reason("no_visible_generator_mark",
                         gettext_lazy("No generator mark in the corners."))


class VisibleMarkDetector(BaseDetector):
    """Template matching of known generator marks in the picture's corners."""

    #: 2: marks at a fixed pixel size or in proportion to the picture, searched in the
    #: corners at full resolution (300-6000 px pictures); the Grok wordmark.
    version = "2"
    needs_pixels = True
    classifier = False
    default_options: ClassVar[dict[str, Any]] = {}
    reasons = (VISIBLE_MARK, NO_VISIBLE_MARK)

    @property
    def enabled(self) -> bool:
        return importlib.util.find_spec("cv2") is not None

    def check(self) -> list[checks.CheckMessage]:
        if self.enabled:
            return []
        return [checks.Warning(
            f"Detector {self.alias!r} is off: OpenCV (cv2) cannot be imported.",
            hint='pip install "django-tegaki[watermark]"', id="moderation.W043")]

    def detect(self, image: ImageInput) -> EvidenceResult:
        matches = visible_marks.find_marks(image.image)
        details: dict[str, Any] = {"scores": {m.spec.key: round(m.score, 3) for m in matches}}
        found = [m for m in matches if m.strength is not None]
        if not found:
            return EvidenceResult(self.alias, self.get_version(), EvidenceLabel.NONE,
                                  Strength.WEAK, NO_VISIBLE_MARK.code, details=details)
        best = max(found, key=lambda m: (m.strength == "strong", m.score))
        details.update({"mark": best.spec.key, "score": round(best.score, 3),
                        "corner": best.corner, "box": list(best.box)})
        strength = Strength.STRONG if best.strength == "strong" else Strength.WEAK
        return EvidenceResult(
            self.alias, self.get_version(), EvidenceLabel.AI, strength,
            VISIBLE_MARK.code, {"generator": best.spec.generator,
                                "score": f"{best.score:.2f}"},
            details=details, generator=best.spec.generator, reasons=(VISIBLE_MARK.code,))

"""A detector the app has never heard of, as a site would add one: a class and a settings
entry, nothing else. It flags images whose top-left pixel is pure magenta."""

from __future__ import annotations

from moderation.constants import EvidenceLabel, Strength
from moderation.detectors.base import BaseDetector
from moderation.evidence import EvidenceResult, ImageInput
from moderation.reasons import DEEPFAKE, Reason, WhyGroup

MAGENTA = (255, 0, 255)
TINY_MARK = Reason("tiny_magenta_mark", "The tiny detector found its magenta mark.",
                   WhyGroup("tiny_magenta_mark", "a magenta test mark in the pixels"),
                   category=DEEPFAKE.key)


class TinyMarkDetector(BaseDetector):
    version = "1"
    reasons = (TINY_MARK,)

    def detect(self, image: ImageInput) -> EvidenceResult:
        if image.image.getpixel((0, 0)) == MAGENTA:
            return EvidenceResult(self.alias, self.version, EvidenceLabel.AI, Strength.STRONG,
                                  TINY_MARK.code, reasons=(TINY_MARK.code,))
        return EvidenceResult(self.alias, self.version, EvidenceLabel.NONE, Strength.WEAK)

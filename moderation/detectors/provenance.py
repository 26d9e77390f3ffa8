"""Provenance detector (being written)."""

from __future__ import annotations

from moderation.constants import EvidenceLabel, Strength
from moderation.detectors.base import BaseDetector
from moderation.evidence import EvidenceResult, ImageInput


class ProvenanceDetector(BaseDetector):
    name = "provenance"
    version = "0"
    needs_pixels = False

    def detect(self, image: ImageInput) -> EvidenceResult:
        return EvidenceResult(self.alias, self.version, EvidenceLabel.NONE, Strength.WEAK, "")

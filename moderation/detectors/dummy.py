"""Fake detectors for tests and demos, in the spirit of Django's dummy backends."""

from __future__ import annotations

import time

from django.utils.translation import gettext_lazy as _

from moderation.constants import EvidenceLabel, Strength
from moderation.detectors.base import BaseDetector
from moderation.evidence import EvidenceResult, ImageInput
from moderation.exceptions import DetectorError, InvalidDetectorConfig
from moderation.reasons import Reason, WhyGroup

#: The one code a fixed result carries; it says plainly that nothing was examined.
FIXED_RESULT = Reason("fixed_result", _("A fixed test result (no image was examined)."),
                      WhyGroup("fixed_result", _("a test detector's fixed result")))


class FixedScoreDetector(BaseDetector):
    """Return the same label, strength and score for every image."""

    version = "1"
    default_options = {"LABEL": "none", "STRENGTH": "weak", "SCORE": None, "GENERATOR": "",
                       "MODEL": ""}
    reasons = (FIXED_RESULT,)

    def validate(self) -> None:
        if self.options["LABEL"] not in EvidenceLabel.values:
            raise InvalidDetectorConfig(f"LABEL must be one of {EvidenceLabel.values}")
        if self.options["STRENGTH"] not in Strength.values:
            raise InvalidDetectorConfig(f"STRENGTH must be one of {Strength.values}")

    def detect(self, image: ImageInput) -> EvidenceResult:
        o = self.options
        return EvidenceResult(self.alias, self.version, o["LABEL"], o["STRENGTH"],
                              message=FIXED_RESULT.code, score=o["SCORE"],
                              generator=o["GENERATOR"], model=o["MODEL"],
                              reasons=(FIXED_RESULT.code,))


class RaisingDetector(BaseDetector):
    """Raise on every image: exercises the pipeline's error handling."""

    version = "1"
    default_options = {"MESSAGE": "this detector always fails"}

    def detect(self, image: ImageInput) -> EvidenceResult:
        raise DetectorError(self.options["MESSAGE"])


class SlowDetector(BaseDetector):
    """Sleep before answering "nothing found" when the file name contains a marker."""

    version = "1"
    default_options = {"SECONDS": 30.0, "MARKER": "slow"}

    def detect(self, image: ImageInput) -> EvidenceResult:
        if self.options["MARKER"] in image.name:
            time.sleep(float(self.options["SECONDS"]))
        return EvidenceResult(self.alias, self.version, EvidenceLabel.NONE, Strength.WEAK)

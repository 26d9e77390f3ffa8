"""The face check as a detector: faces found in the decoded upload, as evidence."""

from __future__ import annotations

from moderation.conf import moderation_settings
from moderation.constants import EvidenceLabel, Strength
from moderation.detectors.base import BaseDetector
from moderation.evidence import EvidenceResult, ImageInput
from moderation.internal.faces import detect_faces
from moderation.reasons import FACE_FOUND, NO_FACE


class FaceDetector(BaseDetector):
    """Frontal human faces at least ``MIN_SHARE`` of the shorter side; never AI evidence.

    The pipeline runs it for works the host flags adult (see
    :mod:`moderation.pipeline`); it can also be configured as an ordinary detector.
    """

    version = "1"
    classifier = False
    default_options = {"MAX_SIDE": 320, "MIN_NEIGHBOURS": 4, "MIN_SHARE": None}
    reasons = (FACE_FOUND, NO_FACE)

    def detect(self, image: ImageInput) -> EvidenceResult:
        min_share = self.options["MIN_SHARE"]
        if min_share is None:
            min_share = float(moderation_settings.DEEPFAKE_MIN_FACE_SHARE)
        shorter = min(image.image.size)
        faces = [f for f in detect_faces(image.image, max_side=int(self.options["MAX_SIDE"]),
                                         min_neighbours=int(self.options["MIN_NEIGHBOURS"]),
                                         min_share=float(min_share))
                 if min(f.width, f.height) >= float(min_share) * shorter]
        largest = max((min(f.width, f.height) / shorter for f in faces), default=0.0)
        return EvidenceResult(
            detector=self.alias, version=self.version, label=EvidenceLabel.NONE,
            strength=Strength.WEAK, score=round(largest, 4),
            message=(FACE_FOUND if faces else NO_FACE).code,
            message_params={"count": len(faces), "share": f"{largest:.0%}"} if faces else {},
            details={"kind": "faces", "count": len(faces),
                     "faces": [{"x": f.x, "y": f.y, "width": f.width, "height": f.height,
                                "neighbours": f.neighbours} for f in faces[:10]],
                     "largest_share": round(largest, 4), "min_share": min_share})

"""Deepfake-risk escalation: all four signals escalate and hide; any three do not."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from PIL import Image

from moderation.conf import moderation_settings
from moderation.constants import EvidenceLabel, Route, Strength
from moderation.deepfake.detector import FaceDetector
from moderation.deepfake.signals import deepfake_signals, host_evidence
from moderation.evidence import EvidenceResult
from moderation.internal.faces import detect_faces
from moderation.internal.imaging import load_image
from moderation.policy import DefaultPolicy
from moderation.reasons import DEEPFAKE_RISK, Priority
from tests.similarity.pictures import composition, png

FACE_PHOTO = Path(__file__).resolve().parent.parent / "data" / "faces" / "astronaut.jpg"


def _evidence(*, ai: bool, photo: bool, face: bool, adult: bool) -> list[EvidenceResult]:
    classifier = EvidenceResult(
        detector="classifier", version="1", strength=Strength.WEAK,
        label=EvidenceLabel.AI if ai else EvidenceLabel.NONE, score=0.9 if ai else 0.1,
        reasons=("classifier_score",) if ai else (),
        details={"kind": "classifier", "photo_probability": 0.95 if photo else 0.05})
    faces = EvidenceResult(detector="faces", version="1", label=EvidenceLabel.NONE,
                           strength=Strength.WEAK,
                           details={"kind": "faces", "count": 1 if face else 0})
    return [classifier, faces, host_evidence(adult)]


@pytest.mark.parametrize("ai,photo,face,adult", list(itertools.product([True, False],
                                                                        repeat=4)))
def test_every_combination(ai, photo, face, adult):
    decision = DefaultPolicy().decide("none", _evidence(ai=ai, photo=photo, face=face,
                                                        adult=adult), moderation_settings)
    escalated = ai and photo and face and adult
    assert (DEEPFAKE_RISK.code in decision.reasons) is escalated
    if escalated:
        assert decision.review_priority == Priority.DEEPFAKE
        assert decision.route == Route.HELD and decision.needs_review
    else:
        assert decision.review_priority < Priority.DEEPFAKE


def test_declared_ai_counts_as_ai_and_unmeasured_signals_never_escalate():
    evidence = _evidence(ai=False, photo=True, face=True, adult=True)
    decision = DefaultPolicy().decide("ai", evidence, moderation_settings)
    assert decision.reasons[0] == DEEPFAKE_RISK.code and decision.route == Route.HELD
    no_face_check = [e for e in evidence if e.detector != "faces"]
    decision = DefaultPolicy().decide("ai", no_face_check, moderation_settings)
    assert DEEPFAKE_RISK.code not in decision.reasons
    signals = deepfake_signals(no_face_check, label="ai", reasons=(),
                               settings=moderation_settings)
    assert signals.face is None and not signals.escalate


def test_face_check_finds_the_photographed_face_and_not_drawn_shapes():
    faces = detect_faces(Image.open(FACE_PHOTO).convert("RGB"))
    assert len(faces) == 1 and 70 <= faces[0].x <= 100 and faces[0].width >= 40
    result = FaceDetector("faces").detect(load_image(FACE_PHOTO.read_bytes()))
    assert result.details["count"] == 1 and result.message == "face_found"
    for seed in range(3):
        assert FaceDetector("faces").detect(load_image(png(composition(seed)))).details[
            "count"] == 0


@pytest.mark.django_db
@pytest.mark.parametrize("adult", [True, False])
def test_pipeline_escalates_an_adult_flagged_ai_face_photo(adult):
    from tests.factories import make_user
    from tests.similarity.conftest import scanned

    owner = make_user("uploader")
    _, case = scanned(owner, FACE_PHOTO.read_bytes(), declaration="ai", adult=adult)
    faces = case.evidence.filter(detector="faces")
    if adult:
        assert faces.get().details["count"] == 1
        assert case.reasons[0] == DEEPFAKE_RISK.code
        assert case.route == Route.HELD and case.review_priority == Priority.DEEPFAKE
    else:  # the face check runs for adult-flagged works only
        assert not faces.exists()
        assert DEEPFAKE_RISK.code not in case.reasons and case.route == Route.AI_FEED

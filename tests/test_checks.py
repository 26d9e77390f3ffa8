"""Each system check fires, with an id and a hint, on the misconfiguration it names."""

from __future__ import annotations

import pytest
from django.core.checks import run_checks


def ids(settings, moderation: dict) -> dict[str, str]:
    settings.MODERATION = moderation
    return {str(m.id): str(m.hint) for m in run_checks(tags=["moderation"])}


@pytest.mark.parametrize(("config", "check_id"), [
    ({"NOT_A_KEY": 1}, "moderation.E003"),
    ({"POLICY": "nowhere.Policy"}, "moderation.E004"),
    ({"AI_ASSISTED_ROUTE": "sideways"}, "moderation.E005"),
    ({"MAX_IMAGE_PIXELS": None}, "moderation.E006"),
    ({"MAX_ATTEMPTS": 0}, "moderation.E006"),
    ({"TASK_SOFT_TIME_LIMIT": 200, "TASK_TIME_LIMIT": 100}, "moderation.E007"),
    ({"SWEEP_AFTER_SECONDS": 60}, "moderation.W001"),
    ({"RETRY_BACKOFF_MAX": 600}, "moderation.W003"),
    ({"RETRY_BACKOFF_MAX": 0}, "moderation.E006"),
    ({"MAX_TRANSIENT_FAILURES": -1}, "moderation.E006"),
    ({"ALLOWED_FORMATS": ["PNG", "EPS"]}, "moderation.E008"),
    ({"DETECTORS": {}}, "moderation.W010"),
    ({"DETECTORS": {"x": {"BACKEND": "no.such.Backend"}}}, "moderation.E011"),
    ({"DETECTORS": {"x": {"BACKEND": "moderation.detectors.dummy.FixedScoreDetector",
                          "OPTIONS": {"COLOUR": 1}}}}, "moderation.E011"),
    ({"DETECTORS": {"x": {"BACKEND": "moderation.detectors.dummy.FixedScoreDetector",
                          "MODE": "loud"}}}, "moderation.E011"),
    ({"DETECTORS": {"x": {"OPTIONS": {}}}}, "moderation.E011"),
])
def test_misconfiguration_is_reported_with_hint(settings, config, check_id):
    found = ids(settings, config)
    assert check_id in found, found
    assert found[check_id]


def test_not_a_dict(settings):
    assert "moderation.E001" in ids(settings, ["nope"])  # type: ignore[arg-type]


def test_default_configuration_has_no_errors(settings):
    settings.MODERATION = {}
    errors = [m for m in run_checks(tags=["moderation"]) if m.is_serious()]
    assert errors == []

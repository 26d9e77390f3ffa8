"""DetectorHandler: aliases, caching, bad configuration, reset on settings change."""

from __future__ import annotations

import pytest

from moderation.detectors import detectors
from moderation.detectors.dummy import FixedScoreDetector
from moderation.exceptions import InvalidDetectorConfig

FIXED = "moderation.detectors.dummy.FixedScoreDetector"


def test_instances_are_cached_per_alias(settings):
    settings.MODERATION = {"DETECTORS": {"a": {"BACKEND": FIXED}, "b": {"BACKEND": FIXED}}}
    assert detectors["a"] is detectors["a"]
    assert detectors["a"] is not detectors["b"]
    assert isinstance(detectors["a"], FixedScoreDetector)
    assert [d.alias for d in detectors.all()] == ["a", "b"]


def test_mode_and_options_reach_backend(settings):
    settings.MODERATION = {"DETECTORS": {"a": {"BACKEND": FIXED, "MODE": "shadow",
                                               "OPTIONS": {"LABEL": "ai"}}}}
    assert detectors["a"].mode == "shadow"
    assert detectors["a"].options["LABEL"] == "ai"


@pytest.mark.parametrize(("params", "message"), [
    ({"BACKEND": "no.such.Thing"}, "Could not import"),
    ({"BACKEND": "moderation.conf.DEFAULTS"}, "not a BaseDetector"),
    ({"BACKEND": FIXED, "OPTIONS": {"BOGUS": 1}}, "BOGUS"),
    ({"BACKEND": FIXED, "MODE": "sometimes"}, "MODE"),
    ({"BACKEND": FIXED, "EXTRA": 1}, "unknown keys"),
    ({"OPTIONS": {}}, "BACKEND"),
    ({"BACKEND": FIXED, "OPTIONS": {"LABEL": "maybe"}}, "LABEL"),
])
def test_bad_configuration_is_explained(settings, params, message):
    settings.MODERATION = {"DETECTORS": {"x": params}}
    with pytest.raises(InvalidDetectorConfig, match=message):
        detectors["x"]


def test_unknown_alias(settings):
    settings.MODERATION = {"DETECTORS": {}}
    with pytest.raises(InvalidDetectorConfig, match="No detector alias"):
        detectors["missing"]

"""MODERATION settings: defaults, overrides, reload and import strings."""

from __future__ import annotations

import pytest

from moderation.conf import DEFAULTS, moderation_settings
from moderation.policy import DefaultPolicy


def test_defaults_apply():
    assert moderation_settings.QUEUE == DEFAULTS["QUEUE"] == "moderation"
    assert DEFAULTS["MAX_IMAGE_PIXELS"] == moderation_settings.MAX_IMAGE_PIXELS


def test_override_is_seen_after_setting_changed(settings):
    assert moderation_settings.MAX_ATTEMPTS == 3
    settings.MODERATION = {"MAX_ATTEMPTS": 7}
    assert moderation_settings.MAX_ATTEMPTS == 7
    settings.MODERATION = {}
    assert moderation_settings.MAX_ATTEMPTS == 3


def test_import_strings_resolve():
    assert moderation_settings.POLICY is DefaultPolicy


def test_unknown_key_is_an_attribute_error():
    with pytest.raises(AttributeError, match="NOPE"):
        moderation_settings.NOPE  # noqa: B018


def test_override_replaces_detectors_and_resets_handler(settings):
    from moderation.detectors import detectors

    settings.MODERATION = {"DETECTORS": {"fixed": {
        "BACKEND": "moderation.detectors.dummy.FixedScoreDetector"}}}
    assert detectors.aliases() == ["fixed"]
    settings.MODERATION = {}
    assert "provenance" in detectors.aliases()

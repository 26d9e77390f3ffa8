"""drf-spectacular settings a host merges into its own ``SPECTACULAR_SETTINGS``.

Several serializer fields share one choice set (case labels, evidence labels, the labels
a moderator may set); without these overrides drf-spectacular invents colliding enum
names and warns on every schema build. They are the app's knowledge, so they live here
rather than being copied into every host's settings.
"""

from __future__ import annotations

from typing import Any

from moderation import __version__

ENUM_NAME_OVERRIDES: dict[str, str] = {
    "CaseLabelEnum": "moderation.constants.Label",
    "EvidenceLabelEnum": "moderation.constants.EvidenceLabel",
    "DecisionLabelEnum": "moderation.api.serializers.DECISION_LABEL_CHOICES",
}


def spectacular_settings(**overrides: Any) -> dict[str, Any]:
    """Return Tegaki's ``SPECTACULAR_SETTINGS``, with the host's ``overrides`` on top."""
    base: dict[str, Any] = {"TITLE": "Tegaki moderation API", "VERSION": __version__,
                            "ENUM_NAME_OVERRIDES": dict(ENUM_NAME_OVERRIDES),
                            # The documentation page loads Swagger UI from the
                            # drf-spectacular-sidecar app's static files, never a CDN.
                            "SWAGGER_UI_DIST": "SIDECAR",
                            "SWAGGER_UI_FAVICON_HREF": "SIDECAR"}
    return {**base, **overrides}

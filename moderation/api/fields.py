"""DRF serializer field for a work's label: ``label = ModerationLabelField()``.

Read-only and ``source="*"`` by default: it reads the work's case, so a serializer for
any registered model gets ``{"label", "text", "generator", "model", "loras", "why"}``.
``why`` is included when the site shows evidence to viewers or the requester is a
moderator (see ``SHOW_EVIDENCE_TO_VIEWERS``). Prompts and other private evidence are
never included.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from moderation.labels import label_for, viewer_sees_why

#: OpenAPI shape of the field, for drf-spectacular (optional dependency).
LABEL_SCHEMA: dict[str, Any] = {
    "type": "object", "readOnly": True,
    "properties": {
        "label": {"type": "string", "nullable": True,
                  "enum": ["human", "ai_assisted", "ai", "uncertain", None]},
        "text": {"type": "string",
                 "description": "e.g. 'AI-generated · ComfyUI · checkpoint: SDXL'"},
        "generator": {"type": "string"},
        "model": {"type": "string"},
        "loras": {"type": "array", "items": {"type": "string"}},
        "why": {"type": "array", "items": {"type": "object", "properties": {
            "code": {"type": "string",
                     "description": "the signal family (self_declared, c2pa, "
                                    "novelai_signature, file_metadata, moderator...); "
                                    "detectors may add their own"},
            "text": {"type": "string"}}}},
    },
}

try:
    from drf_spectacular.utils import extend_schema_field
except ImportError:  # pragma: no cover - drf-spectacular not installed
    def extend_schema_field(schema: Any) -> Any:  # type: ignore[misc]
        return lambda cls: cls


@extend_schema_field(LABEL_SCHEMA)
class ModerationLabelField(serializers.Field):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("source", "*")
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def to_representation(self, value: Any) -> dict[str, Any]:
        request = self.context.get("request")
        user = getattr(request, "user", None)
        return label_for(value).as_dict(with_why=viewer_sees_why(user))

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


class ModerationLabelField(serializers.Field):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("source", "*")
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def to_representation(self, value: Any) -> dict[str, Any]:
        request = self.context.get("request")
        user = getattr(request, "user", None)
        return label_for(value).as_dict(with_why=viewer_sees_why(user))

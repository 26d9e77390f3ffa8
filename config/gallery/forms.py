"""The upload form: title, image, and the uploader's own AI declaration."""

from __future__ import annotations

from typing import Any

from django import forms
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

from config.gallery.generators import known_generators
from config.gallery.models import Artwork
from moderation.conf import moderation_settings
from moderation.constants import Declaration

DATALIST_ID = "known-generators"


class ArtworkForm(forms.ModelForm):
    """Upload a work and say whether (and which) AI was used.

    The declaration matters: declaring AI routes the work to the AI feed at once, while
    a work declared hand-made that turns out to carry AI provenance is held and counted
    as undisclosed AI. So the choices are radio buttons with explicit wording, not a
    checkbox that is easy to miss.
    """

    class Meta:
        model = Artwork
        fields = ["title", "image", "ai_declaration", "ai_tool"]
        widgets = {
            "ai_declaration": forms.RadioSelect,
            "ai_tool": forms.TextInput(attrs={"list": DATALIST_ID, "autocomplete": "off"}),
        }
        help_texts = {
            "ai_tool": _("For example ComfyUI, NovelAI or a checkpoint name."),
            "image": _("PNG, JPEG, WebP, GIF or AVIF."),
        }

    @property
    def generator_names(self) -> tuple[str, ...]:
        return known_generators()

    def clean_image(self) -> Any:
        image = self.cleaned_data["image"]
        limit = moderation_settings.MAX_UPLOAD_BYTES
        if image is not None and getattr(image, "size", 0) > limit:
            raise forms.ValidationError(
                _("The file is larger than %(limit)s."), params={"limit": filesizeformat(limit)},
                code="file_too_big",
            )
        return image

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("ai_declaration") == Declaration.NONE:
            # A tool name on a hand-made work would read as an AI label later; drop it.
            data["ai_tool"] = ""
        return data

"""The AI declaration for any host upload form, in a few lines.

::

    class ArtworkForm(AIDeclarationFormMixin, forms.ModelForm):
        declaration_field_name = "ai_declaration"   # model fields the mixin fills
        tool_field_name = "ai_tool"

        class Meta:
            model = Artwork
            fields = ["title", "image", "ai_declaration", "ai_tool"]

    form = ArtworkForm(request.POST, request.FILES, uploader=request.user)

The declaration is three radio buttons (none / AI-assisted / AI-generated) because a
missed checkbox would later count as undisclosed AI against the uploader. The tool is free
text with suggestions from the generator table (``moderation/data/generators.json``),
required for AI-generated works so the label can name the model, and cleared for
hand-made ones. Declaring AI counts against ``AI_DAILY_QUOTA``.
"""

from __future__ import annotations

import json
import logging
from functools import lru_cache
from pathlib import Path
from typing import Any

from django import forms
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from moderation.conf import moderation_settings
from moderation.constants import Declaration
from moderation.feeds.quota import check_ai_quota

logger = logging.getLogger(__name__)

BUNDLED_TABLE = Path(__file__).resolve().parent / "data" / "generators.json"
DATALIST_ID = "tegaki-generators"
MAX_SUGGESTIONS = 300
#: Offered when the table cannot be read or names no generator, so the field never
#: loses its suggestions to a broken ``GENERATOR_PATTERNS`` file.
FALLBACK_SUGGESTIONS = (
    "Adobe Firefly", "ComfyUI", "DALL·E", "Fooocus", "Forge", "GPT Image", "Imagen",
    "InvokeAI", "Midjourney", "NovelAI", "SD.Next", "Stable Diffusion WebUI (AUTOMATIC1111)",
    "Stability Matrix", "SwarmUI",
)


def _collect_names(node: Any, out: set[str], depth: int = 0) -> None:
    """Gather ``generator`` display names wherever the table nests them."""
    if depth > 6:
        return
    if isinstance(node, dict):
        name = node.get("generator")
        if isinstance(name, str) and 0 < len(name) <= 100:
            out.add(name)
        for value in node.values():
            _collect_names(value, out, depth + 1)
    elif isinstance(node, list):
        for value in node:
            _collect_names(value, out, depth + 1)


@lru_cache(maxsize=4)
def _suggestions_from(path: str) -> tuple[str, ...]:
    try:
        table = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        logger.warning("generator table %s unreadable (%s); built-in tool suggestions",
                       path, exc)
        table = None
    names: set[str] = set()
    _collect_names(table, names)
    return tuple(sorted(names or FALLBACK_SUGGESTIONS, key=str.casefold)[:MAX_SUGGESTIONS])


def generator_suggestions() -> tuple[str, ...]:
    """Tool names offered in the form, from ``GENERATOR_PATTERNS`` or the bundled table."""
    return _suggestions_from(str(moderation_settings.GENERATOR_PATTERNS or BUNDLED_TABLE))


class ToolInput(forms.TextInput):
    """A text input with a ``<datalist>`` of known tools: suggestions, never a closed list."""

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__({"list": DATALIST_ID, "autocomplete": "off", **(attrs or {})})

    def render(self, name: str, value: Any, attrs: dict[str, Any] | None = None,
               renderer: Any = None) -> SafeString:
        field = super().render(name, value, attrs, renderer)
        options = format_html_join("", '<option value="{}">', ((n,) for n in
                                                                generator_suggestions()))
        return format_html('{}<datalist id="{}">{}</datalist>', field,
                           self.attrs.get("list", DATALIST_ID), options)


def declaration_field(**kwargs: Any) -> forms.ChoiceField:
    kwargs.setdefault("label", _("AI use"))
    kwargs.setdefault("help_text", _("Say honestly whether and how AI was used. Works "
                                     "declared hand-made that turn out to be AI are held "
                                     "and counted against the account."))
    return forms.ChoiceField(choices=Declaration.choices, widget=forms.RadioSelect,
                             initial=Declaration.NONE, **kwargs)


def tool_field(**kwargs: Any) -> forms.CharField:
    kwargs.setdefault("label", _("Tool or model"))
    kwargs.setdefault("help_text", _("For example ComfyUI, NovelAI or a checkpoint name."))
    return forms.CharField(max_length=200, required=False, widget=ToolInput, **kwargs)


class AIDeclarationFormMixin:
    """Adds (or takes over) the declaration and tool fields of a host form."""

    declaration_field_name = "ai_declaration"
    tool_field_name = "ai_tool"
    #: Require a tool name when the declaration is "AI-generated".
    require_tool_for_ai = True

    fields: dict[str, forms.Field]
    cleaned_data: dict[str, Any]

    def __init__(self, *args: Any, uploader: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.uploader = uploader
        existing = self.fields.get(self.declaration_field_name)
        self.fields[self.declaration_field_name] = declaration_field(
            **({"label": existing.label} if existing is not None and existing.label else {}))
        self.fields[self.tool_field_name] = tool_field()

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean() or {}  # type: ignore[misc]
        declaration = data.get(self.declaration_field_name)
        tool = (data.get(self.tool_field_name) or "").strip()
        if declaration == Declaration.NONE:
            data[self.tool_field_name] = ""  # a tool on a hand-made work would read as AI
        elif declaration == Declaration.AI:
            if self.require_tool_for_ai and not tool:
                self.add_error(self.tool_field_name,  # type: ignore[attr-defined]
                               _("Name the tool or model used, e.g. ComfyUI or NovelAI."))
            if self.uploader is not None:
                try:
                    check_ai_quota(self.uploader)
                except forms.ValidationError as exc:
                    self.add_error(self.declaration_field_name, exc)  # type: ignore[attr-defined]
        return data

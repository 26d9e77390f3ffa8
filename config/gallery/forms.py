"""The upload form: title, image, and the uploader's own AI declaration.

The declaration and tool fields come from Tegaki's :class:`AIDeclarationFormMixin`: radio
buttons with explicit wording (declaring AI routes the work to the AI feed at once, while a
work declared hand-made that turns out to carry AI provenance is held and counted as
undisclosed AI), tool suggestions from the app's generator table, and the per-account
``AI_DAILY_QUOTA`` check when the view passes ``uploader=``.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

from config.gallery.models import Artwork
from moderation.conf import moderation_settings
from moderation.constants import RejectionReason
from moderation.exceptions import ImageRejected
from moderation.forms import AIDeclarationFormMixin
from moderation.internal.imaging import probe_image

#: What the file picker offers; the server checks the bytes whatever the browser sent.
ACCEPT = "image/png,image/jpeg,image/webp,image/gif,image/avif"


class ArtworkForm(AIDeclarationFormMixin, forms.ModelForm):
    """Upload a work and say whether (and which) AI was used."""

    declaration_field_name = "ai_declaration"
    tool_field_name = "ai_tool"
    # The tool is optional even for AI-generated works: provenance in the file often
    # names the generator and checkpoint better than the uploader would.
    require_tool_for_ai = False

    # A plain file field, not Django's ImageField: that one opens the upload with every
    # Pillow plugin (BMP, TIFF, PSD …) and no pixel limit in the web process. The header
    # is checked instead by Tegaki's own safe path (``probe_image``: format allowlist,
    # pixel and frame limits, the same codes the worker reports); the worker decodes.
    image = forms.FileField(label=_("image"), help_text=_("PNG, JPEG, WebP, GIF or AVIF."),
                            widget=forms.ClearableFileInput(attrs={"accept": ACCEPT}))

    class Meta:
        model = Artwork
        fields = ["title", "image", "ai_declaration", "ai_tool"]
        help_texts = {"image": _("PNG, JPEG, WebP, GIF or AVIF.")}

    def clean_image(self) -> Any:
        image = self.cleaned_data["image"]
        limit = moderation_settings.MAX_UPLOAD_BYTES
        if image is not None and getattr(image, "size", 0) > limit:
            raise forms.ValidationError(
                _("The file is larger than %(limit)s."), params={"limit": filesizeformat(limit)},
                code="file_too_big",
            )
        if image is not None:
            data = image.read(limit + 1)
            image.seek(0)
            try:
                probe_image(data)
            except ImageRejected as exc:
                raise forms.ValidationError(RejectionReason(exc.code).label,
                                            code=exc.code) from exc
        return image

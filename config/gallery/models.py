"""The demo site's upload model, registered with Tegaki in ``moderated.py``."""

from __future__ import annotations

import uuid
from pathlib import PurePath

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from moderation.constants import Declaration


def work_upload_to(instance: Artwork, filename: str) -> str:
    """A random object key: a name guessed from another work's URL finds nothing.

    The uploader's file name is not kept in the key (it may name a person or a tool);
    only its extension is.
    """
    suffix = PurePath(filename).suffix.lower()[:10]
    return f"works/{timezone.now():%Y/%m}/{uuid.uuid4().hex}{suffix}"


class Artwork(models.Model):
    """One uploaded illustration with the uploader's own AI declaration.

    The moderation verdict is not stored here: it lives in the work's
    ``moderation.ModerationCase`` so the host model stays a plain upload model.
    """

    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                               related_name="artworks", verbose_name=_("author"))
    title = models.CharField(_("title"), max_length=200)
    image = models.ImageField(_("image"), upload_to=work_upload_to)
    ai_declaration = models.CharField(_("AI use"), max_length=16, choices=Declaration.choices,
                                      default=Declaration.NONE)
    ai_tool = models.CharField(_("tool or model"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        # The feeds page by this ordering (keyset cursors); without its index every
        # feed page sorts the whole table (``manage.py check`` warns, moderation.W040).
        indexes = [models.Index(fields=["-created_at", "-id"], name="gallery_artwork_feed")]
        verbose_name = _("artwork")
        verbose_name_plural = _("artworks")

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("gallery:work_detail", args=[self.pk])

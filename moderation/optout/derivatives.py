"""Thumbnails and previews the app generates, carrying the work's rights in XMP.

Every derivative is decoded through :func:`moderation.internal.imaging.load_image` (the
same size, frame and format limits as scanning), re-encoded as JPEG with no EXIF, ICC or
text chunks from the upload (prompts, GPS and workflows stay private), and given an XMP
packet with ``plus:DataMining``. The storage name includes the reservation, so changing
an opt-out produces a new file instead of serving a stale one.
"""

from __future__ import annotations

import hashlib
import io
import logging
from dataclasses import dataclass

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import models
from django.http import Http404

from moderation.conf import moderation_settings
from moderation.exceptions import ImageRejected
from moderation.internal.imaging import load_image
from moderation.optout.policy import Reservation
from moderation.optout.xmp import rights_packet
from moderation.registry import registry

JPEG_QUALITY = 85

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Derivative:
    name: str
    data: bytes
    content_type: str = "image/jpeg"


def sizes() -> dict[str, int]:
    return {str(k): int(v) for k, v in moderation_settings.THUMBNAIL_SIZES.items()}


def _creator_name(obj: models.Model) -> str:
    owner = registry.get_options(type(obj)).get_owner(obj)
    if owner is None:
        return ""
    getter = getattr(owner, "get_username", None)
    return str(getter() if callable(getter) else owner)


def folder(model: type[models.Model], pk: object) -> str:
    """The storage folder holding every cached derivative of one work."""
    meta = model._meta
    return f"{moderation_settings.DERIVATIVES_PREFIX}/{meta.app_label}.{meta.model_name}/{pk}"


def delete_all(model: type[models.Model], pk: object) -> int:
    """Delete the cached derivatives of one work (deleted, or its file replaced).

    A server that serves ``MEDIA_ROOT`` directly would otherwise keep showing the
    thumbnails of a work that is gone or whose file changed. Returns how many went.
    """
    try:
        _dirs, files = default_storage.listdir(folder(model, pk))
    except NotImplementedError:
        # A storage without listdir (some object stores) cannot be swept here: say so
        # rather than pretend the thumbnails went.
        logger.warning("cannot list %s on %s: cached derivatives of %s %s were not "
                       "deleted", folder(model, pk), type(default_storage).__name__,
                       model._meta.label, pk)
        return 0
    except OSError:  # no folder: nothing was ever cached for this work
        return 0
    for name in files:
        default_storage.delete(f"{folder(model, pk)}/{name}")
    return len(files)


def storage_name(obj: models.Model, size: str, reservation: Reservation, source: str) -> str:
    """Where the derivative of ``obj`` at ``size`` under ``reservation`` is cached."""
    digest = hashlib.sha256(
        f"{source}|{reservation.reserved}|{reservation.explicit}|{sizes()[size]}".encode()
    ).hexdigest()[:20]
    return f"{folder(type(obj), obj.pk)}/{size}-{digest}.jpg"


def render(data: bytes, longest_side: int, xmp: bytes) -> bytes:
    """Decode ``data`` under the upload limits and return a JPEG carrying only ``xmp``."""
    image = load_image(data).image.copy()  # RGB, EXIF-transposed, alpha flattened
    image.thumbnail((longest_side, longest_side))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True, xmp=xmp)
    return out.getvalue()


def get_or_create(obj: models.Model, size: str, reservation: Reservation) -> Derivative:
    """Return the cached derivative, rendering and storing it on first use."""
    if size not in sizes():
        raise Http404("unknown size")
    field_file = registry.get_options(type(obj)).get_file(obj)
    source = getattr(field_file, "name", "") or ""
    if not source:
        raise Http404("work has no image")
    name = storage_name(obj, size, reservation, source)
    if default_storage.exists(name):
        with default_storage.open(name, "rb") as fh:
            return Derivative(name, fh.read())
    try:
        with field_file.open("rb") as fh:
            original = fh.read()
    except OSError as exc:  # the upload is gone from storage
        raise Http404("image file missing") from exc
    xmp = None
    creator = _creator_name(obj)
    web = moderation_settings.TDM_POLICY_URL
    if reservation.reserved or reservation.explicit:
        xmp = rights_packet(reserved=reservation.reserved, creator=creator, web_statement=web)
    try:
        data = render(original, sizes()[size], xmp or b"")
    except ImageRejected as exc:  # same limits as scanning: no derivative of a bad file
        raise Http404("image cannot be rendered") from exc
    default_storage.save(name, ContentFile(data))
    return Derivative(name, data)

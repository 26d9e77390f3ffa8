"""Private file storage for appeal proof: outside MEDIA_URL, served only by moderator views.

Proof of process (PSD layers, timelapses, WIP images) can reveal an artist's unpublished
work, so it must never be reachable through the public media URL or guessable keys.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.core.files.storage import FileSystemStorage, Storage, storages
from django.core.signals import setting_changed

from moderation.conf import moderation_settings

#: Name of an entry in ``settings.STORAGES`` that, when present, is used instead.
STORAGE_ALIAS = "tegaki_private"


class PrivateFileSystemStorage(FileSystemStorage):
    """File storage without URLs: asking for one is a bug, so it raises."""

    def url(self, name: str | None) -> str:
        raise ValueError("private files have no URL; stream them through a checked view")


@lru_cache(maxsize=1)
def private_storage() -> Storage:
    """Return the storage holding appeal files (``STORAGES["tegaki_private"]`` if defined)."""
    if STORAGE_ALIAS in getattr(settings, "STORAGES", {}):
        return storages[STORAGE_ALIAS]
    root = moderation_settings.PRIVATE_MEDIA_ROOT
    if root is None:
        media = Path(str(settings.MEDIA_ROOT or "media")).resolve()
        root = media.with_name(media.name + "-private")
    # No public URL: views stream files after a permission check.
    return PrivateFileSystemStorage(location=str(root))


def _reset(*, setting: str, **kwargs: object) -> None:
    if setting in {"MODERATION", "MEDIA_ROOT", "STORAGES"}:
        private_storage.cache_clear()


setting_changed.connect(_reset, dispatch_uid="moderation.files.reset")

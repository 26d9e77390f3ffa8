"""Shared fixtures: users, images the suite makes itself, fake detectors."""

from __future__ import annotations

import io

import pytest
from PIL import Image


def png_bytes(size: tuple[int, int] = (64, 48), color: tuple[int, int, int] = (200, 120, 40),
              **save_kwargs: object) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG", **save_kwargs)
    return buf.getvalue()


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user("artist", password="pw-artist-123")

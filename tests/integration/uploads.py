"""Uploads the integration tests push through the registered host models."""

from __future__ import annotations

import io
from typing import Any

from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from moderation.constants import TERMINAL_STATES
from moderation.models import ModerationCase
from moderation.services import get_case
from tests.integration.services import wait_for
from tests.testapp.models import Artwork

# What AUTOMATIC1111's web UI writes into the PNG ``parameters`` tEXt chunk.
A1111_MODEL = "animagineXLV31_v31"
A1111_PARAMETERS = (
    "1girl, watercolor, cherry blossoms, looking at viewer\n"
    "Negative prompt: lowres, bad anatomy\n"
    "Steps: 28, Sampler: Euler a, Schedule type: Automatic, CFG scale: 7, Seed: 1234567, "
    f"Size: 96x64, Model hash: 1449e5b0b9, Model: {A1111_MODEL}, Version: v1.10.1"
)


def png(*, size: tuple[int, int] = (96, 64), color: tuple[int, int, int] = (180, 90, 60),
        text: dict[str, str] | None = None) -> bytes:
    """A small PNG, optionally with tEXt chunks."""
    info = PngInfo()
    for key, value in (text or {}).items():
        info.add_text(key, value)
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG", pnginfo=info)
    return buf.getvalue()


def artist() -> Any:
    user, _ = get_user_model().objects.get_or_create(username="it-artist")
    return user


def upload(name: str, data: bytes, *, declaration: str = "none", tool: str = "") -> Artwork:
    """Save an Artwork as the host site's upload view would; the case is queued on commit."""
    return Artwork.objects.create(owner=artist(), image=ContentFile(data, name=name),
                                  declaration=declaration, tool=tool)


def wait_terminal(instance: object, *, timeout: float = 60) -> ModerationCase:
    """Wait until ``instance``'s case is done, rejected or quarantined; return it."""

    def finished() -> ModerationCase | None:
        case = get_case(instance)  # type: ignore[arg-type]
        return case if case is not None and case.state in TERMINAL_STATES else None

    case = wait_for(finished, timeout=timeout, what=f"the case of {instance!r} to finish")
    assert case is not None  # wait_for returns only truthy values
    return case

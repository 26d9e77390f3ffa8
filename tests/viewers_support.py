"""Fixtures and factories shared by the viewers/creators test modules."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from moderation.constants import Label, ProcessingState, Route
from moderation.models import ModerationCase
from tests.conftest import png_bytes
from tests.testapp.models import Artwork

OPTOUT_MIDDLEWARE = "moderation.optout.middleware.TrainingOptOutMiddleware"
ROUTE_LABEL: dict[str, str] = {Route.MAIN: Label.HUMAN, Route.AI_FEED: Label.AI,
                               Route.HELD: Label.UNCERTAIN, Route.HIDDEN: Label.AI}


@pytest.fixture(name="site")
def site_fixture(settings: Any) -> Any:
    """The test host site: its URLs, the opt-out middleware and a local MEDIA_URL."""
    settings.ROOT_URLCONF = "tests.viewers_urls"
    settings.MEDIA_URL = "/media/"
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, OPTOUT_MIDDLEWARE]
    settings.INSTALLED_APPS = [*settings.INSTALLED_APPS, "django.contrib.sitemaps"]
    return settings


def make_work(owner: Any, route: str = Route.MAIN, *, tool: str = "", label: str | None = None,
              age: timedelta | None = None, image: bytes | None = None,
              **case_fields: Any) -> Artwork:
    """A work with a real image file (``image`` or a plain PNG) and a finished case."""
    art = Artwork(owner=owner, tool=tool,
                  declaration="ai" if route == Route.AI_FEED else "none")
    art.image.save("w.png", ContentFile(image or png_bytes()), save=False)
    art.save()
    fields: dict[str, Any] = {"route": route, "label": label or ROUTE_LABEL[route],
                              "state": ProcessingState.DONE, **case_fields}
    if age is not None:
        fields["created_at"] = timezone.now() - age
    ModerationCase.objects.for_instance(art).update(**fields)
    return art


def make_works_fast(owner: Any, n: int, route: str, *, start: Any, step: timedelta,
                    tool: str = "") -> list[Artwork]:
    """``n`` works without files (bulk, no signals), newest first from ``start``."""
    from django.contrib.contenttypes.models import ContentType

    arts = Artwork.objects.bulk_create(
        [Artwork(owner=owner, tool=tool, image=f"art/bulk-{i}.png",
                 declaration="ai" if route == Route.AI_FEED else "none") for i in range(n)])
    ct = ContentType.objects.get_for_model(Artwork, for_concrete_model=False)
    ModerationCase.objects.bulk_create([
        ModerationCase(content_type=ct, object_id=str(a.pk), owner=owner, route=route,
                       label=ROUTE_LABEL[route], state=ProcessingState.DONE)
        for a in arts])
    for i, a in enumerate(arts):
        ModerationCase.objects.for_instance(a).update(created_at=start + step * i)
    return arts

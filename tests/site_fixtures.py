"""Host-site fixtures: the viewers' site (URLs, opt-out middleware, local media) and a
site whose pages follow the browser's language."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.utils import translation

OPTOUT_MIDDLEWARE = "moderation.optout.middleware.TrainingOptOutMiddleware"


@pytest.fixture
def site(settings: Any) -> Any:
    """The test host site: its URLs, the opt-out middleware and a local MEDIA_URL."""
    settings.ROOT_URLCONF = "tests.viewers_urls"
    settings.MEDIA_URL = "/media/"
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, OPTOUT_MIDDLEWARE]
    settings.INSTALLED_APPS = [*settings.INSTALLED_APPS, "django.contrib.sitemaps"]
    return settings


@pytest.fixture
def bilingual(settings: Any) -> Iterator[None]:
    """Pages and the API follow Accept-Language, as on a bilingual site."""
    middleware = list(settings.MIDDLEWARE)
    middleware.insert(middleware.index(
        "django.contrib.sessions.middleware.SessionMiddleware") + 1,
        "django.middleware.locale.LocaleMiddleware")
    settings.MIDDLEWARE = middleware
    yield
    translation.activate(settings.LANGUAGE_CODE)  # the middleware leaves it set

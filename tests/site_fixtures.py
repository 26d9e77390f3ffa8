"""The viewers' host site as a fixture: its URLs, the opt-out middleware, local media."""

from __future__ import annotations

from typing import Any

import pytest

OPTOUT_MIDDLEWARE = "moderation.optout.middleware.TrainingOptOutMiddleware"


@pytest.fixture
def site(settings: Any) -> Any:
    """The test host site: its URLs, the opt-out middleware and a local MEDIA_URL."""
    settings.ROOT_URLCONF = "tests.viewers_urls"
    settings.MEDIA_URL = "/media/"
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, OPTOUT_MIDDLEWARE]
    settings.INSTALLED_APPS = [*settings.INSTALLED_APPS, "django.contrib.sitemaps"]
    return settings

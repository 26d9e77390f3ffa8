"""Test settings with the demo site: ``tests.settings`` plus ``config.gallery``.

Use with ``pytest --ds=tests.demo_settings``. Both ``tests.testapp`` and
``config.gallery`` define a model named ``Artwork``; their app labels differ
(``testapp`` / ``gallery``), so they coexist.
"""

from tests.settings import *  # noqa: F403
from tests.settings import INSTALLED_APPS, MIDDLEWARE

INSTALLED_APPS = [*INSTALLED_APPS, "config.gallery"]
# LocaleMiddleware after sessions, before common: the demo is bilingual.
MIDDLEWARE = [*MIDDLEWARE]
MIDDLEWARE.insert(MIDDLEWARE.index("django.contrib.sessions.middleware.SessionMiddleware") + 1,
                  "django.middleware.locale.LocaleMiddleware")
ROOT_URLCONF = "tests.demo_urls"
MODERATION = {"PAGE_BASE_TEMPLATE": "gallery/base.html"}
LANGUAGE_CODE = "ja"
LOCALE_PATHS = [BASE_DIR / "config" / "locale"]  # noqa: F405
MEDIA_URL = "/media/"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "gallery:new_arrivals"
LOGOUT_REDIRECT_URL = "gallery:new_arrivals"

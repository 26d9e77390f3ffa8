"""Settings for the test suite: PostgreSQL/Redis when their URLs are set, else SQLite."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import dj_database_url

from moderation.api.schema import spectacular_settings

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = "tests-only"
DEBUG = False
ALLOWED_HOSTS = ["*"]
USE_TZ = True
TIME_ZONE = "UTC"
USE_I18N = True
LANGUAGE_CODE = "en"
LANGUAGES = [("ja", "日本語"), ("en", "English")]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and Redoc static files for /api/docs/
    "moderation",
    "moderation.training",
    "tests.testapp",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "tests.urls"
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
    ]},
}]
DATABASES = {
    "default": dj_database_url.config(default=f"sqlite:///{BASE_DIR / 'var' / 'test.sqlite3'}")
}
# Several runs against one PostgreSQL (engineers on a shared machine, CI) each need
# their own throwaway test database; .ci/run names one per run.
if os.environ.get("TEGAKI_TEST_DB_NAME"):
    DATABASES["default"]["TEST"] = {"NAME": os.environ["TEGAKI_TEST_DB_NAME"]}
# A second alias for the feed-replica tests (moderation.feeds.routing): the same
# database under another connection, as a streaming replica looks to Django. No router
# sends anything there unless a test sets MODERATION["FEED_DATABASE"].
DATABASES["replica"] = {**DATABASES["default"], "TEST": {"MIRROR": "default"}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
MEDIA_ROOT = os.environ.get("TEGAKI_TEST_MEDIA") or tempfile.mkdtemp(prefix="tegaki-media-")
STATIC_URL = "static/"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Celery as in production (config/settings.py). The test process itself publishes to an
# in-memory broker (tests/celery_publisher.py); the integration tests' worker process
# reads CELERY_BROKER_URL (Redis) from its environment.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "memory://")
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ROUTES = {"moderation.*": {"queue": "moderation"}}

MODERATION: dict = {}

# DRF: closed by default (never AllowAny), throttled, paginated; the client IP is
# REMOTE_ADDR (NUM_PROXIES=0), so a spoofed X-Forwarded-For cannot dodge throttles.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": ["rest_framework.throttling.AnonRateThrottle",
                                 "rest_framework.throttling.UserRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"anon": "10000/min", "user": "10000/min",
                               "moderation_read": "10000/min",
                               "moderation_write": "10000/min",
                               "moderation_appeal": "10000/min"},
    "DEFAULT_PAGINATION_CLASS": "moderation.api.pagination.ModerationPagination",
    "PAGE_SIZE": 50,
    "NUM_PROXIES": 0,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = spectacular_settings()

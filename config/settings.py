"""Settings for the Tegaki demo site; production values come from the environment.

* ``DATABASE_URL`` (e.g. ``postgres://user@host/db``): default SQLite in ``var/``.
* ``CELERY_BROKER_URL`` (e.g. ``redis://127.0.0.1:6379/0``): default kombu's filesystem
  transport under ``var/queue`` -- an on-disk queue, no server to install.
* ``DJANGO_SECRET_KEY``, ``DJANGO_DEBUG``, ``DJANGO_ALLOWED_HOSTS``.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from celery.schedules import crontab

from moderation.api.schema import spectacular_settings
from moderation.conf import DEFAULTS

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("TEGAKI_VAR_DIR", BASE_DIR / "var"))

DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise RuntimeError("Set DJANGO_SECRET_KEY when DJANGO_DEBUG is not 1.")
    SECRET_KEY = "demo-only-insecure-key-do-not-use-in-production"  # noqa: S105
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",")

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
    "config.gallery",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Tegaki: X-Robots-Tag / TDMRep headers from the works a page shows (or the site default).
    "moderation.optout.middleware.TrainingOptOutMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "config" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]
WSGI_APPLICATION = "config.wsgi.application"

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{VAR_DIR / 'demo.sqlite3'}", conn_max_age=60
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # The web server and the worker share the file. IMMEDIATE transactions take the
    # write lock when they begin, so concurrent writers queue for it (up to ``timeout``
    # seconds) instead of failing with "database is locked" when a reader's transaction
    # tries to upgrade to a writer midway (SQLite does not wait then). WAL lets readers
    # go on while one transaction writes.
    DATABASES["default"].setdefault("OPTIONS", {}).update({
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    })
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "ja"
LANGUAGES = [("ja", "日本語"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "config" / "locale"]
TIME_ZONE = "Asia/Tokyo"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("TEGAKI_MEDIA_ROOT", VAR_DIR / "media"))

# The web server and the worker are separate processes: a cache they share on disk lets
# the worker's scan drop the cached first feed pages the web server serves (Django's
# default local-memory cache is per process, so new works waited for the cache's TTL).
# Production points this at Redis.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                      "LOCATION": str(VAR_DIR / "cache")}}
# Sessions are read from that cache and written through to the database: a signed-in
# page reads its session without a query (a session culled from the cache is read from
# the database, as before).
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "gallery:new_arrivals"
LOGOUT_REDIRECT_URL = "gallery:new_arrivals"

# --- Celery: Redis in production, kombu's on-disk queue for the demo ---
_QUEUE_DIR = VAR_DIR / "queue"
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem"):
    for sub in ("in", "processed", "control"):
        (_QUEUE_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_QUEUE_DIR / "in"),
        "data_folder_out": str(_QUEUE_DIR / "in"),
        "processed_folder": str(_QUEUE_DIR / "processed"),
        # kombu's default is ./control, relative to whatever directory the process has.
        "control_folder": str(_QUEUE_DIR / "control"),
        "store_processed": False,
    }
else:
    # Longer than the hard time limit plus the longest retry countdown: Redis redelivers an
    # unacked task after this timeout, so a shorter one runs a slow scan twice.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_MAX_TASKS_PER_CHILD = 200
CELERY_WORKER_MAX_MEMORY_PER_CHILD = 1_500_000  # KiB
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {"moderation.*": {"queue": "moderation"}}
CELERY_BEAT_SCHEDULE = {
    "moderation-sweep": {"task": "moderation.sweep_stuck_cases", "schedule": 60.0},
    # Nightly: an audit-log edit made past the append-only triggers shows up by morning.
    "moderation-verify-audit": {"task": "moderation.verify_audit_chain",
                                "schedule": crontab(hour=3, minute=0)},
    # Hourly: the audit log's head and row count, written outside the database.
    "moderation-checkpoint-audit": {"task": "moderation.checkpoint_audit",
                                    "schedule": 3600.0},
}

# DRF: closed by default, throttled, paginated. Set NUM_PROXIES to the number of
# reverse proxies in front of Django so X-Forwarded-For cannot be spoofed (0 = none).
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": ["rest_framework.throttling.AnonRateThrottle",
                                 "rest_framework.throttling.UserRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"anon": "60/min", "user": "600/min",
                               "moderation_read": "600/min", "moderation_write": "120/min",
                               "moderation_appeal": "20/hour"},
    "DEFAULT_PAGINATION_CLASS": "moderation.api.pagination.ModerationPagination",
    "PAGE_SIZE": 50,
    "NUM_PROXIES": int(os.environ.get("TEGAKI_NUM_PROXIES", "0")),
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = spectacular_settings()

# The demo runs every detector: the defaults, plus the pixel-mark detectors (invisible
# watermark, visible corner marks), which need the "watermark" extra and CPU time (up to
# a few seconds per upload) a site may not want to spend on every upload. Without the
# extra they are off and `check` says so.
MODERATION: dict = {
    "DETECTORS": {
        **DEFAULTS["DETECTORS"],
        "watermark": {"BACKEND": "moderation.detectors.watermark.InvisibleWatermarkDetector",
                      "OPTIONS": {}, "MODE": "enforce"},
        "visible_mark": {"BACKEND": "moderation.detectors.visible_mark.VisibleMarkDetector",
                         "OPTIONS": {}, "MODE": "enforce"},
    },
    # In production point this at storage the database's superuser cannot write (another
    # host, a write-once bucket); the demo keeps it next to its database.
    "AUDIT_CHECKPOINT_FILE": os.environ.get("TEGAKI_AUDIT_CHECKPOINTS",
                                            str(VAR_DIR / "audit-checkpoints.jsonl")),
    # The uploader's status page shows inside the gallery's own header and footer.
    "PAGE_BASE_TEMPLATE": "gallery/base.html",
}

# TEGAKI_LOG_FORMAT=json writes one JSON object per line (the Docker image sets it); every
# line logged during a scan carries its case id either way.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"case": {"()": "moderation.ops.logs.CaseContextFilter"}},
    "formatters": {
        "json": {"()": "moderation.ops.logs.JsonFormatter"},
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [case %(case_id)s] %(message)s"},
    },
    "handlers": {"console": {
        "class": "logging.StreamHandler", "filters": ["case"],
        "formatter": "json" if os.environ.get("TEGAKI_LOG_FORMAT") == "json" else "text"}},
    "loggers": {"moderation": {"handlers": ["console"], "level": "INFO"}},
}

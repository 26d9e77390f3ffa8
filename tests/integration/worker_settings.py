"""Django settings for the Celery worker process the integration tests start.

The worker must see exactly what the test process sees: the PostgreSQL *test* database
pytest-django created (its name is only known once the session has set it up, so the
fixture passes it in ``TEGAKI_IT_DB_NAME``), the same media directory, and a queue name
unique to this test run. Everything else is the test settings, so the worker runs the
real detectors, policy and pipeline, plus the fault-injecting detector.
"""

from __future__ import annotations

import os

from moderation.conf import DEFAULTS
from tests.settings import *  # noqa: F403
from tests.settings import DATABASES
from tests.settings import MODERATION as _test_moderation

DATABASES["default"]["NAME"] = os.environ["TEGAKI_IT_DB_NAME"]
# pytest-django's TEST settings do not apply here: this process never creates databases.
DATABASES["default"].pop("TEST", None)

_detectors = {alias: dict(params) for alias, params in DEFAULTS["DETECTORS"].items()}
# The classifier runs (its session is built after the fork, as in production) but only
# records evidence: its score on synthetic images is not what these tests assert.
_detectors["classifier"]["MODE"] = "shadow"
_detectors["faults"] = {
    "BACKEND": "tests.integration.slow_detector.FaultInjectingDetector",
    "OPTIONS": {
        "SLEEP_SECONDS": float(os.environ.get("TEGAKI_IT_SLEEP_SECONDS", "3")),
        "MARKER_DIR": os.environ["TEGAKI_IT_MARKER_DIR"],
    },
    "MODE": "enforce",
}
MODERATION = {
    **_test_moderation,
    "DETECTORS": _detectors,
    "QUEUE": os.environ["TEGAKI_IT_QUEUE"],
    "MAX_ATTEMPTS": 3,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"moderation": {"handlers": ["console"], "level": "INFO"}},
}

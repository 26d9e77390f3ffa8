"""The Celery app for the demo site and for production deployments built on it."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("tegaki")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

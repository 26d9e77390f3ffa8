"""The demo/host project: settings, URLs, the Celery app and a small illustration site."""

from config.celery import app as celery_app

__all__ = ["celery_app"]

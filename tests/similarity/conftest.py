from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone
from PIL import Image

from moderation import pipeline
from moderation.models import ModerationCase
from moderation.similarity import index
from tests.factories import case_of, upload
from tests.similarity.pictures import png


@pytest.fixture(autouse=True)
def _fresh_index():
    """Each test's rows are its own: forget the index the previous test built."""
    index.reset()
    yield
    index.reset()


def scanned(owner: Any, image: Image.Image | bytes, *, created_at: datetime | None = None,
            **fields: Any) -> tuple[Any, ModerationCase]:
    """Upload ``image`` as ``owner`` (optionally dated), run the worker's scan on it."""
    work = upload(owner, image if isinstance(image, bytes) else png(image), **fields)
    case = case_of(work)
    if created_at is not None:
        ModerationCase.objects.filter(pk=case.pk).update(created_at=created_at)
    pipeline.scan(case.pk)
    case.refresh_from_db()
    return work, case


def hours_ago(n: float) -> datetime:
    return timezone.now() - timedelta(hours=n)

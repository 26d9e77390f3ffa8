"""Shared fixtures: users, images the suite makes itself, fake detectors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from moderation.feeds.cache import invalidate as invalidate_feed_pages
from moderation.feeds.viewer_state import clear as forget_every_viewer
from moderation.fingerprints import store as fingerprint_store
from tests.celery_publisher import publishing_to
from tests.db_flush import flushable_audit_log

# Fixtures shared by every directory: the Chromium ``browser`` (tests/browser/ and the demo
# site's walks in tests/demo/), users in each moderation role, and the viewers' host site.
pytest_plugins = ["tests.browser.chromium", "tests.moderators_fixtures", "tests.site_fixtures"]


@pytest.fixture(scope="session", autouse=True)
def _celery_publishes_in_memory() -> Iterator[None]:
    """Queued scans go to an in-process broker, never to a real one by accident."""
    # Importing the demo project creates its Celery app, which makes itself current;
    # import it first so that a later import (demo-site tests) cannot take over.
    import config.celery  # noqa: F401

    with publishing_to("memory://", all_threads=True):
        yield


@pytest.fixture(scope="session", autouse=True)
def _flushable_audit_log() -> Iterator[None]:
    """transactional_db/live_server teardown may empty the append-only audit log."""
    with flushable_audit_log():
        yield


@pytest.fixture(autouse=True)
def _fresh_feed_cache() -> None:
    """Each test starts with no cached feed page and no cached viewer state: the
    local-memory cache outlives a test's database, and a page cached by one test could
    show another test's rows (or a user of the same pk another test's preference)."""
    invalidate_feed_pages()
    forget_every_viewer()


@pytest.fixture(autouse=True)
def _fresh_fingerprint_index() -> None:
    """Each test's database starts a new bank table (ids reused after a rollback), so the
    process's fingerprint index is dropped and rebuilt from it on first use."""
    fingerprint_store.reset()



@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user("artist", password="pw-artist-123")

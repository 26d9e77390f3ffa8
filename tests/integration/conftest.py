"""Fixtures for the integration tests: PostgreSQL, Redis and a real Celery worker.

Without ``DATABASE_URL=postgres://...`` and ``CELERY_BROKER_URL=redis://...`` these tests
are skipped with a reason starting "needs services:"; with ``TEGAKI_REQUIRE_SERVICES=1``
(set by ``.ci/run``) they fail instead, so CI can never go green by skipping them.

The worker is started once per session, after pytest-django has created the test
database, and is pointed at that database by name. Tests use ``transactional_db``:
the worker is another process, so the test's writes must really be committed.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis
from django.conf import settings as django_settings
from django.db import connection

from moderation.constants import TERMINAL_STATES
from tests.celery_publisher import publishing_to
from tests.integration.services import WorkerProcess, drop_queue, start_worker, wait_for

REQUIRE_SERVICES = os.environ.get("TEGAKI_REQUIRE_SERVICES") == "1"
# The long rows of the matrix (corpus replay, burst, soak) run only in `make reliability`.
collect_ignore_glob = ([] if os.environ.get("TEGAKI_RELIABILITY") == "1"
                       else ["test_reliability_*.py"])
# How long a test waits for every case to reach a terminal state: every committed upload
# must end processed, rejected or quarantined within this time.
SETTLE_SECONDS = 90


def services_unavailable(reason: str) -> None:
    """Skip, or fail when the run demands real services (CI)."""
    message = f"needs services: {reason}"
    if REQUIRE_SERVICES:
        pytest.fail(message + " (TEGAKI_REQUIRE_SERVICES=1)", pytrace=False)
    pytest.skip(message)


@dataclass(frozen=True)
class RunConfig:
    """Names unique to this pytest run, so parallel runs on one Redis never collide."""

    broker_url: str
    queue: str
    marker_dir: Path
    log_dir: Path
    db_name: str


@pytest.fixture(scope="session")
def broker_url() -> str:
    url = os.environ.get("CELERY_BROKER_URL", "")
    if not url.startswith(("redis://", "rediss://")):
        services_unavailable("set CELERY_BROKER_URL=redis://127.0.0.1:6379/<db>")
    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        services_unavailable(f"Redis at {url} is unreachable ({exc})")
    finally:
        client.close()
    return url


@pytest.fixture(scope="session")
def postgres_available() -> None:
    db = django_settings.DATABASES["default"]
    if "postgresql" not in db["ENGINE"]:
        services_unavailable("set DATABASE_URL=postgres://postgres@127.0.0.1:5432/test")
    import psycopg

    try:
        psycopg.connect(host=db.get("HOST") or None, port=db.get("PORT") or None,
                        user=db.get("USER") or None, password=db.get("PASSWORD") or None,
                        dbname="postgres", connect_timeout=3).close()
    except psycopg.Error as exc:
        host = urlsplit(os.environ.get("DATABASE_URL", "")).netloc.rpartition("@")[2]
        services_unavailable(f"PostgreSQL at {host} is unreachable ({exc})")


@pytest.fixture(scope="session")
def run_config(broker_url: str, postgres_available: None, django_db_setup: None,
               django_db_blocker, tmp_path_factory: pytest.TempPathFactory) -> RunConfig:
    with django_db_blocker.unblock():
        db_name = str(connection.settings_dict["NAME"])  # test_<name>, set by pytest-django
    base = tmp_path_factory.mktemp("celery-it")
    return RunConfig(broker_url=broker_url, queue=f"moderation-it-{uuid.uuid4().hex[:10]}",
                     marker_dir=base / "markers", log_dir=base / "logs", db_name=db_name)


def launch_worker(config: RunConfig, *, broker_url: str | None = None,
                  name: str | None = None) -> WorkerProcess:
    """Start a worker on this run's queue and test database."""
    return start_worker(
        broker_url=broker_url or config.broker_url, queue=config.queue,
        db_name=config.db_name, media_root=str(django_settings.MEDIA_ROOT),
        marker_dir=config.marker_dir, log_dir=config.log_dir,
        name=name or f"it-{uuid.uuid4().hex[:6]}",
    )


def _other_sessions(db_name: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity "
                       "WHERE datname = %s AND pid <> pg_backend_pid()", [db_name])
        row = cursor.fetchone()
    return int(row[0]) if row else 0


@pytest.fixture(scope="session")
def celery_worker(run_config: RunConfig, django_db_blocker) -> Iterator[WorkerProcess]:
    """One worker for the session; stopped before pytest-django drops the test database."""
    worker = launch_worker(run_config, name="it-main")
    yield worker
    worker.stop()
    drop_queue(run_config.broker_url, run_config.queue)
    # A backend whose client just exited lingers for a moment; DROP DATABASE would
    # fail with "being accessed by other users" if it ran in that window.
    # If they never end, pytest-django reports the failed drop itself.
    with django_db_blocker.unblock(), contextlib.suppress(TimeoutError):
        wait_for(lambda: _other_sessions(run_config.db_name) == 0, timeout=15,
                 what="the worker's database sessions to end")


def _unfinished_cases() -> list[tuple[int, str, int]]:
    from moderation.models import ModerationCase

    return list(ModerationCase.objects.exclude(state__in=TERMINAL_STATES)
                .values_list("pk", "state", "attempts"))


def assert_all_cases_settled(worker: WorkerProcess) -> None:
    """The 'nothing lost' invariant: every committed case ends in a terminal state."""
    try:
        wait_for(lambda: not _unfinished_cases(), timeout=SETTLE_SECONDS,
                 what="every case to reach a terminal state")
    except TimeoutError:
        pytest.fail(f"cases left non-terminal: {_unfinished_cases()}\n"
                    f"--- worker log ---\n{worker.log()[-6000:]}", pytrace=False)
    assert worker.alive(), f"the worker's main process died:\n{worker.log()[-6000:]}"


@pytest.fixture
def live(transactional_db: None, settings, run_config: RunConfig,
         celery_worker: WorkerProcess) -> Iterator[RunConfig]:
    """A committed-transaction test whose uploads are scanned by the real worker.

    On the way out it checks the 'nothing lost' invariant before pytest-django flushes
    the database (see tests/db_flush.py for how the flush passes the audit log guard).
    """
    settings.MODERATION = {**(settings.MODERATION or {}), "QUEUE": run_config.queue}
    with publishing_to(run_config.broker_url):
        yield run_config
        assert_all_cases_settled(celery_worker)

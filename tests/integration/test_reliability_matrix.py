"""The long rows of the reliability matrix: ``make reliability`` only (never ``make test``).

Collected when ``TEGAKI_RELIABILITY=1`` (see ``conftest.py``), against the same real
worker, PostgreSQL and Redis as the other integration tests, plus a second worker so two
prefork children share the queue:

* the Pillow corpus replay: every file of Pillow's ``Tests/images`` (the sdist is fetched
  once and cached outside the repository by ``scripts/fetch_pillow_corpus.py``; its
  directory comes in ``TEGAKI_PILLOW_CORPUS``) uploaded through the host model and
  scanned by the worker; every case must end terminal, none quarantined, the worker alive;
* a bounded burst: 300 uploads in 30 s from 30 accounts, then the drain;
* a soak of ``TEGAKI_SOAK_SECONDS`` (600 by default) at ``TEGAKI_SOAK_RATE`` uploads per
  second (0.5 by default).

Each prints what the closing note of a reliability run reports: terminal states, drain
time, p50/p95 time to verdict and the workers' RSS over time. ``-s`` shows it.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.db import connection

from moderation.constants import ProcessingState
from moderation.models import ModerationCase
from tests.celery_publisher import publishing_to
from tests.fixtures import bad_images as bad
from tests.integration.conftest import RunConfig, launch_worker
from tests.integration.load import (
    RssSampler,
    latencies,
    percentile,
    state_tally,
    unfinished,
    wait_drained,
)
from tests.integration.services import WorkerProcess
from tests.testapp.models import Artwork

pytestmark = pytest.mark.integration

SOAK_SECONDS = int(os.environ.get("TEGAKI_SOAK_SECONDS", "600"))
SOAK_RATE = float(os.environ.get("TEGAKI_SOAK_RATE", "0.5"))
BURST_UPLOADS, BURST_SECONDS, BURST_USERS = 300, 30, 30


@pytest.fixture
def workers(live: RunConfig, celery_worker: WorkerProcess) -> Iterator[list[WorkerProcess]]:
    """The session's worker and a second one on the same queue: two prefork children."""
    second = launch_worker(live, name=f"rel-{os.getpid()}")
    try:
        yield [celery_worker, second]
    finally:
        second.stop()


def _case_id(work: Artwork) -> int:
    return ModerationCase.objects.for_instance(work).values_list("pk", flat=True).get()


def _upload_as(owner, name: str, data: bytes) -> int:
    work = Artwork.objects.create(owner=owner, image=ContentFile(data, name=name))
    return _case_id(work)


def _summary(title: str, case_ids: list[int], drain: float, sampler: RssSampler) -> str:
    lat = latencies(case_ids)
    states = dict(sorted(state_tally(case_ids).items()))
    return (f"\n=== {title} ===\n"
            f"  uploads {len(case_ids)}, terminal states {states}\n"
            f"  drain {drain:.1f}s after the last upload; time to verdict "
            f"p50 {percentile(lat, 50):.1f}s, p95 {percentile(lat, 95):.1f}s, "
            f"max {max(lat, default=0):.1f}s\n{sampler.report()}")


@pytest.mark.timeout(3 * 3600)
def test_pillow_corpus_replay_through_the_worker(live: RunConfig, workers):
    corpus = Path(os.environ.get("TEGAKI_PILLOW_CORPUS", ""))
    if not corpus.is_dir():
        pytest.fail("TEGAKI_PILLOW_CORPUS must name the unpacked Pillow Tests/images "
                    "(make reliability runs scripts/fetch_pillow_corpus.py)", pytrace=False)
    files = sorted(p for p in corpus.rglob("*") if p.is_file())
    assert len(files) > 1000, f"only {len(files)} files in {corpus}"
    owner = get_user_model().objects.create_user("corpus")
    started = time.monotonic()
    with RssSampler(workers, interval=10) as sampler:
        # Names are neutral: some Pillow files are called crash-*.tif, which the fault
        # detector would take as a cue.
        case_ids = [_upload_as(owner, f"corpus-{i:04d}{path.suffix[:10]}", path.read_bytes())
                    for i, path in enumerate(files)]
        drain = wait_drained(case_ids, timeout=2.5 * 3600, label="corpus files")
    tally = state_tally(case_ids)
    print(_summary(f"Pillow corpus replay ({corpus})", case_ids, drain, sampler))
    print(f"  total {time.monotonic() - started:.0f}s")
    assert ModerationCase.objects.filter(pk__in=case_ids).count() == len(files)
    assert tally[ProcessingState.QUARANTINED] == 0, "a corpus file crashed or hung the worker"
    assert all(w.alive() for w in workers)


@pytest.mark.timeout(3600)
def test_burst_of_300_uploads_in_30_seconds(live: RunConfig, workers):
    users = [get_user_model().objects.create_user(f"burst-{i}") for i in range(BURST_USERS)]
    per_user = BURST_UPLOADS // BURST_USERS
    spacing = BURST_SECONDS / per_user
    case_ids: list[int] = []
    upload_seconds: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def account(index: int) -> None:
        try:
            for n in range(per_user):
                at = time.monotonic()
                data = bad.png((256, 192), seed=index * 100 + n)
                case_id = _upload_as(users[index], f"burst-{index}-{n}.png", data)
                with lock:
                    case_ids.append(case_id)
                    upload_seconds.append(time.monotonic() - at)
                time.sleep(max(0.0, spacing - (time.monotonic() - at)))
        except Exception as exc:  # reported below: an upload the site refused or lost
            errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            connection.close()

    # The uploaders' threads must publish to the run's Redis too, not the session's
    # in-memory default: those messages would vanish, which is what this test rules out.
    with RssSampler(workers, interval=5) as sampler, \
            publishing_to(live.broker_url, all_threads=True):
        started = time.monotonic()
        threads = [threading.Thread(target=account, args=(i,)) for i in range(BURST_USERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        sent = time.monotonic() - started
        drain = wait_drained(case_ids, timeout=3000, label="burst uploads")
    print(_summary(f"burst: {len(case_ids)} uploads from {BURST_USERS} accounts in "
                   f"{sent:.1f}s", case_ids, drain, sampler))
    print(f"  upload (host save + case) p50 {percentile(upload_seconds, 50) * 1000:.0f} ms, "
          f"p95 {percentile(upload_seconds, 95) * 1000:.0f} ms")
    assert errors == []
    assert len(case_ids) == BURST_UPLOADS
    assert state_tally(case_ids) == {ProcessingState.DONE: BURST_UPLOADS}
    assert all(w.alive() for w in workers)


@pytest.mark.timeout(SOAK_SECONDS + 3600)
def test_soak(live: RunConfig, workers):
    owner = get_user_model().objects.create_user("soak")
    interval = 1.0 / SOAK_RATE
    case_ids: list[int] = []
    with RssSampler(workers, interval=5) as sampler:
        started = time.monotonic()
        n = 0
        while time.monotonic() - started < SOAK_SECONDS:
            due = started + n * interval
            time.sleep(max(0.0, due - time.monotonic()))
            case_ids.append(_upload_as(owner, f"soak-{n}.png", bad.png((320, 240), seed=n)))
            n += 1
            if n % max(1, int(60 * SOAK_RATE)) == 0:
                print(f"  soak {time.monotonic() - started:5.0f}s: {n} uploads, "
                      f"{unfinished(case_ids)} still being scanned", flush=True)
        drain = wait_drained(case_ids, timeout=3000, label="soak uploads")
    print(_summary(f"soak: {SOAK_SECONDS}s at {SOAK_RATE}/s", case_ids, drain, sampler))
    values = [mib for _at, mib in sampler.samples]
    window = max(1, len(values) // 10)
    if len(values) >= 2 * window:
        first, last = values[:window], values[-window:]
        print(f"  RSS first tenth avg {sum(first) / len(first):.1f} MiB, last tenth avg "
              f"{sum(last) / len(last):.1f} MiB")
    assert state_tally(case_ids) == {ProcessingState.DONE: len(case_ids)}
    assert all(w.alive() for w in workers)

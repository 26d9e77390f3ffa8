#!/usr/bin/env python
"""End-to-end scan latency with a real Celery worker on Redis and PostgreSQL.

Run by ``bench_detectors.py --json`` as a subprocess (it needs its own Django settings and
database); prints one JSON object: ``{"rate_1.2": {"p50_s", "p95_s", "n"},
"burst_300": {"p95_s", "drain_s", "n"}, ...}``. Loopback only and bounded: it creates a
throw-away PostgreSQL database and a unique queue, starts one worker (prefork, one child,
the integration tests' worker settings: the real detectors and pipeline; a child is
replaced every 50 tasks, as there), warms it with two uploads, uploads 1 MP
JPEGs through the test app's host model at 1.2 per second, then a burst of 300 spread
over 30 seconds, and drops everything it made. Latency is the case's creation to its
terminal write.

Usage: ``CELERY_BROKER_URL=redis://127.0.0.1:6379/7 DATABASE_URL=postgres://postgres@127.0.0.1:5432/x
python bench/bench_e2e.py [--rate-seconds 60] [--burst 300] [--timeout 600]``
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def jpeg_1mp(index: int) -> bytes:
    """A 1 MP photo-like JPEG, unique per ``index`` (so no two uploads share a digest)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(index)
    x = np.linspace(0, 255, 1152, dtype=np.float32)[None, :, None]
    y = np.linspace(0, 255, 868, dtype=np.float32)[:, None, None]
    base = np.concatenate([np.broadcast_to(x, (868, 1152, 1)), np.broadcast_to(y, (868, 1152, 1)),
                           np.broadcast_to((x + y) / 2, (868, 1152, 1))], axis=-1)
    arr = np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr, "RGB").save(buf, "JPEG", quality=90)
    return buf.getvalue()


def paced_uploads(count: int, per_second: float, prefix: str, images: list[bytes]) -> list[int]:
    """Upload ``count`` works at ``per_second``; return their case ids."""
    from moderation.services import get_case
    from tests.integration.uploads import upload

    started = time.monotonic()
    ids = []
    for i in range(count):
        delay = started + i / per_second - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        case = get_case(upload(f"{prefix}-{i}.jpg", images[i % len(images)] + bytes([i % 251])
                               + i.to_bytes(4, "big")))
        assert case is not None
        ids.append(case.pk)
    return ids


def measure(args: argparse.Namespace) -> dict[str, object]:
    from django.conf import settings
    from django.db import connection

    from moderation.conf import moderation_settings
    from tests.celery_publisher import publishing_to
    from tests.integration.load import latencies, percentile, wait_drained, workers_rss_mib
    from tests.integration.services import drop_queue, start_worker

    broker = os.environ["CELERY_BROKER_URL"]
    queue = f"bench-e2e-{uuid.uuid4().hex[:8]}"
    work_dir = Path(tempfile.mkdtemp(prefix="tegaki-bench-e2e-"))
    db_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    worker = None
    try:
        worker = start_worker(broker_url=broker, queue=queue, db_name=db_name,
                              media_root=str(settings.MEDIA_ROOT),
                              marker_dir=work_dir / "markers", log_dir=work_dir / "logs",
                              name="bench-e2e")
        settings.MODERATION = {**settings.MODERATION, "QUEUE": queue}
        moderation_settings.reload()
        images = [jpeg_1mp(i) for i in range(8)]
        with publishing_to(broker):
            # The worker child loads the model on its first scan: not part of the figures.
            wait_drained(paced_uploads(2, 1.0, "warm", images), timeout=args.timeout,
                         label="warm-up uploads")
            steady = paced_uploads(round(args.rate_seconds * 1.2), 1.2, "rate", images)
            wait_drained(steady, timeout=args.timeout, label="paced uploads")
            rate = latencies(steady)
            rss = workers_rss_mib([worker])
            begun = time.monotonic()
            burst = paced_uploads(args.burst, args.burst / 30.0, "burst", images)
            wait_drained(burst, timeout=args.timeout, label="burst uploads")
            drain = time.monotonic() - begun
            spike = latencies(burst)
        return {
            "rate_1.2": {"p50_s": round(percentile(rate, 50), 3),
                         "p95_s": round(percentile(rate, 95), 3), "n": len(rate)},
            f"burst_{args.burst}": {"p95_s": round(percentile(spike, 95), 3),
                                    "drain_s": round(drain, 1), "n": len(spike)},
            "worker": "celery prefork, concurrency 1, tests.integration.worker_settings "
                      "(default detectors, classifier in shadow mode)",
            "worker_group_rss_mb": round(rss, 1),
        }
    finally:
        if worker is not None:
            worker.stop()
        drop_queue(broker, queue)
        connection.creation.destroy_test_db(db_name, verbosity=0)
        shutil.rmtree(work_dir, ignore_errors=True)
        shutil.rmtree(str(settings.MEDIA_ROOT), ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate-seconds", type=float, default=60.0)
    parser.add_argument("--burst", type=int, default=300)
    parser.add_argument("--timeout", type=float, default=600.0,
                        help="seconds each phase may take to drain")
    args = parser.parse_args()
    # The per-image bench is pinned to one core; a deployed worker is not, so neither is
    # this process nor the worker it starts (children inherit the affinity).
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, range(os.cpu_count() or 1))
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    os.environ.setdefault("TEGAKI_TEST_MEDIA", tempfile.mkdtemp(prefix="tegaki-bench-media-"))
    sys.path.insert(0, str(REPO))
    import django

    django.setup()
    print(json.dumps(measure(args)))


if __name__ == "__main__":
    main()

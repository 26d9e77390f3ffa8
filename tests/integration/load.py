"""Measuring the worker under load: latency percentiles, drain time, RSS over time.

Used by the ``make reliability`` tests (burst, soak, corpus replay). RSS is read from
``/proc`` for every process in a worker's process group (the main process and its prefork
children): the harness runs on Linux only, and reading two fields there needs no
dependency.
"""

from __future__ import annotations

import os
import statistics
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from moderation.constants import TERMINAL_STATES
from moderation.models import ModerationCase
from tests.integration.services import WorkerProcess

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def group_rss_bytes(pgid: int) -> int:
    """Resident memory of every process in process group ``pgid``, in bytes."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue  # the process ended while we looked
        # Fields after the parenthesised command name: state ppid pgrp ... (man 5 proc);
        # rss is field 24 overall, i.e. index 21 after the name.
        fields = text.rsplit(")", 1)[1].split()
        if int(fields[2]) == pgid:
            total += int(fields[21]) * PAGE_SIZE
    return total


def workers_rss_mib(workers: Iterable[WorkerProcess]) -> float:
    return sum(group_rss_bytes(w.proc.pid) for w in workers) / 2**20


@dataclass
class RssSampler:
    """Sample the workers' RSS every ``interval`` seconds on a background thread."""

    workers: list[WorkerProcess]
    interval: float = 5.0
    samples: list[tuple[float, float]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> RssSampler:
        start = time.monotonic()

        def run() -> None:
            while not self._stop.is_set():
                self.samples.append((time.monotonic() - start, workers_rss_mib(self.workers)))
                self._stop.wait(self.interval)

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def report(self, every: float = 30.0) -> str:
        """``t=  0s 512 MiB`` lines, one per ``every`` seconds, plus min/max."""
        lines: list[str] = []
        next_at = 0.0
        for at, mib in self.samples:
            if at >= next_at:
                lines.append(f"  t={at:5.0f}s  worker RSS {mib:7.1f} MiB")
                next_at = at + every
        if self.samples:
            values = [mib for _at, mib in self.samples]
            lines.append(f"  RSS min {min(values):.1f} MiB, max {max(values):.1f} MiB, "
                         f"last {values[-1]:.1f} MiB")
        return "\n".join(lines)


def percentile(values: list[float], pct: float) -> float:
    """The ``pct``-th percentile (inclusive method); 0 for no values."""
    if not values:
        return 0.0
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(pct) - 1]


def latencies(case_ids: list[int]) -> list[float]:
    """Seconds from each case's creation to its terminal write."""
    rows = ModerationCase.objects.filter(pk__in=case_ids).values_list(
        "created_at", "scanned_at", "updated_at")
    return [((scanned or updated) - created).total_seconds()
            for created, scanned, updated in rows]


def unfinished(case_ids: list[int]) -> int:
    return ModerationCase.objects.filter(pk__in=case_ids).exclude(
        state__in=TERMINAL_STATES).count()


def wait_drained(case_ids: list[int], *, timeout: float, progress_every: float = 30.0,
                 label: str = "cases") -> float:
    """Wait until every case is terminal; return the seconds it took. Prints progress."""
    started = time.monotonic()
    next_report = started + progress_every
    while True:
        left = unfinished(case_ids)
        now = time.monotonic()
        if not left:
            return now - started
        if now - started > timeout:
            raise TimeoutError(f"{left} of {len(case_ids)} {label} still unfinished after "
                               f"{timeout:.0f}s")
        if now >= next_report:
            print(f"  … {len(case_ids) - left}/{len(case_ids)} {label} finished "
                  f"({now - started:.0f}s)", flush=True)
            next_report = now + progress_every
        time.sleep(1.0)


def state_tally(case_ids: list[int]) -> Counter[str]:
    """``done``, ``quarantined`` and ``rejected:<reason>`` counts of the cases."""
    tally: Counter[str] = Counter()
    for state, reason in ModerationCase.objects.filter(pk__in=case_ids).values_list(
            "state", "rejection_reason"):
        tally[f"{state}:{reason}" if reason else state] += 1
    return tally

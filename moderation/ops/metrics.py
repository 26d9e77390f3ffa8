"""Prometheus metrics, read from the database and the broker at scrape time.

Why not counters incremented in the workers: Celery's prefork children and the web
server's workers are separate processes, and per-process counters need
prometheus_client's multiprocess mode (a shared directory on every host) plus an
exporter per worker host. Everything an operator asks of Tegaki is already recorded in
the database (cases, their states, evidence with per-detector timings) or sits in the
broker (the queue), so one scrape of any web process gives the whole cluster's view,
the same from every replica. Each family is one aggregate query over indexed columns.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import timedelta
from typing import Any, cast

from celery import current_app
from django.db.models import Count, Q
from django.utils import timezone
from prometheus_client.core import (
    GaugeHistogramMetricFamily,
    GaugeMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector, CollectorRegistry

from moderation.conf import moderation_settings
from moderation.constants import ProcessingState
from moderation.models import Evidence, ModerationCase
from moderation.reasons import CLASSIFIER_SKIPPED

#: Age bands of cases still waiting for their scan, in seconds (upper bounds).
WAITING_BANDS: tuple[tuple[str, float], ...] = (
    ("lt_1m", 60), ("lt_5m", 300), ("lt_1h", 3600), ("ge_1h", float("inf")))
#: Bucket edges of the detector latency histogram, in seconds.
LATENCY_BUCKETS: tuple[float, ...] = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: Recent activity is measured over this window.
RECENT = timedelta(hours=1)


def _cases() -> Metric:
    family = GaugeMetricFamily("tegaki_cases", "Cases by processing state, label and route.",
                               labels=["state", "label", "route"])
    rows = (ModerationCase.objects.values("state", "label", "route")
            .annotate(n=Count("id")).order_by("state", "label", "route"))
    for row in rows:
        family.add_metric([row["state"], row["label"], row["route"]], row["n"])
    return family


def _waiting() -> Metric:
    family = GaugeMetricFamily(
        "tegaki_cases_waiting", "Cases pending or running, by time since upload.",
        labels=["age"])
    now = timezone.now()
    counts = {}
    lower = 0.0
    for band, upper in WAITING_BANDS:
        window = Q(created_at__lte=now - timedelta(seconds=lower))
        if upper != float("inf"):
            window &= Q(created_at__gt=now - timedelta(seconds=upper))
        counts[band] = Count("id", filter=window)
        lower = upper
    result = ModerationCase.objects.pending().aggregate(**counts)
    for band, _ in WAITING_BANDS:
        family.add_metric([band], result[band] or 0)
    return family


def _quarantined() -> Metric:
    return GaugeMetricFamily(
        "tegaki_quarantined_cases", "Cases whose scan kept failing; moderators must look.",
        value=ModerationCase.objects.filter(state=ProcessingState.QUARANTINED).count())


def _recent_scans() -> Metric:
    family = GaugeMetricFamily(
        "tegaki_scans_last_hour", "Scans finished in the last hour, by label and route.",
        labels=["label", "route"])
    rows = (ModerationCase.objects.filter(scanned_at__gte=timezone.now() - RECENT)
            .values("label", "route").annotate(n=Count("id")).order_by("label", "route"))
    for row in rows:
        family.add_metric([row["label"], row["route"]], row["n"])
    return family


def _latency() -> Metric:
    family = GaugeHistogramMetricFamily(
        "tegaki_detector_latency_seconds",
        "Per-detector time of the evidence recorded in the last hour.",
        labels=["detector"])
    buckets = {f"le_{i}": Count("id", filter=Q(elapsed_ms__lte=edge * 1000))
               for i, edge in enumerate(LATENCY_BUCKETS)}
    # The bucket keys are built at run time, which the stubs' TypedDict rows cannot name.
    rows = cast(Iterable[dict[str, Any]], (
        # A classifier skipped because provenance proved the work AI took no time.
        Evidence.objects.filter(created_at__gte=timezone.now() - RECENT)
        .exclude(message=CLASSIFIER_SKIPPED.code).values("detector")
        .annotate(total=Count("id"), **buckets).order_by("detector")))
    for row in rows:
        cumulative = [(str(edge), row[f"le_{i}"]) for i, edge in enumerate(LATENCY_BUCKETS)]
        family.add_metric([row["detector"]], [*cumulative, ("+Inf", row["total"])],
                          gsum_value=0.0)
    return family


def _missing_queue(exc: Exception) -> bool:
    """A broker that answered "no such queue": nothing was ever published to it."""
    return getattr(exc, "code", None) == 404 or "NOT_FOUND" in str(exc)


def queue_depth(queue: str) -> tuple[bool, int | None]:
    """(broker answered, messages waiting in ``queue``); the count is None when unknown."""
    try:
        with current_app.connection_for_read() as conn:
            conn.ensure_connection(max_retries=1, timeout=1.0)
            try:
                _, count, _ = conn.default_channel.queue_declare(queue=queue, passive=True)
            except Exception as exc:  # transports differ in what a passive miss raises
                return True, (0 if _missing_queue(exc) else None)
    except Exception:  # broker down: kombu raises several unrelated types
        return False, None
    return True, int(count)


def _broker() -> Iterator[Metric]:
    queue = str(moderation_settings.QUEUE)
    up, depth = queue_depth(queue)
    yield GaugeMetricFamily("tegaki_broker_up", "Whether the broker answered this scrape.",
                            value=1 if up else 0)
    if depth is not None:
        family = GaugeMetricFamily("tegaki_queue_depth", "Scan messages waiting in the queue.",
                                   labels=["queue"])
        family.add_metric([queue], depth)
        yield family


class TegakiCollector(Collector):
    """Collects every Tegaki family on each scrape (no state kept between scrapes)."""

    def collect(self) -> Iterator[Metric]:
        yield _cases()
        yield _waiting()
        yield _quarantined()
        yield _recent_scans()
        yield _latency()
        yield from _broker()


def registry() -> CollectorRegistry:
    """A registry holding only Tegaki's collector (not the process-global default one)."""
    reg = CollectorRegistry(auto_describe=False)
    reg.register(TegakiCollector())
    return reg

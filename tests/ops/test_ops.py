"""/healthz, /readyz, /metrics, JSON logs with the case id, and moderation_status."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from celery.signals import task_postrun, task_prerun
from django.core.management import call_command
from django.test import Client
from kombu import Connection
from prometheus_client.parser import text_string_to_metric_families

from moderation.constants import ProcessingState
from moderation.models import Evidence, ModerationCase
from moderation.ops import health
from moderation.ops.logs import CaseContextFilter, JsonFormatter
from moderation.tasks import scan_case
from tests.factories import make_case, make_user, upload

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.ops.urls")]


def _samples(body: str) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for family in text_string_to_metric_families(body):
        out.setdefault(family.name, []).extend(family.samples)
    return out


class _DeadBroker:
    """Stands in for the Celery app: its broker is a closed local port."""

    def connection_for_write(self) -> Connection:
        return Connection("redis://127.0.0.1:1/0", connect_timeout=0.2)

    connection_for_read = connection_for_write


def test_healthz_answers_without_asking_anything(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.content == b"ok\n"
    assert "no-cache" in response["Cache-Control"]


def test_readyz_is_ready_when_database_broker_and_detectors_are(client: Client) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    assert response.json() == {"status": "ready", "checks": {
        "database": "ok", "broker": "ok", "detectors": "ok"}}


def test_readyz_fails_on_a_dead_broker_and_reveals_nothing(client: Client, monkeypatch,
                                                             caplog) -> None:
    monkeypatch.setattr(health, "current_app", _DeadBroker())
    with caplog.at_level(logging.WARNING, logger="moderation.ops.health"):
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "ok", "broker": "fail",
                                         "detectors": "ok"}
    body = response.content.decode()
    assert "127.0.0.1" not in body and "Error" not in body
    assert "readiness check broker failed" in caplog.text  # the reason goes to the log


def test_readyz_fails_when_the_classifier_bundle_is_broken(client: Client, settings,
                                                           tmp_path: Path) -> None:
    (tmp_path / "model.json").write_text("{not json")
    settings.MODERATION = {"DETECTORS": {"classifier": {
        "BACKEND": "moderation.detectors.onnx.OnnxClassifier",
        "OPTIONS": {"BUNDLE": str(tmp_path)}}}}
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["detectors"] == "fail"


def test_metrics_count_cases_waiting_quarantined_and_detector_latency(client: Client) -> None:
    owner = make_user("artist")
    make_case(owner)
    make_case(owner)
    upload(owner)  # pending: its scan was never run
    quarantined = make_case(owner, evidence=False)
    ModerationCase.objects.filter(pk=quarantined.pk).update(state=ProcessingState.QUARANTINED)
    Evidence.objects.filter(detector="classifier").update(elapsed_ms=300)

    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    samples = _samples(response.content.decode())

    cases = {(s.labels["state"], s.labels["route"]): s.value for s in samples["tegaki_cases"]}
    assert cases[("done", "held")] == 2
    assert cases[("quarantined", "held")] == 1
    assert sum(cases.values()) == 4
    waiting = {s.labels["age"]: s.value for s in samples["tegaki_cases_waiting"]}
    assert waiting == {"lt_1m": 1, "lt_5m": 0, "lt_1h": 0, "ge_1h": 0}
    assert samples["tegaki_quarantined_cases"][0].value == 1

    buckets = {(s.labels["detector"], s.labels.get("le")): s.value
               for s in samples["tegaki_detector_latency_seconds"] if "le" in s.labels}
    assert buckets[("provenance", "0.01")] == 2  # recorded at 0 ms
    assert buckets[("classifier", "0.25")] == 0  # 300 ms: above 0.25 s ...
    assert buckets[("classifier", "0.5")] == 2  # ... within 0.5 s
    assert buckets[("classifier", "+Inf")] == 2
    assert samples["tegaki_broker_up"][0].value == 1
    assert [s.labels["queue"] for s in samples["tegaki_queue_depth"]] == ["moderation"]


def test_metrics_token_is_required_when_set(client: Client, settings) -> None:
    settings.MODERATION = {"METRICS_TOKEN": "s3cret"}
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret").status_code == 200


def test_json_log_lines_carry_the_case_of_the_running_scan() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(CaseContextFilter())
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("moderation.test_ops")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    try:
        task_prerun.send(sender=scan_case, task_id="t1", task=scan_case, args=[42], kwargs={})
        logger.warning("decoding %s", "x.png", extra={"detector": "provenance"})
        task_postrun.send(sender=scan_case, task_id="t1", task=scan_case, args=[42], kwargs={})
        logger.info("between scans")
    finally:
        logger.removeHandler(handler)
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["case_id"] == 42 and first["message"] == "decoding x.png"
    assert first["level"] == "WARNING" and first["detector"] == "provenance"
    assert second["case_id"] is None


def test_moderation_status_prints_checks_and_metrics() -> None:
    make_case(make_user("artist"))
    out = io.StringIO()
    call_command("moderation_status", "--json", stdout=out)
    report = json.loads(out.getvalue())
    assert report["ready"] is True
    assert set(report["checks"]) == {"database", "broker", "detectors"}
    assert report["metrics"]["tegaki_quarantined_cases"][0]["value"] == 0

    table = io.StringIO()
    call_command("moderation_status", stdout=table)
    assert "database   ok" in table.getvalue()
    assert 'tegaki_cases{label=uncertain,route=held,state=done} 1' in table.getvalue()


def test_moderation_status_exits_1_when_not_ready(monkeypatch) -> None:
    monkeypatch.setattr(health, "current_app", _DeadBroker())
    with pytest.raises(SystemExit) as exit_info:
        call_command("moderation_status", stdout=io.StringIO())
    assert exit_info.value.code == 1

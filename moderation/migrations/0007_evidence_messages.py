"""Evidence stores a reason code and its parameters instead of a sentence; uploaders get
in-app notifications (``Notification``).

Sentences used to be written in the worker's language when the scan ran, so an English
page could show a Japanese line and the other way round. This migration turns each
stored row's sentence into the code the pages now render in the reader's language: the
decisive finding's reason for provenance, the classifier's own two codes, the failure
code for a detector that crashed. Findings inside ``details`` lose their ``summary``
and gain ``params`` the same way.
"""

from __future__ import annotations

from typing import Any

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def _one_in(score: float, thresholds: dict[str, Any]) -> int | None:
    """The same arithmetic as ``moderation.detectors.onnx.one_in`` (a migration keeps
    its own copy so later edits to the app cannot change what it did)."""
    passed = []
    for key, value in thresholds.items():
        if not str(key).startswith("fpr_"):
            continue
        try:
            rate, threshold = float(str(key).split("_", 1)[1]), float(value)
        except (TypeError, ValueError):
            continue
        if rate > 0 and score >= threshold:
            passed.append(rate)
    return round(1 / min(passed)) if passed else None


def _finding_params(finding: dict[str, Any]) -> dict[str, str]:
    params: dict[str, str] = {}
    inner = finding.get("details") if isinstance(finding.get("details"), dict) else {}
    if finding.get("generator"):
        params["app"] = str(finding["generator"])[:200]
    if isinstance(inner, dict):
        if inner.get("field"):
            params["field"] = str(inner["field"])[:200]
        term = str(inner.get("digital_source_type") or "").rsplit("/", 1)[-1]
        if term:
            params["term"] = term[:200]
    return params


def _convert(row: Any) -> None:
    details = row.details if isinstance(row.details, dict) else {}
    reasons = [str(r) for r in (row.reasons or [])]
    findings = details.get("findings")
    if row.error:
        row.message, row.message_params = "detector_failed", {"detector": row.detector}
    elif details.get("kind") == "classifier" and row.score is not None:
        flagged = "classifier_score" in reasons
        params = {"score": f"{row.score:.2f}"}
        if isinstance(details.get("threshold"), int | float):
            params["threshold"] = f"{details['threshold']:.2f}"
        rarity = _one_in(row.score, details.get("thresholds") or {})
        if rarity is not None:
            params["one_in"] = f"{rarity:,}"
        details.pop("fpr_meaning", None)
        row.message = "classifier_score" if flagged else "classifier_below_threshold"
        row.message_params = params
    elif isinstance(findings, list):
        top = next((f for f in findings if isinstance(f, dict)
                    and f.get("label") == row.label), None)
        for finding in findings:
            if isinstance(finding, dict):
                finding.pop("summary", None)
                finding["params"] = _finding_params(finding)
        if top is None:
            row.message, row.message_params = "no_provenance", {}
        else:
            row.message = str(top.get("reason") or "")[:64]
            row.message_params = dict(top["params"])
    else:
        row.message, row.message_params = (reasons[0][:64] if reasons else ""), {}
    row.details = details


def forwards(apps: Any, schema_editor: Any) -> None:
    Evidence = apps.get_model("moderation", "Evidence")
    batch = []
    for row in Evidence.objects.using(schema_editor.connection.alias).iterator(chunk_size=500):
        _convert(row)
        batch.append(row)
        if len(batch) >= 500:
            Evidence.objects.bulk_update(batch, ["message", "message_params", "details"])
            batch = []
    if batch:
        Evidence.objects.bulk_update(batch, ["message", "message_params", "details"])


class Migration(migrations.Migration):

    dependencies = [
        ("moderation", "0006_classifier_version"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="evidence", name="message",
            field=models.CharField(blank=True, max_length=64),
        ),
        migrations.AddField(
            model_name="evidence", name="message_params",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.RunPython(forwards, migrations.RunPython.noop),
        migrations.RemoveField(model_name="evidence", name="summary"),
        migrations.CreateModel(
            name="Notification",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True,
                                           serialize=False, verbose_name="ID")),
                ("kind", models.CharField(choices=[
                    ("held", "Held for review"), ("decided", "A moderator decided"),
                    ("appeal_decided", "Appeal decided")], max_length=16,
                    verbose_name="kind")),
                ("outcome", models.CharField(blank=True, max_length=32, verbose_name="outcome")),
                ("created_at", models.DateTimeField(auto_now_add=True, db_index=True,
                                                    verbose_name="created at")),
                ("read_at", models.DateTimeField(blank=True, null=True, verbose_name="read at")),
                ("case", models.ForeignKey(
                    blank=True, null=True, on_delete=django.db.models.deletion.CASCADE,
                    related_name="notifications", to="moderation.moderationcase",
                    verbose_name="case")),
                ("user", models.ForeignKey(
                    on_delete=django.db.models.deletion.CASCADE,
                    related_name="moderation_notifications", to=settings.AUTH_USER_MODEL,
                    verbose_name="user")),
            ],
            options={
                "verbose_name": "notification",
                "verbose_name_plural": "notifications",
                "ordering": ["-created_at", "-id"],
                "indexes": [models.Index(fields=["user", "read_at"],
                                         name="moderation_notice_unread")],
            },
        ),
    ]

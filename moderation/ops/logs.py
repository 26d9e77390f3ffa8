"""JSON log lines that carry the case being scanned.

``JsonFormatter`` writes one JSON object per record (time, level, logger, message,
exception, and ``case_id`` when known), which log shippers index without parsing rules.
The case id comes from a context variable set around every ``moderation.scan_case``
task by Celery's task signals, so every line a scan logs (pipeline, detectors, parsers)
names its case without each call site passing it along.
"""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from celery.signals import task_postrun, task_prerun

#: The case the current task is scanning, or None outside a scan.
current_case_id: ContextVar[int | None] = ContextVar("tegaki_case_id", default=None)

SCAN_TASK = "moderation.scan_case"


class CaseContextFilter(logging.Filter):
    """Adds ``case_id`` to every record (None outside a scan); never drops one."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "case_id"):
            record.case_id = current_case_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line; ``extra`` fields given to the logger are kept."""

    #: LogRecord attributes that are not user ``extra`` fields.
    RESERVED = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
        "message", "asctime", "case_id"}

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "case_id": getattr(record, "case_id", current_case_id.get()),
        }
        for key, value in record.__dict__.items():
            if key not in self.RESERVED and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def _case_from_task(task: Any, args: Any, kwargs: Any) -> int | None:
    if getattr(task, "name", "") != SCAN_TASK:
        return None
    value = (kwargs or {}).get("case_id", args[0] if args else None)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@task_prerun.connect(dispatch_uid="moderation.ops.logging.prerun", weak=False)
def _enter_case(sender: Any = None, task: Any = None, args: Any = None, kwargs: Any = None,
                **_: Any) -> None:
    current_case_id.set(_case_from_task(task or sender, args, kwargs))


@task_postrun.connect(dispatch_uid="moderation.ops.logging.postrun", weak=False)
def _leave_case(**_: Any) -> None:
    current_case_id.set(None)

"""``report.html``: the bundle's ``case.json`` as a printable document.

One self-contained file: the styles are inline, the preview is a ``data:`` URI and a
Content-Security-Policy meta tag forbids every other source, so the report opens the
same offline, from a mail attachment or years later, and never calls anywhere. A print
stylesheet lays it out for A4, so a browser's "Save as PDF" gives a clean document.

Every time is shown twice: ISO 8601 in UTC (what the JSON holds) and in the site's time
zone in the reader's language.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.formats import date_format

#: Keys whose values are ISO times in ``case.json``.
TIME_KEYS = frozenset({"at", "generated_at", "created_at", "scanned_at", "updated_at",
                       "decided_at", "submitted_at", "recorded_at", "revoked_at",
                       "lifted_at"})


@dataclass(frozen=True)
class Moment:
    """One time as the report prints it: ISO (UTC) and the site's local form."""

    iso: str
    local: str

    def __str__(self) -> str:
        return f"{self.iso} ({self.local})"


def moment(value: Any) -> Moment | Any:
    """``value`` (an ISO string from the JSON) as a :class:`Moment`; other values as is."""
    if not isinstance(value, str):
        return value
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, dt.UTC)
    local = timezone.localtime(parsed)
    iso = parsed.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    return Moment(iso, f"{date_format(local, 'DATETIME_FORMAT')} {local.tzname() or ''}".strip())


def with_moments(value: Any, key: str = "") -> Any:
    """A copy of the document with every time turned into a :class:`Moment`."""
    if isinstance(value, Mapping):
        return {k: with_moments(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [with_moments(v) for v in value]
    if key in TIME_KEYS:
        return moment(value)
    return value


def render_report(document: Mapping[str, Any], *, preview: bytes | None,
                  files: list[str]) -> str:
    """The HTML report of ``document`` in the active language."""
    doc = with_moments(document)
    preview_uri = ("data:image/jpeg;base64," + base64.b64encode(preview).decode("ascii")
                   if preview else "")
    return render_to_string("moderation/evidence/report.html", {
        "doc": doc, "preview_uri": preview_uri, "files": files,
        "moderator_copy": document["audience"] != "uploader",
        "withheld_rows": sum(1 for e in document["timeline"]["entries"] if e["withheld"]),
    })

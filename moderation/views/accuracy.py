"""The detector accuracy panel: confusion counts, precision, shadow agreement and charts."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import formats
from django.views.decorators.http import require_GET

from moderation.accuracy import bars, confusion_by_detector, daily_series
from moderation.views.common import moderator_required


@require_GET
@moderator_required
def accuracy_panel(request: HttpRequest) -> HttpResponse:
    series = daily_series(30)
    labels = [formats.date_format(d, "SHORT_DATE_FORMAT") for d in series.days]
    charts = [
        ("ai_share", bars([v * 100 for v in series.ai_share], labels, fmt="{:.0f}%")),
        ("queue", bars([float(v) for v in series.queue_size], labels)),
        ("decision", bars(series.hours_to_decision, labels, fmt="{:.1f} h")),
    ]
    return render(request, "moderation/accuracy.html", {
        "rows": confusion_by_detector(), "charts": charts,
    })

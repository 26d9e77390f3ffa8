"""The detector accuracy panel: confusion counts, precision, shadow agreement and charts."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import formats
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from moderation.accuracy import Bar, bars, confusion_by_detector, daily_series
from moderation.views.common import moderator_required

#: Plot area of every chart, in SVG units (the axes' labels sit outside it).
PLOT_WIDTH, PLOT_HEIGHT = 600, 140


@dataclass(frozen=True)
class Chart:
    """One bar chart with its axes: y ticks (value labels at heights) and x ticks (dates)."""

    key: str
    title: str
    unit: str
    bars: list[Bar]
    y_ticks: list[tuple[float, str]]
    x_ticks: list[tuple[float, str]]


def chart(key: str, title: str, unit: str, values: list[float], labels: list[str],
          fmt: str) -> Chart:
    drawn = bars(values, labels, width=PLOT_WIDTH, height=PLOT_HEIGHT, fmt=fmt)
    top = max(values, default=0.0) or 1.0
    usable = PLOT_HEIGHT - 20  # bars() leaves 20 units of headroom
    y_ticks = [(round(PLOT_HEIGHT - usable * f, 2), fmt.format(top * f)) for f in (0, .5, 1)]
    picks = sorted({0, len(drawn) // 2, len(drawn) - 1}) if drawn else []
    x_ticks = [(round(drawn[i].x + drawn[i].width / 2, 2), drawn[i].label) for i in picks]
    return Chart(key, str(title), str(unit), drawn, y_ticks, x_ticks)


@require_GET
@moderator_required
def accuracy_panel(request: HttpRequest) -> HttpResponse:
    series = daily_series(30)
    labels = [formats.date_format(d, "SHORT_DATE_FORMAT") for d in series.days]
    charts = [
        chart("ai_share", _("Share of new uploads labelled AI, per day"), _("percent"),
              [v * 100 for v in series.ai_share], labels, "{:.0f}%"),
        chart("queue", _("Cases waiting for review at the end of each day"), _("cases"),
              [float(v) for v in series.queue_size], labels, "{:.0f}"),
        chart("decision", _("Median hours from upload to decision, per day"), _("hours"),
              list(series.hours_to_decision), labels, "{:.1f} h"),
    ]
    return render(request, "moderation/accuracy.html", {
        "rows": confusion_by_detector(), "charts": charts,
    })

"""``?ai=exclude|include|only`` for host list views and APIs.

* :class:`AIFilterSet` -- a django-filter ``FilterSet`` to subclass (or mix into yours).
* :class:`AIFilterBackend` -- a DRF filter backend; also the visibility gate of API
  detail views (held and hidden works 404 for everyone but uploader and moderators).

Without ``?ai=`` the viewer's saved preference (or the site default) applies.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import ValidationError
from rest_framework.filters import BaseFilterBackend

from moderation.constants import AIFilter
from moderation.feeds.queries import for_viewer
from moderation.visibility import visible_to

AI_PARAM = "ai"


class AIFilterSet(django_filters.FilterSet):
    """Subclass with ``class Meta: model = Artwork; fields = [...]``.

    The ``ai`` filter always applies -- with the viewer's preference when the parameter
    is absent -- so a FilterSet-based list never shows held or hidden works.
    """

    ai = django_filters.ChoiceFilter(choices=AIFilter.choices, method="filter_ai",
                                     label=_("AI works"), empty_label=None)

    def filter_ai(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        return queryset  # applied in filter_queryset so it also runs when absent

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        queryset = super().filter_queryset(queryset)
        user = getattr(self.request, "user", None)
        return for_viewer(queryset, user, ai=self.form.cleaned_data.get(AI_PARAM) or None)


class AIFilterBackend(BaseFilterBackend):
    """Feeds for list actions, visibility for everything else (retrieve, update...)."""

    def filter_queryset(self, request: Any, queryset: QuerySet[Any], view: Any
                        ) -> QuerySet[Any]:
        lookup = getattr(view, "lookup_url_kwarg", None) or getattr(view, "lookup_field", "pk")
        if lookup in (getattr(view, "kwargs", None) or {}):
            return visible_to(queryset, request.user)
        ai = request.query_params.get(AI_PARAM) or None
        if ai is not None and ai not in AIFilter.values:
            raise ValidationError({AI_PARAM: [_("Choose one of: %(choices)s.")
                                               % {"choices": ", ".join(AIFilter.values)}]})
        return for_viewer(queryset, request.user, ai=ai)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [{
            "name": AI_PARAM, "required": False, "in": "query",
            "description": str(_("AI works: exclude (hide), include (show all) or only.")),
            "schema": {"type": "string", "enum": list(AIFilter.values)},
        }]

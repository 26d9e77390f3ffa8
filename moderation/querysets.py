"""Query helpers for rows that point at a host object by (content type, object id as text).

Cases, per-work training overrides and crawler hits all key a host object that way, so
the content type lookup and the primary-key-as-text expression live here, below the
models, where every layer above can share them.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import CharField, Value
from django.db.models.functions import Cast, Concat, Substr
from django.utils import timezone

from moderation.constants import ProcessingState


def content_type_for(model: type[models.Model]) -> ContentType:
    """The content type rows about ``model`` are filed under (proxy models keep their own)."""
    return ContentType.objects.get_for_model(model, for_concrete_model=False)


class PkAsText(models.Func):
    """The outer row's primary key spelled as an ``object_id`` column stores it.

    ``object_id`` holds ``str(pk)``. For integers a cast to text matches. A UUID cast to
    text matches on databases with a native uuid type (PostgreSQL prints the hyphenated
    form), but SQLite and MySQL store ``uuid.hex`` (32 hex digits), so there the hyphens
    are put back with ``substr``. Comparing this way keeps ``object_id``'s index usable;
    stripping hyphens from ``object_id`` instead would not.
    """

    output_field = CharField()

    def __init__(self, expression: Any, *, is_uuid: bool = False) -> None:
        cast = Cast(expression, output_field=CharField())
        if not is_uuid:
            super().__init__(cast)
            return
        pieces: list[Any] = []
        for start, length in ((1, 8), (9, 4), (13, 4), (17, 4), (21, 12)):
            if pieces:
                pieces.append(Value("-"))
            pieces.append(Substr(cast, start, length))
        super().__init__(cast, Concat(*pieces, output_field=CharField()))

    def as_sql(self, compiler: Any, connection: Any, function: Any = None,
               template: Any = None, arg_joiner: Any = None, **extra_context: Any) -> Any:
        sources = self.get_source_expressions()
        if len(sources) == 2 and not connection.features.has_native_uuid_field:
            return compiler.compile(sources[1])
        return compiler.compile(sources[0])


class CaseQuerySet(models.QuerySet):
    def for_instance(self, instance: models.Model) -> CaseQuerySet:
        return self.filter(content_type=content_type_for(type(instance)),
                           object_id=str(instance.pk))

    def pending(self) -> CaseQuerySet:
        return self.filter(state__in=[ProcessingState.PENDING, ProcessingState.RUNNING])

    def stuck(self, older_than_seconds: int) -> CaseQuerySet:
        """Cases not terminal whose last write is older than ``older_than_seconds``."""
        cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
        return self.pending().filter(updated_at__lt=cutoff)

    def needs_review(self) -> CaseQuerySet:
        return self.filter(needs_review=True).order_by("-review_priority", "created_at")

"""Keyset (cursor) paging for feeds: a page continues *after the last row shown*, not
after ``N`` rows.

An offset (``?start=10000``) makes the database walk and discard every earlier row on
each request, and it shifts as works arrive (a work posted between two requests pushes
one row from page 1 onto page 2, which then shows it twice). A keyset cursor holds the
ordering values of the last row read -- ``(created_at, id)`` for ``-created_at, -id`` --
and the next page asks for rows strictly after them, which an index on the ordering
answers by seeking, at the same cost on page 1 and page 10,000.

The cursor is opaque to viewers: signed JSON (``django.core.signing``), so a tampered or
truncated link is refused (:class:`InvalidCursor`) rather than turned into a query.
It also carries the feed's open bursts (owner, newest work's time, burst id when the
works have one) and open variation sets (their key prefixed with ``v:`` in the owner's
place, no burst id) so the next page folds the rest of a burst or set that straddles
the page boundary into the tile the previous page showed, instead of opening a second
tile for it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any

from django.core import signing
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q, QuerySet
from django.utils.dateparse import parse_datetime

SALT = "moderation.feeds.cursor"


class InvalidCursor(ValueError):
    """A cursor that was not made by :func:`encode` (tampered, truncated, other site)."""


class UnsupportedOrdering(ValueError):
    """The queryset is ordered by something a keyset cannot follow (an expression, a
    related field, a nullable field...)."""


@dataclass(frozen=True)
class Key:
    """One ordering column: the model field and whether it sorts descending."""

    name: str
    field: models.Field[Any, Any]
    descending: bool


@dataclass
class Cursor:
    """Where a page stopped: the last row's ordering values and the open bursts."""

    values: list[Any]
    #: (owner id as text, anchor time, burst id or None) of tiles the next page may
    #: still fold into.
    bursts: list[tuple[str, datetime, int | None]] = field(default_factory=list)


def ordering_keys(qs: QuerySet[Any]) -> list[Key]:
    """The queryset's ordering as keyset columns, ending in the primary key.

    The primary key is appended (in the last column's direction) when the ordering does
    not already end in it, so two works uploaded in the same microsecond still have a
    strict order and no page skips or repeats either of them.
    """
    opts = qs.model._meta
    names: list[Any] = list(qs.query.order_by)
    if not names and qs.query.default_ordering:
        names = list(opts.ordering or [])
    if not names:
        names = ["-pk"]
    keys: list[Key] = []
    for raw in names:
        if not isinstance(raw, str):
            raise UnsupportedOrdering(
                f"feed ordering {raw!r} is an expression; order by model fields")
        descending = raw.startswith("-")
        name = raw.lstrip("-+")
        if "__" in name or name == "?":
            raise UnsupportedOrdering(
                f"feed ordering {raw!r}: order by the model's own fields")
        model_field = opts.pk if name == "pk" else opts.get_field(name)
        if not isinstance(model_field, models.Field) or model_field.null:
            raise UnsupportedOrdering(
                f"feed ordering {raw!r}: the field must be a non-null column")
        keys.append(Key(model_field.attname if name != "pk" else "pk", model_field,
                        descending))
        if model_field.primary_key:
            break  # unique from here on: later columns never decide anything
    if not keys[-1].field.primary_key:
        keys.append(Key("pk", opts.pk, keys[-1].descending))
    return keys


def order(qs: QuerySet[Any], keys: list[Key]) -> QuerySet[Any]:
    return qs.order_by(*[("-" if k.descending else "") + k.name for k in keys])


def after(keys: list[Key], values: list[Any]) -> Q:
    """Rows strictly after ``values`` in the ordering ``keys``.

    ``(a < x) OR (a = x AND b < y) ...``, with ``a <= x`` added in front: the
    redundant bound on the leading column is what lets the database turn the condition
    into an index range instead of filtering every row.
    """
    condition = Q()
    for i, key in enumerate(keys):
        op = "lt" if key.descending else "gt"
        term = Q(**{f"{key.name}__{op}": values[i]})
        for prev, value in zip(keys[:i], values[:i], strict=True):
            term &= Q(**{prev.name: value})
        condition |= term
    lead = keys[0]
    return Q(**{f"{lead.name}__{'lte' if lead.descending else 'gte'}": values[0]}) & condition


def row_values(obj: Any, keys: list[Key]) -> list[Any]:
    return [obj.pk if k.name == "pk" else getattr(obj, k.name) for k in keys]


def _exact(value: Any) -> Any:
    # DjangoJSONEncoder cuts datetimes to milliseconds: a row 300 microseconds after the
    # last one shown would fall between two pages. isoformat() keeps every digit.
    return value.isoformat() if isinstance(value, datetime | time) else value


def encode(cursor: Cursor) -> str:
    payload = {"k": [_exact(v) for v in cursor.values],
               "b": [[owner, _exact(when)] if burst is None
                     else [owner, _exact(when), burst]
                     for owner, when, burst in cursor.bursts]}
    return signing.dumps(json.loads(json.dumps(payload, cls=DjangoJSONEncoder)),
                         salt=SALT, compress=True)


def decode(token: str, keys: list[Key]) -> Cursor:
    """Parse ``token`` for a feed ordered by ``keys``; :class:`InvalidCursor` if bad."""
    try:
        payload = signing.loads(token, salt=SALT)
        raw_values = payload["k"]
        if not isinstance(raw_values, list) or len(raw_values) != len(keys):
            raise InvalidCursor("the cursor belongs to a feed with another ordering")
        values = [key.field.to_python(value) for key, value in
                  zip(keys, raw_values, strict=True)]
        bursts: list[tuple[str, datetime, int | None]] = []
        for entry in payload.get("b", []):
            # Two items in cursors made before write-time burst ids, three after.
            owner, when, *rest = entry
            parsed = parse_datetime(str(when))
            if parsed is None or len(rest) > 1:
                raise InvalidCursor("bad burst")
            bursts.append((str(owner), parsed, int(rest[0]) if rest else None))
    except (signing.BadSignature, KeyError, TypeError, ValueError, ValidationError) as exc:
        if isinstance(exc, InvalidCursor):
            raise
        raise InvalidCursor(str(exc)) from exc
    return Cursor(values=values, bursts=bursts)

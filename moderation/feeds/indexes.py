"""Does the database have an index for a model's feed ordering?

Every feed page reads the newest rows by the host model's ordering (``Meta.ordering``,
``-pk`` when it has none) and continues after the previous page's last row. With an
index whose columns start with that ordering the database seeks to the position and
reads a page's worth of rows; without one it reads and sorts the whole table for every
page, so a page's cost grows with the site (236 ms at 1M works against 9 ms with the
index, measured with ``make bench-feeds``). ``manage.py check`` runs
:func:`missing_feed_index` for every registered model (``moderation.W040``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.db import models

from moderation.feeds.cursor import Key, UnsupportedOrdering, ordering_keys


@dataclass(frozen=True)
class MissingIndex:
    message: str
    hint: str


def _column(model: type[models.Model], name: str) -> str:
    field = model._meta.get_field(name)
    return str(getattr(field, "column", name))


def _index_columns(model: type[models.Model]) -> list[list[tuple[str, bool]]]:
    """Every btree-usable index of ``model`` as [(column, descending)] lists."""
    opts = model._meta
    found: list[list[tuple[str, bool]]] = []
    for index in opts.indexes:
        if index.condition is not None or not index.fields or index.expressions:
            continue  # a partial or expression index does not order the whole table
        found.append([(_column(model, f.lstrip("-")), f.startswith("-"))
                      for f in index.fields])
    for constraint in opts.constraints:
        if (isinstance(constraint, models.UniqueConstraint) and constraint.fields
                and constraint.condition is None):
            found.append([(_column(model, f), False) for f in constraint.fields])
    for fields in opts.unique_together:
        found.append([(_column(model, f), False) for f in fields])
    for field in opts.concrete_fields:
        if field.primary_key or field.unique or getattr(field, "db_index", False):
            found.append([(str(field.column), False)])
    return found


def _supports(index: list[tuple[str, bool]], keys: list[Key]) -> bool:
    """An index serves the ordering if the ordering's columns are its leading columns,
    in the same directions or all reversed (a btree is read backwards just as well).
    A unique leading column decides the order alone, so the primary key appended as
    tie-breaker need not be in the index then."""
    wanted = [(k.field.column, k.descending) for k in keys]
    if len(keys) > 1 and keys[-1].field.primary_key and any(
            k.field.unique for k in keys[:-1]):
        wanted = wanted[:-1]
    if len(index) < len(wanted):
        return False
    head = index[:len(wanted)]
    if [c for c, _d in head] != [c for c, _d in wanted]:
        return False
    same = [d == w for (_c, d), (_c2, w) in zip(head, wanted, strict=True)]
    return all(same) or not any(same)


def missing_feed_index(model: type[models.Model]) -> MissingIndex | None:
    """None when ``model``'s feed ordering has a supporting index, else what to add."""
    ordering: list[Any] = list(model._meta.ordering or []) or ["-pk"]
    label = model._meta.label
    try:
        keys = ordering_keys(model._default_manager.order_by(*ordering))
    except UnsupportedOrdering as exc:
        return MissingIndex(
            f"{label}: feeds cannot page by Meta.ordering {ordering!r} ({exc}).",
            "Order the model by its own non-null fields, ending in the primary key, "
            'e.g. ordering = ["-created_at", "-id"].')
    if any(_supports(index, keys) for index in _index_columns(model)):
        return None
    pk_name = model._meta.pk.name
    fields = [("-" if k.descending else "") + (pk_name if k.name == "pk" else k.field.name)
              for k in keys]
    name = f"{model._meta.app_label}_{model._meta.model_name}"[:25] + "_feed"
    line = f"indexes = [models.Index(fields={json.dumps(fields)}, name={json.dumps(name)})]"
    return MissingIndex(
        f"{label}: no index supports the feed ordering {json.dumps(fields)}; every feed page, RSS "
        "feed and API list page reads and sorts the whole table.",
        f"Add to {model.__name__}.Meta: {line} (merge it into an existing indexes list), "
        "then run makemigrations and migrate.")

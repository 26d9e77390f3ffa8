"""Who reserved AI training for a work: the work itself, its creator, or the site default.

The most specific choice wins: a per-work override, then the creator's setting, then
``MODERATION["TRAINING_RESERVED_BY_DEFAULT"]``. "default" at any level defers upwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import models
from django.db.models import Exists, OuterRef, Q, QuerySet

from moderation.conf import moderation_settings
from moderation.constants import TrainingChoice
from moderation.models import CreatorSettings, WorkTrainingOverride
from moderation.querysets import PkAsText, content_type_for
from moderation.registry import registry

SOURCE_WORK = "work"
SOURCE_CREATOR = "creator"
SOURCE_SITE = "site"


@dataclass(frozen=True)
class Reservation:
    """A work's effective training reservation and the level that decided it."""

    reserved: bool
    source: str

    @property
    def explicit(self) -> bool:
        """True when a creator or the work chose, rather than the site default."""
        return self.source != SOURCE_SITE


def site_reserved() -> bool:
    """The operator's default: does a work nobody chose for reserve AI training?"""
    return bool(moderation_settings.TRAINING_RESERVED_BY_DEFAULT)


def site_reservation() -> Reservation:
    return Reservation(site_reserved(), SOURCE_SITE)


def owner_id_of(obj: models.Model) -> Any:
    """The creator's user id, read from the registered ``owner_field`` without a query."""
    options = registry.get_options(type(obj))
    field = type(obj)._meta.get_field(options.owner_field)
    if getattr(field, "is_relation", False):
        return getattr(obj, field.attname, None)  # type: ignore[union-attr]
    return None


def _decide(work: str | None, creator: str | None) -> Reservation:
    if work in (TrainingChoice.RESERVE, TrainingChoice.ALLOW):
        return Reservation(work == TrainingChoice.RESERVE, SOURCE_WORK)
    if creator in (TrainingChoice.RESERVE, TrainingChoice.ALLOW):
        return Reservation(creator == TrainingChoice.RESERVE, SOURCE_CREATOR)
    return site_reservation()


def work_choice(obj: models.Model) -> str | None:
    """The work's own choice (a :class:`TrainingChoice` value), None if never set."""
    return WorkTrainingOverride.objects.filter(
        content_type=content_type_for(type(obj)), object_id=str(obj.pk),
    ).values_list("training", flat=True).first()


def creator_choice(user_id: Any) -> str | None:
    """The creator's choice for all their works, None if never set."""
    if user_id is None:
        return None
    return CreatorSettings.objects.filter(user_id=user_id).values_list(
        "training", flat=True).first()


def resolve(obj: models.Model) -> Reservation:
    """The effective reservation of one registered work (two small queries)."""
    return _decide(work_choice(obj), creator_choice(owner_id_of(obj)))


def resolve_many(objs: list[models.Model]) -> dict[tuple[type[models.Model], str], Reservation]:
    """Reservations of many works with one query per model plus one for creators.

    Keyed by ``(model class, str(pk))`` so listings mixing models work.
    """
    by_model: dict[type[models.Model], list[models.Model]] = {}
    for obj in objs:
        by_model.setdefault(type(obj), []).append(obj)
    owner_ids = {oid for obj in objs if (oid := owner_id_of(obj)) is not None}
    creators = dict(CreatorSettings.objects.filter(user_id__in=owner_ids)
                    .values_list("user_id", "training"))
    result: dict[tuple[type[models.Model], str], Reservation] = {}
    for model, items in by_model.items():
        overrides = dict(WorkTrainingOverride.objects.filter(
            content_type=content_type_for(model), object_id__in=[str(o.pk) for o in items],
        ).values_list("object_id", "training"))
        for obj in items:
            key = str(obj.pk)
            result[(model, key)] = _decide(overrides.get(key), creators.get(owner_id_of(obj)))
    return result


def filter_by_reservation(qs: QuerySet[Any], *, reserved: bool) -> QuerySet[Any]:
    """Works of a registered model whose effective reservation is ``reserved``, in SQL.

    Used by robots.txt, ai.txt and tdmrep.json to list the exceptions to the site default.
    """
    model = qs.model
    options = registry.get_options(model)
    is_uuid = isinstance(model._meta.pk, models.UUIDField)
    overrides = WorkTrainingOverride.objects.filter(
        content_type=content_type_for(model), object_id=PkAsText(OuterRef("pk"),
                                                                 is_uuid=is_uuid))
    owner_attname = model._meta.get_field(options.owner_field).attname
    creators = CreatorSettings.objects.filter(user_id=OuterRef(owner_attname))
    work_reserve = Q(Exists(overrides.filter(training=TrainingChoice.RESERVE)))
    work_allow = Q(Exists(overrides.filter(training=TrainingChoice.ALLOW)))
    creator_reserve = Q(Exists(creators.filter(training=TrainingChoice.RESERVE)))
    creator_allow = Q(Exists(creators.filter(training=TrainingChoice.ALLOW)))
    work_chose = work_reserve | work_allow
    creator_chose = creator_reserve | creator_allow
    if reserved:
        condition = work_reserve | (~work_chose & creator_reserve)
        if site_reserved():
            condition |= ~work_chose & ~creator_chose
    else:
        condition = work_allow | (~work_chose & creator_allow)
        if not site_reserved():
            condition |= ~work_chose & ~creator_chose
    return qs.filter(condition)


def set_creator_training(user: Any, choice: str) -> CreatorSettings:
    """Save a creator's choice (one of :class:`TrainingChoice`)."""
    TrainingChoice(choice)
    obj, _created = CreatorSettings.objects.update_or_create(user=user,
                                                             defaults={"training": choice})
    return obj


def set_work_training(obj: models.Model, choice: str) -> WorkTrainingOverride:
    """Save a per-work override (one of :class:`TrainingChoice`)."""
    TrainingChoice(choice)
    row, _created = WorkTrainingOverride.objects.update_or_create(
        content_type=content_type_for(type(obj)), object_id=str(obj.pk),
        defaults={"training": choice},
    )
    return row

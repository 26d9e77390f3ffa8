"""The one place tests build users, uploads and cases.

Every builder goes through the host model (``tests.testapp.models.Artwork``), so the
case is opened by the app's own receivers exactly as on a real site; the builders then
only move the case to the state a test needs. Fast bulk rows for feed tests are the one
exception, and say so.
"""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.core.files.base import ContentFile
from django.db import models
from django.utils import timezone
from PIL import Image

from moderation.constants import Declaration, Label, ProcessingState, Route
from moderation.models import Evidence, ModerationCase
from tests.testapp.models import Artwork

#: The label a finished case carries on each route, unless a test says otherwise.
ROUTE_LABEL: dict[str, str] = {Route.MAIN: Label.HUMAN, Route.AI_FEED: Label.AI,
                               Route.HELD: Label.UNCERTAIN, Route.HIDDEN: Label.AI}


def png_bytes(size: tuple[int, int] = (64, 48), color: tuple[int, int, int] = (200, 120, 40),
              **save_kwargs: object) -> bytes:
    """A small solid PNG; ``save_kwargs`` go to Pillow (e.g. ``pnginfo``)."""
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG", **save_kwargs)
    return buf.getvalue()


def moderators_group() -> Group:
    """The "moderators" group with the two permissions the role needs."""
    group, _ = Group.objects.get_or_create(name="moderators")
    perms = Permission.objects.filter(content_type__app_label="moderation",
                                      codename__in=["review_case", "view_private_evidence"])
    group.permissions.set(perms)
    return group


def make_user(name: str, *, moderator: bool = False, staff: bool = False,
              superuser: bool = False) -> Any:
    """A user whose password is ``pw-<name>-123``."""
    model = get_user_model()
    if superuser:
        return model.objects.create_superuser(name, f"{name}@example.com", f"pw-{name}-123")
    user = model.objects.create_user(name, f"{name}@example.com", f"pw-{name}-123",
                                     is_staff=staff)
    if moderator:
        user.groups.add(moderators_group())
    return user


def upload(owner: Any, data: bytes | None = None, *, name: str = "w.png",
           model: type[models.Model] = Artwork, **fields: Any) -> Any:
    """Save a host object with an image file, as an upload form would (opens its case)."""
    work = model(owner=owner, **fields)
    work.image.save(name, ContentFile(data or png_bytes()), save=False)  # type: ignore[attr-defined]
    work.save()
    return work


def case_of(work: models.Model) -> ModerationCase:
    return ModerationCase.objects.for_instance(work).get()


def finish(work: models.Model, **case_fields: Any) -> ModerationCase:
    """Move ``work``'s case to a finished scan with ``case_fields`` (without running one)."""
    ModerationCase.objects.for_instance(work).update(
        **{"state": ProcessingState.DONE, **case_fields})
    return case_of(work)


def make_work(owner: Any, route: str = Route.MAIN, *, tool: str = "", label: str | None = None,
              age: timedelta | None = None, image: bytes | None = None,
              **case_fields: Any) -> Artwork:
    """A published (or held/hidden) work as viewers meet it: a real file, a finished case."""
    work = upload(owner, image, tool=tool,
                  declaration="ai" if route == Route.AI_FEED else "none")
    fields: dict[str, Any] = {"route": route, "label": label or ROUTE_LABEL[route],
                              **case_fields}
    if age is not None:
        fields["created_at"] = timezone.now() - age
    finish(work, **fields)
    return work


def make_works_fast(owner: Any, n: int, route: str, *, start: Any, step: timedelta,
                    tool: str = "") -> list[Artwork]:
    """``n`` works without files, newest first from ``start``.

    Bulk rows skip the receivers (no case would be opened), so the cases are bulk-created
    here too: only for feed tests that need hundreds of rows and never read the files.
    """
    works = Artwork.objects.bulk_create(
        [Artwork(owner=owner, tool=tool, image=f"art/bulk-{i}.png",
                 declaration="ai" if route == Route.AI_FEED else "none") for i in range(n)])
    ct = ContentType.objects.get_for_model(Artwork, for_concrete_model=False)
    ModerationCase.objects.bulk_create([
        ModerationCase(content_type=ct, object_id=str(w.pk), owner=owner, route=route,
                       label=ROUTE_LABEL[route], state=ProcessingState.DONE)
        for w in works])
    for i, w in enumerate(works):
        ModerationCase.objects.for_instance(w).update(created_at=start + step * i)
    return works


def make_case(owner: Any, *, declaration: str = Declaration.NONE, label: str = Label.UNCERTAIN,
              route: str = Route.HELD, state: str = ProcessingState.DONE,
              needs_review: bool = True, priority: int = 400, undisclosed: bool = False,
              score: float | None = 0.9, evidence: bool = True) -> ModerationCase:
    """A case as moderators meet it: held for review, with provenance and classifier rows."""
    work = upload(owner, declaration=declaration)
    finish(work, state=state, label=label, route=route, needs_review=needs_review,
           review_priority=priority, undisclosed_ai=undisclosed, ai_score=score,
           content_sha256="a" * 64)
    case = case_of(work)
    if evidence:
        Evidence.objects.create(
            case=case, detector="provenance", detector_version="1", content_sha256="a" * 64,
            label="ai", strength="strong", message="a1111_parameters",
            message_params={"app": "Stable Diffusion"},
            generator="Stable Diffusion", model_name="sdxl_base", details={"sampler": "Euler a"},
            private={"prompt": "secret prompt text"})
        Evidence.objects.create(
            case=case, detector="classifier", detector_version="2", content_sha256="a" * 64,
            label="ai", strength="weak", score=score, message="classifier_score",
            message_params={"score": f"{score:.2f}", "threshold": "0.50", "one_in": "100"})
    case.refresh_from_db()
    return case

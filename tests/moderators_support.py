"""Helpers shared by the moderator test modules: users with roles and finished cases."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group, Permission
from django.core.files.uploadedfile import SimpleUploadedFile

from moderation.constants import Declaration, Label, ProcessingState, Route
from moderation.models import Evidence, ModerationCase
from tests.conftest import png_bytes
from tests.testapp.models import Artwork


def moderators_group() -> Group:
    group, _ = Group.objects.get_or_create(name="moderators")
    perms = Permission.objects.filter(content_type__app_label="moderation",
                                      codename__in=["review_case", "view_private_evidence"])
    group.permissions.set(perms)
    return group


def make_user(name: str, *, moderator: bool = False, staff: bool = False,
              superuser: bool = False) -> Any:
    from django.contrib.auth import get_user_model

    model = get_user_model()
    if superuser:
        return model.objects.create_superuser(name, f"{name}@example.com", f"pw-{name}-123")
    user = model.objects.create_user(name, f"{name}@example.com", f"pw-{name}-123",
                                     is_staff=staff)
    if moderator:
        user.groups.add(moderators_group())
    return user


def make_case(owner: Any, *, declaration: str = Declaration.NONE, label: str = Label.UNCERTAIN,
              route: str = Route.HELD, state: str = ProcessingState.DONE,
              needs_review: bool = True, priority: int = 400, undisclosed: bool = False,
              score: float | None = 0.9, evidence: bool = True) -> ModerationCase:
    """Upload a work through the host model (opening its case), then finish the case."""
    art = Artwork.objects.create(
        owner=owner, declaration=declaration,
        image=SimpleUploadedFile("w.png", png_bytes(), content_type="image/png"))
    case = ModerationCase.objects.for_instance(art).get()
    ModerationCase.objects.filter(pk=case.pk).update(
        state=state, label=label, route=route, needs_review=needs_review,
        review_priority=priority, undisclosed_ai=undisclosed, ai_score=score,
        content_sha256="a" * 64)
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

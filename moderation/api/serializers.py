"""Serializers with explicit field lists (never ``__all__``/``exclude``).

Uploaders get :class:`OwnerCaseSerializer` and :class:`OwnerEvidenceSerializer`: every
field read-only, no prompts, no shadow detectors. Verdicts change only through the
moderator-only action endpoints, never by writing a serializer (mass assignment).
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from moderation.constants import DetectorMode, Label, Route
from moderation.labels import evidence_text, finding_text
from moderation.models import Appeal, AppealFile, AppealStatus, Evidence, ModerationCase
from moderation.permissions import can_appeal
from moderation.reasons import get_reason

CASE_VERDICT_FIELDS = ("label", "route", "generator", "model_name", "loras", "reasons",
                       "reason_details")


class ReasonSerializer(serializers.Serializer):
    """One reason code with its text (in the request's language) and queue category."""

    code = serializers.CharField(read_only=True)
    text = serializers.CharField(read_only=True)
    category = serializers.CharField(read_only=True)

    def to_representation(self, instance: Any) -> dict[str, str]:
        reason = get_reason(str(instance))
        return {"code": reason.code, "text": str(reason.text), "category": reason.category}


class ReasonDetailsMixin(serializers.Serializer):
    """``reason_details``: the case's ``reasons`` read through the reason table."""

    reason_details = ReasonSerializer(source="reasons", many=True, read_only=True)
#: Labels a moderator can set (no "uncertain"); named in moderation.api.schema.ENUM_NAME_OVERRIDES.
DECISION_LABEL_CHOICES = [(v, lbl) for v, lbl in Label.choices if v != Label.UNCERTAIN]


class CaseSerializer(ReasonDetailsMixin, serializers.ModelSerializer):
    """What moderators see about a case."""

    content_type = serializers.CharField(source="content_type.model", read_only=True)
    owner_name = serializers.SerializerMethodField()
    claimed_by_name = serializers.SerializerMethodField()
    open_appeal = serializers.SerializerMethodField()

    class Meta:
        model = ModerationCase
        fields: tuple[str, ...] = (
            "id", "content_type", "object_id", "owner", "owner_name", "file_name", "state",
            "rejection_reason", "declaration", "declared_tool", *CASE_VERDICT_FIELDS,
            "ai_score", "needs_review", "review_priority", "undisclosed_ai", "claimed_by",
            "claimed_by_name", "claimed_at", "decided_by", "decided_at", "created_at",
            "scanned_at", "open_appeal")
        read_only_fields = fields

    def get_owner_name(self, obj: ModerationCase) -> str:
        return obj.owner.get_username() if obj.owner else ""

    def get_claimed_by_name(self, obj: ModerationCase) -> str:
        return obj.claimed_by.get_username() if obj.claimed_by else ""

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_open_appeal(self, obj: ModerationCase) -> int | None:
        appeal = obj.appeals.filter(status=AppealStatus.OPEN).only("pk").first()
        return appeal.pk if appeal else None


class OwnerCaseSerializer(ReasonDetailsMixin, serializers.ModelSerializer):
    """What an uploader sees about their own work: the label, why, and whether to appeal."""

    can_appeal = serializers.SerializerMethodField()

    class Meta:
        model = ModerationCase
        fields = ("id", "object_id", "state", "rejection_reason", "declaration",
                  "declared_tool", *CASE_VERDICT_FIELDS, "decided_at", "created_at",
                  "scanned_at", "can_appeal")
        read_only_fields = fields

    def get_can_appeal(self, obj: ModerationCase) -> bool:
        return can_appeal(self.context["request"].user, obj)


class EvidenceSummaryMixin(serializers.Serializer):
    """``summary``: the stored message code rendered in the request's language."""

    summary = serializers.SerializerMethodField(
        help_text=_("One line on what the detector found, in the request's language."))

    def get_summary(self, obj: Evidence) -> str:
        return evidence_text(obj)


class EvidenceSerializer(EvidenceSummaryMixin, serializers.ModelSerializer):
    """Evidence for moderators; ``private`` (prompts) only in the subclass below.

    ``message``/``message_params`` are the stored code; ``summary`` and each finding's
    ``text`` in ``details`` are rendered for the request's language.
    """

    class Meta:
        model = Evidence
        fields: tuple[str, ...] = (
            "id", "detector", "detector_version", "mode", "label", "score", "strength",
            "message", "message_params", "summary", "generator", "model_name", "loras",
            "reasons", "details", "error", "elapsed_ms", "created_at")
        read_only_fields = fields

    def to_representation(self, instance: Evidence) -> dict[str, Any]:
        data = super().to_representation(instance)
        details = data.get("details")
        if isinstance(details, dict) and isinstance(details.get("findings"), list):
            details["findings"] = [
                {**f, "text": finding_text(f)} if isinstance(f, dict) else f
                for f in details["findings"]]
        return data


class PrivateEvidenceSerializer(EvidenceSerializer):
    """For the moderator assigned to the case: includes prompts and raw workflow."""

    class Meta(EvidenceSerializer.Meta):
        fields: tuple[str, ...] = (*EvidenceSerializer.Meta.fields, "private")
        read_only_fields = fields


class OwnerEvidenceSerializer(EvidenceSummaryMixin, serializers.ModelSerializer):
    """The uploader's view of why: detector, conclusion and its one-line summary only."""

    class Meta:
        model = Evidence
        fields = ("detector", "label", "strength", "summary", "generator")
        read_only_fields = fields


class AuditSerializer(serializers.Serializer):
    """One audit row (read-only; the log has no update route)."""

    id = serializers.IntegerField(read_only=True)
    action = serializers.CharField(read_only=True)
    actor = serializers.SerializerMethodField()
    before = serializers.JSONField(read_only=True)
    after = serializers.JSONField(read_only=True)
    note = serializers.CharField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)

    def get_actor(self, obj: Any) -> str:
        return obj.actor.get_username() if obj.actor_id and obj.actor else ""


class DecideLabelSerializer(serializers.Serializer):
    """The ``label`` that picks the verdict action; the action's form checks the rest."""

    label = serializers.ChoiceField(choices=DECISION_LABEL_CHOICES)


class DecideSerializer(DecideLabelSerializer):
    """``POST …/decide/``: documents the parameters of the three verdict actions."""

    tool = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")
    strike = serializers.BooleanField(required=False, default=True,
                                      help_text=_("Record a strike when the work was "
                                                  "declared hand-made (default true)."))
    note = serializers.CharField(required=False, allow_blank=True, max_length=5000,
                                 default="")


class NoteSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=5000)


class OptionalNoteSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=5000,
                                 default="")


class RouteSerializer(OptionalNoteSerializer):
    route = serializers.ChoiceField(choices=Route.choices)


class AppealFileSerializer(serializers.ModelSerializer):
    class Meta:
        model = AppealFile
        fields = ("id", "kind", "original_name", "size", "created_at")
        read_only_fields = fields


class AppealFileUploadSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=AppealFile.Kind.choices)
    file = serializers.FileField()


class AppealSerializer(serializers.ModelSerializer):
    """Appeals; the uploader writes ``case`` (on create) and ``message`` only.

    Any other field in a write is refused with a 400 that names it (a silent 200 would
    tell the uploader their change was taken). "One open appeal per case" is the appeal
    action's rule, answered with its own translated 409, not DRF's generic uniqueness
    message.
    """

    files = AppealFileSerializer(many=True, read_only=True)
    case = serializers.PrimaryKeyRelatedField(queryset=ModerationCase.objects.none())

    class Meta:
        model = Appeal
        fields = ("id", "case", "user", "message", "status", "decided_at", "decision_note",
                  "created_at", "files")
        read_only_fields = ("id", "user", "status", "decided_at", "decision_note",
                            "created_at", "files")
        validators: list[Any] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        case_field = self.fields["case"]
        if self.instance is not None:
            case_field.read_only = True  # an appeal never moves to another case
        elif request is not None and request.user.is_authenticated:
            # Scoped: someone else's case id is "does not exist", not "forbidden".
            case_field.queryset = ModerationCase.objects.filter(owner=request.user)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        writable = {"message"} if self.instance is not None else {"case", "message"}
        refused: dict[str, str] = {}
        for key in getattr(self, "initial_data", None) or {}:
            if key in writable:
                continue
            if key not in self.fields:
                refused[key] = str(_("Unknown field."))
            elif key == "status":
                refused[key] = str(_("Only a moderator decides an appeal; its status "
                                     "cannot be changed by the uploader."))
            elif key == "case":
                refused[key] = str(_("An appeal cannot be moved to another work."))
            else:
                refused[key] = str(_("This field cannot be changed by the uploader."))
        if refused:
            raise serializers.ValidationError(refused)
        return attrs


class AppealDecideSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=[AppealStatus.UPHELD, AppealStatus.OVERTURNED])
    label = serializers.ChoiceField(choices=DECISION_LABEL_CHOICES, required=False,
                                    allow_blank=True, default="")
    note = serializers.CharField(required=False, allow_blank=True, max_length=5000,
                                 default="")


class QueueItemSerializer(CaseSerializer):
    """A queue row: the case plus its first enforce-mode evidence summaries."""

    top_evidence = serializers.SerializerMethodField()

    class Meta(CaseSerializer.Meta):
        fields: tuple[str, ...] = (*CaseSerializer.Meta.fields, "top_evidence")
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_top_evidence(self, obj: ModerationCase) -> list[str]:
        texts = (evidence_text(e) for e in obj.evidence.all() if e.mode == DetectorMode.ENFORCE)
        return [t for t in texts if t][:3]

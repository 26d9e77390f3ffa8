"""API views. Every view names its permission, throttle and pagination classes explicitly.

Object access is enforced twice: ``get_queryset()`` only contains rows the user may see
(so other people's ids are 404, not 403: no IDOR and no existence oracle), and DRF's
``check_object_permissions`` runs in ``get_object``. Verdicts change only through the
moderator-only ``POST`` action routes, which call :mod:`moderation.actions`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, PermissionDenied
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from moderation import actions as A
from moderation import permissions as rules
from moderation.api import serializers as S
from moderation.api.pagination import ModerationPagination
from moderation.api.permissions import CaseAccess, IsModerator
from moderation.api.throttling import ModerationScopedThrottle
from moderation.constants import DetectorMode, Label, ProcessingState, Route
from moderation.models import Appeal, AppealFile, AppealStatus, ModerationCase
from moderation.queue import QueueFilters, review_queue

SCANNING = (ProcessingState.PENDING, ProcessingState.RUNNING)


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "Conflict."
    default_code = "conflict"


def run_action(action: A.BaseAction) -> A.ActionResult:
    """Run an action, turning its errors into API errors (403, 400 or 409)."""
    try:
        return action.run()
    except DjangoPermissionDenied as exc:
        raise PermissionDenied(str(exc)) from exc
    except A.ActionConflict as exc:
        raise Conflict(str(exc.message)) from exc
    except A.ActionInvalid as exc:
        raise serializers.ValidationError({"detail": str(exc.message)}) from exc


class ModerationAPIView:
    """Mixin with the classes every moderation view must declare (API-03, API-14)."""

    permission_classes: ClassVar[list[Any]] = [IsAuthenticated, CaseAccess]
    throttle_classes: ClassVar[list[Any]] = [ModerationScopedThrottle]
    pagination_class = ModerationPagination
    throttle_scope = "moderation_read"
    write_actions: ClassVar[frozenset[str]] = frozenset()

    def get_throttles(self) -> list[Any]:
        if getattr(self, "action", None) in self.write_actions:
            self.throttle_scope = "moderation_write"
        return super().get_throttles()  # type: ignore[misc]


def _filter_choice(qs: QuerySet[Any], params: Any, field: str, choices: Any) -> QuerySet[Any]:
    value = params.get(field)
    if value in choices:
        return qs.filter(**{field: value})
    return qs


class CaseViewSet(ModerationAPIView, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                  viewsets.GenericViewSet):
    """Moderation cases. Moderators: every case; uploaders: their own, read-only."""

    queryset = ModerationCase.objects.none()
    http_method_names: ClassVar[list[str]] = ["get", "post", "head", "options"]
    write_actions = frozenset({"decide", "claim", "release", "note", "hide", "restore",
                               "rescan", "route"})

    def get_queryset(self) -> QuerySet[ModerationCase]:
        user = self.request.user
        qs: QuerySet[ModerationCase] = ModerationCase.objects.select_related(
            "owner", "claimed_by", "content_type")
        if not rules.is_moderator(user):
            qs = qs.filter(owner=user) if user.is_authenticated else qs.none()
        params = self.request.query_params
        qs = _filter_choice(qs, params, "state", ProcessingState.values)
        qs = _filter_choice(qs, params, "route", Route.values)
        qs = _filter_choice(qs, params, "label", Label.values)
        return qs.order_by("-created_at", "-pk")

    def get_serializer_class(self) -> type[serializers.BaseSerializer]:
        if self.action in {"list", "retrieve"} and not rules.is_moderator(self.request.user):
            return S.OwnerCaseSerializer
        return {"decide": S.DecideSerializer, "note": S.NoteSerializer,
                "route": S.RouteSerializer, "evidence": S.EvidenceSerializer,
                "audit": S.AuditSerializer}.get(self.action or "", S.CaseSerializer)

    def get_permissions(self) -> list[Any]:
        if self.action in self.write_actions or self.action == "audit":
            return [IsAuthenticated(), IsModerator()]
        return super().get_permissions()

    @extend_schema(responses={200: S.CaseSerializer, 202: S.CaseSerializer})
    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """202 Accepted while the scan is still running: the verdict is not final yet."""
        case = self.get_object()
        data = self.get_serializer(case).data
        code = status.HTTP_202_ACCEPTED if case.state in SCANNING else status.HTTP_200_OK
        return Response(data, status=code)

    @extend_schema(responses=S.EvidenceSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None)
    def evidence(self, request: Request, pk: str | None = None) -> Response:
        """Evidence: full for moderators (prompts only for the one holding the claim),
        a one-line summary per enforcing detector for the uploader."""
        case = self.get_object()
        rows = case.evidence.order_by("detector", "created_at")
        if not rules.is_moderator(request.user):
            rows = rows.filter(mode=DetectorMode.ENFORCE)
            return Response(S.OwnerEvidenceSerializer(rows, many=True).data)
        ser = (S.PrivateEvidenceSerializer if rules.can_view_private(request.user, case)
               else S.EvidenceSerializer)
        return Response(ser(rows, many=True).data)

    @extend_schema(responses=S.AuditSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None)
    def audit(self, request: Request, pk: str | None = None) -> Response:
        """The case's audit timeline (read-only; moderators)."""
        case = self.get_object()
        entries = case.actions.select_related("actor").order_by("created_at", "id")
        return Response(S.AuditSerializer(entries, many=True).data)

    def _act(self, action_cls: type[A.BaseAction], **params: Any) -> Response:
        case = self.get_object()
        result = run_action(action_cls(self.request.user, case, **params))
        return Response(S.CaseSerializer(result.case, context={"request": self.request}).data)

    @extend_schema(request=S.DecideSerializer, responses={
        200: S.CaseSerializer, 403: OpenApiResponse(description="not a moderator, or own upload"),
        409: OpenApiResponse(description="claimed by another moderator or still scanning")})
    @action(detail=True, methods=["post"])
    def decide(self, request: Request, pk: str | None = None) -> Response:
        """Set the verdict (moderators only; never on your own upload)."""
        ser = S.DecideSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        d = ser.validated_data
        cls = {Label.HUMAN: A.MarkHuman, Label.AI_ASSISTED: A.MarkAIAssisted,
               Label.AI: A.MarkAI}[d["label"]]
        return self._act(cls, tool=d["tool"], strike=d["strike"], note=d["note"])

    @extend_schema(request=S.OptionalNoteSerializer, responses=S.CaseSerializer)
    @action(detail=True, methods=["post"])
    def claim(self, request: Request, pk: str | None = None) -> Response:
        return self._act(A.Claim)

    @extend_schema(request=S.OptionalNoteSerializer, responses=S.CaseSerializer)
    @action(detail=True, methods=["post"])
    def release(self, request: Request, pk: str | None = None) -> Response:
        return self._act(A.Release)

    @extend_schema(request=S.OptionalNoteSerializer, responses=S.CaseSerializer)
    @action(detail=True, methods=["post"])
    def hide(self, request: Request, pk: str | None = None) -> Response:
        ser = S.OptionalNoteSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        return self._act(A.Hide, note=ser.validated_data["note"])

    @extend_schema(request=S.OptionalNoteSerializer, responses=S.CaseSerializer)
    @action(detail=True, methods=["post"])
    def restore(self, request: Request, pk: str | None = None) -> Response:
        ser = S.OptionalNoteSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        return self._act(A.Restore, note=ser.validated_data["note"])

    @extend_schema(request=S.OptionalNoteSerializer, responses=S.CaseSerializer)
    @action(detail=True, methods=["post"])
    def rescan(self, request: Request, pk: str | None = None) -> Response:
        return self._act(A.Rescan)

    @extend_schema(request=S.NoteSerializer, responses=S.CaseSerializer)
    @action(detail=True, methods=["post"])
    def note(self, request: Request, pk: str | None = None) -> Response:
        ser = S.NoteSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        return self._act(A.AddNote, note=ser.validated_data["note"])

    @extend_schema(request=S.RouteSerializer, responses=S.CaseSerializer)
    @action(detail=True, methods=["post"])
    def route(self, request: Request, pk: str | None = None) -> Response:
        ser = S.RouteSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        return self._act(A.RouteTo, route=ser.validated_data["route"],
                         note=ser.validated_data["note"])


class QueueViewSet(ModerationAPIView, mixins.ListModelMixin, viewsets.GenericViewSet):
    """The review queue, highest risk first (moderators only, always paginated)."""

    permission_classes: ClassVar[list[Any]] = [IsAuthenticated, IsModerator]
    serializer_class = S.QueueItemSerializer
    queryset = ModerationCase.objects.none()

    def get_queryset(self) -> QuerySet[ModerationCase]:
        filters = QueueFilters.from_params(self.request.query_params)
        return review_queue(filters, user=self.request.user).prefetch_related("evidence")


class AppealViewSet(ModerationAPIView, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                    mixins.CreateModelMixin, mixins.UpdateModelMixin, viewsets.GenericViewSet):
    """Appeals: uploaders create and read their own; moderators read all and decide."""

    serializer_class = S.AppealSerializer
    queryset = Appeal.objects.none()
    http_method_names: ClassVar[list[str]] = ["get", "post", "patch", "head", "options"]
    parser_classes: ClassVar[list[Any]] = [JSONParser, FormParser, MultiPartParser]
    write_actions = frozenset({"decide"})

    def get_queryset(self) -> QuerySet[Appeal]:
        user = self.request.user
        qs = Appeal.objects.select_related("case", "user").prefetch_related("files")
        if not rules.is_moderator(user):
            qs = qs.filter(user=user) if user.is_authenticated else qs.none()
        params = self.request.query_params
        qs = _filter_choice(qs, params, "status", AppealStatus.values)
        return qs.order_by("-created_at", "-pk")

    def get_permissions(self) -> list[Any]:
        if self.action in {"decide", "download"}:
            return [IsAuthenticated(), IsModerator()]
        return super().get_permissions()

    def get_throttles(self) -> list[Any]:
        if self.action in {"create", "files", "partial_update"}:
            self.throttle_scope = "moderation_appeal"
        return super().get_throttles()

    def get_serializer_class(self) -> type[serializers.BaseSerializer]:
        return {"decide": S.AppealDecideSerializer,
                "files": S.AppealFileUploadSerializer}.get(self.action or "",
                                                           S.AppealSerializer)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Appeal your own work (the case list is scoped: others' cases do not exist)."""
        ser = self.get_serializer(data=request.data)
        ser.is_valid(raise_exception=True)
        case = ser.validated_data["case"]
        result = run_action(A.SubmitAppeal(request.user, case,
                                           message=ser.validated_data["message"]))
        out = S.AppealSerializer(result.extra["appeal"], context=self.get_serializer_context())
        return Response(out.data, status=status.HTTP_201_CREATED)

    def perform_update(self, serializer: serializers.BaseSerializer) -> None:
        appeal = serializer.instance
        if appeal is None or appeal.user_id != self.request.user.pk:
            raise PermissionDenied("Only the uploader can edit an appeal.")
        if appeal.status != AppealStatus.OPEN:
            raise Conflict("This appeal was already decided.")
        serializer.save()

    @extend_schema(request=S.AppealDecideSerializer, responses=S.AppealSerializer)
    @action(detail=True, methods=["post"])
    def decide(self, request: Request, pk: str | None = None) -> Response:
        """Uphold or overturn (moderators; not on their own upload)."""
        appeal = self.get_object()
        ser = S.AppealDecideSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        d = ser.validated_data
        run_action(A.DecideAppeal(request.user, appeal.case, appeal=appeal,
                                  outcome=d["outcome"], label=d["label"], note=d["note"]))
        appeal.refresh_from_db()
        return Response(S.AppealSerializer(appeal, context=self.get_serializer_context()).data)

    @extend_schema(request={"multipart/form-data": S.AppealFileUploadSerializer},
                   responses={201: S.AppealFileSerializer})
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser, FormParser])
    def files(self, request: Request, pk: str | None = None) -> Response:
        """Attach proof of process to your open appeal (kept private to moderators)."""
        appeal = self.get_object()
        ser = S.AppealFileUploadSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        result = run_action(A.AddAppealFile(request.user, appeal.case, appeal=appeal,
                                            kind=ser.validated_data["kind"],
                                            upload=ser.validated_data["file"]))
        return Response(S.AppealFileSerializer(result.extra["file"]).data,
                        status=status.HTTP_201_CREATED)

    @extend_schema(responses={(200, "application/octet-stream"): bytes})
    @action(detail=True, methods=["get"], url_path=r"files/(?P<file_id>\d+)",
            pagination_class=None)
    def download(self, request: Request, pk: str | None = None,
                 file_id: str | None = None) -> Any:
        """Stream one proof file to a moderator, as an attachment that cannot render."""
        from moderation.views.files import private_file_response

        appeal = self.get_object()
        proof = AppealFile.objects.filter(appeal=appeal, pk=str(file_id or "")).first()
        if proof is None:
            from django.http import Http404

            raise Http404
        return private_file_response(proof)

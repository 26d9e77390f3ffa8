"""API views. Every view names its permission, throttle and pagination classes explicitly.

Object access is enforced twice: ``get_queryset()`` only contains rows the user may see
(so other people's ids are 404, not 403: no IDOR and no existence oracle), and DRF's
``check_object_permissions`` runs in ``get_object``. Cases change only through
``POST …/moderation/{id}/actions/{name}/``, which runs the named action of
:mod:`moderation.actions` through the same dispatcher as the case page; the older
per-action routes (``decide/``, ``claim/``… and the appeal routes) are kept as aliases
of it.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db.models import QuerySet
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
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
from moderation.api.reports import CaseReportSerializer, case_reports
from moderation.api.throttling import ModerationScopedThrottle
from moderation.constants import DetectorMode, Label, ProcessingState, Route
from moderation.evidence_export import MODERATOR, UPLOADER, Viewer, export_case
from moderation.models import Appeal, AppealFile, AppealStatus, ModerationCase
from moderation.queue import QueueFilters, review_queue
from moderation.views.export import bundle_response, export_language, work_url
from moderation.views.files import private_file_response

SCANNING = (ProcessingState.PENDING, ProcessingState.RUNNING)


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "Conflict."
    default_code = "conflict"


def run_action(name: str, request: Request, case: ModerationCase,
               params: dict[str, Any]) -> A.ActionResult:
    """Dispatch an action, turning its errors into API errors (403, 400 or 409)."""
    try:
        return A.dispatch(name, request.user, case, params)
    except DjangoPermissionDenied as exc:
        raise PermissionDenied(str(exc)) from exc
    except A.ActionConflict as exc:
        raise Conflict(str(exc.message)) from exc
    except A.ActionInvalid as exc:
        raise serializers.ValidationError({"detail": str(exc.message), **exc.errors}) from exc


def action_params(request: Request, **fixed: Any) -> dict[str, Any]:
    """The request's parameters for an action, with ``fixed`` ones set by the route."""
    return {**A.request_params(request.data, request.FILES), **fixed}


class ModerationAPIView:
    """Mixin with the classes every moderation view must declare.

    DRF's defaults are AllowAny with no throttling and no pagination, so no view may rely
    on them: each names its permission, throttle and pagination classes here.
    """

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
                               "rescan", "route", "run_named_action"})
    parser_classes: ClassVar[list[Any]] = [JSONParser, FormParser, MultiPartParser]

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

    def get_throttles(self) -> list[Any]:
        throttles = super().get_throttles()
        name = self.kwargs.get("name", "")
        if self.action == "run_named_action" and name in A.registry and (
                not A.registry[name].moderator_only):
            self.throttle_scope = "moderation_appeal"  # the uploader's own actions
        if self.action == "export":
            # Each export decodes the file and walks the audit log: moderators at the
            # write rate, uploaders at the appeal rate (as on their status page).
            self.throttle_scope = ("moderation_write" if rules.is_moderator(self.request.user)
                                   else "moderation_appeal")
        return throttles

    def get_permissions(self) -> list[Any]:
        if self.action == "run_named_action":
            # Uploaders may run their own actions (appeals) on their own cases; the
            # action's permission check decides, the scoped queryset hides the rest.
            return [IsAuthenticated(), CaseAccess()]
        if self.action in self.write_actions or self.action in {"audit", "reports"}:
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

    @extend_schema(
        request={"application/json": {
            "type": "object", "properties": {"language": {
                "type": "string", "description": "one of the site's LANGUAGES; default: "
                                                 "the request's language"}}}},
        responses={(200, "application/zip"): OpenApiResponse(
            response=OpenApiTypes.BINARY,
            description="the evidence bundle (case.json, report.html, preview, SHA256SUMS)"),
            404: OpenApiResponse(description="no such case, or not yours")})
    @action(detail=True, methods=["post"], pagination_class=None)
    def export(self, request: Request, pk: str | None = None) -> HttpResponse:
        """Export the case's evidence bundle (a ZIP) in the request's language.

        Moderators get the full bundle (prompts only when they may read them); the
        uploader gets their own case's bundle with other people's data withheld. Each
        export is recorded in the audit log.
        """
        case = self.get_object()
        moderator = rules.is_moderator(request.user)
        viewer = (Viewer(MODERATOR, request.user,
                         include_private=rules.can_view_private(request.user, case))
                  if moderator else Viewer(UPLOADER, request.user))
        django_request = request._request
        # Parsed by DRF (a malformed body is a 400); a JSON list or text carries no choice.
        data = request.data
        wanted = data.get("language") if hasattr(data, "get") else ""
        bundle = export_case(case, viewer, language=export_language(wanted),
                             work_url=work_url(django_request, case),
                             site=django_request.get_host(), via="api")
        return bundle_response(bundle)

    @extend_schema(responses=CaseReportSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None)
    def reports(self, request: Request, pk: str | None = None) -> Response:
        """Viewers' reports on the case with each reporter's track record (moderators)."""
        case = self.get_object()
        return Response(CaseReportSerializer(case_reports(case), many=True).data)

    def _act(self, name: str, **fixed: Any) -> Response:
        case = self.get_object()
        result = run_action(name, self.request, case, action_params(self.request, **fixed))
        serializer = (S.CaseSerializer if rules.is_moderator(self.request.user)
                      else S.OwnerCaseSerializer)
        return Response(serializer(result.case, context={"request": self.request}).data)

    @extend_schema(
        operation_id="moderation_run_action",
        request={"application/json": {"type": "object", "additionalProperties": True},
                 "multipart/form-data": {"type": "object", "additionalProperties": True}},
        responses={200: S.CaseSerializer,
                   400: OpenApiResponse(description="unknown action or invalid parameters"),
                   403: OpenApiResponse(description="not allowed to run this action here"),
                   409: OpenApiResponse(description="the case's state forbids it now")})
    @action(detail=True, methods=["post"], url_path=r"actions/(?P<name>[a-z_]+)")
    def run_named_action(self, request: Request, pk: str | None = None,
                         name: str = "") -> Response:
        """Run the action ``name`` (see ``moderation.actions.registry``) with the posted
        parameters: the same dispatcher, forms and errors as the case page."""
        return self._act(name)

    @extend_schema(request=S.DecideSerializer, responses={
        200: S.CaseSerializer, 403: OpenApiResponse(description="not a moderator, or own upload"),
        409: OpenApiResponse(description="claimed by another moderator or still scanning")})
    @action(detail=True, methods=["post"])
    def decide(self, request: Request, pk: str | None = None) -> Response:
        """Set the verdict (moderators only; never on your own upload): an alias of the
        ``mark_human``/``mark_ai_assisted``/``mark_ai`` actions chosen by ``label``."""
        ser = S.DecideLabelSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        name = DECIDE_ACTIONS[ser.validated_data["label"]]
        params = action_params(request)
        params.pop("label", None)
        if name != A.MarkAI.name:
            # This route documents ``strike`` for every label; it only means something
            # for "ai", so the other verdicts do not receive it.
            params.pop("strike", None)
        case = self.get_object()
        result = run_action(name, request, case, params)
        return Response(S.CaseSerializer(result.case, context={"request": request}).data)

    @extend_schema(request=S.OptionalNoteSerializer, responses=S.CaseSerializer)
    @action(detail=True, methods=["post"])
    def claim(self, request: Request, pk: str | None = None) -> Response:
        return self._act(A.Claim.name)

    @extend_schema(request=S.OptionalNoteSerializer, responses=S.CaseSerializer)
    @action(detail=True, methods=["post"])
    def release(self, request: Request, pk: str | None = None) -> Response:
        return self._act(A.Release.name)

    @extend_schema(request=S.OptionalNoteSerializer, responses=S.CaseSerializer)
    @action(detail=True, methods=["post"])
    def hide(self, request: Request, pk: str | None = None) -> Response:
        return self._act(A.Hide.name)

    @extend_schema(request=S.OptionalNoteSerializer, responses=S.CaseSerializer)
    @action(detail=True, methods=["post"])
    def restore(self, request: Request, pk: str | None = None) -> Response:
        return self._act(A.Restore.name)

    @extend_schema(request=S.OptionalNoteSerializer, responses=S.CaseSerializer)
    @action(detail=True, methods=["post"])
    def rescan(self, request: Request, pk: str | None = None) -> Response:
        return self._act(A.Rescan.name)

    @extend_schema(request=S.NoteSerializer, responses=S.CaseSerializer)
    @action(detail=True, methods=["post"])
    def note(self, request: Request, pk: str | None = None) -> Response:
        return self._act(A.AddNote.name)

    @extend_schema(request=S.RouteSerializer, responses=S.CaseSerializer)
    @action(detail=True, methods=["post"])
    def route(self, request: Request, pk: str | None = None) -> Response:
        return self._act(A.RouteTo.name)


#: The verdict action ``POST …/decide/`` runs for each label.
DECIDE_ACTIONS = {Label.HUMAN: A.MarkHuman.name, Label.AI_ASSISTED: A.MarkAIAssisted.name,
                  Label.AI: A.MarkAI.name}


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
        result = run_action(A.SubmitAppeal.name, request, case,
                            {"message": ser.validated_data["message"]})
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
        run_action(A.DecideAppeal.name, request, appeal.case,
                   action_params(request, appeal=appeal.pk))
        appeal.refresh_from_db()
        return Response(S.AppealSerializer(appeal, context=self.get_serializer_context()).data)

    @extend_schema(request={"multipart/form-data": S.AppealFileUploadSerializer},
                   responses={201: S.AppealFileSerializer})
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser, FormParser])
    def files(self, request: Request, pk: str | None = None) -> Response:
        """Attach proof of process to your open appeal (kept private to moderators)."""
        appeal = self.get_object()
        result = run_action(A.AddAppealFile.name, request, appeal.case,
                            action_params(request, appeal=appeal.pk))
        return Response(S.AppealFileSerializer(result.extra["file"]).data,
                        status=status.HTTP_201_CREATED)

    @extend_schema(responses={(200, "application/octet-stream"): bytes})
    @action(detail=True, methods=["get"], url_path=r"files/(?P<file_id>\d+)",
            pagination_class=None)
    def download(self, request: Request, pk: str | None = None,
                 file_id: str | None = None) -> Any:
        """Stream one proof file to a moderator, as an attachment that cannot render."""
        appeal = self.get_object()
        proof = AppealFile.objects.filter(appeal=appeal, pk=str(file_id or "")).first()
        if proof is None:
            from django.http import Http404

            raise Http404
        return private_file_response(proof)

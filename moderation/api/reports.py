"""The reports API: viewers report works and read their own reports; moderators read a
case's reports with each reporter's track record.

``/api/reports/`` is scoped to the requesting reporter: nobody, moderators included,
lists other people's reports there (another reporter's id is 404). A report names its
work by content type and object id only, never by title or route, so it shows nothing
of a work the reporter can no longer see. Moderators read a case's reports at
``/api/moderation/{id}/reports/``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.db.models import QuerySet
from django.http import Http404
from django.utils.datastructures import MultiValueDict
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.exceptions import APIException, NotFound
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from moderation.api.pagination import ModerationPagination
from moderation.api.throttling import ModerationScopedThrottle
from moderation.conf import moderation_settings
from moderation.models import ModerationCase, Report
from moderation.reports.clusters import anonymous_key, cluster_keys
from moderation.reports.forms import ReportForm
from moderation.reports.presenters import ReportRow, reports_panel
from moderation.reports.submit import Reporter, ReportRefused, submit_report
from moderation.views.reports import visible_work


class ReportRefusedError(APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "report_refused"


class ReportSerializer(serializers.ModelSerializer):
    """A reporter's own report; the work by reference only."""

    content_type = serializers.SerializerMethodField()
    object_id = serializers.CharField(source="case.object_id", read_only=True)

    class Meta:
        model = Report
        fields: ClassVar[list[str]] = ["id", "content_type", "object_id", "reason", "note",
                                       "original_url", "status", "created_at", "resolved_at"]
        read_only_fields = fields

    def get_content_type(self, obj: Report) -> str:
        ct = obj.case.content_type
        return f"{ct.app_label}.{ct.model}"


class ReportCreateSerializer(serializers.Serializer):
    content_type = serializers.CharField(max_length=200, help_text="app_label.model")
    object_id = serializers.CharField(max_length=64)
    reason = serializers.CharField(max_length=32)
    note = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    original_url = serializers.CharField(required=False, allow_blank=True, max_length=500)
    original_file = serializers.FileField(required=False)


class CaseReportSerializer(serializers.Serializer):
    """One report as moderators read it, with the reporter's record for the reason."""

    id = serializers.IntegerField(source="report.pk")
    reporter = serializers.CharField()
    account_days = serializers.IntegerField(allow_null=True)
    reason = serializers.CharField(source="report.reason")
    note = serializers.CharField(source="report.note")
    original_url = serializers.CharField(source="report.original_url")
    original_sha256 = serializers.CharField(source="report.original_sha256")
    status = serializers.CharField(source="report.status")
    weight = serializers.FloatField(source="report.weight")
    weight_parts = serializers.DictField(source="parts")
    in_burst = serializers.BooleanField(source="report.in_burst")
    shared_cluster = serializers.BooleanField()
    upheld = serializers.IntegerField(source="record.upheld")
    rejected = serializers.IntegerField(source="record.rejected")
    precision = serializers.FloatField(source="record.precision")
    below_floor = serializers.BooleanField(source="record.below_floor")
    created_at = serializers.DateTimeField(source="report.created_at")


def visible_case(request: Request, content_type: str, object_id: str) -> ModerationCase:
    """The case of a work the requester may see; 404 for anything else (no oracle)."""
    try:
        return visible_work(request, content_type, object_id)[1]
    except Http404 as exc:
        raise NotFound from exc


class ReportViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin,
                    mixins.CreateModelMixin, viewsets.GenericViewSet):
    """Your reports: send one (``POST``), list and read your own."""

    permission_classes: ClassVar[list[Any]] = [IsAuthenticated]
    throttle_classes: ClassVar[list[Any]] = [ModerationScopedThrottle]
    pagination_class = ModerationPagination
    throttle_scope = "moderation_read"
    serializer_class = ReportSerializer
    queryset = Report.objects.none()
    parser_classes: ClassVar[list[Any]] = [JSONParser, FormParser, MultiPartParser]

    def get_permissions(self) -> list[Any]:
        if self.action == "create" and moderation_settings.REPORT_ALLOW_ANONYMOUS:
            return [AllowAny()]
        return super().get_permissions()

    def get_throttles(self) -> list[Any]:
        if self.action == "create":
            self.throttle_scope = "moderation_report"
        return super().get_throttles()

    def get_serializer_class(self) -> type[serializers.BaseSerializer]:
        return ReportCreateSerializer if self.action == "create" else ReportSerializer

    def get_queryset(self) -> QuerySet[Report]:
        user = self.request.user
        if not user.is_authenticated:
            return Report.objects.none()
        return (Report.objects.filter(reporter=user)
                .select_related("case", "case__content_type").order_by("-created_at", "-pk"))

    @extend_schema(request={"application/json": ReportCreateSerializer,
                            "multipart/form-data": ReportCreateSerializer},
                   responses={201: ReportSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Report a work you can see (the same form, rules and limits as the report page)."""
        ser = ReportCreateSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        case = visible_case(request, ser.validated_data["content_type"],
                            ser.validated_data["object_id"])
        files: MultiValueDict[str, Any] = MultiValueDict()
        if "original_file" in request.FILES:
            files.setlist("original_file", [request.FILES["original_file"]])
        form = ReportForm({k: v for k, v in request.data.items()
                           if k in {"reason", "note", "original_url"}}, files)
        if not form.is_valid():
            raise serializers.ValidationError(
                {name: [str(m) for m in msgs] for name, msgs in form.errors.items()})
        data = form.cleaned_data
        try:
            report, _score = submit_report(case, self._reporter(request), reason=data["reason"],
                                           note=data["note"], original_url=data["original_url"],
                                           original_file=data["original_file"])
        except ReportRefused as exc:
            error = ReportRefusedError(str(exc.message))
            error.status_code = exc.status
            raise error from exc
        report = Report.objects.select_related("case", "case__content_type").get(pk=report.pk)
        return Response(ReportSerializer(report).data, status=status.HTTP_201_CREATED)

    @staticmethod
    def _reporter(request: Request) -> Reporter:
        ip = str(request.META.get("REMOTE_ADDR") or "")
        keys = tuple(cluster_keys(request))
        if request.user.is_authenticated:
            return Reporter(user=request.user, ip=ip, cluster_keys=keys)
        session = request._request.session
        if not session.session_key:
            session.save()
        return Reporter(anonymous_key=anonymous_key(str(session.session_key)), ip=ip,
                        cluster_keys=keys)


def case_reports(case: ModerationCase) -> list[ReportRow]:
    return reports_panel(case).rows

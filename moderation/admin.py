"""Django admin registrations. Every change goes through :mod:`moderation.actions`.

Cases are read-only forms with admin actions that call the same action classes as the
pages and API (so permission checks, audit rows and signals are identical). The audit
log is view-only: no add, change or delete, whatever the user's permissions.
The "Classifier versions" page belongs to the optional training sub-app
(:mod:`moderation.training.admin`).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from moderation import actions as A
from moderation.labels import evidence_text
from moderation.models import (
    Appeal,
    AppealFile,
    AppealStatus,
    Evidence,
    ModerationAction,
    ModerationCase,
    Report,
    ReporterReputation,
    Strike,
)
from moderation.permissions import can_view_private, is_moderator


def _bulk(action_cls: type[A.BaseAction], description: Any) -> Any:
    def run(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> None:
        done, failed = A.run_bulk(action_cls, request.user, list(queryset))
        if done:
            modeladmin.message_user(request, _("%(n)d cases updated.") % {"n": len(done)},
                                    messages.SUCCESS)
        for case, why in failed:
            modeladmin.message_user(request, f"#{case.pk}: {why}", messages.WARNING)

    run.__name__ = f"action_{action_cls.name}"
    return admin.action(description=description)(run)


class ViewOnlyAdminMixin:
    """No add, change or delete in the admin, whatever the user's permissions: the rows
    are written only by actions (the audit log) or mirror files on disk."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class EvidenceInline(ReadOnlyInline):
    model = Evidence
    fields = ("detector", "detector_version", "mode", "label", "strength", "score",
              "summary_text", "details")
    readonly_fields = fields

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is not None and can_view_private(request.user, obj):
            return (*self.fields, "private")
        return self.fields

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.get_fields(request, obj)

    @admin.display(description=_("summary"))
    def summary_text(self, obj: Evidence) -> str:
        return evidence_text(obj)


class AuditInline(ReadOnlyInline):
    model = ModerationAction
    fields = ("created_at", "action", "actor", "before", "after", "note")
    readonly_fields = fields
    ordering = ("-created_at",)


@admin.register(ModerationCase)
class ModerationCaseAdmin(admin.ModelAdmin):
    list_display = ("id", "content_type", "object_id", "owner", "state", "label", "route",
                    "needs_review", "review_priority", "claimed_by", "created_at")
    list_filter = ("state", "label", "route", "needs_review", "undisclosed_ai")
    search_fields = ("object_id", "owner__username", "generator", "model_name")
    ordering = ("-review_priority", "created_at")
    inlines = (EvidenceInline, AuditInline)
    actions = (
        _bulk(A.Claim, _("Claim")), _bulk(A.Release, _("Release")),
        _bulk(A.MarkHuman, A.MarkHuman.verbose_name),
        _bulk(A.MarkAIAssisted, A.MarkAIAssisted.verbose_name),
        _bulk(A.MarkAI, A.MarkAI.verbose_name),
        _bulk(A.Hide, A.Hide.verbose_name), _bulk(A.Restore, A.Restore.verbose_name),
        _bulk(A.Rescan, A.Rescan.verbose_name),
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # deleting the work deletes its case; the admin never does

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_moderator(request.user) or super().has_view_permission(request, obj)


@admin.register(ModerationAction)
class ModerationActionAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):
    """The audit log: view-only (the database refuses UPDATE/DELETE anyway)."""

    list_display = ("created_at", "action", "case_id", "actor", "note")
    list_filter = ("action",)
    search_fields = ("note",)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [f.name for f in self.model._meta.fields]

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        return {}  # no "delete selected"


@admin.register(Strike)
class StrikeAdmin(admin.ModelAdmin):
    list_display = ("user", "reason", "case", "created_by", "created_at", "revoked_at",
                    "lifted_at")
    list_filter = ("reason",)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # strikes come from moderator actions only

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class AppealFileInline(ReadOnlyInline):
    model = AppealFile
    fields = ("kind", "original_name", "size", "created_at")
    readonly_fields = fields


def _decide(outcome: str, description: Any) -> Any:
    def run(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> None:
        for appeal in queryset.filter(status=AppealStatus.OPEN).select_related("case"):
            try:
                A.DecideAppeal(request.user, appeal.case, appeal=appeal, outcome=outcome).run()
            except Exception as exc:  # PermissionDenied or ActionError: report, carry on
                modeladmin.message_user(request, f"#{appeal.pk}: {exc}", messages.WARNING)

    run.__name__ = f"appeal_{outcome}"
    return admin.action(description=description)(run)


@admin.register(Appeal)
class AppealAdmin(admin.ModelAdmin):
    list_display = ("id", "case", "user", "status", "created_at", "decided_by", "decided_at")
    list_filter = ("status",)
    inlines = (AppealFileInline,)
    actions = (_decide(AppealStatus.UPHELD, _("Uphold (label stays)")),
               _decide(AppealStatus.OVERTURNED, _("Overturn (relabel as declared)")))

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False



@admin.register(Report)
class ReportAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):
    """Viewers' reports, read-only: outcomes come from moderators' verdicts on the case,
    so the report, the reporter's reputation and the audit log never disagree."""

    list_display = ("id", "case", "reason", "reporter", "status", "weight", "in_burst",
                    "created_at")
    list_filter = ("status", "reason", "in_burst")
    search_fields = ("reporter__username", "case__object_id", "original_url")
    raw_id_fields = ("case", "reporter", "artist", "resolved_by")
    date_hierarchy = "created_at"

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_moderator(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_moderator(request.user)


@admin.register(ReporterReputation)
class ReporterReputationAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):
    """Each reporter's upheld and rejected counts per reason (the Beta posterior's data)."""

    list_display = ("user", "reason", "upheld", "rejected", "updated_at")
    list_filter = ("reason",)
    search_fields = ("user__username",)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_moderator(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_moderator(request.user)

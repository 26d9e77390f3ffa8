"""The admin's "Classifier versions" page: installed site-adapted versions and promotion.

Design: the page reads the install directory itself (``installed.json`` and the
``current``/``shadow`` symlinks that ``moderation_train --from-site`` writes, see
:mod:`moderation.training.site`); no database table mirrors it. Those files are
what the workers load, the command line installs and promotes without going through the
web, and a second copy in the database would drift from them (a CLI install, a restored
backup, another host's checkout). The database keeps only what belongs there: the
confusion counts from moderators' decisions (:mod:`moderation.training.confusion`)
and the audit row each promotion writes
(``moderation.training.promotion.PromoteClassifier``, the same code path as
``moderation_train --promote``).

:class:`moderation.models.ClassifierVersion` is an unmanaged model without a table: it
exists so that the page has its entry in the admin index and so that the permission
``moderation.promote_classifier`` (and ``view_classifierversion``, to read the page
without promoting) has a content type to belong to. The ModelAdmin below replaces every
view that would query it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext_lazy as _

from moderation.admin import ViewOnlyAdminMixin
from moderation.constants import NOTE_MAX
from moderation.detectors.onnx import OnnxClassifier
from moderation.internal.bundle import BundleError, load_bundle
from moderation.models import ClassifierVersion
from moderation.training import promotion as P
from moderation.training.confusion import confusion_counts, rates
from moderation.training.site import (
    current_version,
    default_install_dir,
    may_promote,
    read_installed,
)

#: (label, key path in a metrics.summary() dict), in the order the page shows them.
METRIC_ROWS: tuple[tuple[Any, tuple[str, ...]], ...] = (
    (_("AUROC"), ("auroc",)),
    (_("Average precision"), ("ap",)),
    (_("TPR at FPR 0.01"), ("tpr_at_fpr", "0.01")),
    (_("TPR at FPR 0.05"), ("tpr_at_fpr", "0.05")),
    (_("FPR at the review threshold"), ("fpr_at_threshold",)),
    (_("TPR at the review threshold"), ("tpr_at_threshold",)),
    (_("Held-out AI works (n)"), ("n_ai",)),
    (_("Held-out hand-made works (n)"), ("n_human",)),
)
#: Rows where a lower value is the better one (the delta column is coloured by it).
LOWER_IS_BETTER = frozenset({"fpr_at_threshold"})


def _get(metrics: dict[str, Any] | None, keys: tuple[str, ...]) -> Any:
    value: Any = metrics or {}
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


@dataclass
class MetricRow:
    label: Any
    key: str
    old: Any
    new: Any

    @property
    def is_count(self) -> bool:
        return self.key.startswith("n_")

    @property
    def delta(self) -> float | None:
        if self.is_count or not isinstance(self.old, int | float) \
                or not isinstance(self.new, int | float):
            return None
        return float(self.new) - float(self.old)

    @property
    def better(self) -> bool | None:
        d = self.delta
        if d is None or d == 0:
            return None
        return d < 0 if self.key in LOWER_IS_BETTER else d > 0


def metric_rows(metrics: dict[str, Any] | None) -> list[MetricRow]:
    """Old-vs-new rows of one install entry's ``metrics`` ({"old": ..., "new": ...})."""
    metrics = metrics or {}
    return [MetricRow(label, "_".join(keys), _get(metrics.get("old"), keys),
                      _get(metrics.get("new"), keys)) for label, keys in METRIC_ROWS]


@dataclass
class VersionInfo:
    """One installed version as the page shows it."""

    version: str
    entry: dict[str, Any]
    is_current: bool
    is_shadow: bool
    bundle_label: str = ""
    bundle_error: str = ""
    metrics: list[MetricRow] = field(default_factory=list)
    confusion: list[dict[str, Any]] = field(default_factory=list)

    @property
    def status(self) -> Any:
        if self.is_current:
            return _("current (enforcing)")
        if self.is_shadow:
            return _("shadow")
        if self.entry.get("status") == "retired":
            return _("retired")
        return _("installed")

    @property
    def beats_installed(self) -> bool:
        """The promotion rule (:func:`moderation.training.site.may_promote`)."""
        return may_promote(self.entry)

    @property
    def can_promote(self) -> bool:
        return not self.is_current and not self.bundle_error and self.beats_installed


def _link_target(link: Path) -> str | None:
    return os.readlink(link) if link.is_symlink() else None


def detector_version_label(bundle_label: str) -> str:
    """The ``detector_version`` the ONNX backend records for a bundle (name@version)."""

    return f"{OnnxClassifier.version}:{bundle_label}"[:64]


def confusion_rows() -> list[dict[str, Any]]:
    """Every (detector, version, mode) with counts and rates, from moderators' decisions."""

    return [{"detector": d, "detector_version": v, "mode": m, **c, **rates(c)}
            for (d, v, m), c in sorted(confusion_counts().items())]


def list_versions(install_dir: Path,
                  confusion: list[dict[str, Any]] | None = None) -> list[VersionInfo]:
    """Installed versions, newest first, with metrics and their live confusion counts."""

    current, shadow = _link_target(install_dir / "current"), _link_target(install_dir / "shadow")
    out = []
    for entry in reversed(read_installed(install_dir)):
        where = str(entry.get("path") or entry.get("version"))
        info = VersionInfo(str(entry.get("version")), entry, is_current=where == current,
                           is_shadow=where == shadow, metrics=metric_rows(entry.get("metrics")))
        try:
            bundle = load_bundle(install_dir / where, verify=False)
            info.bundle_label = bundle.label
        except BundleError as exc:
            info.bundle_error = str(exc)
        if confusion is not None and info.bundle_label:
            recorded = detector_version_label(info.bundle_label)
            info.confusion = [r for r in confusion if r["detector_version"] == recorded]
        out.append(info)
    return out


class ClassifierVersionAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):
    """List installed versions; promote one after a side-by-side confirmation."""

    change_list_template = "admin/moderation/classifierversion/change_list.html"
    confirm_template = "admin/moderation/classifierversion/promote_confirm.html"

    # -- permissions -------------------------------------------------------------------
    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        user = request.user
        return P.can_promote_classifier(user) or bool(
            user.is_active and user.has_perm("moderation.view_classifierversion"))

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)

    # -- URLs: only the two views below; nothing here queries the (absent) table --------
    def get_urls(self) -> list[URLPattern]:
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        wrap = self.admin_site.admin_view
        return [
            path("", wrap(self.changelist_view), name=f"{prefix}_changelist"),
            path("<str:version>/promote/", wrap(self.promote_view),
                 name=f"{prefix}_promote"),
        ]

    def install_dir(self) -> Path:

        return default_install_dir()

    def _context(self, request: HttpRequest, title: Any) -> dict[str, Any]:
        return {**self.admin_site.each_context(request), "opts": self.opts, "title": title,
                "install_dir": self.install_dir()}

    def changelist_view(self, request: HttpRequest,
                        extra_context: dict[str, Any] | None = None) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        confusion = confusion_rows()
        context = {
            **self._context(request, _("Classifier versions")),
            "versions": list_versions(self.install_dir(), confusion),
            "confusion": confusion,
            "may_promote": P.can_promote_classifier(request.user),
            **(extra_context or {}),
        }
        return TemplateResponse(request, self.change_list_template, context)

    def promote_view(self, request: HttpRequest, version: str) -> HttpResponse:
        if not P.can_promote_classifier(request.user):
            raise PermissionDenied

        install_dir = self.install_dir()
        changelist = reverse(f"{self.admin_site.name}:moderation_classifierversion_changelist")
        action = P.PromoteClassifier(request.user, version, install_dir=install_dir,
                                     note=str(request.POST.get("note", ""))[:NOTE_MAX])
        try:
            entry = action.entry()
        except P.PromotionError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return HttpResponseRedirect(changelist)
        if request.method == "POST":
            try:
                action.run()
            except (P.PromotionError, PermissionDenied) as exc:
                self.message_user(request, str(exc), messages.ERROR)
                return HttpResponseRedirect(changelist)
            self.message_user(request, P.promoted_message(version, install_dir / "current"),
                              messages.SUCCESS)
            return HttpResponseRedirect(changelist)
        current = current_version(install_dir)
        context = {
            **self._context(request, _("Promote %(version)s to enforce?") % {"version": version}),
            "version": version,
            "entry": entry,
            "current": current,
            # The held-out comparison was made against the bundle it was trained from;
            # say so when a later promotion changed what is enforcing.
            "stale_comparison": current is not None and current != entry.get("base"),
            "metrics": metric_rows(entry.get("metrics")),
        }
        return TemplateResponse(request, self.confirm_template, context)


admin.site.register(ClassifierVersion, ClassifierVersionAdmin)

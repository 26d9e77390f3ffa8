"""Promoting an installed site-adapted classifier version to the enforcing one.

One path for the admin's "Classifier versions" page and ``manage.py moderation_train
--promote``: the version is checked, the ``current`` symlink moved
(:func:`moderation.training.site.promote`, looked up on the module so a
test can watch it) and one audit row written. It acts
on no case, so it is not a moderator action; it belongs with the training code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from moderation.models import ModerationAction
from moderation.training import site

#: Permission (besides superuser) needed to promote a classifier version.
PROMOTE_CLASSIFIER_PERMISSION = "moderation.promote_classifier"


class PromotionError(Exception):
    """The promotion cannot go ahead as asked (unknown version, bad install)."""

    def __init__(self, message: Any) -> None:
        super().__init__(str(message))
        self.message = message


class PromotionConflict(PromotionError):
    """The version is already the enforcing one."""


def can_promote_classifier(actor: Any) -> bool:
    """Superusers and holders of ``moderation.promote_classifier`` (active accounts only)."""
    return bool(getattr(actor, "is_active", False)
                and (getattr(actor, "is_superuser", False)
                     or actor.has_perm(PROMOTE_CLASSIFIER_PERMISSION)))


def promoted_message(version: str, current: Any) -> Any:
    """What the operator is told after a promotion (command line and admin alike)."""
    return _("%(version)s is now the enforcing classifier (%(path)s). Classifier aliases whose "
             "BUNDLE is that path switch to it at their next image, in every worker, without "
             "a restart; an alias configured with another path (the shipped bundle, a "
             "version directory) keeps its model until you change it and restart the "
             "workers.") % {"version": version, "path": current}


class PromoteClassifier:
    """Make an installed site-adapted classifier version the enforcing one.

    The audit row has no case; ``before``/``after`` hold the versions and the held-out
    metrics the decision rested on. ``actor`` None is the command line, whose operator
    already holds the server; a web actor needs :func:`can_promote_classifier`.
    """

    name: ClassVar[str] = "classifier_promoted"

    def __init__(self, actor: Any, version: str, *, install_dir: Any = None,
                 note: str = "") -> None:
        self.actor = actor
        self.version = version
        self.install_dir = Path(install_dir) if install_dir else site.default_install_dir()
        self.note = (note or "").strip()

    def entry(self) -> dict[str, Any]:
        """The install log entry of the version to promote (PromotionError if none)."""
        for e in site.read_installed(self.install_dir):
            if e.get("version") == self.version:
                return e
        raise PromotionError(_("No installed classifier version %(version)s.")
                             % {"version": self.version})

    def run(self) -> ModerationAction:
        if self.actor is not None and not can_promote_classifier(self.actor):
            raise PermissionDenied(_("You may not promote classifier versions."))
        entry = self.entry()
        previous = site.current_version(self.install_dir)
        if previous == self.version:
            raise PromotionConflict(_("%(version)s is already the enforcing version.")
                                    % {"version": self.version})
        metrics = entry.get("metrics") or {}
        before = {"current": previous, "compared_with": entry.get("base"),
                  "metrics": metrics.get("old")}
        after = {"current": self.version, "metrics": metrics.get("new")}
        with transaction.atomic():
            # The audit row rolls back if the promotion fails; the symlink moves last.
            row = ModerationAction.objects.create(
                case=None, actor=self.actor if getattr(self.actor, "pk", None) else None,
                action=self.name, before=before, after=after, note=self.note)
            try:
                site.promote(self.install_dir, self.version)
            except site.SiteDataError as exc:
                raise PromotionError(str(exc)) from exc
        return row

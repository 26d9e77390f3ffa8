"""Database models: one ``ModerationCase`` per moderated object, its ``Evidence`` and an
append-only ``ModerationAction`` audit log."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models, router, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from moderation import hashchain
from moderation.constants import (
    AIFilter,
    Declaration,
    DetectorMode,
    EvidenceLabel,
    Label,
    ProcessingState,
    RejectionReason,
    Route,
    Strength,
    TrainingChoice,
)
from moderation.files import private_storage
from moderation.querysets import CaseQuerySet


class ModerationCase(models.Model):
    """The moderation state of one uploaded work.

    ``object_id`` is text so host models with integer and UUID primary keys both work.
    ``state`` tracks processing (is the scan finished?) separately from the verdict
    (``label``/``route``), as Mastodon separates ``processing`` from moderation.
    """

    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE, related_name="+")
    object_id = models.CharField(max_length=64)
    content_object = GenericForeignKey("content_type", "object_id")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="moderation_cases",
    )
    file_name = models.CharField(max_length=500, blank=True)
    content_sha256 = models.CharField(max_length=64, blank=True, db_index=True)

    state = models.CharField(
        max_length=16, choices=ProcessingState.choices, default=ProcessingState.PENDING,
        db_index=True,
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    rejection_reason = models.CharField(
        max_length=32, choices=RejectionReason.choices, blank=True
    )
    last_error = models.TextField(blank=True)
    # Failures that were not the file's fault (a dropped database or broker connection,
    # a detector's service down): they lengthen the retry delay but do not count toward
    # MAX_ATTEMPTS, so a short outage never quarantines a healthy upload.
    transient_failures = models.PositiveIntegerField(default=0)
    # The outbox: set in the transaction that makes a scan due, cleared once its message
    # is published. A case whose publish failed (broker down) or whose process died
    # between commit and publish is re-sent by the next sweep.
    publish_due_at = models.DateTimeField(null=True, blank=True, db_index=True)

    declaration = models.CharField(max_length=16, choices=Declaration.choices, blank=True)
    declared_tool = models.CharField(max_length=200, blank=True)

    label = models.CharField(max_length=16, choices=Label.choices, blank=True)
    route = models.CharField(max_length=16, choices=Route.choices, default=Route.HELD,
                             db_index=True)
    ai_score = models.FloatField(null=True, blank=True)
    generator = models.CharField(max_length=200, blank=True)
    model_name = models.CharField(max_length=300, blank=True)
    loras = models.JSONField(default=list, blank=True)
    reasons = models.JSONField(default=list, blank=True)
    needs_review = models.BooleanField(default=False, db_index=True)
    review_priority = models.IntegerField(default=0)
    undisclosed_ai = models.BooleanField(default=False)

    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    claimed_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)
    scanned_at = models.DateTimeField(null=True, blank=True)
    # Feed bursts: the pk of the first case of the owner's burst this work belongs to,
    # set once when the work first enters a feed (moderation.feeds.burst_ids). Feeds
    # fold works with the same burst into one tile; cases without one (from before the
    # column, or bulk-created) fold by BURST_WINDOW_SECONDS at read time.
    burst = models.BigIntegerField(null=True, blank=True, editable=False)

    objects = CaseQuerySet.as_manager()

    class Meta:
        verbose_name = _("moderation case")
        verbose_name_plural = _("moderation cases")
        constraints = [
            models.UniqueConstraint(
                fields=["content_type", "object_id"], name="moderation_one_case_per_object"
            ),
        ]
        indexes = [
            models.Index(fields=["content_type", "route"], name="moderation_ct_route"),
            models.Index(fields=["state", "updated_at"], name="moderation_state_updated"),
            # Feed pages probe a work's case once per row read (route, and the label,
            # owner and time burst folding needs); with these columns in the index the
            # probes are index-only and never touch the table (PostgreSQL; elsewhere a
            # plain index on the pair).
            models.Index(fields=["content_type", "object_id"],
                         include=["route", "label", "owner", "created_at", "burst"],
                         name="moderation_feed_probe"),
            # A new feed work looks up its owner's latest burst (and the quota counts
            # an owner's uploads of the last day): one index range, not every case the
            # owner ever opened.
            models.Index(fields=["owner", "created_at"], name="moderation_owner_time"),
            # The works of one burst ("+N more from @x" followed).
            models.Index(fields=["burst"], name="moderation_burst"),
        ]
        permissions = [
            ("review_case", "Can review moderation cases"),
            ("view_private_evidence", "Can read prompts and other private evidence"),
        ]

    def __str__(self) -> str:
        return f"case {self.pk} ({self.content_type_id}:{self.object_id}) {self.state}/{self.label}"

    def host_instance(self) -> Any:
        """The host object behind this case, or None once it was deleted.

        Read through the model's default manager (not the generic foreign key's base
        manager), so a host that hides soft-deleted rows there hides them here too.
        """
        model = self.content_type.model_class()
        if model is None:
            return None
        return model._default_manager.filter(pk=self.object_id).first()

    def snapshot(self) -> dict[str, Any]:
        """Return the verdict fields the audit log records before and after a change."""
        return {
            "state": self.state, "label": self.label, "route": self.route,
            "ai_score": self.ai_score, "generator": self.generator,
            "model_name": self.model_name, "undisclosed_ai": self.undisclosed_ai,
            "needs_review": self.needs_review, "rejection_reason": self.rejection_reason,
        }


class Evidence(models.Model):
    """One detector's finding for one version of one case's content.

    Unique on (case, detector alias, detector version, content sha256): the pipeline
    skips detectors whose key already exists, which is what makes re-delivered tasks
    (acks_late) cheap and safe.
    """

    case = models.ForeignKey(ModerationCase, on_delete=models.CASCADE, related_name="evidence")
    detector = models.CharField(max_length=64)
    detector_version = models.CharField(max_length=64)
    content_sha256 = models.CharField(max_length=64)
    mode = models.CharField(max_length=8, choices=DetectorMode.choices,
                            default=DetectorMode.ENFORCE)
    label = models.CharField(max_length=16, choices=EvidenceLabel.choices)
    score = models.FloatField(null=True, blank=True)
    strength = models.CharField(max_length=8, choices=Strength.choices)
    #: A reason code and its parameters; the sentence is rendered when a page shows it
    #: (``moderation.reasons.describe``), so every reader gets their own language.
    message = models.CharField(max_length=64, blank=True)
    message_params = models.JSONField(default=dict, blank=True)
    generator = models.CharField(max_length=200, blank=True)
    model_name = models.CharField(max_length=300, blank=True)
    loras = models.JSONField(default=list, blank=True)
    reasons = models.JSONField(default=list, blank=True)
    details = models.JSONField(default=dict, blank=True)
    #: Moderators only (prompts, negative prompts, raw workflow). Never serialise publicly.
    private = models.JSONField(default=dict, blank=True)
    error = models.CharField(max_length=500, blank=True)
    elapsed_ms = models.FloatField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("evidence")
        verbose_name_plural = _("evidence")
        constraints = [
            models.UniqueConstraint(
                fields=["case", "detector", "detector_version", "content_sha256"],
                name="moderation_evidence_key",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.detector}@{self.detector_version}: {self.label}/{self.strength}"


class ModerationAction(models.Model):
    """Append-only audit log entry.

    UPDATE and DELETE are refused by database triggers (migration 0002), not just by
    convention. ``case`` has no database-level foreign key so that deleting a work
    leaves its history intact. ``prev_hash``/``row_hash`` chain the rows (migration 0005,
    :mod:`moderation.audit`) so that an edit made past the triggers is detectable.
    """

    case = models.ForeignKey(
        ModerationCase, null=True, blank=True, on_delete=models.DO_NOTHING,
        db_constraint=False, related_name="actions",
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.DO_NOTHING,
        db_constraint=False, related_name="+",
    )
    action = models.CharField(max_length=64, db_index=True)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    note = models.TextField(blank=True)
    # Not ``auto_now_add``: that stamps the time inside the INSERT, after the row hash
    # (which covers created_at) has been computed; ``moderation.hashchain.seal`` stamps it.
    created_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)
    prev_hash = models.CharField(_("previous row's hash"), max_length=64, blank=True,
                                 default="", editable=False)
    row_hash = models.CharField(_("row hash"), max_length=64, blank=True, default="",
                                editable=False)

    class Meta:
        verbose_name = _("moderation action")
        verbose_name_plural = _("moderation actions")
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.action} case={self.case_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not self._state.adding:
            raise PermissionError("ModerationAction is append-only; create a new entry instead")
        using = kwargs.get("using") or router.db_for_write(type(self), instance=self)
        # One transaction for lock, head read and insert: the chain lock must be held
        # until the row is committed, or a racing insert could take the same head.
        with transaction.atomic(using=using):
            hashchain.seal(self, using)
            super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise PermissionError("ModerationAction is append-only and cannot be deleted")


def _private_storage() -> Any:
    """Storage for appeal proof files; kept out of MEDIA_URL so only moderator views serve it."""
    return private_storage()


def _appeal_upload_to(instance: AppealFile, filename: str) -> str:
    """Random object key: the uploader's file name is kept in ``original_name`` only."""
    import uuid
    from pathlib import PurePath

    suffix = PurePath(filename).suffix.lower()[:10]
    return f"appeals/{uuid.uuid4().hex}{suffix}"


class Strike(models.Model):
    """A confirmed breach by an uploader (e.g. AI work declared hand-made).

    Only a moderator's action creates one (``moderation.strikes.record_strike`` refuses a
    missing actor), so no detector score can count against an account on its own.
    ``revoked_at`` is set when an appeal overturns the decision; ``lifted_at`` when a
    moderator lifts the suspension this strike caused.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="moderation_strikes", verbose_name=_("user"))
    case = models.ForeignKey(ModerationCase, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="strikes", verbose_name=_("case"))
    reason = models.CharField(_("reason"), max_length=32, default="undisclosed_ai")
    note = models.TextField(_("note"), blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True,
                                   on_delete=models.SET_NULL, related_name="+",
                                   verbose_name=_("recorded by"))
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True, db_index=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    lifted_at = models.DateTimeField(_("suspension lifted at"), null=True, blank=True)

    class Meta:
        verbose_name = _("strike")
        verbose_name_plural = _("strikes")
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"strike {self.pk} user={self.user_id} {self.reason}"


class AppealStatus(models.TextChoices):
    OPEN = "open", _("Open")
    UPHELD = "upheld", _("Upheld (label stays)")
    OVERTURNED = "overturned", _("Overturned (label corrected)")


class Appeal(models.Model):
    """An uploader's request to review a label or hold, with proof of process."""

    case = models.ForeignKey(ModerationCase, on_delete=models.CASCADE, related_name="appeals",
                             verbose_name=_("case"))
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="moderation_appeals", verbose_name=_("uploader"))
    message = models.TextField(_("message"), max_length=5000)
    status = models.CharField(_("status"), max_length=16, choices=AppealStatus.choices,
                              default=AppealStatus.OPEN, db_index=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+",
                                   verbose_name=_("decided by"))
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_note = models.TextField(_("decision note"), blank=True)
    created_at = models.DateTimeField(_("submitted at"), auto_now_add=True)

    class Meta:
        verbose_name = _("appeal")
        verbose_name_plural = _("appeals")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["case"], condition=models.Q(status="open"),
                                    name="moderation_one_open_appeal_per_case"),
        ]

    def __str__(self) -> str:
        return f"appeal {self.pk} case={self.case_id} {self.status}"


class AppealFile(models.Model):
    """Proof of process (layered file, timelapse, WIP image); served to moderators only."""

    class Kind(models.TextChoices):
        LAYERED = "layered", _("Layered file")
        TIMELAPSE = "timelapse", _("Timelapse")
        WIP = "wip", _("Work-in-progress image")
        OTHER = "other", _("Other")

    appeal = models.ForeignKey(Appeal, on_delete=models.CASCADE, related_name="files",
                               verbose_name=_("appeal"))
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.WIP)
    file = models.FileField(_("file"), upload_to=_appeal_upload_to, storage=_private_storage,
                            max_length=200)
    original_name = models.CharField(_("file name"), max_length=255, blank=True)
    size = models.PositiveBigIntegerField(_("size"), default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("appeal file")
        verbose_name_plural = _("appeal files")

    def __str__(self) -> str:
        return self.original_name or str(self.file.name)


# --- viewers and creators (issue 5) -------------------------------------------------


class CreatorSettings(models.Model):
    """What one creator chose once for all their works (today: the training reservation)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                related_name="moderation_creator_settings")
    training = models.CharField(_("AI training"), max_length=8, choices=TrainingChoice.choices,
                                default=TrainingChoice.DEFAULT)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("creator settings")
        verbose_name_plural = _("creator settings")

    def __str__(self) -> str:
        return f"creator {self.user_id}: training={self.training}"


class WorkTrainingOverride(models.Model):
    """A per-work training reservation that wins over the creator's and the site's.

    Keyed like :class:`ModerationCase` (content type + text object id) so it exists even
    before a case does and survives a rescan.
    """

    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE, related_name="+")
    object_id = models.CharField(max_length=64)
    training = models.CharField(_("AI training"), max_length=8, choices=TrainingChoice.choices,
                                default=TrainingChoice.DEFAULT)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("work training override")
        verbose_name_plural = _("work training overrides")
        constraints = [
            models.UniqueConstraint(fields=["content_type", "object_id"],
                                    name="moderation_one_training_override_per_object"),
        ]

    def __str__(self) -> str:
        return f"{self.content_type_id}:{self.object_id} training={self.training}"


class ViewerPreference(models.Model):
    """Whether a signed-in viewer hides AI works, sees everything, or sees only AI works."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                related_name="moderation_viewer_preference")
    ai_filter = models.CharField(_("AI works in feeds"), max_length=8,
                                 choices=AIFilter.choices, default=AIFilter.EXCLUDE)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("viewer preference")
        verbose_name_plural = _("viewer preferences")

    def __str__(self) -> str:
        return f"viewer {self.user_id}: ai={self.ai_filter}"


class CrawlerHit(models.Model):
    """A known AI crawler fetched a page or image of a work whose creator reserved training.

    Kept so the creator's page can show the count; the user agent is truncated and no IP
    address is stored (it is not needed for the count).
    """

    creator = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                on_delete=models.CASCADE, related_name="+")
    content_type = models.ForeignKey(ContentType, null=True, blank=True,
                                     on_delete=models.CASCADE, related_name="+")
    object_id = models.CharField(max_length=64, blank=True)
    crawler = models.CharField(max_length=64)
    user_agent = models.CharField(max_length=300, blank=True)
    path = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("AI crawler hit")
        verbose_name_plural = _("AI crawler hits")
        indexes = [models.Index(fields=["creator", "created_at"], name="moderation_hit_creator")]

    def __str__(self) -> str:
        return f"{self.crawler} {self.path}"


class ClassifierVersion(models.Model):
    """The admin's "Classifier versions" page; no table (see moderation.training.admin).

    Installed versions live in the install directory the site-adaptive loop writes, the
    files the workers load; this unmanaged model only anchors the admin page and the
    ``promote_classifier`` permission.
    """

    version = models.CharField(_("version"), max_length=200, primary_key=True)

    class Meta:
        managed = False
        verbose_name = _("classifier version")
        verbose_name_plural = _("classifier versions")
        default_permissions = ("view",)
        permissions = [
            ("promote_classifier", _("Can promote a shadow classifier version to enforce")),
        ]

    def __str__(self) -> str:
        return self.version


class NotificationKind(models.TextChoices):
    """What happened to an uploader's work; the sentence is rendered when shown."""

    HELD = "held", _("Held for review")
    DECIDED = "decided", _("A moderator decided")
    APPEAL_DECIDED = "appeal_decided", _("Appeal decided")
    PROTECTED_MATCH = "protected_match", _("An upload matches a work you protect")


class Notification(models.Model):
    """One in-app notice to an uploader about their work (shown on "My works").

    Stores the kind and the case only: the text is written in the reader's language
    when the page renders (``moderation.notices``), and the link goes to the work's
    status page.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="moderation_notifications", verbose_name=_("user"))
    case = models.ForeignKey(ModerationCase, null=True, blank=True, on_delete=models.CASCADE,
                             related_name="notifications", verbose_name=_("case"))
    kind = models.CharField(_("kind"), max_length=16, choices=NotificationKind.choices)
    #: The label, route or appeal outcome at the time (the case may change later).
    outcome = models.CharField(_("outcome"), max_length=32, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "read_at"], name="moderation_notice_unread")]

    def __str__(self) -> str:
        return f"notice {self.pk} user={self.user_id} {self.kind}"


# -- Similar works and variation sets (moderation.similarity) --------------------------


class WorkEmbedding(models.Model):
    """The classifier backbone's pooled features of one case's content, for the
    similarity index (another account's near-copy) and variation sets (one account's
    series of near-identical works).

    ``vector`` is the L2-normalised embedding as little-endian float16 (384 bytes for
    192 dimensions); ``model`` names the bundle and pool it came from, since vectors of
    two models cannot be compared. ``owner`` and ``case_created_at`` are copied from the
    case so the index and the per-account window read one table. ``variation_key`` is
    the primary key of the earliest case of the work's variation set (None: no set), the
    key feeds fold the set's works under.
    """

    case = models.OneToOneField(ModerationCase, on_delete=models.CASCADE,
                                related_name="embedding", verbose_name=_("case"))
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="+")
    content_sha256 = models.CharField(max_length=64)
    model = models.CharField(max_length=100)
    dims = models.PositiveSmallIntegerField()
    vector = models.BinaryField()
    case_created_at = models.DateTimeField(db_index=True)
    variation_key = models.BigIntegerField(null=True, blank=True, db_index=True)
    variation_size = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("work embedding")
        verbose_name_plural = _("work embeddings")
        indexes = [models.Index(fields=["owner", "case_created_at"],
                                name="moderation_embed_owner")]

    def __str__(self) -> str:
        return f"embedding of case {self.case_id} ({self.model})"

# --- viewers' reports (issue 15) -----------------------------------------------------


class ReportStatus(models.TextChoices):
    OPEN = "open", _("Waiting for a moderator")
    UPHELD = "upheld", _("Upheld")
    REJECTED = "rejected", _("Not upheld")


def _report_original_upload_to(instance: Report, filename: str) -> str:
    """Random object key in private storage: the reporter's file name is kept apart."""
    import uuid
    from pathlib import PurePath

    suffix = PurePath(filename).suffix.lower()[:10]
    return f"report-originals/{uuid.uuid4().hex}{suffix}"


class Report(models.Model):
    """One viewer's report of one work: a reason code, an optional note, and for a repost
    the original (a link, or an upload kept in private storage).

    The reporter is shown to moderators only. ``weight`` is what the report counts in the
    case's report score; ``weight_parts`` keeps the factors it was made of (reputation,
    account age, burst, shared cluster) so the case page can say why. ``artist`` is the
    reported work's uploader when the report was made: bursts are counted per artist.
    """

    case = models.ForeignKey(ModerationCase, on_delete=models.CASCADE, related_name="reports",
                             verbose_name=_("case"))
    reporter = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="moderation_reports",
                                 verbose_name=_("reporter"))
    #: Anonymous reports: a keyed hash of the browser session, one report per session.
    anonymous_key = models.CharField(max_length=64, blank=True, db_index=True)
    artist = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                               on_delete=models.SET_NULL, related_name="+",
                               verbose_name=_("reported artist"))
    reason = models.CharField(_("reason"), max_length=32)
    note = models.TextField(_("note"), blank=True)
    original_url = models.URLField(_("link to the original"), max_length=500, blank=True)
    original_file = models.FileField(_("original file"), upload_to=_report_original_upload_to,
                                     storage=_private_storage, max_length=200, blank=True)
    original_name = models.CharField(_("file name"), max_length=255, blank=True)
    original_sha256 = models.CharField(max_length=64, blank=True, db_index=True)
    #: The work's label when it was reported ("wrong label" is upheld when it changes).
    label_at_report = models.CharField(max_length=16, blank=True)
    #: Keyed hashes of the cluster keys the host's hook gave for the request.
    cluster_keys = models.JSONField(default=list, blank=True)
    #: The reporter had never reported before this one (bursts count such reports).
    first_report = models.BooleanField(default=False)
    in_burst = models.BooleanField(_("part of a burst"), default=False, db_index=True)
    weight = models.FloatField(_("weight"), default=0.0)
    weight_parts = models.JSONField(default=dict, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=ReportStatus.choices,
                              default=ReportStatus.OPEN, db_index=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+",
                                    verbose_name=_("decided by"))
    resolved_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    created_at = models.DateTimeField(_("reported at"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("report")
        verbose_name_plural = _("reports")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["case", "reporter"],
                                    condition=models.Q(reporter__isnull=False),
                                    name="moderation_one_report_per_reporter"),
            models.UniqueConstraint(fields=["case", "anonymous_key"],
                                    condition=~models.Q(anonymous_key=""),
                                    name="moderation_one_anonymous_report"),
        ]
        indexes = [models.Index(fields=["artist", "created_at"],
                                name="moderation_report_artist")]

    def __str__(self) -> str:
        return f"report {self.pk} case={self.case_id} {self.reason} {self.status}"


class ReporterReputation(models.Model):
    """How often one reporter's reports for one reason were upheld by moderators.

    With the prior ``REPORT_PRIOR`` = (a, b) the reporter's precision for the reason is
    the Beta posterior mean (a + upheld) / (a + b + upheld + rejected).
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="moderation_report_reputation",
                             verbose_name=_("reporter"))
    reason = models.CharField(_("reason"), max_length=32)
    upheld = models.PositiveIntegerField(_("upheld"), default=0)
    rejected = models.PositiveIntegerField(_("not upheld"), default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("reporter reputation")
        verbose_name_plural = _("reporter reputations")
        constraints = [
            models.UniqueConstraint(fields=["user", "reason"],
                                    name="moderation_one_reputation_per_reason"),
        ]

    def __str__(self) -> str:
        return f"reputation {self.user_id} {self.reason}: +{self.upheld} -{self.rejected}"

# --- fingerprints and hash banks (issue 12) -----------------------------------------


class FingerprintBank(models.TextChoices):
    """Which bank a hash belongs to; each bank means something else when matched."""

    SITE = "site", _("Published works on this site")
    BANNED = "banned", _("Works moderators removed")
    PROTECTED = "protected", _("Works their creators protect")
    SHARED = "shared", _("Hashes other sites shared")


class WorkFingerprint(models.Model):
    """The PDQ hash of one version of one case's content, with its quality and the eight
    dihedral variants (rotations and mirrors) a mirrored or turned repost is matched by."""

    case = models.ForeignKey(ModerationCase, on_delete=models.CASCADE,
                             related_name="fingerprints")
    content_sha256 = models.CharField(max_length=64)
    pdq = models.CharField(_("PDQ hash"), max_length=64)
    quality = models.PositiveSmallIntegerField(_("PDQ quality"))
    dihedral = models.JSONField(default=list, blank=True)
    #: Hashes of the central crops (``moderation.fingerprints.pdq.CROPS``).
    crops = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("work fingerprint")
        verbose_name_plural = _("work fingerprints")
        constraints = [
            models.UniqueConstraint(fields=["case", "content_sha256"],
                                    name="moderation_one_fingerprint_per_content"),
        ]

    def __str__(self) -> str:
        return f"case {self.case_id} pdq={self.pdq[:12]}… q={self.quality}"


class BankEntry(models.Model):
    """One hash in one bank: a published work, a removed work or a protected work.

    Rows are never edited once written: leaving a bank sets ``removed_at`` and coming back
    writes a new row, so the FAISS index follows the table by primary key alone (new ids
    are added, removed ones discarded). ``owner`` is whose work it is (the uploader, or
    the creator who protects it); a removed work's entry outlives the work itself.
    """

    bank = models.CharField(_("bank"), max_length=16, choices=FingerprintBank.choices,
                            db_index=True)
    pdq = models.CharField(_("PDQ hash"), max_length=64)
    quality = models.PositiveSmallIntegerField(_("PDQ quality"))
    #: Hashes of the work's central crops, indexed under the same entry so that a
    #: trimmed repost still finds it.
    crops = models.JSONField(default=list, blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="+",
                              verbose_name=_("owner"))
    case = models.ForeignKey(ModerationCase, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="bank_entries", verbose_name=_("case"))
    title = models.CharField(_("title"), max_length=200, blank=True)
    source_url = models.URLField(_("where it is published"), max_length=500, blank=True)
    #: A shared entry's origin: the name its list was imported under.
    source = models.CharField(_("source"), max_length=200, blank=True)
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="+",
                                 verbose_name=_("added by"))
    created_at = models.DateTimeField(_("added at"), auto_now_add=True)
    removed_at = models.DateTimeField(_("removed at"), null=True, blank=True, db_index=True)

    class Meta:
        verbose_name = _("hash bank entry")
        verbose_name_plural = _("hash bank entries")
        indexes = [models.Index(fields=["bank", "owner"], name="moderation_bank_owner")]

    def __str__(self) -> str:
        return f"{self.bank} {self.pdq[:12]}… owner={self.owner_id}"


class FingerprintMatch(models.Model):
    """One bank entry an upload's content matched, with the PDQ distance and which
    dihedral variant of the upload matched (``original`` unless mirrored or turned)."""

    case = models.ForeignKey(ModerationCase, on_delete=models.CASCADE,
                             related_name="fingerprint_matches")
    entry = models.ForeignKey(BankEntry, on_delete=models.CASCADE, related_name="matches")
    content_sha256 = models.CharField(max_length=64)
    distance = models.PositiveSmallIntegerField(_("distance"))
    variant = models.CharField(_("variant"), max_length=16, default="original")
    created_at = models.DateTimeField(_("matched at"), auto_now_add=True)

    class Meta:
        verbose_name = _("fingerprint match")
        verbose_name_plural = _("fingerprint matches")
        ordering = ["distance", "id"]
        constraints = [
            models.UniqueConstraint(fields=["case", "entry", "content_sha256"],
                                    name="moderation_one_match_per_entry"),
        ]

    def __str__(self) -> str:
        return f"case {self.case_id} ~ entry {self.entry_id} d={self.distance}"

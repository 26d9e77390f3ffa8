"""Strikes (escalation, pipeline hook, never from a classifier) and appeals (proof, decisions,
notifications)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from moderation import actions, pipeline, strikes
from moderation.constants import Declaration, Label, ProcessingState, Route
from moderation.evidence import EvidenceResult
from moderation.models import Appeal, ModerationCase, Strike
from moderation.reasons import Priority
from moderation.signals import appeal_decided, strike_recorded
from tests.factories import make_case

pytestmark = pytest.mark.django_db


def confirm_undisclosed(owner, moderator) -> ModerationCase:
    case = make_case(owner, declaration=Declaration.NONE, undisclosed=True, priority=800)
    actions.MarkAI(moderator, case).run()
    return case


def classifier_only(score: float = 0.99) -> list[EvidenceResult]:
    return [EvidenceResult(detector="classifier", version="2", label="ai", strength="weak",
                           message="classifier_score", score=score, reasons=("classifier_score",))]


def provenance_ai() -> list[EvidenceResult]:
    return [EvidenceResult(detector="provenance", version="1", label="ai", strength="strong",
                           message="a1111_parameters", generator="Stable Diffusion")]


def fresh_upload(owner, **kw) -> ModerationCase:
    case = make_case(owner, state=ProcessingState.RUNNING, needs_review=False, priority=0,
                     evidence=False, **kw)
    ModerationCase.objects.filter(pk=case.pk).update(label="", route=Route.HELD)
    return case


# -- escalation ---------------------------------------------------------------------------
def test_default_escalation_warn_hold_suspend(uploader, moderator):
    assert strikes.standing(uploader).level == ""
    confirm_undisclosed(uploader, moderator)
    assert strikes.standing(uploader).level == strikes.WARN
    confirm_undisclosed(uploader, moderator)
    second = strikes.standing(uploader)
    assert second.level == strikes.HOLD and second.held
    assert second.held_until is not None
    assert second.held_until - timezone.now() > timedelta(days=29)
    confirm_undisclosed(uploader, moderator)
    third = strikes.standing(uploader)
    assert third.suspended and not strikes.can_upload(uploader)


def test_hold_expires_after_configured_days(uploader, moderator, settings):
    settings.MODERATION = {"STRIKE_HOLD_DAYS": 30}
    confirm_undisclosed(uploader, moderator)
    confirm_undisclosed(uploader, moderator)
    Strike.objects.update(created_at=timezone.now() - timedelta(days=31))
    assert strikes.standing(uploader).level == strikes.WARN


def test_escalation_is_configurable(uploader, moderator, settings):
    settings.MODERATION = {"STRIKE_ESCALATION": ["suspend"]}
    confirm_undisclosed(uploader, moderator)
    assert strikes.standing(uploader).suspended


def test_expired_strikes_do_not_count(uploader, moderator, settings):
    settings.MODERATION = {"STRIKE_EXPIRY_DAYS": 365}
    confirm_undisclosed(uploader, moderator)
    Strike.objects.update(created_at=timezone.now() - timedelta(days=400))
    assert strikes.standing(uploader).strikes == 0


def test_unknown_level_is_a_configuration_error(uploader, moderator, settings):
    settings.MODERATION = {"STRIKE_ESCALATION": ["ban-forever"]}
    with pytest.raises(ValueError, match="unknown level"):
        strikes.level_for(1)


def test_lift_suspension_falls_back_to_hold(uploader, moderator):
    for _ in range(3):
        case = confirm_undisclosed(uploader, moderator)
    assert strikes.standing(uploader).suspended
    actions.LiftSuspension(moderator, case).run()
    now = strikes.standing(uploader)
    assert not now.suspended and now.held
    with pytest.raises(actions.ActionConflict):
        actions.LiftSuspension(moderator, case).run()


# -- the pipeline hook --------------------------------------------------------------------
def test_held_account_new_upload_goes_to_review_not_main(uploader, moderator):
    confirm_undisclosed(uploader, moderator)
    confirm_undisclosed(uploader, moderator)
    case = fresh_upload(uploader)
    pipeline.finish(case.pk, "b" * 64, [])  # nothing suspicious: would be "main"
    case.refresh_from_db()
    assert case.label == Label.HUMAN
    assert case.route == Route.HELD and case.needs_review
    assert "account_on_hold" in case.reasons
    assert case.review_priority == Priority.ACCOUNT_HOLD


def test_suspended_account_new_upload_is_hidden(uploader, moderator):
    for _ in range(3):
        confirm_undisclosed(uploader, moderator)
    case = fresh_upload(uploader, declaration=Declaration.AI)
    pipeline.finish(case.pk, "c" * 64, [])
    case.refresh_from_db()
    assert case.route == Route.HIDDEN and "account_suspended" in case.reasons


def test_clean_account_is_untouched(uploader):
    case = fresh_upload(uploader)
    pipeline.finish(case.pk, "d" * 64, [])
    case.refresh_from_db()
    assert (case.route, case.needs_review) == (Route.MAIN, False)


def test_classifier_score_alone_never_strikes(uploader):
    case = fresh_upload(uploader)
    pipeline.finish(case.pk, "e" * 64, classifier_only(0.999))
    case.refresh_from_db()
    assert case.label == Label.UNCERTAIN and case.route == Route.HELD
    assert not Strike.objects.exists()


def test_provenance_undisclosed_waits_for_a_moderator(uploader, moderator):
    case = fresh_upload(uploader)
    pipeline.finish(case.pk, "f" * 64, provenance_ai())
    case.refresh_from_db()
    assert case.undisclosed_ai and case.route == Route.HELD
    assert not Strike.objects.exists()  # the pipeline never strikes
    actions.MarkAI(moderator, case).run()
    assert Strike.objects.filter(user=uploader, case=case).count() == 1


def test_record_strike_refuses_without_a_moderator(case, uploader):
    with pytest.raises(PermissionDenied):
        strikes.record_strike(case, None)
    with pytest.raises(PermissionDenied):
        strikes.record_strike(case, uploader)


def test_strike_signal_and_mail(uploader, moderator, django_capture_on_commit_callbacks):
    got = []

    def receiver(sender, strike, level, **kw):
        got.append((strike.user_id, level))

    strike_recorded.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            confirm_undisclosed(uploader, moderator)
    finally:
        strike_recorded.disconnect(receiver)
    assert got == [(uploader.pk, "warn")]
    assert mail.outbox[-1].to == [uploader.email]


# -- appeals ------------------------------------------------------------------------------
def test_only_the_uploader_can_appeal_and_only_once_at_a_time(uploader, other_user, moderator):
    case = make_case(uploader, label=Label.AI)
    with pytest.raises(PermissionDenied):
        actions.SubmitAppeal(other_user, case, message="x").run()
    with pytest.raises(actions.ActionInvalid):
        actions.SubmitAppeal(uploader, case, message="   ").run()
    actions.SubmitAppeal(uploader, case, message="I drew it").run()
    with pytest.raises(actions.ActionConflict):
        actions.SubmitAppeal(uploader, case, message="again").run()


def test_hand_made_in_main_cannot_be_appealed(uploader):
    case = make_case(uploader, label=Label.HUMAN, route=Route.MAIN, needs_review=False)
    with pytest.raises(PermissionDenied):
        actions.SubmitAppeal(uploader, case, message="why not").run()


def test_appeal_files_are_validated(uploader, settings):
    settings.MODERATION = {"APPEAL_MAX_FILE_BYTES": 10, "APPEAL_MAX_FILES": 1}
    case = make_case(uploader, label=Label.AI)
    big = SimpleUploadedFile("big.psd", b"x" * 11)
    with pytest.raises(actions.ActionInvalid):
        actions.SubmitAppeal(uploader, case, message="m", kind="layered", proof=[big]).run()
    two = [SimpleUploadedFile("a.png", b"a"), SimpleUploadedFile("b.png", b"b")]
    with pytest.raises(actions.ActionInvalid):
        actions.SubmitAppeal(uploader, case, message="m", kind="wip", proof=two).run()
    with pytest.raises(actions.ActionInvalid):
        actions.SubmitAppeal(uploader, case, message="m", kind="malware",
                             proof=[SimpleUploadedFile("a.exe", b"a")]).run()
    assert not Appeal.objects.exists()


def test_overturned_appeal_relabels_revokes_strike_and_notifies(
        uploader, moderator, moderator2, django_capture_on_commit_callbacks):
    case = confirm_undisclosed(uploader, moderator)
    assert strikes.standing(uploader).strikes == 1
    appeal = actions.SubmitAppeal(
        uploader, case, message="timelapse attached",
        kind="timelapse", proof=[SimpleUploadedFile("t.mp4", b"video")]).run().extra["appeal"]
    case.refresh_from_db()
    assert case.needs_review and case.review_priority == Priority.APPEAL
    decided = []
    appeal_decided.connect(lambda sender, appeal, **kw: decided.append(appeal.status),
                           weak=False, dispatch_uid="test-appeal")
    try:
        mail.outbox.clear()
        with django_capture_on_commit_callbacks(execute=True):
            actions.DecideAppeal(moderator2, case, appeal=appeal, outcome="overturned",
                                 note="layers check out").run()
    finally:
        appeal_decided.disconnect(dispatch_uid="test-appeal")
    case.refresh_from_db()
    appeal.refresh_from_db()
    assert (case.label, case.route, case.undisclosed_ai) == (Label.HUMAN, Route.MAIN, False)
    assert not case.needs_review
    assert appeal.status == "overturned" and appeal.decided_by == moderator2
    assert strikes.standing(uploader).strikes == 0
    assert Strike.objects.get().revoked_at is not None
    assert decided == ["overturned"]
    assert mail.outbox and "layers check out" in mail.outbox[0].body
    with pytest.raises(actions.ActionConflict):
        actions.DecideAppeal(moderator2, case, appeal=appeal, outcome="upheld").run()


def test_upheld_appeal_keeps_label_and_strike(uploader, moderator):
    case = confirm_undisclosed(uploader, moderator)
    appeal = actions.SubmitAppeal(uploader, case, message="no").run().extra["appeal"]
    actions.DecideAppeal(moderator, case, appeal=appeal, outcome="upheld").run()
    case.refresh_from_db()
    assert case.label == Label.AI and strikes.standing(uploader).strikes == 1
    assert not case.needs_review


def test_uploader_cannot_decide_own_appeal_even_as_moderator(moderator, moderator2):
    case = confirm_undisclosed(moderator, moderator2)
    appeal = actions.SubmitAppeal(moderator, case, message="mine").run().extra["appeal"]
    with pytest.raises(PermissionDenied):
        actions.DecideAppeal(moderator, case, appeal=appeal, outcome="overturned").run()


def test_decide_appeal_validates_inputs(uploader, moderator):
    case = make_case(uploader, label=Label.AI)
    other = make_case(uploader, label=Label.AI)
    appeal = actions.SubmitAppeal(uploader, other, message="x").run().extra["appeal"]
    with pytest.raises(actions.ActionInvalid):
        actions.DecideAppeal(moderator, case, appeal=appeal, outcome="upheld").run()
    with pytest.raises(actions.ActionInvalid):
        actions.DecideAppeal(moderator, other, appeal=appeal, outcome="maybe").run()


def test_appeal_with_declared_ai_assisted_restores_that_label(uploader, moderator):
    case = make_case(uploader, declaration=Declaration.AI_ASSISTED, label=Label.AI,
                     route=Route.AI_FEED, needs_review=False)
    appeal = actions.SubmitAppeal(uploader, case, message="only fill").run().extra["appeal"]
    actions.DecideAppeal(moderator, case, appeal=appeal, outcome="overturned").run()
    case.refresh_from_db()
    assert case.label == Label.AI_ASSISTED


@pytest.mark.django_db(transaction=True)
def test_concurrent_proof_uploads_never_exceed_the_quota(settings):
    """The hard per-appeal file quota holds under concurrency (row lock + count), because
    DRF throttles let a few extra requests through."""
    import threading

    from django.db import connection, connections

    from moderation.models import AppealFile
    from tests.factories import make_user

    if connection.vendor != "postgresql":
        pytest.skip("needs a database with row locks (set DATABASE_URL=postgres://...)")
    settings.MODERATION = {"APPEAL_MAX_FILES": 3}
    owner = make_user("owner")
    case = make_case(owner, label=Label.AI)
    appeal = actions.SubmitAppeal(owner, case, message="proof").run().extra["appeal"]
    barrier = threading.Barrier(12)
    codes: list[str] = []

    def upload(i: int) -> None:
        try:
            barrier.wait()
            actions.AddAppealFile(owner, case, appeal=appeal, kind="wip",
                                  file=SimpleUploadedFile(f"w{i}.png", b"x")).run()
            codes.append("ok")
        except actions.ActionConflict:
            codes.append("refused")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=upload, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes.count("ok") == 3 and codes.count("refused") == 9
    assert AppealFile.objects.filter(appeal=appeal).count() == 3

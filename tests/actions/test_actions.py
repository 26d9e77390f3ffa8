"""Moderator actions: permission checks, audit rows, signals after commit, claims, strikes."""

from __future__ import annotations

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, connection, transaction

from moderation import actions
from moderation.constants import Declaration, Label, Route
from moderation.models import ModerationAction, ModerationCase, Strike
from moderation.signals import action_taken, verdict_changed
from tests.factories import make_case

pytestmark = pytest.mark.django_db


def test_mark_human_changes_verdict_and_writes_audit(case, moderator):
    result = actions.MarkHuman(moderator, case, note="layers seen").run()
    case.refresh_from_db()
    assert (case.label, case.route) == (Label.HUMAN, Route.MAIN)
    assert case.decided_by == moderator and case.decided_at is not None
    assert case.needs_review is False
    entry = result.entry
    assert entry.action == "mark_human" and entry.actor == moderator
    assert entry.before["label"] == Label.UNCERTAIN and entry.after["label"] == Label.HUMAN
    assert entry.note == "layers seen"


@pytest.mark.parametrize(("action", "label", "route"), [
    (actions.MarkAIAssisted, Label.AI_ASSISTED, Route.MAIN),
    (actions.MarkAI, Label.AI, Route.AI_FEED),
    (actions.MarkHuman, Label.HUMAN, Route.MAIN),
])
def test_each_label_goes_to_its_feed(uploader, moderator, action, label, route):
    case = make_case(uploader, declaration=Declaration.AI_ASSISTED)
    action(moderator, case, tool="ComfyUI").run()
    case.refresh_from_db()
    assert (case.label, case.route) == (label, route)


@pytest.mark.parametrize("who", ["anon", "uploader", "other", "staff"])
def test_non_moderators_are_refused_and_nothing_is_written(case, uploader, other_user, staff,
                                                           who):
    from django.contrib.auth.models import AnonymousUser

    actor = {"anon": AnonymousUser(), "uploader": uploader, "other": other_user,
             "staff": staff}[who]
    before = ModerationAction.objects.count()
    with pytest.raises(PermissionDenied):
        actions.MarkHuman(actor, case).run()
    case.refresh_from_db()
    assert case.label == Label.UNCERTAIN
    assert ModerationAction.objects.count() == before


def test_moderator_cannot_decide_own_upload(moderator):
    own = make_case(moderator)
    with pytest.raises(PermissionDenied):
        actions.MarkHuman(moderator, own).run()


def test_claim_blocks_other_moderators_until_released(case, moderator, moderator2):
    actions.Claim(moderator, case).run()
    case.refresh_from_db()
    assert case.claimed_by == moderator
    with pytest.raises(actions.ActionConflict):
        actions.MarkAI(moderator2, case).run()
    with pytest.raises(actions.ActionConflict):
        actions.Claim(moderator2, case).run()
    with pytest.raises(actions.ActionConflict):
        actions.Release(moderator2, case).run()
    actions.Release(moderator, case).run()
    actions.MarkAI(moderator2, case, strike=False).run()
    case.refresh_from_db()
    assert case.label == Label.AI and case.claimed_by is None


def test_stale_claim_can_be_taken_over(case, moderator, moderator2, settings):
    actions.Claim(moderator, case).run()
    settings.MODERATION = {"CLAIM_TIMEOUT_SECONDS": 0}
    actions.Claim(moderator2, case).run()
    case.refresh_from_db()
    assert case.claimed_by == moderator2


def test_deciding_releases_own_claim(case, moderator):
    actions.Claim(moderator, case).run()
    actions.MarkHuman(moderator, case).run()
    case.refresh_from_db()
    assert case.claimed_by is None


def test_hide_and_restore(case, moderator):
    actions.MarkAI(moderator, case, strike=False).run()
    actions.Hide(moderator, case).run()
    case.refresh_from_db()
    assert case.route == Route.HIDDEN
    actions.Restore(moderator, case).run()
    case.refresh_from_db()
    assert case.route == Route.AI_FEED
    with pytest.raises(actions.ActionConflict):
        actions.Restore(moderator, case).run()


def test_route_validates_its_choice(case, moderator):
    with pytest.raises(actions.ActionInvalid):
        actions.RouteTo(moderator, case, route="front_page").run()
    actions.RouteTo(moderator, case, route=Route.AI_FEED).run()
    case.refresh_from_db()
    assert case.route == Route.AI_FEED


def test_note_requires_text_and_is_audited(case, moderator):
    with pytest.raises(actions.ActionInvalid):
        actions.AddNote(moderator, case, note="  ").run()
    actions.AddNote(moderator, case, note="asked for PSD").run()
    assert case.actions.filter(action="note", note="asked for PSD").exists()


def test_decision_refused_while_scan_runs(uploader, moderator):
    case = make_case(uploader, state="running")
    with pytest.raises(actions.ActionConflict):
        actions.MarkHuman(moderator, case).run()


def test_signals_fire_only_after_commit(case, moderator, django_capture_on_commit_callbacks):
    seen: list[str] = []

    def on_action(sender, action, **kw):
        seen.append(action.action)

    def on_verdict(sender, case, before, after, actor, **kw):
        seen.append(f"verdict:{after['label']}:{actor.username}")

    action_taken.connect(on_action)
    verdict_changed.connect(on_verdict)
    try:
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            actions.MarkHuman(moderator, case).run()
            assert seen == []  # nothing before the commit
        assert len(callbacks) == 1
        assert seen == ["mark_human", "verdict:human:mod"]
    finally:
        action_taken.disconnect(on_action)
        verdict_changed.disconnect(on_verdict)


def test_failed_action_rolls_back_everything(case, moderator, monkeypatch):
    def boom(self, case, entry):
        raise IntegrityError("simulated failure after the audit row")

    monkeypatch.setattr(actions.MarkHuman, "after_save", boom)
    with pytest.raises(IntegrityError):
        actions.MarkHuman(moderator, case).run()
    case.refresh_from_db()
    assert case.label == Label.UNCERTAIN
    assert not case.actions.filter(action="mark_human").exists()


def test_bulk_reports_failures_per_case(uploader, moderator, moderator2):
    a, b = make_case(uploader), make_case(uploader)
    actions.Claim(moderator2, b).run()
    done, failed = actions.run_bulk(actions.Hide, moderator, [a, b])
    assert [r.case.pk for r in done] == [a.pk]
    assert [c.pk for c, _ in failed] == [b.pk]
    with pytest.raises(actions.ActionInvalid):
        actions.run_bulk(actions.DecideAppeal, moderator, [a])


def test_rescan_queues_after_commit(case, moderator, monkeypatch,
                                    django_capture_on_commit_callbacks):
    queued: list[int] = []
    def enqueue(case_id: int, **kw: object) -> bool:
        queued.append(case_id)
        return True

    monkeypatch.setattr("moderation.tasks.enqueue_scan", enqueue)
    with django_capture_on_commit_callbacks(execute=True):
        actions.Rescan(moderator, case).run()
    assert queued == [case.pk]
    case.refresh_from_db()
    assert case.state == "pending"


# -- the audit log is append-only in the database ----------------------------------------
def test_audit_rows_refuse_update_and_delete(case, moderator):
    entry = actions.AddNote(moderator, case, note="n").run().entry
    with pytest.raises(PermissionError):
        entry.save()
    with pytest.raises(PermissionError):
        entry.delete()
    for sql in ("UPDATE moderation_moderationaction SET note = 'x' WHERE id = %s",
                "DELETE FROM moderation_moderationaction WHERE id = %s"):
        with pytest.raises(Exception, match="append-only"), transaction.atomic(), \
                connection.cursor() as cur:
            cur.execute(sql, [entry.pk])
    with pytest.raises(Exception, match="append-only"), transaction.atomic():
        ModerationAction.objects.filter(pk=entry.pk).update(note="edited")
    with pytest.raises(Exception, match="append-only"), transaction.atomic():
        ModerationAction.objects.filter(pk=entry.pk).delete()
    assert ModerationAction.objects.get(pk=entry.pk).note == "n"


def test_audit_survives_case_deletion(case, moderator):
    actions.MarkHuman(moderator, case).run()
    case_id = case.pk
    ModerationCase.objects.filter(pk=case_id).delete()
    assert ModerationAction.objects.filter(case_id=case_id, action="mark_human").exists()


# -- strikes through actions -------------------------------------------------------------
def test_confirmed_undisclosed_ai_relabels_and_strikes_once(uploader, moderator,
                                                            django_capture_on_commit_callbacks):
    case = make_case(uploader, declaration=Declaration.NONE, undisclosed=True, priority=800)
    with django_capture_on_commit_callbacks(execute=True):
        actions.MarkAI(moderator, case, note="PNG parameters").run()
    case.refresh_from_db()
    assert (case.label, case.route, case.undisclosed_ai) == (Label.AI, Route.AI_FEED, True)
    assert Strike.objects.filter(user=uploader, case=case).count() == 1
    assert mail.outbox and mail.outbox[-1].to == ["uploader@example.com"]
    actions.MarkAI(moderator, case).run()  # relabelled again: still one strike
    assert Strike.objects.filter(user=uploader).count() == 1


def test_mark_ai_on_declared_ai_work_records_no_strike(uploader, moderator):
    case = make_case(uploader, declaration=Declaration.AI)
    actions.MarkAI(moderator, case).run()
    assert not Strike.objects.exists()


def test_moderator_may_skip_the_strike(uploader, moderator):
    case = make_case(uploader, declaration=Declaration.NONE)
    actions.MarkAI(moderator, case, strike=False).run()
    assert not Strike.objects.exists()


def test_manual_strike_needs_a_reason(case, moderator):
    with pytest.raises(actions.ActionInvalid):
        actions.StrikeAction(moderator, case).run()
    actions.StrikeAction(moderator, case, note="repost of another artist", reason="repost").run()
    assert Strike.objects.get().reason == "repost"


def test_every_action_is_registered_with_a_name():
    for name, cls in actions.registry.items():
        assert cls.name == name and str(cls.verbose_name)


@pytest.mark.django_db(transaction=True)
def test_concurrent_claims_have_one_winner():
    """Row locking (select_for_update) makes claim a compare-and-set under concurrency."""
    import threading

    from django.db import connection as main_connection
    from django.db import connections

    from tests.factories import make_user

    if main_connection.vendor != "postgresql":
        pytest.skip("needs a database with row locks (set DATABASE_URL=postgres://...)")
    owner = make_user("owner")
    mods = [make_user(f"m{i}", moderator=True) for i in range(6)]
    case = make_case(owner)
    barrier = threading.Barrier(len(mods))
    outcome: list[str] = []

    def claim(mod):
        try:
            barrier.wait()
            actions.Claim(mod, case).run()
            outcome.append("won")
        except actions.ActionConflict:
            outcome.append("conflict")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=claim, args=(m,)) for m in mods]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcome) == ["conflict"] * 5 + ["won"]
    assert ModerationAction.objects.filter(case=case, action="claim").count() == 1


@pytest.mark.parametrize("params", [{"note": "a\x00b"}, {"tool": "Comfy\x00UI"}])
def test_nul_characters_are_refused_before_the_database(case, moderator, params):
    with pytest.raises(actions.ActionInvalid):
        actions.MarkAI(moderator, case, **params).run()

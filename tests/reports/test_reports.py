"""Viewers' reports: reputation, weighting, thresholds, rate limits, brigading,
anonymity of reporters towards the uploader, and no leak of held works."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.cache import caches
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from moderation import actions as A
from moderation.constants import Label, Route
from moderation.models import (
    ModerationAction,
    ModerationCase,
    Notification,
    Report,
    ReporterReputation,
    ReportStatus,
    Strike,
)
from moderation.queue import category_of, review_queue
from moderation.reasons import REPORTS_THRESHOLD, reason_table
from moderation.reports.clusters import ip_prefix
from moderation.reports.outcomes import confirmed_ai_cases
from moderation.reports.reputation import precision, reputation_of
from moderation.reports.scoring import case_score
from moderation.reports.submit import Reporter, submit_report
from moderation.reports.weighting import age_factor, cluster_factors, reweigh_case
from moderation.signals import case_scanned
from tests.factories import case_of, make_user, make_work, png_bytes

pytestmark = pytest.mark.django_db

NOTE = "secret-reporter-note-7731"


@pytest.fixture(autouse=True)
def _clean_cache() -> None:
    caches["default"].clear()


def aged(user: Any, days: int) -> Any:
    type(user).objects.filter(pk=user.pk).update(date_joined=timezone.now() - timedelta(days=days))
    user.refresh_from_db()
    return user


def trusted(name: str, upheld: int = 20, reason: str = "report_undisclosed_ai") -> Any:
    user = aged(make_user(name), 400)
    ReporterReputation.objects.create(user=user, reason=reason, upheld=upheld)
    return user


def work_path(work: Any) -> str:
    ct = ContentType.objects.get_for_model(work)
    return f"{ct.app_label}.{ct.model}"


def report_page(work: Any) -> str:
    return reverse("moderation:report_work", args=[work_path(work), work.pk])


def post_report(client: Client, work: Any, reason: str = "report_undisclosed_ai",
                **extra: Any) -> Any:
    meta = {k: v for k, v in extra.items() if k.isupper()}
    data = {k: v for k, v in extra.items() if not k.isupper()}
    return client.post(report_page(work), {"reason": reason, "note": NOTE, **data}, **meta)


def login(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


# -- reputation -----------------------------------------------------------------------

def test_beta_prior_new_reporter_counts_little_accurate_one_a_lot() -> None:
    assert precision(0, 0) == pytest.approx(0.25)
    assert precision(20, 0) == pytest.approx(21 / 24)
    assert precision(0, 9) == pytest.approx(1 / 13)
    assert precision(3, 1) > precision(0, 0) > precision(0, 3)


def test_reputation_is_per_reason_and_floor_zeroes_the_weight() -> None:
    user = aged(make_user("rina"), 400)
    ReporterReputation.objects.create(user=user, reason="report_repost", rejected=9)
    assert reputation_of(user, "report_repost").below_floor
    assert not reputation_of(user, "report_undisclosed_ai").below_floor
    work = make_work(make_user("artist"))
    report, score = submit_report(case_of(work), Reporter(user=user), reason="report_repost",
                                  original_url="https://example.com/orig")
    assert report.weight == 0.0 and score.value == 0.0
    assert report.weight_parts["floor"] is True
    assert Report.objects.filter(pk=report.pk).exists()  # stored, weighs nothing


def test_outcomes_move_reputation_and_are_audited() -> None:
    artist = make_user("artist")
    mod = make_user("mod", moderator=True)
    reporters = [trusted("t1"), trusted("t2"), aged(make_user("newbie"), 1)]
    work = make_work(artist)
    for who in reporters:
        submit_report(case_of(work), Reporter(user=who), reason="report_undisclosed_ai")
    case = case_of(work)
    assert case.route == Route.HELD
    A.MarkAI(mod, case, strike=False).run()
    assert set(Report.objects.values_list("status", flat=True)) == {ReportStatus.UPHELD}
    rep = ReporterReputation.objects.get(user=reporters[2], reason="report_undisclosed_ai")
    assert (rep.upheld, rep.rejected) == (1, 0)
    assert ModerationAction.objects.filter(case=case, action="report_upheld").count() == 3
    assert ModerationAction.objects.filter(case=case, action="report").count() == 3
    # A hand-made verdict rejects the next report and lowers that reporter's precision.
    other = make_work(artist)
    submit_report(case_of(other), Reporter(user=reporters[2]), reason="report_undisclosed_ai")
    before = reputation_of(reporters[2], "report_undisclosed_ai").precision
    A.MarkHuman(mod, case_of(other)).run()
    assert Report.objects.get(case=case_of(other)).status == ReportStatus.REJECTED
    assert reputation_of(reporters[2], "report_undisclosed_ai").precision < before


def test_hide_upholds_a_repost_and_relabel_does_not() -> None:
    artist, mod = make_user("artist"), make_user("mod", moderator=True)
    a, b = make_work(artist), make_work(artist)
    viewer = trusted("v", reason="report_repost")
    submit_report(case_of(a), Reporter(user=viewer), reason="report_repost",
                  original_url="https://example.com/a")
    submit_report(case_of(b), Reporter(user=viewer), reason="report_repost",
                  original_url="https://example.com/b")
    A.Hide(mod, case_of(a)).run()
    A.MarkAI(mod, case_of(b), strike=False).run()
    assert Report.objects.get(case=case_of(a)).status == ReportStatus.UPHELD
    assert Report.objects.get(case=case_of(b)).status == ReportStatus.REJECTED


# -- weighting and thresholds ---------------------------------------------------------

def test_weight_falls_with_account_age() -> None:
    now = timezone.now()
    assert age_factor(now, now) == pytest.approx(0.1)
    assert age_factor(now - timedelta(days=15), now) == pytest.approx(0.55)
    assert age_factor(now - timedelta(days=300), now) == 1.0
    assert age_factor(None, now) == pytest.approx(0.1)


def test_two_trusted_reporters_hold_the_work_without_label_or_strike(
        django_capture_on_commit_callbacks: Any) -> None:
    artist = make_user("artist")
    work = make_work(artist)
    submit_report(case_of(work), Reporter(user=trusted("t1")), reason="report_undisclosed_ai")
    case = case_of(work)
    assert case.route == Route.MAIN and case.needs_review  # queued, still public
    with django_capture_on_commit_callbacks(execute=True):
        _r, score = submit_report(case, Reporter(user=trusted("t2")),
                                  reason="report_undisclosed_ai")
    case = case_of(work)
    assert score.value >= 1.5
    assert (case.route, case.label, case.needs_review) == (Route.HELD, Label.HUMAN, True)
    assert REPORTS_THRESHOLD.code in case.reasons
    assert not Strike.objects.exists()
    assert ModerationAction.objects.filter(case=case, action="reports_hold").count() == 1
    assert Notification.objects.filter(user=artist, kind="held").count() == 1
    row = review_queue().get(pk=case.pk)
    assert row.report_score == pytest.approx(score.value)


@pytest.mark.parametrize("threshold", [None, 100.0])
def test_hold_threshold_setting(settings: Any, threshold: float | None) -> None:
    settings.MODERATION = {"REPORT_HOLD_THRESHOLD": threshold}
    work = make_work(make_user("artist"))
    for name in ("t1", "t2", "t3"):
        submit_report(case_of(work), Reporter(user=trusted(name)),
                      reason="report_undisclosed_ai")
    case = case_of(work)
    assert case.route == Route.MAIN and case.needs_review


def test_one_new_account_alone_does_not_queue() -> None:
    work = make_work(make_user("artist"))
    _r, score = submit_report(case_of(work), Reporter(user=make_user("fresh")),
                              reason="report_undisclosed_ai")
    case = case_of(work)
    assert score.value == pytest.approx(0.025)
    assert (case.route, case.needs_review) == (Route.MAIN, False)


def test_queue_orders_by_report_score_within_a_priority() -> None:
    artist = make_user("artist")
    low, high = make_work(artist), make_work(artist)
    ModerationCase.objects.filter(pk__in=[case_of(low).pk, case_of(high).pk]).update(
        needs_review=True, review_priority=400)
    submit_report(case_of(low), Reporter(user=make_user("a")), reason="report_other")
    submit_report(case_of(high), Reporter(user=trusted("b", reason="report_other")),
                  reason="report_other")
    ModerationCase.objects.filter(pk__in=[case_of(low).pk, case_of(high).pk]).update(
        review_priority=400)
    order = list(review_queue().values_list("pk", flat=True))
    assert order.index(case_of(high).pk) < order.index(case_of(low).pk)


def test_shared_cluster_keys_share_one_weight(settings: Any) -> None:
    settings.MODERATION = {"REPORT_CLUSTER_KEYS": "moderation.reports.clusters.ip_prefix"}
    work = make_work(make_user("artist"))
    client_a, client_b = login(trusted("t1")), login(trusted("t2"))
    assert post_report(client_a, work, REMOTE_ADDR="203.0.113.7").status_code == 302
    assert post_report(client_b, work, REMOTE_ADDR="203.0.113.99").status_code == 302
    weights = sorted(Report.objects.values_list("weight", flat=True))
    assert weights[0] == pytest.approx(21 / 24 / 2)
    assert case_of(work).route == Route.MAIN  # two accounts on one /24 count as one
    elsewhere = make_work(make_user("artist2"))
    assert post_report(client_a, elsewhere, REMOTE_ADDR="203.0.113.7").status_code == 302
    assert post_report(client_b, elsewhere, REMOTE_ADDR="198.51.100.1").status_code == 302
    assert case_of(elsewhere).route == Route.HELD  # different networks: full weight each
    assert cluster_factors([]) == {}


def test_ip_prefix_hook() -> None:
    class R:
        META = {"REMOTE_ADDR": "198.51.100.23"}

    assert ip_prefix(R()) == ["ip:198.51.100.0/24"]
    R.META = {"REMOTE_ADDR": "2001:db8:1:2::5"}
    assert ip_prefix(R()) == ["ip:2001:db8:1::/48"]
    R.META = {"REMOTE_ADDR": "junk"}
    assert ip_prefix(R()) == []


# -- brigading ------------------------------------------------------------------------

@pytest.mark.parametrize("account_days", [0, 200])
def test_fifty_first_time_accounts_against_one_artist_hold_nothing_and_flag_a_burst(
        account_days: int) -> None:
    """50 accounts that never reported before report one hand-made artist's works: brand
    new ones, and aged "sleeper" accounts that alone would weigh 50 × 0.25."""
    artist = make_user("handmade")
    works = [make_work(artist) for _ in range(3)]
    mod = make_user("mod", moderator=True)
    for i in range(50):
        user = aged(make_user(f"brig{i}"), account_days)
        submit_report(case_of(works[i % 3]), Reporter(user=user, ip=f"10.0.{i}.1"),
                      reason="report_undisclosed_ai")
    for work in works:
        case = case_of(work)
        assert case.route == Route.MAIN, "a burst must never hold a work"
        assert case.needs_review  # shown to moderators as a burst
    assert Report.objects.filter(in_burst=True).count() == 50
    total = sum(Report.objects.values_list("weight", flat=True))
    assert total < 0.5
    for work in works:  # the stored weights are what a full reweigh gives
        stored = case_score(case_of(work).pk).value
        assert reweigh_case(case_of(work).pk) == pytest.approx(stored)
    client = login(mod)
    page = client.get(reverse("moderation:case", args=[case_of(works[0]).pk]))
    assert 'id="report-burst"' in page.content.decode()
    assert "handmade" in page.content.decode()


def test_reporters_with_a_history_are_not_a_burst() -> None:
    artist = make_user("artist")
    old_work = make_work(make_user("someone"))
    work = make_work(artist)
    users = [trusted(f"t{i}") for i in range(6)]
    for user in users:
        Report.objects.create(case=case_of(old_work), reporter=user, reason="report_other",
                              created_at=timezone.now() - timedelta(days=100))
    for user in users:
        submit_report(case_of(work), Reporter(user=user), reason="report_undisclosed_ai")
    assert not Report.objects.filter(in_burst=True).exists()
    assert case_of(work).route == Route.HELD


# -- the pages, rate limits, one report per person ------------------------------------

def test_report_page_confirmation_and_one_report_per_person() -> None:
    work = make_work(make_user("artist"))
    client = login(make_user("viewer"))
    page = client.get(report_page(work))
    assert page.status_code == 200 and 'id="report-form"' in page.content.decode()
    response = post_report(client, work)
    assert response.status_code == 302
    sent = client.get(response["Location"])
    assert 'id="report-sent-heading"' in sent.content.decode()
    assert str(work) not in sent.content.decode() or not str(work)
    again = post_report(client, work)
    assert again.status_code == 200 and 'id="report-done"' in again.content.decode()
    assert Report.objects.count() == 1


def test_repost_needs_the_original_and_stores_the_upload() -> None:
    work = make_work(make_user("artist"))
    client = login(make_user("painter"))
    refused = post_report(client, work, "report_repost")
    assert refused.status_code == 400
    upload = SimpleUploadedFile("mine.png", png_bytes(), content_type="image/png")
    assert post_report(client, work, "report_repost", original_file=upload).status_code == 302
    report = Report.objects.get()
    assert report.original_file and len(report.original_sha256) == 64
    mod = login(make_user("mod", moderator=True))
    download = mod.get(reverse("moderation:report_original",
                               args=[report.case_id, report.pk]))
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == png_bytes()  # type: ignore[attr-defined]
    assert client.get(reverse("moderation:report_original",
                              args=[report.case_id, report.pk])).status_code == 403


def test_uploader_cannot_report_own_work() -> None:
    artist = make_user("artist")
    work = make_work(artist)
    page = post_report(login(artist), work)
    assert 'id="report-own"' in page.content.decode()
    assert not Report.objects.exists()


def test_rate_limit_per_account(settings: Any) -> None:
    settings.MODERATION = {"REPORT_RATE_PER_ACCOUNT": 2}
    artist = make_user("artist")
    works = [make_work(artist) for _ in range(3)]
    client = login(make_user("eager"))
    assert [post_report(client, w).status_code for w in works] == [302, 302, 429]
    assert Report.objects.count() == 2


def test_rate_limit_per_ip(settings: Any) -> None:
    settings.MODERATION = {"REPORT_RATE_PER_IP": 2}
    work = make_work(make_user("artist"))
    codes = [post_report(login(make_user(f"u{i}")), work, REMOTE_ADDR="192.0.2.5").status_code
             for i in range(3)]
    assert codes == [302, 302, 429]
    assert post_report(login(make_user("other")), work,
                       REMOTE_ADDR="192.0.2.6").status_code == 302


def test_anonymous_reports_follow_the_setting(settings: Any) -> None:
    work = make_work(make_user("artist"))
    client = Client()
    assert post_report(client, work).status_code == 302
    assert "/login" in post_report(client, work)["Location"] or not Report.objects.exists()
    assert not Report.objects.exists()
    settings.MODERATION = {"REPORT_ALLOW_ANONYMOUS": True}
    response = post_report(client, work)
    assert response.status_code == 302 and "/reports/sent/" in response["Location"]
    assert client.get(response["Location"]).status_code == 200
    assert Client().get(response["Location"]).status_code == 404  # another session
    again = post_report(client, work)
    assert 'id="report-done"' in again.content.decode()
    report = Report.objects.get()
    assert report.reporter is None and report.anonymous_key and report.first_report


def test_reason_table_has_the_reports_source() -> None:
    codes = reason_table.codes_from("reports")
    assert {"report_undisclosed_ai", "report_wrong_label", "report_repost",
            "report_impersonation", "report_real_person", "report_other",
            "reports_threshold"} == set(codes)


# -- anonymity and visibility ----------------------------------------------------------

def test_uploader_never_learns_who_reported(django_capture_on_commit_callbacks: Any) -> None:
    artist = make_user("artist")
    work = make_work(artist)
    for name in ("snoop1", "snoop2"):
        reporter = trusted(name)
        with django_capture_on_commit_callbacks(execute=True):
            assert post_report(login(reporter), work).status_code == 302
    case = case_of(work)
    assert case.route == Route.HELD
    owner = login(artist)
    ct = work_path(work)
    pages = [
        owner.get(reverse("moderation:work_status", args=[ct, work.pk])),
        owner.get(reverse("moderation-api:moderation-case-list")),
        owner.get(reverse("moderation-api:moderation-case-detail", args=[case.pk])),
        owner.get(reverse("moderation-api:moderation-case-evidence", args=[case.pk])),
        owner.get(reverse("moderation-api:moderation-case-audit", args=[case.pk])),
        owner.get(reverse("moderation-api:moderation-case-reports", args=[case.pk])),
        owner.get(reverse("moderation-api:moderation-report-list")),
        owner.get(reverse("moderation-api:moderation-appeal-list")),
        owner.get(reverse("moderation:my_reports")),
        owner.get(report_page(work)),
    ]
    assert Notification.objects.filter(user=artist).exists()
    for response in pages:
        body = response.content.decode()
        assert response.status_code in {200, 202, 403}, response
        for secret in ("snoop1", "snoop2", NOTE):
            assert secret not in body, (response.request["PATH_INFO"], secret)
    assert pages[4].status_code == 403 and pages[5].status_code == 403
    assert owner.get(reverse("moderation-api:moderation-report-detail", args=[
        Report.objects.earliest("pk").pk])).status_code == 404


def test_no_visibility_leak_of_held_works_through_reports() -> None:
    artist = make_user("artist")
    work = make_work(artist)
    ModerationCase.objects.filter(pk=case_of(work).pk).update(route=Route.MAIN)
    reporter = trusted("t1")
    client = login(reporter)
    assert post_report(client, work).status_code == 302
    submit_report(case_of(work), Reporter(user=trusted("t2")), reason="report_undisclosed_ai")
    assert case_of(work).route == Route.HELD
    Artworkish = type(work)
    Artworkish.objects.filter(pk=work.pk)  # the title is the str() of the test model
    assert client.get(report_page(work)).status_code == 404
    mine = client.get(reverse("moderation:my_reports")).content.decode()
    assert 'data-status="open"' in mine
    assert str(work) not in mine and f"/{work.pk}/" not in mine.split('id="report-list"')[1]
    api = client.get(reverse("moderation-api:moderation-report-list")).json()
    assert set(api["results"][0]) == {"id", "content_type", "object_id", "reason", "note",
                                      "original_url", "status", "created_at", "resolved_at"}
    # A work held before anyone reported it cannot be reported (or probed) at all.
    held = make_work(artist, route=Route.HELD)
    assert client.get(report_page(held)).status_code == 404
    assert post_report(client, held).status_code == 404
    created = client.post(reverse("moderation-api:moderation-report-list"),
                          {"content_type": work_path(held), "object_id": str(held.pk),
                           "reason": "report_other"})
    assert created.status_code == 404
    assert not Report.objects.filter(case=case_of(held)).exists()


def test_api_reports_are_scoped_to_the_reporter() -> None:
    work = make_work(make_user("artist"))
    alice, bob = login(make_user("alice")), login(make_user("bob"))
    url = reverse("moderation-api:moderation-report-list")
    made = alice.post(url, {"content_type": work_path(work), "object_id": str(work.pk),
                            "reason": "report_wrong_label", "note": "x"},
                      content_type="application/json")
    assert made.status_code == 201, made.content
    assert alice.post(url, {"content_type": work_path(work), "object_id": str(work.pk),
                            "reason": "report_wrong_label"},
                      content_type="application/json").status_code == 409
    assert bob.get(url).json()["results"] == []
    assert bob.get(reverse("moderation-api:moderation-report-detail",
                           args=[made.json()["id"]])).status_code == 404
    mod = login(make_user("mod", moderator=True))
    assert mod.get(url).json()["results"] == []  # moderators read reports per case
    rows = mod.get(reverse("moderation-api:moderation-case-reports",
                           args=[case_of(work).pk])).json()
    assert rows[0]["reporter"] == "alice" and rows[0]["precision"] == pytest.approx(0.25)


def test_confirmed_reports_feed_the_site_training_labels() -> None:
    artist, mod = make_user("artist"), make_user("mod", moderator=True)
    hidden, relabelled, cleared = (make_work(artist) for _ in range(3))
    viewer = trusted("v")
    for work in (hidden, relabelled, cleared):
        submit_report(case_of(work), Reporter(user=viewer), reason="report_undisclosed_ai")
    A.Hide(mod, case_of(hidden)).run()
    A.MarkAI(mod, case_of(relabelled), strike=False).run()
    A.MarkHuman(mod, case_of(cleared)).run()
    assert confirmed_ai_cases() == {case_of(hidden).pk, case_of(relabelled).pk}
    A.Restore(mod, case_of(hidden)).run()  # published again as hand-made: no longer AI
    assert confirmed_ai_cases() == {case_of(relabelled).pk}


def test_site_loop_collects_confirmed_reports_as_ai_labels() -> None:
    site = pytest.importorskip("moderation.training.site")
    artist, mod = make_user("artist"), make_user("mod", moderator=True)
    hidden, cleared = make_work(artist), make_work(artist)
    viewer = trusted("v")
    for work in (hidden, cleared):
        submit_report(case_of(work), Reporter(user=viewer), reason="report_undisclosed_ai")
    A.Hide(mod, case_of(hidden)).run()  # hidden without relabelling: label still hand-made
    A.MarkHuman(mod, case_of(cleared)).run()
    examples = {e.case_id: (e.label, e.kind) for e in site.collect(progress=lambda _m: None)}
    assert examples[case_of(hidden).pk] == (1, "report")
    assert examples[case_of(cleared).pk] == (0, "moderator")


def test_api_repost_with_an_uploaded_original() -> None:
    work = make_work(make_user("artist"))
    client = login(make_user("painter"))
    url = reverse("moderation-api:moderation-report-list")
    base = {"content_type": work_path(work), "object_id": str(work.pk),
            "reason": "report_repost"}
    refused = client.post(url, base)
    assert refused.status_code == 400 and "original_url" in refused.json()
    upload = SimpleUploadedFile("mine.png", png_bytes(), content_type="image/png")
    made = client.post(url, {**base, "original_file": upload})
    assert made.status_code == 201, made.content
    assert len(Report.objects.get().original_sha256) == 64


def test_a_rescan_does_not_release_a_work_held_by_reports() -> None:
    work = make_work(make_user("artist"))
    for name in ("t1", "t2"):
        submit_report(case_of(work), Reporter(user=trusted(name)),
                      reason="report_undisclosed_ai")
    ModerationCase.objects.filter(pk=case_of(work).pk).update(route=Route.MAIN,
                                                              needs_review=False)
    case_scanned.send(sender=ModerationCase, case=case_of(work), decision=None)
    assert (case_of(work).route, case_of(work).needs_review) == (Route.HELD, True)


def test_an_overturned_appeal_reverses_the_reports_it_upheld() -> None:
    artist, mod = make_user("artist"), make_user("mod", moderator=True)
    work = make_work(artist)
    reporters = [trusted("t1"), trusted("t2")]
    for user in reporters:
        submit_report(case_of(work), Reporter(user=user), reason="report_undisclosed_ai")
    A.MarkAI(mod, case_of(work), strike=False).run()
    assert ReporterReputation.objects.get(user=reporters[0]).upheld == 21
    appeal = A.SubmitAppeal(artist, case_of(work), message="my layers").run().extra["appeal"]
    A.DecideAppeal(mod, case_of(work), appeal=appeal, outcome="overturned").run()
    assert set(Report.objects.values_list("status", flat=True)) == {ReportStatus.REJECTED}
    rep = ReporterReputation.objects.get(user=reporters[0])
    assert (rep.upheld, rep.rejected) == (20, 1)
    assert ModerationAction.objects.filter(action="report_rejected").count() == 2


def test_real_person_reports_file_with_the_deepfake_risks() -> None:
    work = make_work(make_user("artist"))
    submit_report(case_of(work), Reporter(user=trusted("t1", reason="report_real_person")),
                  reason="report_real_person")
    case = case_of(work)
    assert case.needs_review and case.review_priority >= 900
    assert category_of(case).key == "deepfake"


def test_the_queue_flags_a_burst() -> None:
    artist = make_user("artist")
    work = make_work(artist)
    for i in range(5):
        submit_report(case_of(work), Reporter(user=make_user(f"b{i}")),
                      reason="report_undisclosed_ai")
    assert review_queue().get(pk=case_of(work).pk).report_burst
    page = login(make_user("mod", moderator=True)).get(reverse("moderation:queue"))
    assert 'class="summary warn report-burst"' in page.content.decode()

"""A case with everything an evidence bundle shows: provenance, classifier, matches with
a public and a non-public work of other accounts, a moderator's claim note, a verdict
with a strike, an appeal and its decision."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from typing import Any

import pytest

from moderation import actions as A
from moderation.constants import Route
from moderation.models import Evidence, ModerationAction, ModerationCase
from moderation.reasons import Reason, register_reasons
from tests.factories import case_of, make_case, make_user, make_work

#: A repost-match reason as a fingerprint detector would declare it.
REPOST_MATCH = Reason("test_export_repost_match", "Possible repost of another work.",
                      detail="Possible repost of {owner}'s work.")
register_reasons(REPOST_MATCH)

MOD_NOTE = "private moderator note: checked the artist's other account"
STRIKE_NOTE = "strike note only moderators read"
APPEAL_TEXT = "I drew this myself; here is my layered file."
DECISION_NOTE = "Thanks, the layers show your process."


@dataclass
class Scenario:
    case: ModerationCase
    uploader: Any
    moderator: Any
    public_other: ModerationCase
    hidden_other: ModerationCase


@pytest.fixture
def scenario(db: Any, uploader: Any, moderator: Any) -> Scenario:
    artist = make_user("victim_artist")
    secret = make_user("secret_owner")
    public_other = case_of(make_work(artist, Route.MAIN))
    hidden_other = case_of(make_work(secret, Route.HIDDEN))
    case = make_case(uploader)
    Evidence.objects.create(
        case=case, detector="fingerprints", detector_version="1", content_sha256="a" * 64,
        label="none", strength="strong", message=REPOST_MATCH.code,
        message_params={"owner": "victim_artist"},
        details={"matches": [
            {"case_id": public_other.pk, "distance": 6, "threshold": 31, "bank": "site",
             "kind": "pdq"},
            {"case_id": hidden_other.pk, "distance": 12, "threshold": 31, "bank": "banned",
             "kind": "pdq", "reporter": "secret_reporter"},
        ]})
    # The scan's entry, as the pipeline writes it (make_case moves the case without one).
    ModerationAction.objects.create(case=case, action="scan", before={},
                                    after=case.snapshot(), note="provenance_strong")
    A.dispatch("claim", moderator, case, {"note": MOD_NOTE})
    case.refresh_from_db()
    A.dispatch("mark_ai", moderator, case, {"strike": "1", "note": STRIKE_NOTE})
    case.refresh_from_db()
    A.dispatch("appeal", uploader, case, {"message": APPEAL_TEXT})
    case.refresh_from_db()
    appeal = case.appeals.get()
    A.dispatch("decide_appeal", moderator, case,
               {"appeal": appeal.pk, "outcome": "overturned", "note": DECISION_NOTE})
    case.refresh_from_db()
    return Scenario(case, uploader, moderator, public_other, hidden_other)


def unzip(data: bytes) -> dict[str, bytes]:
    """The bundle's files by their name inside its folder."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        names = archive.namelist()
        folders = {n.split("/", 1)[0] for n in names}
        assert len(folders) == 1, names
        return {n.split("/", 1)[1]: archive.read(n) for n in names}

"""The evidence bundle: it opens, its sums and hashes verify, case.json validates against
its schema, the report says what the JSON says, in Japanese and English, and an
uploader's copy withholds other people's data."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import translation
from django.utils.html import escape

from moderation.evidence_export import (
    CASE_SCHEMA,
    EXPORT_ACTION,
    MODERATOR,
    OPERATOR,
    UPLOADER,
    UPLOADER_REDACTIONS,
    Viewer,
    build_bundle,
    export_case,
    hashes,
)
from moderation.evidence_export.timeline import verify_segment
from moderation.models import ModerationAction
from tests.db_flush import AUDIT_TABLE
from tests.evidence_export.conftest import (
    APPEAL_TEXT,
    DECISION_NOTE,
    MOD_NOTE,
    STRIKE_NOTE,
    Scenario,
    unzip,
)
from tests.factories import png_bytes
from tests.test_audit_chain import superuser_sql

pytestmark = pytest.mark.django_db

EXPECTED_FILES = {"case.json", "case.schema.json", "report.html", "preview.jpg", "verify.py",
                  "SHA256SUMS"}


def bundle_files(scenario: Scenario, audience: str = MODERATOR, language: str = "en",
                 **viewer: Any) -> dict[str, bytes]:
    user = scenario.uploader if audience == UPLOADER else scenario.moderator
    bundle = build_bundle(scenario.case, Viewer(audience, user, **viewer), language=language)
    return unzip(bundle.data)


def run_verify(tmp_path: Path, files: dict[str, bytes]) -> subprocess.CompletedProcess[str]:
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    return subprocess.run([sys.executable, str(tmp_path / "verify.py"), str(tmp_path)],
                          capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize("audience", [MODERATOR, UPLOADER])
def test_bundle_opens_and_every_listed_file_matches_its_sum(scenario, audience):
    files = bundle_files(scenario, audience)
    assert set(files) == EXPECTED_FILES
    listed = {}
    for line in files["SHA256SUMS"].decode("ascii").splitlines():
        digest, name = line.split("  ", 1)
        listed[name] = digest
    assert set(listed) == EXPECTED_FILES - {"SHA256SUMS"}
    for name, digest in listed.items():
        assert hashlib.sha256(files[name]).hexdigest() == digest, name


@pytest.mark.parametrize("audience", [MODERATOR, UPLOADER, OPERATOR])
def test_case_json_validates_against_its_schema(scenario, audience):
    files = bundle_files(scenario, audience)
    document = json.loads(files["case.json"])
    shipped = json.loads(files["case.schema.json"])
    assert shipped == json.loads(json.dumps(CASE_SCHEMA))
    jsonschema.Draft202012Validator.check_schema(shipped)
    jsonschema.Draft202012Validator(shipped).validate(document)
    assert document["audience"] == audience
    assert document["schema_version"] == 1


def test_schema_refuses_a_document_missing_what_it_promises(scenario):
    document = json.loads(bundle_files(scenario)["case.json"])
    del document["timeline"]["entries"][0]["row_hash"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, CASE_SCHEMA)


def test_the_file_is_hashed_at_export(scenario):
    document = json.loads(bundle_files(scenario)["case.json"])
    stored = scenario.case.host_instance().image
    with stored.open("rb") as fh:
        expected = hashlib.sha256(fh.read()).hexdigest()
    assert document["file"]["sha256"] == expected
    # The factory recorded another digest for the scanned content: the bundle says so.
    assert document["file"]["recorded_sha256"] == "a" * 64
    assert document["file"]["matches_recorded"] is False
    assert document["file"]["format"] == "PNG"
    expected_status = "computed" if hashes.pdq_available() else "unavailable"
    assert document["file"]["pdq_status"] == expected_status


def test_preview_carries_no_metadata(scenario):
    from PIL import Image, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "a secret prompt, Steps: 20")
    work = scenario.case.host_instance()
    from django.core.files.base import ContentFile

    work.image.save("meta.png", ContentFile(png_bytes(pnginfo=info)), save=False)
    type(work).objects.filter(pk=work.pk).update(image=work.image.name)
    preview = bundle_files(scenario)["preview.jpg"]
    image = Image.open(io.BytesIO(preview))
    assert image.format == "JPEG"
    assert not image.info.get("exif") and not image.info.get("icc_profile")
    assert b"secret prompt" not in preview


def test_verify_script_passes_and_catches_an_edit(scenario, tmp_path):
    files = bundle_files(scenario)
    result = run_verify(tmp_path, files)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SHA256SUMS: OK" in result.stdout
    # An edited note in case.json: the sum fails, and the hash of its entry too.
    document = json.loads(files["case.json"])
    entry = next(e for e in document["timeline"]["entries"] if e["note"] == MOD_NOTE)
    entry["note"] = "nothing to see"
    entry["canonical"] = entry["canonical"].replace(MOD_NOTE, "nothing to see")
    files["case.json"] = json.dumps(document).encode()
    edited = tmp_path / "edited"
    edited.mkdir()
    result = run_verify(edited, files)
    assert result.returncode == 1
    assert "case.json: SHA-256 differs" in result.stdout
    assert f"audit entry {entry['id']}: canonical text does not hash" in result.stdout


def test_timeline_hashes_are_the_audit_logs(scenario):
    document = json.loads(bundle_files(scenario)["case.json"])
    rows = {r.pk: r for r in ModerationAction.objects.filter(case=scenario.case)}
    entries = document["timeline"]["entries"]
    assert [e["id"] for e in entries] == sorted(rows)
    for entry in entries:
        row = rows[entry["id"]]
        assert (entry["prev_hash"], entry["row_hash"]) == (row.prev_hash, row.row_hash)
        assert entry["hash_verified"] is True
        digest = hashlib.sha256(entry["prev_hash"].encode() + entry["canonical"].encode())
        assert digest.hexdigest() == entry["row_hash"]
    chain = document["timeline"]["chain"]
    assert chain["entries_verified"] is True
    assert chain["segment"]["problems"] == [] and chain["segment"]["complete"] is True
    assert chain["segment"]["from_id"] == entries[0]["id"]


def test_segment_check_finds_an_edit_made_past_the_triggers(scenario):
    row = ModerationAction.objects.filter(case=scenario.case, note=MOD_NOTE).get()
    superuser_sql(f"UPDATE {AUDIT_TABLE} SET note = %s WHERE id = %s", ["rewritten", row.pk])
    check = verify_segment(ModerationAction.objects.filter(case=scenario.case)
                           .earliest("id").pk)
    assert (row.pk, "content_changed") in check.problems
    document = json.loads(bundle_files(scenario)["case.json"])
    assert document["timeline"]["chain"]["entries_verified"] is False
    report = bundle_files(scenario)["report.html"].decode()
    assert "does not match its content" in report


def test_segment_check_stops_at_its_limit(scenario):
    first = ModerationAction.objects.filter(case=scenario.case).earliest("id").pk
    check = verify_segment(first, limit=2)
    assert check.rows == 2 and check.complete is False


def test_report_lists_what_the_json_claims(scenario):
    files = bundle_files(scenario)
    document = json.loads(files["case.json"])
    report = files["report.html"].decode()
    assert f"#{scenario.case.pk}" in report
    assert document["file"]["sha256"] in report
    for evidence in document["evidence"]:
        assert f'data-source="{evidence["source"]}"' in report
        assert escape(evidence["text"]) in report
    assert {m["source"] for m in document["matches"]} == {"fingerprints"}
    assert len(document["matches"]) == 2
    for match in document["matches"]:
        other = match["other"]
        assert other is not None  # the moderator's copy names every matched work
        assert f"{other['content_type']} #{other['object_id']}" in report
        assert other["created_at"][:19] in report
        assert f"#{other['case_id']}" in report
    public = next(m for m in document["matches"] if m["other"]["public"])
    assert public["other"]["case_id"] == scenario.public_other.pk
    assert public["other"]["owner"] == "victim_artist"
    assert public["distance"] == 6
    for entry in document["timeline"]["entries"]:
        assert entry["row_hash"] in report
    assert report.count('class="timeline-row"') == len(document["timeline"]["entries"])
    assert document["classifier"][0]["score"] == pytest.approx(0.9)
    assert "Stable Diffusion" in report and "sdxl_base" in report
    for decision in document["decisions"]:
        assert escape(decision["action_text"]) in report
    assert [d["action"] for d in document["decisions"]] == ["mark_ai", "decide_appeal"]
    assert escape(APPEAL_TEXT) in report and escape(DECISION_NOTE) in report


def test_report_is_self_contained(scenario):
    report = bundle_files(scenario)["report.html"].decode()
    assert "Content-Security-Policy" in report
    for external in ("http://", "https://", "src=\"/", "href=\"/", "@import", "url("):
        assert external not in report.replace("https://json-schema.org", ""), external
    assert 'src="data:image/jpeg;base64,' in report
    assert "@media print" in report and "@page" in report


def test_moderator_copy_holds_notes_and_names_but_prompts_only_when_allowed(scenario):
    full = bundle_files(scenario, MODERATOR, include_private=False)
    text = full["case.json"].decode()
    assert MOD_NOTE in text and STRIKE_NOTE in text
    assert f'"name": "{scenario.moderator.get_username()}"' in text
    assert "secret prompt text" not in text
    with_private = bundle_files(scenario, MODERATOR, include_private=True)
    assert "secret prompt text" in with_private["case.json"].decode()


def test_uploader_copy_withholds_other_peoples_data(scenario):
    files = bundle_files(scenario, UPLOADER)
    document = json.loads(files["case.json"])
    everything = files["case.json"].decode() + files["report.html"].decode()
    # Moderators: no name, no notes, no account number.
    moderator = scenario.moderator
    assert moderator.get_username() not in {e["actor"]["name"] for e in
                                           document["timeline"]["entries"]}
    assert f'"name": "{moderator.get_username()}"' not in everything
    assert MOD_NOTE not in everything and STRIKE_NOTE not in everything
    for entry in document["timeline"]["entries"]:
        if entry["actor"]["role"] == "moderator":
            assert entry["actor"]["id"] is None and entry["note"] is None
            assert entry["canonical"] is None and "actor" in entry["withheld"]
            assert "claimed_by" not in entry["before"] and "claimed_by" not in entry["after"]
    assert document["verdict"]["decided_by"] is None
    assert all(a["decided_by"] is None for a in document["appeals"])
    assert all(s["note"] is None and s["recorded_by"] is None for s in document["strikes"])
    # Private metadata, raw details and reporters.
    assert "secret prompt text" not in everything
    assert "secret_reporter" not in everything
    assert all("details" not in e and "private" not in e for e in document["evidence"])
    # The match with another account's hidden work: kind and distance only.
    hidden = next(m for m in document["matches"] if m["distance"] == 12)
    assert hidden["withheld"] is True and hidden["other"] is None
    assert "secret_owner" not in everything
    assert f'"case_id": {scenario.hidden_other.pk}' not in everything
    # The public work that was matched is named, with its date.
    public = next(m for m in document["matches"] if m["distance"] == 6)
    assert public["other"]["case_id"] == scenario.public_other.pk
    assert public["other"]["created_at"][:19] in everything
    # What is theirs stays: their appeal, the moderator's message to them, the verdict.
    assert APPEAL_TEXT in everything and DECISION_NOTE in everything
    assert {r["code"] for r in document["redactions"]} == {r.code for r in UPLOADER_REDACTIONS}
    assert 'id="redactions"' in files["report.html"].decode()


def test_uploader_copy_still_verifies_the_entries_it_shows(scenario, tmp_path):
    files = bundle_files(scenario, UPLOADER)
    document = json.loads(files["case.json"])
    shown = [e for e in document["timeline"]["entries"] if e["canonical"] is not None]
    assert shown, "the scan and the uploader's own entries are shown in full"
    assert {e["actor"]["role"] for e in shown} <= {"system", "uploader"}
    result = run_verify(tmp_path, files)
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize(("language", "title", "section"), [
    ("ja", "証拠レポート", "このバンドルの検証方法"),
    ("en", "Evidence report", "How to verify this bundle"),
])
def test_report_in_the_requested_language(scenario, language, title, section):
    files = bundle_files(scenario, MODERATOR, language)
    report = files["report.html"].decode()
    assert f'<html lang="{language}">' in report
    assert title in report and section in report
    document = json.loads(files["case.json"])
    assert document["language"] == language
    with translation.override(language):
        from moderation.reasons import describe

        expected = describe("a1111_parameters", {"app": "Stable Diffusion"})
    assert escape(expected) in report
    assert translation.get_language() == "en"  # the export did not leak its language


def test_export_writes_an_audit_entry_with_the_bundles_digests(scenario):
    before = ModerationAction.objects.filter(action=EXPORT_ACTION).count()
    bundle = export_case(scenario.case, Viewer(UPLOADER, scenario.uploader), language="ja",
                         via="test")
    entry = ModerationAction.objects.filter(action=EXPORT_ACTION).latest("id")
    assert ModerationAction.objects.filter(action=EXPORT_ACTION).count() == before + 1
    assert entry.case_id == scenario.case.pk and entry.actor_id == scenario.uploader.pk
    assert entry.after["zip_sha256"] == hashlib.sha256(bundle.data).hexdigest()
    files = unzip(bundle.data)
    assert entry.after["case_json_sha256"] == hashlib.sha256(files["case.json"]).hexdigest()
    assert entry.after["sha256sums_sha256"] == hashlib.sha256(files["SHA256SUMS"]).hexdigest()
    assert entry.after["audience"] == UPLOADER and entry.after["language"] == "ja"


def test_command_writes_the_bundle(scenario, tmp_path):
    out = tmp_path / "case.zip"
    log = io.StringIO()
    call_command("moderation_export_case", str(scenario.case.pk), "--out", str(out),
                 "--language", "ja", stdout=log)
    assert hashlib.sha256(out.read_bytes()).hexdigest() in log.getvalue()
    files = unzip(out.read_bytes())
    document = json.loads(files["case.json"])
    assert document["audience"] == OPERATOR and document["language"] == "ja"
    assert "secret prompt text" not in files["case.json"].decode()
    entry = ModerationAction.objects.filter(action=EXPORT_ACTION).latest("id")
    assert entry.actor_id is None and entry.after["via"] == "command"
    with pytest.raises(CommandError):
        call_command("moderation_export_case", "999999", "--out", str(out))
    with pytest.raises(CommandError):
        call_command("moderation_export_case", str(scenario.case.pk), "--out", str(out),
                     "--audience", "uploader", "--include-private")


def test_pdq_hex_follows_threatexchange(monkeypatch, scenario):
    bits = [1] + [0] * 254 + [1]
    assert hashes.bits_to_hex(bits) == "8" + "0" * 62 + "1"
    fake = types.SimpleNamespace(compute=lambda pixels: (bits, 87))
    monkeypatch.setattr(hashes, "pdqhash", fake)
    document = json.loads(bundle_files(scenario)["case.json"])
    assert document["file"]["pdq"] == {"hash": "8" + "0" * 62 + "1", "quality": 87,
                                       "usable_for_matching": True}
    assert document["file"]["pdq_status"] == "computed"


def test_a_deleted_work_still_exports_its_record(scenario):
    scenario.case.host_instance().delete()
    files = bundle_files(scenario)
    document = json.loads(files["case.json"])
    assert document["file"]["available"] is False
    assert document["file"]["sha256"] is None and "preview.jpg" not in files
    jsonschema.validate(document, CASE_SCHEMA)


def test_uploader_copy_leaves_out_shadow_detectors(scenario):
    from moderation.models import Evidence

    Evidence.objects.create(
        case=scenario.case, detector="trial_detector", detector_version="0", mode="shadow",
        content_sha256="a" * 64, label="ai", strength="weak", message="classifier_score",
        message_params={"score": "0.99", "threshold": "0.50", "one_in": "100"})
    moderator_copy = json.loads(bundle_files(scenario)["case.json"])
    uploader_copy = json.loads(bundle_files(scenario, UPLOADER)["case.json"])
    assert "trial_detector" in {e["source"] for e in moderator_copy["evidence"]}
    assert "trial_detector" not in {e["source"] for e in uploader_copy["evidence"]}


def test_a_refused_file_is_hashed_but_never_decoded(scenario, monkeypatch):
    from moderation.constants import ProcessingState
    from moderation.evidence_export import bundle as bundle_module
    from moderation.models import ModerationCase

    ModerationCase.objects.filter(pk=scenario.case.pk).update(
        state=ProcessingState.QUARANTINED)
    scenario.case.refresh_from_db()

    def refuse(*args, **kwargs):
        raise AssertionError("a quarantined file must not be decoded")

    monkeypatch.setattr(bundle_module, "load_image", refuse)
    files = bundle_files(scenario)
    document = json.loads(files["case.json"])
    assert document["file"]["sha256"] and document["file"]["pdq_status"] == "not_decoded"
    assert "preview.jpg" not in files and document["file"]["preview"] is None


def test_the_external_checkpoint_is_reported(scenario, settings, tmp_path):
    from moderation.audit import write_checkpoint

    path = tmp_path / "checkpoints.jsonl"
    write_checkpoint(path)
    settings.MODERATION = {**getattr(settings, "MODERATION", {}),
                           "AUDIT_CHECKPOINT_FILE": str(path)}
    document = json.loads(bundle_files(scenario)["case.json"])
    checkpoint = document["timeline"]["chain"]["checkpoint"]
    head = ModerationAction.objects.latest("id")
    assert checkpoint["head"] == head.row_hash and checkpoint["reached"] is True


def test_without_pdqhash_the_report_says_so(monkeypatch, scenario):
    monkeypatch.setattr(hashes, "pdqhash", None)
    files = bundle_files(scenario)
    document = json.loads(files["case.json"])
    assert document["file"]["pdq"] is None and document["file"]["pdq_status"] == "unavailable"
    assert "the PDQ library is not installed" in files["report.html"].decode()


def test_real_pdq_of_a_textured_picture_is_usable():
    pytest.importorskip("pdqhash")
    import numpy as np
    from PIL import Image

    from moderation.internal.imaging import load_image

    rng = np.random.default_rng(7)
    pixels = (rng.random((96, 128, 3)) * 255).astype("uint8")
    buf = io.BytesIO()
    Image.fromarray(pixels).resize((256, 192)).save(buf, "PNG")
    pdq = hashes.pdq_of(load_image(buf.getvalue(), name="t.png"))
    assert pdq is not None and len(pdq.hash) == 64 and int(pdq.hash, 16) > 0
    assert pdq.quality >= 50
    reencoded = io.BytesIO()
    Image.open(io.BytesIO(buf.getvalue())).save(reencoded, "JPEG", quality=90)
    again = hashes.pdq_of(load_image(reencoded.getvalue(), name="t.jpg"))
    assert again is not None
    distance = bin(int(pdq.hash, 16) ^ int(again.hash, 16)).count("1")
    assert distance <= 31  # a re-encoded copy stays within HMA's match distance

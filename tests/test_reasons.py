"""The reason table against what the readers really emit: every code declared, and each
signal family read as itself (a NovelAI signature is not C2PA)."""

from __future__ import annotations

import json

import pytest
from django.utils import translation
from PIL import Image

from moderation.internal.imaging import load_image
from moderation.internal.provenance.generators import (
    load_generator_table,
    read_generator_metadata,
)
from moderation.internal.provenance.reasons import READER_REASONS, table_reasons
from moderation.models import ModerationCase
from moderation.reasons import (
    WHY_FILE_METADATA,
    WHY_NOVELAI_SIGNATURE,
    WHY_STEALTH,
    get_reason,
    reason_table,
)
from moderation.views.presenters import present_reasons
from tests.fixtures import generator_fixtures as gf

SAMPLES = {
    "a1111": lambda: gf.png_with_text({"parameters": gf.A1111_PARAMETERS}),
    "a1111_extras": lambda: gf.png_with_text({"extras": gf.EXTRAS_TEXT}),
    "comfy": lambda: gf.png_with_text({"prompt": json.dumps(gf.COMFY_PROMPT)}),
    "comfy_upscale": lambda: gf.png_with_text({"prompt": json.dumps(gf.COMFY_UPSCALE_ONLY)}),
    "comfy_webp": gf.comfy_webp,
    "novelai_text": lambda: gf.novelai_png(alpha=False),
    "novelai_stealth": lambda: gf.novelai_png(text=False),
    "software": lambda: gf.png_with_text({"Software": "Midjourney"}),
}


def read(data: bytes) -> list:
    return read_generator_metadata(data, load_image(data), load_generator_table(),
                                   novelai_public_key=gf.TEST_PUBLIC_KEY_B64)


@pytest.mark.parametrize("sample", sorted(SAMPLES))
def test_every_code_a_reader_emits_is_declared(sample):
    findings = read(SAMPLES[sample]())
    assert findings
    for finding in findings:
        assert finding.reason in reason_table, finding.reason
        assert not str(get_reason(finding.reason).text).startswith("Undeclared")


def test_the_bundled_generator_table_adds_its_own_codes():
    extra = {r.code: r for r in table_reasons(load_generator_table())}
    assert "midjourney_job" in extra and "civitai_metadata" in extra
    assert not set(extra) & {r.code for r in READER_REASONS}
    assert extra["civitai_metadata"].why == WHY_FILE_METADATA
    assert str(extra["civitai_metadata"].text) == "Metadata written by Civitai."


def test_a_novelai_signature_reads_as_a_novelai_signature():
    findings = read(SAMPLES["novelai_text"]())
    signed = [f.reason for f in findings if f.strength == "proof"]
    assert signed == ["novelai_signature_verified"]
    texts = [r.text for r in present_reasons(["provenance_proof", *signed])]
    assert texts == ["Verifiable proof says AI-generated.",
                     "NovelAI's signature on the image verifies."]
    assert not any("C2PA" in text for text in texts)
    assert get_reason(signed[0]).why == WHY_NOVELAI_SIGNATURE


def test_stealth_data_has_its_own_family():
    pixels = gf.embed_stealth(gf.rgba_pixels((96, 64)), "some hidden note", compressed=False)
    (finding,) = read(gf.save(Image.fromarray(pixels, "RGBA"), "PNG"))
    assert finding.reason == "stealth_metadata"
    assert get_reason(finding.reason).why == WHY_STEALTH


def test_case_reasons_in_japanese_come_from_the_table():
    case = ModerationCase(reasons=["undisclosed_ai", "provenance_proof",
                                   "novelai_signature_verified"])
    with translation.override("ja"):
        texts = [r.text for r in present_reasons(case.reasons)]
    assert texts == ["手描きと申告されていますが、ファイルにはAIの記録があります。",
                     "検証可能な証明がAI生成を示しています。",
                     "画像のNovelAI署名を検証できました。"]

"""Hand-made bombs and poison files through the real worker: each ends as it must.

The decoder's own tests (tests/imaging) pin the rejection code of each file in-process;
here the same files travel the whole path (host save, Redis, a prefork child, PostgreSQL)
and the worker must survive all of them, with every case terminal and nothing lost.
Also the polyglot whose HTML tail must not stop it from being scanned.
"""

from __future__ import annotations

import io
import zlib

import pytest

from moderation.constants import ProcessingState, RejectionReason
from moderation.models import ModerationCase
from tests.fixtures import bad_images as bad
from tests.integration.conftest import RunConfig
from tests.integration.load import state_tally, wait_drained
from tests.integration.uploads import upload

pytestmark = pytest.mark.integration

R = RejectionReason


def _one_mp(fmt: str) -> bytes:
    buf = io.BytesIO()
    bad.noise_rgb((1000, 1000)).save(buf, fmt)
    return buf.getvalue()


def poison_files() -> dict[str, tuple[bytes, str]]:
    """name -> (bytes, expected end: "done" or the rejection code)."""
    png = bad.png((32, 32))
    png_1mp, jpeg_1mp = _one_mp("PNG"), _one_mp("JPEG")
    others = bad.other_format_bytes()
    huge_exif = bad.png_with_chunk_before_idat(png, b"eXIf", b"MM\x00*" + b"\x00" * 4_000_000)
    xml_bomb = (b'<?xpacket begin=""?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
                b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
                b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">'
                b'<!ENTITY e SYSTEM "file:///etc/passwd">]>'
                b'<x:xmpmeta xmlns:x="adobe:ns:meta/">&c;&e;</x:xmpmeta>')
    xmp = bad.png_with_chunk_before_idat(
        png, b"iTXt", b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + xml_bomb)
    many_text = bad.png_with_chunk_before_idat(
        png, b"zTXt", b"k\x00\x00" + zlib.compress(b"b" * 900_000), count=60)
    return {
        "pixel-bomb-warning-band.png": (bad.png_with_header_size(10_000, 10_000), R.TOO_LARGE),
        "pixel-bomb-error-band.png": (bad.png_with_header_size(20_000, 20_000), R.TOO_LARGE),
        "zero-width.png": (bad.png_with_header_size(0, 10), R.CORRUPT),
        "one-dimension-huge.png": (bad.png_with_header_size(1, 2**31 - 1), R.TOO_LARGE),
        "gif-extent-bomb.gif": (bad.gif_extent_bomb(20_000, 20_000), R.TOO_LARGE),
        "gif-10000-frames.gif": (bad.gif_many_frames(10_000), R.TOO_MANY_FRAMES),
        "apng-million-frames.png": (bad.apng_claiming_frames(1_000_000), R.TOO_MANY_FRAMES),
        "animation-budget.gif": (bad.gif((6000, 6000), [(0, 0, 1, 1)] * 3), R.TOO_LARGE),
        "ztxt-bomb.png": (bad.ztxt_bomb(png), R.METADATA),
        "itxt-bomb.png": (bad.itxt_bomb(png), R.METADATA),
        "text-total-bomb.png": (bad.text_total_bomb(png), R.METADATA),
        "truncated-10.png": (png_1mp[: len(png_1mp) // 10], R.CORRUPT),
        "truncated-99.jpg": (jpeg_1mp[: int(len(jpeg_1mp) * 0.99)], R.CORRUPT),
        "no-iend.png": (bad.png_without_iend(png_1mp), R.CORRUPT),
        "flipped-crc.png": (bad.png_flip_crc(png_1mp), R.CORRUPT),
        "empty.png": (b"", R.EMPTY),
        "psd-renamed.png": (others["PSD"], R.UNSUPPORTED_FORMAT),
        "eps-renamed.png": (others["EPS"], R.UNSUPPORTED_FORMAT),
        "tiff-renamed.png": (others["TIFF"], R.UNSUPPORTED_FORMAT),
        "svg-script.png": (others["SVG"], R.UNSUPPORTED_FORMAT),
        "huge-exif.png": (huge_exif, "done"),
        "xmp-entity-bomb.png": (xmp, "done"),
        "many-text-chunks.png": (many_text, "done"),
        "polyglot-html-tail.png": (png + b"<html><script>alert(1)</script></html>", "done"),
    }


def test_poison_files_end_terminal_and_the_worker_survives(live: RunConfig, celery_worker):
    files = poison_files()
    works = {name: upload(f"poison-{name}", data) for name, (data, _end) in files.items()}
    case_ids = [ModerationCase.objects.for_instance(w).get().pk for w in works.values()]

    wait_drained(case_ids, timeout=240, label="poison files")

    got = {}
    for name, work in works.items():
        case = ModerationCase.objects.for_instance(work).get()
        got[name] = case.rejection_reason if case.state == ProcessingState.REJECTED \
            else str(case.state)
    assert got == {name: end for name, (_data, end) in files.items()}
    assert ProcessingState.QUARANTINED not in got.values(), "a poison file crashed the worker"
    assert celery_worker.alive()
    print(f"\npoison files ({len(files)}): {dict(sorted(state_tally(case_ids).items()))}")

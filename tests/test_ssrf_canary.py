"""No SSRF, end to end: no URL found in an upload is ever fetched, nor its host resolved.

A canary HTTP server on 127.0.0.1 (ephemeral port) counts connections and requests;
``socket`` is patched to record (and refuse) any connection to a non-loopback address
or to the canary port, and any name lookup of a non-loopback host, the in-process
stand-in for a DNS log. Files carrying canary URLs in every metadata place a reader
could be tempted to follow (XMP ``dcterms:provenance``, a C2PA remote manifest, an ICC
profile description, PNG text chunks, EXIF ``ImageDescription``) then go through the
whole pipeline: ``moderation.pipeline.scan`` on a registered ``tests.testapp.Artwork``,
and the ``moderation_scan`` CLI, in process and as a child process (whose own sockets a
``sitecustomize`` records). Every run must end with 0 requests and 0 attempts.

Native code (the C2PA SDK is Rust) does not use Python's ``socket``; the canary server
sees it anyway, which is why both counters are asserted. An unresolvable ``.invalid``
host is used as well, so a native DNS lookup would fail fast rather than leave.
"""

from __future__ import annotations

import contextlib
import http.server
import io
import json
import os
import socket
import subprocess
import sys
import threading
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from moderation import pipeline
from moderation.constants import ProcessingState
from moderation.models import ModerationCase
from tests.fixtures import c2pa_fixtures as cfx
from tests.fixtures import xmp_fixtures as xfx
from tests.net_guard import is_loopback
from tests.testapp.models import Artwork

REPO = Path(__file__).resolve().parent.parent
CANARY_HOST = "canary.tegaki.invalid"  # RFC 2606: never resolves, so never leaves


# -- the canary ---------------------------------------------------------------------------
class Canary(http.server.ThreadingHTTPServer):
    """Counts every accepted connection and every request line it reads."""

    daemon_threads = True

    def __init__(self) -> None:
        self.connections = 0
        self.requests: list[str] = []
        super().__init__(("127.0.0.1", 0), CanaryHandler)
        self.port = self.server_address[1]

    def verify_request(self, request: Any, client_address: Any) -> bool:
        self.connections += 1
        return True


class CanaryHandler(http.server.BaseHTTPRequestHandler):
    server: Canary

    def _count(self) -> None:
        self.server.requests.append(f"{self.command} {self.path}")
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_HEAD = do_POST = _count  # http.server's naming

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the count is what matters."""


@pytest.fixture
def canary() -> Iterator[Canary]:
    server = Canary()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


class NetworkRecorder:
    """Patches ``socket`` so that leaving the machine, or calling the canary, is recorded
    and refused; loopback services the test suite itself uses (PostgreSQL, Redis) pass."""

    def __init__(self, canary_port: int) -> None:
        self.canary_port = canary_port
        self.attempts: list[str] = []

    def _flagged(self, host: Any, port: Any) -> bool:
        return not is_loopback(host) or port == self.canary_port

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        real_connect = socket.socket.connect
        real_connect_ex = socket.socket.connect_ex
        real_getaddrinfo = socket.getaddrinfo
        real_gethostbyname = socket.gethostbyname

        def check_address(address: Any) -> None:
            if isinstance(address, tuple) and self._flagged(address[0], address[1]):
                self.attempts.append(f"connect {address[0]}:{address[1]}")
                raise ConnectionRefusedError(f"canary test: refused {address!r}")

        def connect(sock: socket.socket, address: Any) -> None:
            check_address(address)
            real_connect(sock, address)

        def connect_ex(sock: socket.socket, address: Any) -> int:
            check_address(address)
            return real_connect_ex(sock, address)

        def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
            if host is not None and self._flagged(
                    host.decode() if isinstance(host, bytes) else host, port):
                self.attempts.append(f"getaddrinfo {host!r}:{port!r}")
                raise socket.gaierror(socket.EAI_NONAME, "canary test: lookup refused")
            return real_getaddrinfo(host, port, *args, **kwargs)

        def gethostbyname(host: str) -> str:
            if not is_loopback(host):
                self.attempts.append(f"gethostbyname {host!r}")
                raise socket.gaierror(socket.EAI_NONAME, "canary test: lookup refused")
            return real_gethostbyname(host)

        monkeypatch.setattr(socket.socket, "connect", connect)
        monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
        monkeypatch.setattr(socket, "gethostbyname", gethostbyname)


def test_the_harness_sees_a_fetch(canary: Canary, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without this, 0 could mean a blind harness. Real sockets reach the canary; patched
    ones record the same attempt, and a lookup of the canary host."""
    import urllib.error
    import urllib.request

    urllib.request.urlopen(f"http://127.0.0.1:{canary.port}/probe", timeout=5).close()
    assert canary.requests == ["GET /probe"] and canary.connections == 1
    recorder = NetworkRecorder(canary.port)
    recorder.install(monkeypatch)
    for url in (f"http://127.0.0.1:{canary.port}/x", f"http://{CANARY_HOST}:{canary.port}/x",
                "http://169.254.169.254/latest/meta-data/"):
        with pytest.raises(urllib.error.URLError):
            urllib.request.urlopen(url, timeout=5)
    assert recorder.attempts == [f"getaddrinfo '127.0.0.1':{canary.port}",
                                 f"getaddrinfo '{CANARY_HOST}':{canary.port}",
                                 "getaddrinfo '169.254.169.254':80"]
    for address in (("127.0.0.1", canary.port), ("10.0.0.1", 80)):
        with socket.socket() as sock, pytest.raises(ConnectionRefusedError):
            sock.connect(address)
    assert recorder.attempts[3:] == [f"connect 127.0.0.1:{canary.port}", "connect 10.0.0.1:80"]
    assert canary.requests == ["GET /probe"] and canary.connections == 1


# -- files that carry canary URLs ---------------------------------------------------------
def _icc_with_description(text: str) -> bytes:
    """A minimal ICC v2 display profile whose ``desc`` (and ``cprt``) tag is ``text``."""
    ascii_text = text.encode("ascii") + b"\0"
    desc = (b"desc\0\0\0\0" + len(ascii_text).to_bytes(4, "big") + ascii_text
            + b"\0" * 4 + b"\0" * 4 + b"\0\0" + b"\0" + b"\0" * 67)
    cprt = b"text\0\0\0\0" + ascii_text
    wtpt = b"XYZ \0\0\0\0" + (63190).to_bytes(4, "big") + (65536).to_bytes(4, "big") \
        + (54061).to_bytes(4, "big")
    tags = [(b"desc", desc), (b"cprt", cprt), (b"wtpt", wtpt)]
    offset = 128 + 4 + 12 * len(tags)
    table, body = b"", b""
    for sig, data in tags:
        data += b"\0" * (-len(data) % 4)
        table += sig + (offset + len(body)).to_bytes(4, "big") + len(data).to_bytes(4, "big")
        body += data
    size = offset + len(body)
    header = (size.to_bytes(4, "big") + b"lcms" + bytes([2, 0x10, 0, 0]) + b"mntr"
              + b"RGB " + b"XYZ " + b"\0" * 12 + b"acsp" + b"APPL" + b"\0" * 4
              + b"\0" * 4 + b"\0" * 4 + b"\0" * 8 + b"\0" * 4
              + (63190).to_bytes(4, "big") + (65536).to_bytes(4, "big")
              + (54061).to_bytes(4, "big") + b"\0" * 4 + b"\0" * 16 + b"\0" * 28)
    assert len(header) == 128
    return header + len(tags).to_bytes(4, "big") + table + body


def _image(fmt: str, **save: Any) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (48, 32), (90, 130, 200)).save(buf, fmt, **save)
    return buf.getvalue()


def _text_chunks_png(url: str, host_url: str) -> bytes:
    info = PngInfo()
    info.add_text("parameters", (
        f"masterpiece, 1girl, <lora:style:0.8> {url}/prompt\n"
        f"Negative prompt: lowres, {host_url}/negative\n"
        "Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1, Size: 48x32, "
        f"Model hash: 31e35c80fc, Model: sd_xl_base_1.0, Lora hashes: \"style: {url}/lora\", "
        f"Source: {url}/source, Version: v1.6.0"))
    info.add_text("Source", f"{host_url}/source")
    info.add_text("Comment", json.dumps({"source": f"{url}/comment", "url": host_url}))
    info.add_text("prompt", json.dumps({"1": {"class_type": "LoadImage",
                                              "inputs": {"image": f"{url}/in.png"}}}))
    info.add_text("workflow", json.dumps({"nodes": [{"type": "LoadImageFromUrl",
                                                     "widgets_values": [f"{host_url}/w"]}]}))
    info.add_itxt("Description", f"{url}/itxt", zip=False)
    info.add_text("Software", f"{host_url}/software", zip=True)
    return _image("PNG", pnginfo=info)


def _exif(url: str) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010E] = f"{url}/exif-description"  # ImageDescription
    exif[0x0131] = f"{url}/exif-software"  # Software
    exif[0x8298] = f"{url}/exif-copyright"  # Copyright
    return exif


def _carries(data: bytes, needle: bytes) -> bool:
    """``needle`` in ``data``, or in one of its zlib streams (PNG iCCP, zTXt, iTXt)."""
    if needle in data:
        return True
    start = data.find(b"x\x9c")
    while start != -1:
        try:
            if needle in zlib.decompressobj().decompress(data[start:]):
                return True
        except zlib.error:
            pass
        start = data.find(b"x\x9c", start + 1)
    return False


def canary_files(port: int) -> dict[str, bytes]:
    url = f"http://127.0.0.1:{port}"
    host_url = f"http://{CANARY_HOST}:{port}"
    icc = _icc_with_description(f"{url}/icc-profile")
    files = {
        "xmp_provenance.png": xfx.png_with(xfx.remote_provenance(f"{url}/m.c2pa")),
        "xmp_provenance_compressed.png": xfx.png_with(
            xfx.remote_provenance(f"{host_url}/m.c2pa"), compressed=True),
        "xmp_provenance.jpg": xfx.jpeg_with(xfx.remote_provenance(f"{host_url}/m.c2pa")),
        "c2pa_remote.jpg": cfx.remote_reference(f"{url}/remote.c2pa"),
        "c2pa_remote_host.jpg": cfx.remote_reference(f"{host_url}/remote.c2pa"),
        "icc_description.png": _image("PNG", icc_profile=icc),
        "icc_description.jpg": _image("JPEG", icc_profile=icc),
        "text_chunks.png": _text_chunks_png(url, host_url),
        "exif_description.jpg": _image("JPEG", exif=_exif(url)),
        "exif_description.png": _image("PNG", exif=_exif(host_url)),
    }
    # The fixtures really carry the URL (a fixture that lost it would prove nothing).
    for name, data in files.items():
        assert _carries(data, f":{port}/".encode()), name
    return files


@pytest.fixture
def uploads(canary: Canary, tmp_path: Path) -> dict[str, bytes]:
    """Built before any patching: signing the C2PA fixtures is local (no TSA) anyway."""
    files = canary_files(canary.port)
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    assert canary.connections == 0
    return files


# -- the runs -----------------------------------------------------------------------------
def _assert_silent(canary: Canary, recorder: NetworkRecorder | None) -> None:
    assert canary.requests == [], canary.requests
    assert canary.connections == 0
    if recorder is not None:
        assert recorder.attempts == [], recorder.attempts


@pytest.mark.django_db
def test_full_pipeline_never_fetches_a_metadata_url(canary, uploads, user, monkeypatch):
    recorder = NetworkRecorder(canary.port)
    recorder.install(monkeypatch)
    states = {}
    for name, data in uploads.items():
        with mock.patch("moderation.tasks.enqueue_scan"):
            art = Artwork(owner=user)
            art.image.save(name, ContentFile(data), save=False)
            art.save()
        case = ModerationCase.objects.for_instance(art).get()
        states[name] = pipeline.scan(case.pk)
    assert set(states.values()) == {ProcessingState.DONE}, states
    # The remote references were read and reported, just not followed.
    remote = ModerationCase.objects.get(file_name__endswith="c2pa_remote.jpg")
    assert f":{canary.port}/remote.c2pa" in json.dumps(
        [e.details for e in remote.evidence.all()] + [e.reasons for e in remote.evidence.all()])
    _assert_silent(canary, recorder)


def test_scan_cli_in_process_never_fetches(canary, uploads, tmp_path, monkeypatch):
    recorder = NetworkRecorder(canary.port)
    recorder.install(monkeypatch)
    out = io.StringIO()
    call_command("moderation_scan", "--json", str(tmp_path), stdout=out)
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert {Path(r["path"]).name for r in rows} == set(uploads)
    assert all(r["error"] is None for r in rows), rows
    _assert_silent(canary, recorder)


SITECUSTOMIZE = '''
"""Loaded by the child process: record socket use the way the parent's recorder does."""
import os, socket

from tests.net_guard import is_loopback as _loopback

LOG = os.environ["TEGAKI_CANARY_LOG"]
PORT = int(os.environ["TEGAKI_CANARY_PORT"])

def _record(what):
    with open(LOG, "a") as fh:
        fh.write(what + "\\n")

_connect, _getaddrinfo = socket.socket.connect, socket.getaddrinfo

def connect(sock, address):
    if isinstance(address, tuple) and (not _loopback(address[0]) or address[1] == PORT):
        _record(f"connect {address[0]}:{address[1]}")
        raise ConnectionRefusedError("canary")
    return _connect(sock, address)

def getaddrinfo(host, port, *a, **kw):
    if host is not None and (not _loopback(host) or port == PORT):
        _record(f"getaddrinfo {host}:{port}")
        raise socket.gaierror(socket.EAI_NONAME, "canary")
    return _getaddrinfo(host, port, *a, **kw)

socket.socket.connect = connect
socket.getaddrinfo = getaddrinfo
'''


def test_scan_cli_as_a_process_never_fetches(canary, uploads, tmp_path, tmp_path_factory):
    hooks = tmp_path_factory.mktemp("canary-hooks")
    (hooks / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    log = hooks / "attempts.log"
    nowhere = tmp_path_factory.mktemp("nodb") / "missing" / "db.sqlite3"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings",
           "PYTHONPATH": os.pathsep.join([str(hooks), str(REPO)]),
           "DATABASE_URL": f"sqlite:///{nowhere}", "TEGAKI_CANARY_LOG": str(log),
           "TEGAKI_CANARY_PORT": str(canary.port)}
    probe = subprocess.run(  # the hook is really loaded in the child
        [sys.executable, "-c", "import socket; socket.getaddrinfo('example.invalid', 80)"],
        env=env, capture_output=True, text=True, timeout=60, check=False)
    assert "canary" in probe.stderr and log.read_text() == "getaddrinfo example.invalid:80\n"
    log.unlink()
    done = subprocess.run(
        [sys.executable, str(REPO / "manage.py"), "moderation_scan", "--json", str(tmp_path)],
        env=env, capture_output=True, text=True, timeout=300, cwd=REPO, check=False)
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == len(uploads)
    assert not log.exists(), log.read_text()
    _assert_silent(canary, None)


# -- the API has no field that takes a URL to fetch ---------------------------------------
def _serializer_classes() -> list[type]:
    from rest_framework import serializers as drf

    from moderation.api import serializers as S

    return [obj for obj in vars(S).values()
            if isinstance(obj, type) and issubclass(obj, drf.BaseSerializer)
            and obj.__module__ == S.__name__]


def test_no_api_serializer_field_accepts_a_url() -> None:
    """Greps found no ``URLField`` in moderation/api; this keeps it so. Any writable field
    that takes a URL (a ``URLField``, a hyperlink, a field named ``*url*``) would be
    something a future change might fetch."""
    from rest_framework import fields as drf_fields
    from rest_framework import relations

    classes = _serializer_classes()
    assert classes, "moderation.api.serializers defines no serializer?"
    writable_urlish: list[str] = []
    for cls in classes:
        declared: dict[str, Any] = dict(getattr(cls, "_declared_fields", {}))
        # Model serializers' generated fields too; one needing context keeps its declared.
        with contextlib.suppress(Exception):
            declared.update(cls().fields)
        for name, field in declared.items():
            is_url = isinstance(field, drf_fields.URLField | relations.HyperlinkedRelatedField
                                | relations.HyperlinkedIdentityField)
            if is_url and not field.read_only:
                writable_urlish.append(f"{cls.__name__}.{name}")
            if "url" in name.lower() and not field.read_only:
                writable_urlish.append(f"{cls.__name__}.{name}")
    assert writable_urlish == []


def test_no_url_field_in_the_api_source() -> None:
    api = REPO / "moderation" / "api"
    hits = [p.name for p in api.glob("*.py") if "URLField" in p.read_text(encoding="utf-8")]
    assert hits == []


@pytest.mark.django_db
def test_url_looking_api_input_reaches_the_canary_never(canary, monkeypatch):
    """Every free-text field the write routes take, filled with canary URLs."""
    from rest_framework.test import APIClient

    from tests.factories import make_case, make_user

    uploader, moderator = make_user("up"), make_user("mod", moderator=True)
    case = make_case(uploader)
    recorder = NetworkRecorder(canary.port)
    recorder.install(monkeypatch)
    url = f"http://127.0.0.1:{canary.port}/api"
    host_url = f"http://{CANARY_HOST}:{canary.port}/api"
    mod = APIClient()
    mod.force_authenticate(moderator)
    calls: list[Callable[[], Any]] = [
        lambda: mod.post(f"/api/moderation/{case.pk}/note/", {"note": url}, format="json"),
        lambda: mod.post(f"/api/moderation/{case.pk}/decide/",
                         {"label": "ai", "tool": host_url, "note": url, "strike": False},
                         format="json"),
    ]
    for call in calls:
        assert call().status_code == 200
    owner = APIClient()
    owner.force_authenticate(uploader)
    res = owner.post("/api/appeals/", {"case": case.pk, "message": f"see {url} {host_url}",
                                       "source_url": url, "avatar_url": host_url},
                     format="json")
    assert res.status_code in (201, 400), res.content  # stored or refused, never fetched
    _assert_silent(canary, recorder)

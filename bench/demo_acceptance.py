"""Time an upload through the running demo site (``make demo``) until it is labelled.

Usage: .venv/bin/python bench/demo_acceptance.py [http://127.0.0.1:8000]

Logs in as the seeded artist and uploads (1) a PNG whose ``parameters`` text chunk is
an AUTOMATIC1111 record, declared AI-generated with no tool named (the model name on
its page must come from the file), (2) the same kind of PNG declared hand-made (it
must be held, never public), and (3) a photograph from scikit-image's data declared
hand-made, then polls the feeds and the work page. Prints where each landed and after how
many seconds. Uses only the standard library and Pillow, so it talks to the site
exactly as a browser form would (CSRF token, multipart body, session cookie).
"""

from __future__ import annotations

import http.cookiejar
import io
import re
import sys
import time
import urllib.parse
import urllib.request
import uuid

from PIL import Image, PngImagePlugin

A1111 = ("1girl, watercolor, cherry blossoms\nNegative prompt: lowres\nSteps: 28, Sampler: "
         "DPM++ 2M Karras, CFG scale: 7, Seed: 12345, Size: 832x1216, Model hash: 1449e5b0b9, "
         "Model: animagineXLV31_v31, Version: v1.10.1")


def a1111_png() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", A1111)
    img = Image.linear_gradient("L").resize((832, 608)).convert("RGB")
    buf = io.BytesIO()
    img.save(buf, "PNG", pnginfo=info)
    return buf.getvalue()


def photo_jpeg() -> bytes:
    """A real photograph: the coffee cup from the seed cache scikit-image wheel."""
    import glob
    import zipfile

    wheels = glob.glob("var/seed-cache/scikit_image-*.whl")
    with zipfile.ZipFile(wheels[0]) as zf:
        return zf.read("skimage/data/coffee.png")


class Client:
    def __init__(self, base: str) -> None:
        if not base.startswith(("http://127.0.0.1", "http://localhost")):
            raise SystemExit("this script only talks to a demo on this machine")
        self.base = base.rstrip("/")
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def get(self, path: str) -> str:
        with self.opener.open(self.base + path, timeout=30) as resp:
            return resp.read().decode("utf-8", "replace")

    def csrf(self, html: str) -> str:
        match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
        if not match:
            raise SystemExit("no CSRF token in the page")
        return match.group(1)

    def post(self, path: str, fields: dict[str, str], files: dict[str, tuple[str, bytes]]
             ) -> str:
        boundary = uuid.uuid4().hex
        body = io.BytesIO()
        for name, value in fields.items():
            body.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                       f"{value}\r\n".encode())
        for name, (filename, data) in files.items():
            body.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                       f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'
                       .encode() + data + b"\r\n")
        body.write(f"--{boundary}--\r\n".encode())
        req = urllib.request.Request(  # noqa: S310 - base is checked to be local http
            self.base + path, data=body.getvalue(), method="POST",
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}",
                     "Referer": self.base + path})
        with self.opener.open(req, timeout=30) as resp:
            return resp.geturl()


def main() -> None:
    base = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000"
    client = Client(base)
    login = client.get("/accounts/login/")
    client.post("/accounts/login/", {"csrfmiddlewaretoken": client.csrf(login),
                                     "username": "artist", "password": "artist-demo-pass"}, {})
    cases = [
        (f"a1111-ai-{uuid.uuid4().hex[:6]}", "gen.png", a1111_png(), "ai", "/ai/"),
        (f"a1111-undisclosed-{uuid.uuid4().hex[:6]}", "gen2.png", a1111_png(), "none", ""),
        (f"photo-{uuid.uuid4().hex[:6]}", "coffee.png", photo_jpeg(), "none", "/"),
    ]
    for title, filename, data, declaration, expect in cases:
        form = client.get("/upload/")
        started = time.monotonic()
        page = client.post("/upload/", {"csrfmiddlewaretoken": client.csrf(form),
                                        "title": title, "ai_declaration": declaration,
                                        "ai_tool": ""}, {"image": (filename, data)})
        path = urllib.parse.urlparse(page).path
        where, detail = "", ""
        while time.monotonic() - started < 30:
            detail = client.get(path)
            if "Checking" not in detail and "確認中" not in detail:
                where = next((p for p in ("/ai/", "/") if title in client.get(p)), "")
                break
            time.sleep(0.2)
        elapsed = time.monotonic() - started
        label = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", detail))
        found = re.search(r"(AI生成|AI-generated)[^。.]{0,120}", label)
        print(f"{title}: {'in ' + where if where else 'not public'} after {elapsed:.1f} s "
              f"(expected {expect or 'not public'}); label: "
              f"{found.group(0).strip() if found else '-'}")


if __name__ == "__main__":
    main()

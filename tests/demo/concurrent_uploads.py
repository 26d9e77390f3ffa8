"""Run by ``test_demo_site.py`` in a fresh process: simultaneous uploads on the demo's SQLite.

Usage: ``python -m tests.demo.concurrent_uploads WRITERS ROUNDS`` with
``DJANGO_SETTINGS_MODULE=config.settings`` and ``TEGAKI_VAR_DIR`` set to an empty
directory. Each writer thread saves works through the ORM (so the post_save receiver
opens each case inside the same save, as the upload view does) while the others do the
same; prints one JSON object: errors raised to the uploader, works, works with a case.
"""

from __future__ import annotations

import io
import json
import sys
import threading

import django


def main(writers: int, rounds: int) -> dict[str, object]:
    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.files.base import ContentFile
    from django.core.management import call_command
    from django.db import connection
    from PIL import Image

    from config.gallery.models import Artwork
    from moderation.models import ModerationCase

    call_command("migrate", verbosity=0, interactive=False)
    user = get_user_model().objects.create_user("burst")
    buf = io.BytesIO()
    Image.new("RGB", (32, 32), (9, 99, 199)).save(buf, "PNG")
    data = buf.getvalue()
    errors: list[str] = []
    barrier = threading.Barrier(writers)

    def upload(index: int) -> None:
        try:
            for round_no in range(rounds):
                barrier.wait()
                work = Artwork(author=user, title=f"w{index}-{round_no}")
                work.image.save("w.png", ContentFile(data), save=False)
                work.save()
        except Exception as exc:  # what the uploader would get as a 500
            errors.append(f"{type(exc).__name__}: {exc}")
            barrier.abort()
        finally:
            connection.close()

    threads = [threading.Thread(target=upload, args=(i,)) for i in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    works = Artwork.objects.count()
    with_case = ModerationCase.objects.filter(
        object_id__in=[str(pk) for pk in Artwork.objects.values_list("pk", flat=True)]).count()
    return {"errors": errors, "works": works, "with_case": with_case,
            "journal": connection.cursor().execute("PRAGMA journal_mode").fetchone()[0]}


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]), int(sys.argv[2]))))

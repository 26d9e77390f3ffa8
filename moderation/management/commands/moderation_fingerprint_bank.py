"""Share hash banks with other sites in the format Hasher-Matcher-Actioner exchanges.

    manage.py moderation_fingerprint_bank keygen --out site.key     # prints the public key
    manage.py moderation_fingerprint_bank export --key site.key --out banned.csv
    manage.py moderation_fingerprint_bank import other.csv --source other-site \\
        --public-key other.pub                                       # reads other.csv.sig

An export holds the live hashes of one bank (the removed works by default), each work's
crop hashes as further rows of it (``--one-row-per-work`` leaves them out), and nothing
about accounts or works; ``<out>.sig`` is its Ed25519 signature. An import refuses a
file whose signature does not verify (``--unsigned`` reads one without a signature, for
lists from a source you fetched over a channel you trust) and never overrides what this
site's moderators decided (see ``moderation.fingerprints.exchange``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from moderation.fingerprints import exchange
from moderation.models import FingerprintBank


class Command(BaseCommand):
    help = "Export, import and sign PDQ hash lists (HMA's exchange CSV)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        keygen = sub.add_parser("keygen", help="Write a new Ed25519 signing key.")
        keygen.add_argument("--out", required=True, help="Private key file (PEM) to write.")
        out = sub.add_parser("export", help="Write one bank's hashes and their signature.")
        out.add_argument("--out", required=True, help="CSV file to write (and <out>.sig).")
        out.add_argument("--key", required=True, help="Ed25519 private key (PEM).")
        out.add_argument("--bank", default=FingerprintBank.BANNED,
                         choices=[FingerprintBank.BANNED, FingerprintBank.SHARED])
        out.add_argument("--collab", default="tegaki", help="Collaboration name in rows.")
        out.add_argument("--one-row-per-work", action="store_true",
                         help="Leave the crops' hashes out (one hash per work).")
        imp = sub.add_parser("import", help="Read a list into the shared bank.")
        imp.add_argument("file", help="CSV (or one hash per line) file.")
        imp.add_argument("--source", required=True, help="Name to file the hashes under.")
        imp.add_argument("--public-key", help="Sender's Ed25519 public key (PEM).")
        imp.add_argument("--signature", help="Signature file; default <file>.sig.")
        imp.add_argument("--unsigned", action="store_true",
                         help="Import without checking a signature.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            getattr(self, f"do_{options['action']}")(options)
        except (exchange.ExchangeError, OSError, ValueError) as exc:
            raise CommandError(str(exc)) from exc

    def do_keygen(self, options: dict[str, Any]) -> None:
        target = Path(options["out"])
        if target.exists():
            raise CommandError(f"{target} exists; refusing to overwrite a key")
        private, public = exchange.generate_key()
        target.write_bytes(private)
        target.chmod(0o600)
        self.stdout.write(public.decode())

    def do_export(self, options: dict[str, Any]) -> None:
        key = exchange.load_private(Path(options["key"]).read_bytes())
        data = exchange.export_csv(options["bank"], collab=options["collab"],
                                   variants=not options["one_row_per_work"])
        out = Path(options["out"])
        out.write_bytes(data)
        Path(f"{out}.sig").write_bytes(exchange.sign(data, key))
        rows = max(0, data.count(b"\n") - 1)
        self.stdout.write(f"{rows} hashes -> {out} (signature {out}.sig)")

    def do_import(self, options: dict[str, Any]) -> None:
        data = Path(options["file"]).read_bytes()
        key = signature = None
        if not options["unsigned"]:
            if not options["public_key"]:
                raise CommandError("give --public-key (or --unsigned)")
            key = exchange.load_public(Path(options["public_key"]).read_bytes())
            signature = Path(options["signature"] or f"{options['file']}.sig").read_bytes()
        report = exchange.import_csv(data, source=options["source"], signature=signature,
                                     public_key=key)
        self.stdout.write(
            f"added {report.added} (with {report.variants} crop hashes), already there "
            f"{report.already}, kept local decision "
            f"{report.kept_local}, other types skipped {report.skipped}, "
            f"bad rows {len(report.errors)}")
        for error in report.errors[:20]:
            self.stderr.write(error)

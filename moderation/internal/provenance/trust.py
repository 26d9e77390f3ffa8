"""C2PA trust lists and the offline c2pa-python context built from them.

c2pa-python fetches remote manifests and resolves CAWG ``did:web`` identities over
the network by default (a DNS lookup shows up under strace). An upload pipeline
must never do that: a file could make every worker call out to a host of the
uploader's choosing. The context built here switches every network path off and
loads the bundled trust lists (official C2PA list + frozen CAI interim list + the EKU
config without which genuine OpenAI files read as Invalid).

The lists are data, overridable with ``MODERATION["C2PA_TRUST_DIR"]``; their
fingerprint is part of the provenance detector version so updating them changes
the evidence idempotency key.
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Directory shipped inside the package.
BUNDLED_TRUST_DIR = Path(__file__).resolve().parents[2] / "data" / "c2pa-trust"

#: Claim-signing anchors; every one must exist.
ANCHOR_FILES = ("official-C2PA-TRUST-LIST.pem", "interim-anchors.pem")
#: End-entity certificates trusted directly (the frozen CAI interim list).
ALLOWED_FILE = "interim-allowed.pem"
#: EKU OIDs accepted on signing certificates.
STORE_CONFIG_FILE = "interim-store.cfg"
#: Timestamp-authority list: fingerprinted (it ships with the anchors) but optional.
OPTIONAL_FILES = ("official-C2PA-TSA-TRUST-LIST.pem",)
REQUIRED_FILES = (*ANCHOR_FILES, ALLOWED_FILE, STORE_CONFIG_FILE)
#: Extra PEM files with this suffix in the directory are added to the anchors, so a
#: site (or a test) can trust one more root without editing the shipped lists.
EXTRA_ANCHOR_SUFFIX = ".anchor.pem"


@dataclass(frozen=True)
class TrustLists:
    """The PEM/config text of one trust directory and a fingerprint of all of it."""

    directory: Path
    trust_anchors: str
    allowed_list: str
    trust_config: str
    fingerprint: str

    def c2pa_settings(self) -> dict[str, Any]:
        """Return c2pa-python settings: no network access at all, and these trust lists."""
        return {
            "verify": {"remote_manifest_fetch": False, "ocsp_fetch": False},
            "core": {"allowed_network_hosts": [], "decode_identity_assertions": False},
            "trust": {
                "trust_anchors": self.trust_anchors,
                "allowed_list": self.allowed_list,
                "trust_config": self.trust_config,
            },
        }


def resolve_trust_dir(configured: str | os.PathLike[str] | None) -> Path:
    """Return the configured trust directory, or the bundled one for ``None``."""
    return BUNDLED_TRUST_DIR if configured is None else Path(configured)


def missing_files(directory: Path) -> list[str]:
    """Return required trust files that are absent or unreadable in ``directory``."""
    missing = []
    for name in REQUIRED_FILES:
        path = directory / name
        if not path.is_file() or not os.access(path, os.R_OK):
            missing.append(name)
    return missing


def load_trust_lists(directory: Path) -> TrustLists:
    """Read every trust file in ``directory``; raise ``OSError`` if one is missing."""
    absent = missing_files(directory)
    if absent:
        raise FileNotFoundError(f"C2PA trust directory {directory} lacks {', '.join(absent)}")
    extra = sorted(p.name for p in directory.glob("*" + EXTRA_ANCHOR_SUFFIX))
    texts = {
        name: (directory / name).read_text(encoding="utf-8")
        for name in (*REQUIRED_FILES, *OPTIONAL_FILES, *extra)
        if (directory / name).is_file()
    }
    digest = hashlib.sha256()
    for name in sorted(texts):
        digest.update(name.encode() + b"\0" + texts[name].encode() + b"\0")
    anchors = "\n".join(texts[name] for name in (*ANCHOR_FILES, *extra))
    return TrustLists(
        directory=directory,
        trust_anchors=anchors,
        allowed_list=texts[ALLOWED_FILE],
        trust_config=texts[STORE_CONFIG_FILE],
        fingerprint=digest.hexdigest()[:16],
    )


_lock = threading.Lock()
_contexts: dict[tuple[int, str], tuple[TrustLists, Any]] = {}


def get_context(directory: Path) -> tuple[TrustLists, Any]:
    """Return ``(lists, c2pa.Context)`` for ``directory``, built once per process.

    Keyed by process id as well as directory: a native context created in a Celery
    parent must not be reused by a forked child.
    """
    import c2pa

    key = (os.getpid(), str(directory))
    with _lock:
        cached = _contexts.get(key)
        if cached is None:
            lists = load_trust_lists(directory)
            cached = (lists, c2pa.Context.from_dict(lists.c2pa_settings()))
            _contexts[key] = cached
        return cached


def clear_cache() -> None:
    """Forget cached contexts (tests that rewrite a trust directory call this)."""
    with _lock:
        _contexts.clear()

"""Serving files that must never render in the browser: appeal proof and case originals.

Every response is an attachment (or an image with a server-detected type), with
``nosniff`` and a sandboxing CSP, so a polyglot upload cannot run script on our origin.
"""

from __future__ import annotations

from typing import Any

from django.http import FileResponse, Http404

SANDBOX_CSP = "default-src 'none'; sandbox"


def harden(response: Any) -> Any:
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = SANDBOX_CSP
    response["Cache-Control"] = "private, no-store"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    return response


def private_file_response(proof: Any) -> FileResponse:
    """Stream an :class:`~moderation.models.AppealFile` as an opaque download."""
    try:
        fh = proof.file.open("rb")
    except (FileNotFoundError, OSError) as exc:
        raise Http404 from exc
    response = FileResponse(fh, as_attachment=True,
                            filename=proof.original_name or "proof.bin",
                            content_type="application/octet-stream")
    return harden(response)

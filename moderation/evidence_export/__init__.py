"""Evidence export: one case as a ZIP a creator can hand to a platform or a lawyer.

:func:`export_case` builds the bundle (``case.json`` with its schema, a printable
``report.html``, the metadata-free preview, ``verify.py`` and ``SHA256SUMS``) and
records the export in the audit log. The case page, the uploader's status page, the
API (``POST …/moderation/{id}/export/``) and ``manage.py moderation_export_case`` all
call it; :class:`Viewer` says for whom, and so what is withheld
(:data:`~moderation.evidence_export.document.UPLOADER_REDACTIONS`).
"""

from __future__ import annotations

from moderation.evidence_export.bundle import Bundle, build_bundle, export_case
from moderation.evidence_export.document import (
    AUDIENCES,
    EXPORT_ACTION,
    MODERATOR,
    OPERATOR,
    UPLOADER,
    UPLOADER_REDACTIONS,
    Viewer,
)
from moderation.evidence_export.schema import CASE_SCHEMA, FORMAT, SCHEMA_VERSION

__all__ = ["AUDIENCES", "CASE_SCHEMA", "EXPORT_ACTION", "FORMAT", "MODERATOR", "OPERATOR",
           "SCHEMA_VERSION", "UPLOADER", "UPLOADER_REDACTIONS", "Bundle", "Viewer",
           "build_bundle", "export_case"]

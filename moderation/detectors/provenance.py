"""Provenance detector: every metadata reader on the original bytes, merged into one result.

Readers (moderation.internal.provenance): C2PA (offline, bundled trust lists), XMP/IPTC,
and generator metadata (PNG text, EXIF, stealth bits, NovelAI signature). Each returns
findings; this module ranks them, highest first, into one
:class:`~moderation.evidence.EvidenceResult`:

* label ``ai`` when any AI finding is strong or proof;
* else ``ai_assisted`` when a finding says so (``compositeWithTrainedAlgorithmicMedia``
  never becomes ``ai``), so a weak free-text hint cannot outrank a declared edit;
* else ``ai`` at weak strength for hints only;
* else ``human`` only for a Trusted C2PA capture;
* else ``none``.

Rights information (training-mining, PLUS DataMining) is kept in ``details["rights"]``
and never affects the label. A reader that crashes is recorded in
``details["errors"]``; the other readers' findings are kept.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any, ClassVar

from django.core import checks

from moderation.conf import moderation_settings
from moderation.constants import STRENGTH_RANK, EvidenceLabel, Strength
from moderation.detectors.base import BaseDetector
from moderation.evidence import EvidenceResult, ImageInput
from moderation.exceptions import InvalidDetectorConfig
from moderation.internal.provenance import trust
from moderation.internal.provenance.c2pa_reader import MIME_BY_FORMAT, read_c2pa
from moderation.internal.provenance.findings import Finding
from moderation.internal.provenance.generator_table import GeneratorTable, load_generator_table
from moderation.internal.provenance.generators import read_generator_metadata
from moderation.internal.provenance.limits import total_limit
from moderation.internal.provenance.reasons import (
    NO_PROVENANCE,
    READER_REASONS,
    table_reasons,
)
from moderation.internal.provenance.xmp import read_xmp
from moderation.reasons import Reason

logger = logging.getLogger(__name__)

#: Label order when ranking findings for names and reasons.
_LABEL_RANK = {EvidenceLabel.AI.value: 3, EvidenceLabel.AI_ASSISTED.value: 2,
               EvidenceLabel.HUMAN.value: 1}
_STRENGTH_RANK = {str(k.value): v for k, v in STRENGTH_RANK.items()}


def _patterns_path(options: dict[str, Any]) -> str | None:
    """Generator-pattern file: the option, else ``GENERATOR_PATTERNS``, else bundled."""
    value = options.get("GENERATOR_PATTERNS") or moderation_settings.GENERATOR_PATTERNS
    return str(value) if value else None


def _srank(finding: Finding) -> int:
    return _STRENGTH_RANK.get(str(finding.strength), 0)


def _rank(finding: Finding) -> tuple[int, int]:
    return _LABEL_RANK.get(str(finding.label), 0), _srank(finding)


def _strength_of(findings: list[Finding]) -> str:
    return str(max(findings, key=_srank).strength)


class ProvenanceDetector(BaseDetector):
    """Reads AI-provenance metadata from the original upload bytes (no pixels needed,
    except the generator reader's stealth/signature check, which uses the shared decode).
    """

    #: Bump when merging or any reader changes results; data versions are appended.
    #: 2: generation JSON and records in every container (COM, XP*, XMP values).
    version = "2"
    needs_pixels = False
    default_options: ClassVar[dict[str, Any]] = {"TRUST_DIR": None, "GENERATOR_PATTERNS": None}
    reasons = READER_REASONS

    @classmethod
    def declared_reasons(cls, options: dict[str, Any]) -> tuple[Reason, ...]:
        """The readers' codes plus those the configured generator table introduces; an
        unreadable table adds none (the system check reports it)."""
        try:
            table = load_generator_table(_patterns_path(options))
        except (OSError, ValueError):
            return cls.reasons
        return (*cls.reasons, *table_reasons(table))

    def validate(self) -> None:
        for key in self.default_options:
            value = self.options[key]
            if value is not None and not isinstance(value, str | os.PathLike):
                raise InvalidDetectorConfig(
                    f"Detector {self.alias!r}: OPTIONS[{key!r}] must be a path or None, "
                    f"got {type(value).__name__}")
        self._version: str | None = None

    # ------------------------------------------------------------------ configuration

    @property
    def trust_dir(self) -> Path:
        """Trust-list directory: the option, else ``C2PA_TRUST_DIR``, else bundled."""
        configured = self.options["TRUST_DIR"] or moderation_settings.C2PA_TRUST_DIR
        return trust.resolve_trust_dir(configured)

    @property
    def patterns_path(self) -> str | None:
        return _patterns_path(self.options)

    def table(self) -> GeneratorTable:
        return load_generator_table(self.patterns_path)

    def get_version(self) -> str:
        """Code version + generator-table version + trust-list fingerprint (≤ 64 chars).

        Updating either data file changes the version, hence the evidence idempotency
        key, so re-scans pick up new patterns or trust anchors.
        """
        if self._version is None:
            try:
                table_version = self.table().version
            except (OSError, ValueError):
                table_version = "unavailable"
            try:
                fingerprint = trust.load_trust_lists(self.trust_dir).fingerprint
            except OSError:
                fingerprint = "unavailable"
            version = f"{self.version}:g{table_version}:t{fingerprint}"
            if len(version) > 64:
                digest = hashlib.sha256(version.encode()).hexdigest()[:16]
                version = f"{self.version}:{digest}"
            self._version = version
        return self._version

    def check(self) -> list[checks.CheckMessage]:
        errors: list[checks.CheckMessage] = []
        option = f'MODERATION["DETECTORS"]["{self.alias}"]["OPTIONS"]'
        directory = self.trust_dir
        missing = trust.missing_files(directory)
        if missing:
            errors.append(checks.Error(
                f"C2PA trust directory {directory} is missing or unreadable: lacks "
                f"{', '.join(missing)}.",
                hint=f'Point MODERATION["C2PA_TRUST_DIR"] or {option}["TRUST_DIR"] at a '
                     "directory with the official and interim trust lists (copy "
                     "moderation/data/c2pa-trust/), or set it to None for the bundled copy.",
                id="moderation.E030"))
        else:
            try:
                trust.get_context(directory)
            except Exception as exc:  # c2pa not importable, or lists it cannot parse
                errors.append(checks.Error(
                    f"C2PA trust lists in {directory} cannot be loaded by c2pa-python: {exc}.",
                    hint="Check that c2pa-python is installed and that every .pem file holds "
                         "PEM certificates (refresh them from the official/interim lists).",
                    id="moderation.E033"))
        try:
            self.table()
        except OSError as exc:
            errors.append(checks.Error(
                f"Generator-pattern file cannot be read: {exc}.",
                hint=f'Fix MODERATION["GENERATOR_PATTERNS"] or {option}["GENERATOR_PATTERNS"],'
                     " or set it to None for the bundled moderation/data/generators.json.",
                id="moderation.E031"))
        except ValueError as exc:
            errors.append(checks.Error(
                f"Generator-pattern file is malformed: {exc}.",
                hint="Validate the JSON against moderation/data/generators.json.",
                id="moderation.E032"))
        return errors

    # ------------------------------------------------------------------ detection

    def detect(self, image: ImageInput) -> EvidenceResult:
        findings: list[Finding] = []
        errors: list[dict[str, str]] = []
        c2pa_summary: dict[str, Any] = {}
        xmp_summary: dict[str, Any] = {}
        data = image.data

        table: GeneratorTable | None = None
        try:
            table = self.table()
        except (OSError, ValueError) as exc:
            errors.append({"reader": "generator_table", "error": str(exc)[:300]})

        try:
            found, c2pa_summary = read_c2pa(data, MIME_BY_FORMAT.get(image.format) or None,
                                            trust_dir=self.trust_dir)
            findings.extend(found)
        except Exception as exc:
            errors.append(self._crash("c2pa", exc))
        if c2pa_summary.get("error"):
            errors.append({"reader": "c2pa", "error": str(c2pa_summary.pop("error"))})

        try:
            found, xmp_summary = read_xmp(data, table)
            findings.extend(found)
        except Exception as exc:
            errors.append(self._crash("xmp", exc))
        if xmp_summary.get("error"):
            errors.append({"reader": "xmp", "error": str(xmp_summary["error"])})

        if table is not None:
            try:
                findings.extend(read_generator_metadata(data, image, table))
            except Exception as exc:
                errors.append(self._crash("generators", exc))

        return self.merge(_dedupe(findings), c2pa_summary=c2pa_summary, errors=errors)

    def _crash(self, reader: str, exc: Exception) -> dict[str, str]:
        logger.exception("provenance reader %s failed", reader)
        return {"reader": reader, "error": f"{type(exc).__name__}: {exc}"[:300]}

    def merge(self, findings: list[Finding], *, c2pa_summary: dict[str, Any] | None = None,
              errors: list[dict[str, str]] | None = None) -> EvidenceResult:
        """Rank ``findings`` into one result (see the module docstring for the rules)."""
        ai = [f for f in findings if f.label == EvidenceLabel.AI]
        assisted = [f for f in findings if f.label == EvidenceLabel.AI_ASSISTED]
        human = [f for f in findings if f.label == EvidenceLabel.HUMAN]
        strong_ai = [f for f in ai if _srank(f) >= STRENGTH_RANK[Strength.STRONG]]
        if strong_ai:
            label, group = EvidenceLabel.AI, strong_ai
        elif assisted:
            label, group = EvidenceLabel.AI_ASSISTED, assisted
        elif ai:
            label, group = EvidenceLabel.AI, ai
        elif human:
            label, group = EvidenceLabel.HUMAN, human
        else:
            label, group = EvidenceLabel.NONE, []

        ranked = sorted(findings, key=_rank, reverse=True)
        naming = sorted(group, key=_rank, reverse=True) + [
            f for f in ranked if f.label in (EvidenceLabel.AI, EvidenceLabel.AI_ASSISTED)]
        generator = next((f.generator for f in naming if f.generator), "")
        model = next((f.model for f in naming if f.model), "")
        loras = next((f.loras for f in naming if f.loras), ())
        strength = _strength_of(group) if group else Strength.WEAK
        top = sorted(group, key=_rank, reverse=True)[0] if group else None
        reasons = tuple(dict.fromkeys(f.reason for f in ranked))

        rights: dict[str, Any] = {}
        for f in findings:
            if f.kind == "rights":
                rights.setdefault(f.reason, []).append(f.details)
        details: dict[str, Any] = {
            "findings": [_public(f) for f in ranked],
            "rights": rights,
            "c2pa": c2pa_summary or {},
            "truncated": any(f.details.get("truncated") for f in findings),
        }
        if errors:
            details["errors"] = errors
        private: dict[str, Any] = {}
        for f in ranked:
            if f.private:
                private.setdefault(f"{f.source}:{f.reason}", f.private)
        details, private = enforce_total_limit(details, private, total_limit())
        return EvidenceResult(
            detector=self.alias, version=self.get_version(), label=label, strength=strength,
            message=top.reason if top else NO_PROVENANCE.code,
            message_params=dict(top.params) if top else {}, details=details, private=private,
            generator=generator,
            model=model, loras=tuple(loras), reasons=reasons, mode=self.mode,
        )


def _dedupe(findings: list[Finding]) -> list[Finding]:
    """Drop repeats (the same remote URL from the C2PA SDK and from XMP, for instance)."""
    seen: set[tuple[str, str, str]] = set()
    out = []
    for f in findings:
        key = (f.reason, f.generator, json.dumps(f.details, sort_keys=True, default=str))
        if f.reason == "c2pa_remote_manifest":
            key = (f.reason, "", str(f.details.get("url")))
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out


def _public(finding: Finding) -> dict[str, Any]:
    record = asdict(finding)
    record.pop("private")
    record["loras"] = list(finding.loras)
    record["has_private"] = bool(finding.private)
    return record


def _size(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False, default=str))


def _shrink(value: Any, limit: int) -> Any:
    """Cut every string in ``value`` to ``limit`` characters (recursively)."""
    if isinstance(value, str):
        return value if len(value) <= limit else value[:limit] + "…"
    if isinstance(value, dict):
        return {k: _shrink(v, limit) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_shrink(v, limit) for v in value]
    return value


def enforce_total_limit(details: dict[str, Any], private: dict[str, Any],
                        limit: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """Fit ``details`` + ``private`` into ``limit`` serialized characters.

    Shrinks strings step by step, then drops per-finding details, then private data,
    then findings from the weakest end; sets ``details["truncated"]`` when anything was
    cut so moderators know the record is partial.
    """
    if _size(details) + _size(private) <= limit:
        return details, private
    details = {**details, "truncated": True}
    for cap in (8192, 2048, 512, 128):
        details = _shrink(details, cap)
        private = _shrink(private, cap)
        if _size(details) + _size(private) <= limit:
            return details, private
    details["findings"] = [{k: v for k, v in f.items() if k != "details"}
                           for f in details["findings"]]
    details["c2pa"] = {k: v for k, v in details["c2pa"].items() if k != "manifests"}
    if _size(details) + _size(private) <= limit:
        return details, private
    private = {}
    while details["findings"] and _size(details) > limit:
        details["findings"].pop()
    if _size(details) > limit:
        details = {"findings": [], "rights": {}, "c2pa": {}, "truncated": True}
    return details, private

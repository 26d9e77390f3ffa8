"""Readers for every AI-provenance signal an image file can carry.

Each reader takes the original bytes (and, for stealth data, the decoded image) and
returns a list of :class:`~moderation.internal.provenance.findings.Finding`; the
provenance detector merges them into one evidence record.
"""

"""Signals Tegaki sends. All are sent after the transaction that caused them commits."""

from django.dispatch import Signal

# A scan finished (state done, rejected or quarantined).
# Args: sender=ModerationCase, case, decision (Decision or None), evidence (list[Evidence])
case_scanned = Signal()

# A case's label or route changed, by the pipeline or a moderator.
# Args: sender=ModerationCase, case, before (dict), after (dict), actor (user or None)
verdict_changed = Signal()

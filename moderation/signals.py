"""Signals Tegaki sends. All are sent after the transaction that caused them commits."""

from django.dispatch import Signal

# A scan finished (state done, rejected or quarantined).
# Args: sender=ModerationCase, case, decision (Decision or None), evidence (list[Evidence])
case_scanned = Signal()

# A case's label or route changed, by the pipeline or a moderator.
# Args: sender=ModerationCase, case, before (dict), after (dict), actor (user or None)
verdict_changed = Signal()

# A moderator (or uploader) action was applied and committed.
# Args: sender=action class, case (ModerationCase or None), action (ModerationAction), actor
action_taken = Signal()

# A strike was recorded against an uploader. Args: sender=Strike, strike, level (str)
strike_recorded = Signal()

# An appeal was decided. Args: sender=Appeal, appeal
appeal_decided = Signal()

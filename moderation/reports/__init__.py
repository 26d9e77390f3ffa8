"""Viewers' reports: a viewer says "this is AI", "this is my work", "this is a real person".

Each report is evidence on the work's case (reason codes from the reason table with the
source ``"reports"``), weighted by what the reporter's past reports were worth
(:mod:`~moderation.reports.reputation`), the account's age, bursts against one artist
and shared clusters (:mod:`~moderation.reports.weighting`). The weighted score orders
the review queue and, past ``REPORT_HOLD_THRESHOLD``, holds the work for review; reports
never label a work and never strike an account. Moderators' verdicts settle the open
reports (:mod:`~moderation.reports.outcomes`), which moves each reporter's reputation.
"""

"""django-q2 entry points of reporting: thin, idempotent."""

from .rollup import refresh_ticket_facts


def refresh_facts() -> int:
    """Every minute (``helpdesk/schedules.py``): the facts of the tickets changed since the last run."""
    return refresh_ticket_facts()

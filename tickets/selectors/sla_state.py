"""A ticket's SLA state — breached, at risk or ok — for lists: the queue's filter and rows, the board's counts.

The definition is ``tickets.sla`` (``clock_state``, ``HELPDESK["SLA_AT_RISK_SHARE"]``) applied to each of a
ticket's two clocks by ``tickets.services.sla.clock_states``, the one the escalation scan uses:

- a clock runs while the ticket is new, assigned or open and not paused (pending pauses it), until it is met
  (the first response by the first agent reply; the resolution when resolved or closed);
- a running clock is **breached** at its due time, **at risk** once the share of its time from the ticket's
  creation to the due time has passed (0.8 by default: a 4-hour P1 resolution after 3 h 12 min);
- a recorded breach stays breached.

A ticket is breached if any clock is (or ``sla_breached`` is set), at risk if any clock is, otherwise ok.
``sla_state`` decides it for a ticket in memory; ``sla_state_expression`` is the same decision in SQL, for
filtering and counting in the database (tests check that they agree, at the threshold's edge too).
"""

from __future__ import annotations

from datetime import datetime

from django.db import models
from django.db.models import Case, DurationField, ExpressionWrapper, F, Q, Value, When
from django.db.models.lookups import LessThanOrEqual
from django.utils import timezone

from tickets import sla
from tickets.services.sla import CLOCK_STATUSES, clock_states


class SlaState(models.TextChoices):
    BREACHED = sla.BREACHED, "Breached"
    AT_RISK = sla.AT_RISK, "At risk"
    OK = sla.OK, "OK"


# The CSS classes of helpdesk.css for each state.
CSS_CLASS = {SlaState.BREACHED: "sla-breached", SlaState.AT_RISK: "sla-at-risk", SlaState.OK: "sla-ok"}

# (due time, met when set, breach recorded, started) of each clock.
CLOCKS = (
    ("first_response_due", "first_responded_at", "first_response_breached_at", "created_at"),
    ("resolution_due", None, "resolution_breached_at", "created_at"),
    # Runs per unanswered customer message (its due time is cleared when answered), from that message.
    ("next_response_due", None, "next_response_breached_at", "next_response_started_at"),
)


def sla_state(ticket, now: datetime | None = None) -> str:
    """breached / at_risk / ok for one ticket in memory."""
    if ticket.sla_breached:
        return SlaState.BREACHED
    states = set(clock_states(ticket, now=now or timezone.now()).values())
    for state in (SlaState.BREACHED, SlaState.AT_RISK):
        if state in states:
            return state
    return SlaState.OK


def sla_state_expression(now: datetime | None = None):
    """``sla_state`` in SQL (PostgreSQL and SQLite): annotate it and filter or count on it."""
    now = now or timezone.now()
    keep = 1 - sla.at_risk_share()
    running = Q(status__in=CLOCK_STATUSES, sla_paused_at__isnull=True)
    breached, at_risk = Q(sla_breached=True), Q()
    for due, met, recorded, started in CLOCKS:
        breached |= Q(**{f"{recorded}__isnull": False})
        clock = running & Q(**{f"{due}__isnull": False, f"{recorded}__isnull": True})
        if met:
            clock &= Q(**{f"{met}__isnull": True})
        left = ExpressionWrapper(F(due) - Value(now), output_field=DurationField())
        window = ExpressionWrapper((F(due) - F(started)) * Value(keep), output_field=DurationField())
        breached |= clock & Q(**{f"{due}__lte": now})
        at_risk |= clock & Q(LessThanOrEqual(left, window))
    return Case(
        When(breached, then=Value(SlaState.BREACHED)),
        When(at_risk, then=Value(SlaState.AT_RISK)),
        default=Value(SlaState.OK),
        output_field=models.CharField(max_length=8),
    )


def with_sla_state(queryset, now: datetime | None = None):
    """Annotate ``sla_state`` (breached / at_risk / ok) on a ticket queryset."""
    return queryset.annotate(sla_state=sla_state_expression(now))

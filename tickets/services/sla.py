"""Applying priority and SLA targets to a ticket (the arithmetic is in ``tickets.sla``)."""

from __future__ import annotations

import logging

from django.db.models import Q

from tickets import sla
from tickets.models import SlaPolicy, Ticket


def targets_for(*, priority: int, team_id: int | None) -> tuple[int, int]:
    """(first response, resolution) minutes: the team's policy, else the default policy, else built-ins."""
    policies = {
        p.team_id: p
        for p in SlaPolicy.objects.filter(Q(team_id=team_id) | Q(team__isnull=True), priority=priority)
    }
    policy = policies.get(team_id) or policies.get(None)
    if policy:
        return policy.first_response_minutes, policy.resolution_minutes
    return sla.DEFAULT_TARGETS[priority]


log = logging.getLogger(__name__)


def business_hours(calendar) -> sla.BusinessHours | None:
    """The team calendar's hours; a calendar the admin broke counts 24/7 (logged) rather than refuse intake."""
    try:
        return sla.BusinessHours.of(calendar)
    except sla.CalendarError as exc:
        log.error("business calendar %r is unusable, counting 24/7: %s", calendar, exc)
        return None


def apply_targets(ticket: Ticket) -> None:
    """Set the ticket's due times from its priority and team (in memory; the caller saves)."""
    first, resolution = targets_for(priority=ticket.priority, team_id=ticket.team_id)
    calendar = business_hours(ticket.team.calendar if ticket.team_id else None)
    ticket.first_response_due = sla.add_working_minutes(ticket.created_at, first, calendar)
    ticket.resolution_due = sla.add_working_minutes(ticket.created_at, resolution, calendar)

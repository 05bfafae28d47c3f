"""Applying priority and SLA targets to a ticket (the arithmetic is in ``tickets.sla``)."""

from __future__ import annotations

import logging
from datetime import datetime

from django.db.models import Q

from tickets import sla
from tickets.lifecycle import Status
from tickets.models import SlaPolicy, Ticket
from tickets.models.tickets import ResolutionType
from tickets.services.events import record_event


def _policy(*, priority: int, team_id: int | None) -> SlaPolicy | None:
    """The team's policy for the priority, else the default policy."""
    policies = {
        p.team_id: p
        for p in SlaPolicy.objects.filter(Q(team_id=team_id) | Q(team__isnull=True), priority=priority)
    }
    return policies.get(team_id) or policies.get(None)


def targets_for(*, priority: int, team_id: int | None) -> tuple[int, int]:
    """(first response, resolution) minutes: the team's policy, else the default policy, else built-ins."""
    policy = _policy(priority=priority, team_id=team_id)
    if policy:
        return policy.first_response_minutes, policy.resolution_minutes
    return sla.DEFAULT_TARGETS[priority]


def next_response_target(*, priority: int, team_id: int | None) -> int:
    """Next-response minutes: the policy's, else the built-in default for the priority."""
    policy = _policy(priority=priority, team_id=team_id)
    if policy and policy.next_response_minutes:
        return policy.next_response_minutes
    return sla.DEFAULT_NEXT_RESPONSE[priority]


log = logging.getLogger(__name__)


def business_hours(calendar) -> sla.BusinessHours | None:
    """The team calendar's hours; a calendar the admin broke counts 24/7 (logged) rather than refuse intake."""
    try:
        return sla.BusinessHours.of(calendar)
    except sla.CalendarError as exc:
        log.error("business calendar %r is unusable, counting 24/7: %s", calendar, exc)
        return None


def _calendar(ticket: Ticket) -> sla.BusinessHours | None:
    return business_hours(ticket.team.calendar if ticket.team_id else None)


def apply_targets(ticket: Ticket) -> None:
    """Set the ticket's due times from its priority and team (in memory; the caller saves).

    Counted from the ticket's creation, plus the business minutes its clocks spent paused so far."""
    first, resolution = targets_for(priority=ticket.priority, team_id=ticket.team_id)
    calendar = _calendar(ticket)
    paused = ticket.sla_paused_minutes or 0
    ticket.first_response_due = sla.add_working_minutes(ticket.created_at, first + paused, calendar)
    ticket.resolution_due = sla.add_working_minutes(ticket.created_at, resolution + paused, calendar)


# The clocks ------------------------------------------------------------------------------------------------
#
# Two clocks per ticket: first response (stops at the first agent reply) and resolution (stops when a
# resolution is proposed or the ticket closes). Both pause while the ticket is pending — waiting on the
# customer does not count — and a breach is recorded once, with the due time that passed.
# ``on_transition`` is the one hook: every lifecycle move and reply calls it before saving the ticket.

# Where the clocks run; pending is where they pause.
CLOCK_STATUSES = frozenset({Status.NEW, Status.ASSIGNED, Status.OPEN})
STOPPED_STATUSES = frozenset({Status.RESOLVED, Status.CLOSED})
# Closed like this, a ticket has no SLA compliance to report.
NOT_MEASURED = frozenset({ResolutionType.SPAM, ResolutionType.DUPLICATE})


def pause(ticket: Ticket, *, now: datetime) -> list[str]:
    """The ticket started waiting on the customer: its clocks stop counting (in memory; changed fields)."""
    if ticket.sla_paused_at is not None:
        return []
    ticket.sla_paused_at = now
    return ["sla_paused_at"]


def resume(ticket: Ticket, *, now: datetime) -> list[str]:
    """The wait is over: each running clock gets back the business time it had left when it paused,
    counted from now — ``add_working_minutes(now, remaining)``, so resuming never shortens it. A clock
    already past due when it paused stays where it is (its breach is recorded)."""
    paused_at = ticket.sla_paused_at
    if paused_at is None:
        return []
    calendar = _calendar(ticket)
    fields = ["sla_paused_at", "sla_paused_minutes"]
    for due_field, running in (
        ("first_response_due", ticket.first_responded_at is None),
        ("resolution_due", True),
        ("next_response_due", True),
    ):
        due = getattr(ticket, due_field)
        if running and due is not None and due > paused_at:
            remaining = sla.working_minutes_between(paused_at, due, calendar)
            setattr(ticket, due_field, sla.add_working_minutes(now, remaining, calendar))
            fields.append(due_field)
    ticket.sla_paused_minutes = (ticket.sla_paused_minutes or 0) + sla.working_minutes_between(
        paused_at, now, calendar
    )
    ticket.sla_paused_at = None
    return fields


def _counted_until(ticket: Ticket, stop: datetime | None, now: datetime) -> datetime:
    """Where a clock's counting ended: when it stopped, else now — but no later than a pause."""
    end = stop or now
    if ticket.sla_paused_at is not None:
        end = min(end, ticket.sla_paused_at)
    return end


def record_breaches(ticket: Ticket, *, now: datetime) -> list[str]:
    """Record each clock's breach once, at the due time that passed (in memory; changed fields). Events are
    written for the history."""
    fields = []
    # Resolving (or closing) stops both clocks; the first response clock stops earlier at the first reply.
    resolution_stop = ticket.resolved_at if ticket.status in STOPPED_STATUSES else None
    for clock, due, stop, breached_field in (
        (
            "first response",
            ticket.first_response_due,
            ticket.first_responded_at,
            "first_response_breached_at",
        ),
        ("resolution", ticket.resolution_due, resolution_stop, "resolution_breached_at"),
        ("next response", ticket.next_response_due, resolution_stop, "next_response_breached_at"),
    ):
        recorded = getattr(ticket, breached_field)
        # The next-response clock runs again for each unanswered customer message: a breach recorded for an
        # earlier due time does not stand for this one.
        if due is None or (recorded is not None and recorded >= due):
            continue
        if _counted_until(ticket, stop, now) > due:
            setattr(ticket, breached_field, due)
            fields.append(breached_field)
            record_event(
                ticket=ticket,
                kind="sla_breach",
                to_value=clock,
                reason=f"The {clock} target passed at {due:%Y-%m-%d %H:%M} UTC.",
                data={"clock": breached_field.removesuffix("_breached_at"), "due": due.isoformat()},
                at=now,
            )
    if fields and not ticket.sla_breached:
        ticket.sla_breached = True
        fields.append("sla_breached")
    return fields


# Next response ---------------------------------------------------------------------------------------------
#
# After the first response, a customer message starts the next-response clock (if it is not running already:
# it times the oldest unanswered message); the next agent reply the customer receives stops it. It pauses
# with the others while pending and stops when the ticket is resolved or closed.


def start_next_response(ticket: Ticket, *, now: datetime) -> list[str]:
    """A customer message arrived: an answer is owed within the next-response target (in memory; fields)."""
    if ticket.first_responded_at is None or ticket.next_response_due is not None:
        return []
    if ticket.status in STOPPED_STATUSES:
        return []
    minutes = next_response_target(priority=ticket.priority, team_id=ticket.team_id)
    ticket.next_response_started_at = now
    ticket.next_response_due = sla.add_working_minutes(now, minutes, _calendar(ticket))
    return ["next_response_started_at", "next_response_due"]


def stop_next_response(ticket: Ticket, *, now: datetime) -> list[str]:
    """An agent answered (or the ticket was resolved): a late answer's breach is recorded first, then the
    clock stops (in memory; fields)."""
    if ticket.next_response_due is None:
        return []
    fields = record_breaches(ticket, now=now)
    ticket.next_response_started_at = ticket.next_response_due = None
    return [*fields, "next_response_started_at", "next_response_due"]


def record_compliance(ticket: Ticket) -> list[str]:
    """On close: was each target met? (None: no target, or spam / duplicate.) Breaches are recorded first."""
    measured = ticket.resolution_type not in NOT_MEASURED
    ticket.sla_first_response_met = (
        ticket.first_response_breached_at is None if measured and ticket.first_response_due else None
    )
    ticket.sla_resolution_met = (
        ticket.resolution_breached_at is None if measured and ticket.resolution_due else None
    )
    return ["sla_first_response_met", "sla_resolution_met"]


def on_transition(ticket: Ticket, *, from_status: str, now: datetime) -> list[str]:
    """The SLA side of a lifecycle move or a reply, before the ticket is saved: pause on entering pending,
    resume on leaving it, record breaches, store compliance on close (cleared by a reopen). Returns the
    fields it changed."""
    fields: list[str] = []
    to_status = ticket.status
    if from_status == Status.PENDING and to_status != Status.PENDING:
        fields += resume(ticket, now=now)
    fields += record_breaches(ticket, now=now)
    if to_status == Status.PENDING and from_status != Status.PENDING:
        fields += pause(ticket, now=now)
    if to_status in STOPPED_STATUSES:
        fields += stop_next_response(ticket, now=now)
    if to_status == Status.CLOSED and from_status != Status.CLOSED:
        fields += record_compliance(ticket)
    elif from_status == Status.CLOSED and to_status != Status.CLOSED:
        ticket.sla_first_response_met = ticket.sla_resolution_met = None
        fields += ["sla_first_response_met", "sla_resolution_met"]
    return fields


def restate(ticket: Ticket, *, now: datetime) -> list[str]:
    """Breaches and compliance worked out afresh from the ticket's times (after its times were rewritten, as
    the demo's back-dating does). In memory; changed fields."""
    ticket.first_response_breached_at = ticket.resolution_breached_at = None
    ticket.next_response_breached_at = None
    ticket.sla_breached = False
    fields = [
        "first_response_breached_at",
        "resolution_breached_at",
        "next_response_breached_at",
        "sla_breached",
    ]
    fields += record_breaches(ticket, now=now)
    if ticket.status == Status.CLOSED:
        fields += record_compliance(ticket)
    return list(dict.fromkeys(fields))


# At risk ---------------------------------------------------------------------------------------------------


def clock_states(ticket: Ticket, *, now: datetime, share: float | None = None) -> dict[str, str]:
    """Each target's state for a ticket — ``{"first_response": …, "resolution": …}``, and ``next_response``
    while an answer is owed — with the one
    definition of ``tickets.sla.clock_state``. A met, stopped or paused clock is ok unless a breach was
    recorded."""
    states = {}
    running = ticket.status in CLOCK_STATUSES and ticket.sla_paused_at is None
    for target, due, met, breached_at in (
        (
            "first_response",
            ticket.first_response_due,
            ticket.first_responded_at,
            ticket.first_response_breached_at,
        ),
        ("resolution", ticket.resolution_due, None, ticket.resolution_breached_at),
    ):
        if breached_at is not None:
            states[target] = sla.BREACHED
        elif not running or met is not None or due is None:
            states[target] = sla.OK
        else:
            states[target] = sla.clock_state(started=ticket.created_at, due=due, now=now, share=share)
    # Next response, while an answer is owed: timed from the customer message that started it; an earlier
    # cycle's breach is history.
    due, breached_at = ticket.next_response_due, ticket.next_response_breached_at
    if due is None:
        return states
    if breached_at is not None and breached_at >= due:
        states["next_response"] = sla.BREACHED
    elif not running or ticket.next_response_started_at is None:
        states["next_response"] = sla.OK
    else:
        states["next_response"] = sla.clock_state(
            started=ticket.next_response_started_at, due=due, now=now, share=share
        )
    return states

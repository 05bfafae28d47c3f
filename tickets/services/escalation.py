"""The SLA sweep: record breaches, then let the escalation rules act (DOMAIN.md, "Priority and SLA":
nearing a target escalates; a breach is recorded).

``scan(now)`` runs every minute (``helpdesk/schedules.py``). It is safe to run twice and on several cluster
processes at once: a breach is recorded under the ticket's row lock only when none is, and each rule acts
on a ticket once — an ``EscalationFiring`` row, unique per (ticket, rule), written under the same lock.

Triggers: a target *at risk* (``tickets.sla.clock_state``, the definition the queue and board use), a target
*breached* (recorded) — first response, resolution or next response — a customer who *followed up* N times
(interactions after the first, not counting calls we placed to the customer), and *P1*.
Actions: escalate to the team's supervisors (the ``escalate`` transition, status kept), raise the priority
by one (due times re-timed), escalate into another team's queue. Each firing is one event on the history.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import transaction
from django.db.models import Count, Exists, F, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from tickets.channels import OUTBOUND_CALL
from tickets.errors import HelpdeskError
from tickets.lifecycle import Status
from tickets.models import Case, EscalationFiring, EscalationRule, Message, Ticket
from tickets.services import sla as sla_clocks
from tickets.services import transitions
from tickets.services.events import record_event

log = logging.getLogger(__name__)

# Tickets rules may act on: not yet resolved (the clocks may be paused, the customer may follow up).
UNRESOLVED = frozenset({Status.NEW, Status.ASSIGNED, Status.OPEN, Status.PENDING})
TARGETS = ("first_response", "resolution", "next_response")


def follow_up_cases():
    """The cases that are the customer coming back: every case after its ticket's first in which the
    customer wrote or called — not a call an agent placed to the customer (its record says
    ``meta["call"]["direction"] == "outbound"``), nor a conversation an agent's reply opened on a new channel
    that the customer has not answered."""
    placed = Message.objects.filter(interaction=OuterRef("interaction"), meta__call__direction=OUTBOUND_CALL)
    from_customer = Message.objects.filter(
        interaction=OuterRef("interaction"), direction=Message.Direction.INBOUND
    )
    return Case.objects.filter(parent__isnull=False).filter(Exists(from_customer)).exclude(Exists(placed))


def _lock(pk: int) -> Ticket:
    return Ticket.objects.select_for_update(of=("self",)).select_related("team").get(pk=pk)


@transaction.atomic
def record_breach(ticket_id: int, *, now: datetime) -> bool:
    """Record the breaches of one ticket whose clock passed its due time (True if one was recorded)."""
    t = _lock(ticket_id)
    fields = sla_clocks.record_breaches(t, now=now)
    if fields:
        t.save(update_fields=fields)
    return bool(fields)


def record_breaches(now: datetime) -> int:
    """Every running clock past its due time without a recorded breach."""
    running = Q(status__in=sla_clocks.CLOCK_STATUSES, sla_paused_at__isnull=True)
    late = Q(
        first_responded_at__isnull=True,
        first_response_breached_at__isnull=True,
        first_response_due__lt=now,
    ) | Q(resolution_breached_at__isnull=True, resolution_due__lt=now)
    # The next-response clock runs once per unanswered customer message: its breach is per due time.
    late |= Q(next_response_due__lt=now) & (
        Q(next_response_breached_at__isnull=True) | Q(next_response_breached_at__lt=F("next_response_due"))
    )
    ids = Ticket.objects.filter(running & late).values_list("pk", flat=True)
    return sum(record_breach(pk, now=now) for pk in ids)


def _targets(rule: EscalationRule) -> tuple[str, ...]:
    return (rule.target,) if rule.target else TARGETS


def _candidates(rule: EscalationRule):
    """The tickets a rule may act on, in SQL, before the exact check under the lock."""
    fired = EscalationFiring.objects.filter(rule=rule, ticket=OuterRef("pk"))
    qs = Ticket.objects.filter(status__in=UNRESOLVED, priority__lte=rule.priority_at_most).exclude(
        Exists(fired)
    )
    match rule.trigger:
        case EscalationRule.Trigger.BREACHED:
            breached = Q()
            for target in _targets(rule):
                breached |= Q(**{f"{target}_breached_at__isnull": False})
            qs = qs.filter(breached)
        case EscalationRule.Trigger.AT_RISK:
            qs = qs.filter(status__in=sla_clocks.CLOCK_STATUSES, sla_paused_at__isnull=True)
        case EscalationRule.Trigger.FOLLOW_UPS:
            counted = (
                follow_up_cases()
                .filter(ticket=OuterRef("pk"))
                .order_by()
                .values("ticket")
                .annotate(n=Count("pk"))
                .values("n")
            )
            qs = qs.annotate(follow_ups=Coalesce(Subquery(counted), 0)).filter(
                follow_ups__gte=rule.follow_ups
            )
        case EscalationRule.Trigger.P1:
            qs = qs.filter(priority=1)
    return qs


def _why(rule: EscalationRule, ticket: Ticket, now: datetime) -> str:
    """Why the rule applies to the (locked, fresh) ticket now; "" when it does not."""
    if ticket.status not in UNRESOLVED or ticket.priority > rule.priority_at_most:
        return ""
    if rule.trigger in (EscalationRule.Trigger.AT_RISK, EscalationRule.Trigger.BREACHED):
        states = sla_clocks.clock_states(ticket, now=now)
        wanted = sla_clocks.sla.AT_RISK if rule.trigger == EscalationRule.Trigger.AT_RISK else None
        for target in _targets(rule):
            label = target.replace("_", " ")
            if wanted and states.get(target) == wanted:
                return f"the {label} target is at risk"
            if not wanted and getattr(ticket, f"{target}_breached_at") is not None:
                return f"the {label} target was breached"
        return ""
    if rule.trigger == EscalationRule.Trigger.FOLLOW_UPS:
        follow_ups = follow_up_cases().filter(ticket=ticket).count()
        return f"the customer followed up {follow_ups} times" if follow_ups >= rule.follow_ups else ""
    if rule.trigger == EscalationRule.Trigger.P1:
        return "it is P1 (critical)" if ticket.priority == 1 else ""
    return ""


def _raise_priority(ticket: Ticket, *, reason: str, data: dict, now: datetime) -> None:
    before = ticket.priority
    ticket.priority = max(1, before - 1)
    sla_clocks.apply_targets(ticket)
    ticket.version += 1
    ticket.updated_at = now
    ticket.save(update_fields=["priority", "first_response_due", "resolution_due", "version", "updated_at"])
    record_event(
        ticket=ticket,
        kind="priority",
        from_value=f"P{before}",
        to_value=f"P{ticket.priority}",
        reason=reason,
        data=data,
        at=now,
    )


@transaction.atomic
def fire(rule: EscalationRule, ticket_id: int, *, now: datetime) -> bool:
    """Apply one rule to one ticket, once: True when it acted."""
    ticket = _lock(ticket_id)
    if EscalationFiring.objects.filter(rule=rule, ticket=ticket).exists():
        return False
    why = _why(rule, ticket, now)
    if not why:
        return False
    EscalationFiring.objects.create(rule=rule, ticket=ticket, fired_at=now)
    reason = f"Escalation rule “{rule.name}”: {why}."
    data = {"rule": rule.pk, "rule_name": rule.name, "trigger": rule.trigger}
    match rule.action:
        case EscalationRule.Action.RAISE_PRIORITY:
            if ticket.priority > 1:
                _raise_priority(ticket, reason=reason, data=data, now=now)
            else:
                record_event(ticket=ticket, kind="escalation_rule", reason=f"{reason} Already P1.", data=data)
        case EscalationRule.Action.NOTIFY_SUPERVISOR:
            transitions.escalate(ticket=ticket, actor=None, reason=reason)
        case EscalationRule.Action.MOVE_TO_TEAM:
            transitions.escalate(ticket=ticket, actor=None, reason=reason, to_team=rule.escalation_team)
    return True


def scan(now: datetime | None = None) -> dict[str, int]:
    """Record breaches, then apply every active rule to the tickets it matches. Returns counts."""
    now = now or timezone.now()
    result = {"breaches": record_breaches(now), "fired": 0}
    for rule in EscalationRule.objects.filter(active=True).select_related("escalation_team"):
        for ticket in _candidates(rule).iterator():
            # At risk is a computed state: check it before taking the lock (again under it, in ``fire``).
            if rule.trigger == EscalationRule.Trigger.AT_RISK and not _why(rule, ticket, now):
                continue
            try:
                result["fired"] += fire(rule, ticket.pk, now=now)
            except HelpdeskError as exc:  # e.g. a lifecycle move the ticket no longer allows
                log.warning("escalation rule %s on %s: %s", rule.pk, ticket.number, exc)
    return result

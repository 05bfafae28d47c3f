"""My work: the signed-in agent's own tickets by state, most urgent first, and whether "take next" can work.

Reads only. Three queries whatever the agent's load: the active tickets (assigned, open, pending), the
recently resolved ones, and a capped look at the queues of the agent's teams.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import BooleanField, DateTimeField, F, Q, Value, When
from django.db.models import Case as CaseWhen
from django.db.models.functions import Coalesce
from django.utils import timezone

from tickets.lifecycle import ACTIVE_STATUSES, Status
from tickets.models import Agent, Ticket
from tickets.models.tickets import ResolutionType
from tickets.permissions import team_ids
from tickets.selectors.sla_state import SlaState
from tickets.selectors.sla_state import sla_state as shared_sla_state

# "Resolved recently": resolved or closed by me within this, at most RECENT_LIMIT of them.
RECENT_WITHIN = timedelta(days=7)
RECENT_LIMIT = 20
# Active tickets shown per page load; an agent's maximum keeps the real number far below.
ACTIVE_LIMIT = 200
# Queue depth is counted up to this, then shown as "N+".
QUEUE_COUNT_CAP = 99

GROUPS = (
    (Status.ASSIGNED, "Assigned to me", "Not opened yet: open them first."),
    (Status.OPEN, "Open", "Being worked."),
    (Status.PENDING, "Pending", "Waiting on the customer or the back office."),
)


def sla_due():
    """The ticket's next SLA target: first response until someone answered, then resolution."""
    return CaseWhen(
        When(first_responded_at__isnull=True, first_response_due__isnull=False, then=F("first_response_due")),
        default=F("resolution_due"),
        output_field=DateTimeField(),
    )


def with_sla(queryset, now: datetime):
    """Annotate ``sla_due`` (the next target) and ``sla_late`` (breached, or that target has passed)."""
    return queryset.annotate(sla_due=sla_due()).annotate(
        sla_late=CaseWhen(
            When(Q(sla_breached=True) | Q(sla_due__lte=now), then=Value(True)),
            default=Value(False),
            output_field=BooleanField(),
        )
    )


def sla_state(ticket: Ticket, now: datetime) -> str:
    """breached / at-risk / ok / none — the CSS classes ``.sla-*`` of helpdesk.css."""
    if getattr(ticket, "sla_late", False) or ticket.sla_breached:
        return "breached"
    if getattr(ticket, "sla_due", None) is None:
        return "none"
    # At risk is the one definition every page and the escalation scan share (tickets.sla).
    shared = shared_sla_state(ticket, now)
    return {SlaState.BREACHED: "breached", SlaState.AT_RISK: "at-risk"}.get(shared, "ok")


@dataclass
class Group:
    status: str
    label: str
    hint: str
    tickets: list[Ticket] = field(default_factory=list)


@dataclass
class MyWork:
    agent: Agent
    groups: list[Group]
    resolved: list[Ticket]
    load: int
    limit: int
    queued: int
    queued_capped: bool
    blocker: str
    now: datetime

    @property
    def at_limit(self) -> bool:
        return self.load >= self.limit

    @property
    def breached(self) -> int:
        return sum(1 for g in self.groups for t in g.tickets if t.sla_state == "breached")


def _decorate(tickets: list[Ticket], now: datetime) -> list[Ticket]:
    for t in tickets:
        t.sla_state = sla_state(t, now)
    return tickets


def active_tickets(agent: Agent, now: datetime) -> list[Ticket]:
    """My assigned, open and pending tickets: breached first, then the nearest SLA target, then priority."""
    qs = with_sla(Ticket.objects.filter(assignee=agent, status__in=ACTIVE_STATUSES), now)
    qs = qs.select_related("customer", "team").order_by(
        F("sla_late").desc(), F("sla_due").asc(nulls_last=True), "priority", "created_at", "id"
    )
    return _decorate(list(qs[:ACTIVE_LIMIT]), now)


def recently_resolved(agent: Agent, now: datetime) -> list[Ticket]:
    """My tickets resolved or closed within the last week (not duplicates or spam), newest first."""
    qs = (
        Ticket.objects.filter(assignee=agent, status__in=(Status.RESOLVED, Status.CLOSED))
        .exclude(resolution_type__in=(ResolutionType.DUPLICATE, ResolutionType.SPAM))
        .annotate(done_at=Coalesce("resolved_at", "closed_at"))
        .filter(done_at__gte=now - RECENT_WITHIN)
        .select_related("customer", "team")
        .order_by("-done_at", "-id")
    )
    return list(qs[:RECENT_LIMIT])


def queue_depth(agent: Agent) -> tuple[int, bool]:
    """How many tickets wait in my teams' queues, counted up to the cap (the queue may be huge)."""
    ids = team_ids(agent)
    if not ids:
        return 0, False
    found = len(
        Ticket.objects.filter(team_id__in=ids, status=Status.NEW)
        .order_by()
        .values_list("pk", flat=True)[: QUEUE_COUNT_CAP + 1]
    )
    return min(found, QUEUE_COUNT_CAP), found > QUEUE_COUNT_CAP


def take_next_blocker(agent: Agent | None, *, load: int, queued: int | None = None) -> str:
    """Why "take next" cannot give this agent a ticket now, in their words; "" when it can try.

    ``queued`` None: not known (the queue is not looked at). The service re-checks the maximum under a lock;
    this is what the page says before the agent presses the button, and why it refuses when pressed.
    """
    if agent is None:
        return "Only agents take tickets."
    if agent.presence == Agent.Presence.OFFLINE:
        return "You are offline: set yourself online (top bar) to take tickets."
    if not team_ids(agent):
        return "You are in no team, so there is no queue to take from; ask a supervisor to add you to one."
    if load >= agent.max_active_assignments:
        return (
            f"You are at your limit: {load} of {agent.max_active_assignments} active tickets. "
            "Resolve, pend or hand one on before taking another."
        )
    if queued == 0:
        return "Nothing is queued in your teams right now."
    return ""


def my_work(agent: Agent, *, now: datetime | None = None) -> MyWork:
    now = now or timezone.now()
    active = active_tickets(agent, now)
    groups = [Group(status, label, hint) for status, label, hint in GROUPS]
    by_status = {g.status: g for g in groups}
    for t in active:
        by_status[t.status].tickets.append(t)
    load = len(active)
    queued, capped = queue_depth(agent)
    return MyWork(
        agent=agent,
        groups=groups,
        resolved=recently_resolved(agent, now),
        load=load,
        limit=agent.max_active_assignments,
        queued=queued,
        queued_capped=capped,
        blocker=take_next_blocker(agent, load=load, queued=queued),
        now=now,
    )

"""The supervisor board's reads: each team's queue depth and SLA risk, each agent's presence and load.

A fixed number of queries whatever the number of agents and tickets: the teams, one grouped count over the
teams' unresolved tickets, the agents with their load, their teams, and at most ``TICKETS_PER_AGENT`` of
each agent's active tickets (oldest first, one windowed query).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Count, F, Min, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.expressions import Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from tickets.lifecycle import ACTIVE_STATUSES, Status
from tickets.models import Agent, Team, Ticket, TicketEvent
from tickets.permissions import agent_of, is_admin
from tickets.selectors.agents import with_load
from tickets.selectors.queue_view import ACTIVE
from tickets.selectors.sla_state import (
    CSS_CLASS,
    SlaState,
    sla_state_expression,
    with_sla_state,
)

# Active tickets listed (for reassigning) under each agent; the oldest come first.
TICKETS_PER_AGENT = 10


def may_see_board(user) -> bool:
    """Supervisors and admins."""
    agent = agent_of(user)
    return is_admin(user) or (agent is not None and agent.role == Agent.Role.SUPERVISOR)


def board_teams(user) -> QuerySet[Team]:
    """The teams on a user's board: a supervisor's own teams; every team for an admin."""
    if is_admin(user):
        return Team.objects.order_by("name")
    agent = agent_of(user)
    if agent is None:
        return Team.objects.none()
    return agent.teams.order_by("name")


def board_team_ids(user) -> list[int]:
    return list(board_teams(user).values_list("pk", flat=True))


@dataclass
class TeamLine:
    team: Team
    queued: int = 0
    active: int = 0
    breached: int = 0
    at_risk: int = 0
    oldest_queued_at: datetime | None = None


@dataclass
class AgentLine:
    agent: Agent
    load: int
    now: datetime
    tickets: list[Ticket] = field(default_factory=list)
    message: str = ""
    message_level: str = ""

    @property
    def limit(self) -> int:
        return self.agent.max_active_assignments

    @property
    def at_limit(self) -> bool:
        return self.load >= self.limit

    @property
    def oldest(self) -> Ticket | None:
        return self.tickets[0] if self.tickets else None

    @property
    def more(self) -> int:
        """Active tickets not listed (over ``TICKETS_PER_AGENT``)."""
        return max(0, self.load - len(self.tickets))


@dataclass
class Board:
    teams: list[TeamLine]
    agents: list[AgentLine]
    now: datetime

    @property
    def queued(self) -> int:
        return sum(t.queued for t in self.teams)

    @property
    def breached(self) -> int:
        return sum(t.breached for t in self.teams)

    @property
    def at_risk(self) -> int:
        return sum(t.at_risk for t in self.teams)


def team_lines(teams: list[Team], now: datetime) -> list[TeamLine]:
    """Queue depth, active tickets and SLA risk per team: one grouped query over unresolved tickets."""
    lines = {t.pk: TeamLine(t) for t in teams}
    rows = (
        Ticket.objects.filter(team_id__in=lines, status__in=ACTIVE)
        .alias(sla=sla_state_expression(now))
        .values("team_id")
        .annotate(
            queued=Count("pk", filter=Q(status=Status.NEW)),
            active=Count("pk", filter=Q(status__in=ACTIVE_STATUSES)),
            breached=Count("pk", filter=Q(sla=SlaState.BREACHED)),
            at_risk=Count("pk", filter=Q(sla=SlaState.AT_RISK)),
            oldest_queued_at=Min("queued_at", filter=Q(status=Status.NEW)),
        )
        .order_by()
    )
    for row in rows:
        line = lines[row.pop("team_id")]
        for name, value in row.items():
            setattr(line, name, value)
    return list(lines.values())


def team_members(team_ids) -> QuerySet[Agent]:
    """The active agents of these teams (each once), by name."""
    members = Agent.teams.through.objects.filter(team_id__in=team_ids).values("agent_id")
    return (
        Agent.objects.filter(pk__in=members, user__is_active=True)
        .select_related("user")
        .order_by("user__first_name", "user__last_name", "user__username")
    )


def board_agents(team_ids) -> QuerySet[Agent]:
    """The agents of these teams with their load (tickets they own in assigned, open or pending)."""
    return with_load(
        team_members(team_ids).prefetch_related(Prefetch("teams", queryset=Team.objects.order_by("name")))
    )


def agent_lines(agents: list[Agent], now: datetime) -> list[AgentLine]:
    lines = {a.pk: AgentLine(a, a.load, now) for a in agents}
    if not lines:
        return []
    # Why each ticket is with its agent: the reason its latest assignment recorded (routing or a supervisor).
    why = (
        TicketEvent.objects.filter(ticket=OuterRef("pk"), kind__in=("assign", "reassign"))
        .order_by("-created_at", "-id")
        .values("reason")[:1]
    )
    ranked = (
        with_sla_state(Ticket.objects.filter(assignee_id__in=lines, status__in=ACTIVE_STATUSES), now)
        .select_related("customer", "team")
        .annotate(assigned_why=Subquery(why))
        .annotate(
            rank=Window(
                RowNumber(), partition_by=F("assignee_id"), order_by=[F("created_at").asc(), F("id").asc()]
            )
        )
        .filter(rank__lte=TICKETS_PER_AGENT)
        .order_by("assignee_id", "rank")
    )
    for ticket in ranked:
        state = SlaState(ticket.sla_state)
        ticket.sla_class, ticket.sla_label = CSS_CLASS[state], state.label
        lines[ticket.assignee_id].tickets.append(ticket)
    return list(lines.values())


def board(user, *, now: datetime | None = None) -> Board:
    now = now or timezone.now()
    teams = list(board_teams(user))
    team_ids = [t.pk for t in teams]
    return Board(
        teams=team_lines(teams, now),
        agents=agent_lines(list(board_agents(team_ids)), now),
        now=now,
    )


def agent_line(user, agent_pk: int, *, now: datetime | None = None) -> AgentLine | None:
    """One agent's line of the board, or None when the agent is not on this user's board."""
    now = now or timezone.now()
    agent = board_agents(board_team_ids(user)).filter(pk=agent_pk).first()
    if agent is None:
        return None
    return agent_lines([agent], now)[0]


def on_board(user, agent_pk: int) -> Agent | None:
    """The agent, when they belong to one of the user's board teams."""
    team_ids = board_teams(user).values("pk")
    return Agent.objects.filter(pk=agent_pk, teams__in=team_ids).select_related("user").distinct().first()

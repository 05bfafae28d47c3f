"""Routing: which team a new ticket starts in, and handing a team's queue out to its agents."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import transaction

from tickets import routing
from tickets.errors import HelpdeskError, IntakeError
from tickets.models import Agent, Team
from tickets.selectors.queues import queued_tickets, routing_candidates


def team_for_new_ticket(*, channel: str, customer, reference=None) -> tuple[Team, str]:
    """(team, why): the configured default team, else the first front-office team."""
    slug = settings.HELPDESK["DEFAULT_TEAM_SLUG"]
    team = Team.objects.filter(slug=slug).first()
    if team is not None:
        return team, f"default team {team.name}"
    team = (
        Team.objects.filter(kind=Team.Kind.FRONT).order_by("pk").first()
        or Team.objects.order_by("pk").first()
    )
    if team is None:
        raise IntakeError("no team is configured to receive tickets; create one in the admin")
    return team, f"first front-office team {team.name}"


@dataclass
class Assignment:
    ticket: str
    agent: str
    reason: str


def distribute(*, team: Team, limit: int = 1000) -> list[Assignment]:
    """Hand out the team's queue, best ticket first, until no ticket or no agent with a free slot is left.

    One transaction per assignment. The queued ticket is claimed with ``FOR UPDATE SKIP LOCKED`` (an
    agent taking it by hand at the same moment is skipped, not waited for); ``transitions.assign`` locks the
    agent's row and re-checks the maximum, so no agent is ever pushed past it.
    """
    from tickets.services import transitions  # transitions imports this module's selectors

    done: list[Assignment] = []
    lost_races = 0
    while len(done) < limit and lost_races < 5:
        with transaction.atomic():
            # Distributors of one team take turns (the team's row lock), so the queue goes out strictly
            # in order: without it a second distributor would skip the locked top ticket and could give
            # the last free slot to a lower-priority one. Teams still route in parallel.
            Team.objects.select_for_update().filter(pk=team.pk).first()
            ticket = queued_tickets(team.pk).select_for_update(skip_locked=True, of=("self",)).first()
            if ticket is None:
                break
            pick = routing.choose_agent(routing_candidates(team.pk))
            if pick is None:
                break
            reason = routing.why(pick, team.name)
            try:
                transitions.assign(ticket=ticket, actor=None, agent=Agent(pk=pick.agent_id), reason=reason)
            except HelpdeskError:
                # Another distributor filled that agent's last slot first: look again.
                lost_races += 1
                continue
        lost_races = 0
        done.append(Assignment(ticket.number, pick.name, reason))
    return done


def request_distribution(team_id: int) -> None:
    """After this transaction commits, hand the team's queue out (a django-q2 task)."""
    from django_q.tasks import async_task

    transaction.on_commit(lambda: async_task("tickets.tasks.distribute_team", team_id, group="routing"))


def distribute_all() -> dict[str, list[Assignment]]:
    return {team.name: distribute(team=team) for team in Team.objects.order_by("name")}

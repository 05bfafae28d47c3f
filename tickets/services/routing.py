"""Routing: which team a new ticket starts in, and handing a team's queue out to its agents."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from tickets import routing
from tickets.errors import HelpdeskError, IntakeError, PermissionDenied, ValidationFailed
from tickets.lifecycle import Status
from tickets.models import Agent, RoutingRule, Team, Ticket
from tickets.selectors.queues import QUEUE_ORDER, queued_tickets, routing_candidates


def _matches(rule: RoutingRule, *, channel: str, customer, reference, text: str, category_id) -> bool:
    if rule.channel and rule.channel != channel:
        return False
    if rule.customer_tier and rule.customer_tier != customer.tier:
        return False
    if rule.category_id and rule.category_id != category_id:
        return False
    if rule.reference_kind_id and (reference is None or reference.kind_id != rule.reference_kind_id):
        return False
    if rule.keywords.strip():
        words = [w.strip().lower() for w in rule.keywords.split(",") if w.strip()]
        if not any(w in text.lower() for w in words):
            return False
    return True


def team_for_new_ticket(
    *, channel: str, customer, reference=None, text: str = "", category_id=None
) -> tuple[Team, str]:
    """(team, why): the first matching routing rule, else the configured default team, else the first
    front-office team."""
    for rule in RoutingRule.objects.filter(active=True).select_related("team"):
        if _matches(
            rule, channel=channel, customer=customer, reference=reference, text=text, category_id=category_id
        ):
            return rule.team, f"rule {rule.name!r}"
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


def take_next(*, actor) -> Ticket | None:
    """An agent pulls the best queued ticket of their teams, within their maximum (None: nothing to take)."""
    from tickets.permissions import agent_of
    from tickets.services import transitions

    agent = agent_of(actor)
    if agent is None:
        raise PermissionDenied("Only agents take tickets.")
    team_ids = list(agent.teams.values_list("pk", flat=True))
    with transaction.atomic():
        ticket = (
            Ticket.objects.filter(team_id__in=team_ids, status=Status.NEW)
            .order_by(*QUEUE_ORDER)
            .select_for_update(skip_locked=True, of=("self",))
            .first()
        )
        if ticket is None:
            return None
        return transitions.assign(
            ticket=ticket, actor=actor, agent=agent, reason="taken by the agent (take next)"
        )


def set_presence(*, agent: Agent, presence: str, actor) -> Agent:
    """Online / away / offline, by the agent or a supervisor of one of their teams. Coming online routes."""
    from tickets.permissions import agent_of, is_admin

    me = agent_of(actor)
    allowed = me is not None and (
        me.pk == agent.pk
        or (me.role == Agent.Role.SUPERVISOR and me.teams.filter(pk__in=agent.teams.values("pk")).exists())
    )
    if not (allowed or is_admin(actor)):
        raise PermissionDenied("Only the agent or a supervisor of their team may change their presence.")
    if presence not in Agent.Presence.values:
        raise ValidationFailed(
            f"{presence!r} is not a presence; expected one of {', '.join(Agent.Presence.values)}."
        )
    with transaction.atomic():
        Agent.objects.filter(pk=agent.pk).update(presence=presence, presence_changed_at=timezone.now())
        if presence == Agent.Presence.ONLINE:
            for team_id in agent.teams.values_list("pk", flat=True):
                request_distribution(team_id)
    agent.refresh_from_db()
    return agent


def overflow(*, now=None) -> list[Assignment]:
    """Queued tickets that waited past their team's overflow time with nobody able to take them move to the
    team's fallback team (recorded as a system transfer). Safe to run twice: a moved ticket is no longer there."""
    from tickets.services import transitions

    now = now or timezone.now()
    moved: list[Assignment] = []
    for team in Team.objects.filter(fallback_team__isnull=False).select_related("fallback_team"):
        if routing.choose_agent(routing_candidates(team.pk)) is not None:
            continue  # someone can take work: distribution, not overflow, is the answer
        cutoff = now - timedelta(minutes=team.overflow_after_minutes)
        for ticket in queued_tickets(team.pk).filter(queued_at__lte=cutoff)[:500]:
            try:
                transitions.transfer(
                    ticket=ticket,
                    actor=None,
                    team=team.fallback_team,
                    reason=f"overflow: queued over {team.overflow_after_minutes} min in {team.name} with no agent free",
                )
            except HelpdeskError:
                continue  # taken or moved meanwhile
            moved.append(Assignment(ticket.number, team.fallback_team.name, "overflow"))
    return moved

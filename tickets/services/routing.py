"""Routing: which team a new ticket starts in, and handing a team's queue out to its agents."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from tickets import routing
from tickets.errors import HelpdeskError, IntakeError, PermissionDenied, ValidationFailed
from tickets.lifecycle import ACTIVE_STATUSES, Status
from tickets.models import Agent, RoutingRule, Team, Ticket
from tickets.models.teams import AgentEvent
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
                transitions.assign(
                    ticket=ticket,
                    actor=None,
                    agent=Agent(pk=pick.agent_id),
                    reason=reason,
                    require_online=True,
                )
            except HelpdeskError:
                # Another distributor filled that agent's last slot first, or the agent just went offline:
                # look again.
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


def _supervises(actor, agent: Agent) -> bool:
    """An admin, or a supervisor of one of the agent's teams."""
    from tickets.permissions import agent_of, is_admin

    if is_admin(actor):
        return True
    me = agent_of(actor)
    return (
        me is not None
        and me.role == Agent.Role.SUPERVISOR
        and me.teams.filter(pk__in=agent.teams.values("pk")).exists()
    )


def _record(agent: Agent, actor, kind: str, before, after, reason: str, at) -> AgentEvent:
    return AgentEvent.objects.create(
        agent=agent,
        actor=actor if actor is not None and getattr(actor, "is_authenticated", False) else None,
        kind=kind,
        from_value=str(before),
        to_value=str(after),
        reason=reason,
        created_at=at,
    )


def set_presence(*, agent: Agent, presence: str, actor, reason: str = "", unless_seen_since=None) -> Agent:
    """Online / away / offline, by the agent, a supervisor of one of their teams, an admin, or the help desk
    itself (``actor`` None: session timeout). Recorded as an ``AgentEvent``; unchanged presence is a no-op.

    Coming online routes the agent's teams. Going offline applies each team's ``offline_policy`` to the
    agent's active tickets of that team (returned ones go back to the queue through the lifecycle and are
    routed to others). ``unless_seen_since``: do nothing if the agent made a request or had their presence
    changed since then (checked under the agent's row lock; the session-timeout sweep's guard against an
    agent who came back meanwhile).
    """
    from tickets.permissions import agent_of

    if actor is not None:
        me = agent_of(actor)
        if not ((me is not None and me.pk == agent.pk) or _supervises(actor, agent)):
            raise PermissionDenied(
                f"Only {agent} themselves, a supervisor of their team or an admin may change their presence."
            )
    if presence not in Agent.Presence.values:
        raise ValidationFailed(
            f"{presence!r} is not a presence; expected one of {', '.join(Agent.Presence.values)}."
        )
    with transaction.atomic():
        locked = Agent.objects.select_for_update(of=("self",)).get(pk=agent.pk)
        seen = [t for t in (locked.last_seen_at, locked.presence_changed_at) if t is not None]
        stale_sweep = unless_seen_since is not None and any(t >= unless_seen_since for t in seen)
        if locked.presence != presence and not stale_sweep:
            now = timezone.now()
            before = locked.presence
            Agent.objects.filter(pk=agent.pk).update(presence=presence, presence_changed_at=now)
            _record(locked, actor, AgentEvent.Kind.PRESENCE, before, presence, reason, now)
            if presence == Agent.Presence.ONLINE:
                for team_id in agent.teams.values_list("pk", flat=True):
                    request_distribution(team_id)
            elif presence == Agent.Presence.OFFLINE:
                locked.presence = presence
                _apply_offline_policy(locked)
    agent.refresh_from_db()
    return agent


def _apply_offline_policy(agent: Agent) -> list[Ticket]:
    """Return the offline agent's tickets their teams' policies say to return (inside set_presence's
    transaction, with the agent's row locked)."""
    from tickets.services import transitions

    returned = []
    owned = (
        Ticket.objects.filter(assignee=agent, status__in=ACTIVE_STATUSES)
        .exclude(team__offline_policy=Team.OfflinePolicy.KEEP)
        .select_related("team")
        .order_by("pk")
    )
    for ticket in owned:
        policy = ticket.team.offline_policy
        if policy == Team.OfflinePolicy.RETURN_UNOPENED and ticket.status != Status.ASSIGNED:
            continue
        label = "not opened yet" if ticket.status == Status.ASSIGNED else ticket.get_status_display().lower()
        try:
            returned.append(
                transitions.unassign(
                    ticket=ticket,
                    actor=None,
                    reason=f"{agent} went offline; {ticket.team} returns an offline agent's "
                    f"{'unopened' if policy == Team.OfflinePolicy.RETURN_UNOPENED else 'active'} "
                    f"tickets ({label})",
                    # The policy was read from this version: opened or moved meanwhile is a conflict.
                    expected_version=ticket.version,
                )
            )
        except HelpdeskError:
            continue  # opened, closed or moved on meanwhile: the policy no longer says to return it
    return returned


def set_limit(*, agent: Agent, maximum: int, actor, reason: str = "") -> Agent:
    """A supervisor of one of the agent's teams (or an admin) sets the agent's maximum active assignments.

    Recorded as an ``AgentEvent``; unchanged is a no-op. Raising it routes the agent's teams at once;
    lowering it below the agent's current load takes nothing away: they get no new work until under it.
    """
    if actor is None or not _supervises(actor, agent):
        raise PermissionDenied(
            f"Only a supervisor of {agent}'s team or an admin may change their maximum active assignments."
        )
    if isinstance(maximum, bool) or not isinstance(maximum, int):
        try:
            maximum = int(str(maximum).strip())
        except ValueError:
            raise ValidationFailed(f"{maximum!r} is not a whole number of assignments.") from None
    if not 0 <= maximum <= MAX_LIMIT:
        raise ValidationFailed(
            f"The maximum active assignments must be between 0 and {MAX_LIMIT}; got {maximum}."
        )
    with transaction.atomic():
        locked = Agent.objects.select_for_update(of=("self",)).get(pk=agent.pk)
        before = locked.max_active_assignments
        if maximum != before:
            Agent.objects.filter(pk=agent.pk).update(max_active_assignments=maximum)
            _record(locked, actor, AgentEvent.Kind.LIMIT, before, maximum, reason, timezone.now())
            if maximum > before and locked.presence == Agent.Presence.ONLINE:
                for team_id in agent.teams.values_list("pk", flat=True):
                    request_distribution(team_id)
    agent.refresh_from_db()
    return agent


# A sanity bound for a typed maximum (the column holds up to 32767).
MAX_LIMIT = 1000
# The last-seen time is written at most this often per agent.
SEEN_EVERY = timedelta(minutes=1)


def mark_seen(user, *, now=None) -> bool:
    """The user made a request: note it on their agent, at most once a minute (one conditional UPDATE
    that matches no row, and so writes nothing, the rest of the time). True when it wrote."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    now = now or timezone.now()
    return bool(
        Agent.objects.filter(user_id=user.pk)
        .filter(Q(last_seen_at__isnull=True) | Q(last_seen_at__lt=now - SEEN_EVERY))
        .update(last_seen_at=now)
    )


def time_out_idle_agents(*, now=None) -> list[str]:
    """Session timeout: online or away agents with no request and no presence change for
    ``HELPDESK["PRESENCE_TIMEOUT_MINUTES"]`` go offline (recorded, actor the system; their teams' offline
    policies apply). 0 turns the timeout off. Safe to run twice: an offline agent is not looked at again."""
    minutes = settings.HELPDESK.get("PRESENCE_TIMEOUT_MINUTES", 15)
    if not minutes:
        return []
    now = now or timezone.now()
    cutoff = now - timedelta(minutes=minutes)
    idle = (
        Agent.objects.filter(presence__in=[Agent.Presence.ONLINE, Agent.Presence.AWAY])
        .filter(Q(last_seen_at__isnull=True) | Q(last_seen_at__lt=cutoff))
        .filter(Q(presence_changed_at__isnull=True) | Q(presence_changed_at__lt=cutoff))
        .select_related("user")
        .order_by("pk")
    )
    gone = []
    for agent in idle:
        after = set_presence(
            agent=agent,
            presence=Agent.Presence.OFFLINE,
            actor=None,
            reason=f"no activity for {minutes} min (session timeout)",
            unless_seen_since=cutoff,
        )
        if after.presence == Agent.Presence.OFFLINE:
            gone.append(str(after))
    return gone


def signed_out(user) -> None:
    """Signing out sets the agent offline (recorded as their own change; their teams' policies apply)."""
    from tickets.permissions import agent_of

    agent = agent_of(user)
    if agent is not None:
        set_presence(agent=agent, presence=Agent.Presence.OFFLINE, actor=user, reason="signed out")


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

"""Limits and slots (issue 4): a freed slot pulls the next queued ticket at once, supervisors set limits,
reassign frees one slot and takes another, and a reopen never pushes the owner past their maximum."""

import pytest
from django.urls import reverse
from django_q.conf import Conf

from tests.factories import AgentFactory, TeamFactory, TicketFactory
from tickets.errors import PermissionDenied, ValidationFailed
from tickets.intake import InboundMessage, receive
from tickets.lifecycle import ACTIVE_STATUSES, Status
from tickets.models import Agent, Team, Ticket
from tickets.models.teams import AgentEvent
from tickets.selectors.agents import active_assignment_count
from tickets.services import transitions as tr
from tickets.services.routing import set_limit, take_next

pytestmark = pytest.mark.django_db


@pytest.fixture
def routed(monkeypatch, django_capture_on_commit_callbacks):
    """``with routed(): …`` runs what the block's commit enqueues (routing tasks) at once, in-process."""
    monkeypatch.setattr(Conf, "SYNC", True)
    return lambda: django_capture_on_commit_callbacks(execute=True)


def working(agent: Agent, *, status=Status.OPEN, **fields) -> Ticket:
    ticket = tr.assign(ticket=TicketFactory(**fields), actor=None, agent=agent)
    return tr.open_ticket(ticket=ticket, actor=agent.user) if status == Status.OPEN else ticket


@pytest.fixture
def boss(front_office) -> Agent:
    """A supervisor of the front office who is offline, so routing never gives them the tickets under test."""
    return AgentFactory(
        user__username="boss",
        role=Agent.Role.SUPERVISOR,
        teams=[front_office],
        presence=Agent.Presence.OFFLINE,
    )


def owner_of(ticket: Ticket) -> Agent | None:
    return Ticket.objects.get(pk=ticket.pk).assignee


# --- a freed slot is filled the moment it frees ---------------------------------------------------------


@pytest.mark.parametrize("how", ["resolve", "close", "mark_spam"])
def test_a_slot_freed_on_the_ticket_pulls_the_next_queued_ticket_at_once(how, front_office, routed):
    agent = AgentFactory(teams=[front_office], max_active_assignments=1)
    busy = working(agent)
    waiting = TicketFactory()
    assert owner_of(waiting) is None  # the agent is full: it waits
    with routed():
        if how == "mark_spam":
            tr.mark_spam(ticket=busy, actor=agent.user, reason="advert")
        else:
            getattr(tr, how)(ticket=busy, actor=agent.user, resolution_type="fixed", notes="Reset the line")
    assert owner_of(waiting) == agent
    assert waiting.events.filter(kind="assign", actor=None).exists()


def test_transferring_away_frees_the_slot_in_the_old_team(front_office, back_office, routed):
    agent = AgentFactory(teams=[front_office], max_active_assignments=1)
    busy = working(agent)
    waiting = TicketFactory()
    with routed():
        tr.transfer(ticket=busy, actor=agent.user, team=back_office, reason="line fault")
    assert owner_of(waiting) == agent
    assert Ticket.objects.get(pk=busy.pk).status == Status.NEW  # nobody in the back office is online


def test_a_freed_slot_is_filled_from_any_of_the_agents_teams(front_office, back_office, routed):
    agent = AgentFactory(teams=[front_office, back_office], max_active_assignments=1)
    busy = working(agent)
    waiting = TicketFactory(team=back_office)
    with routed():
        tr.resolve(ticket=busy, actor=agent.user, resolution_type="fixed", notes="done")
    assert owner_of(waiting) == agent


# --- reassign by a supervisor ---------------------------------------------------------------------------


def test_reassign_frees_the_old_owners_slot_and_takes_one_of_the_new_owners(front_office, boss, routed):
    old = AgentFactory(teams=[front_office], max_active_assignments=1)
    new = AgentFactory(teams=[front_office], max_active_assignments=1)
    moved = working(old)
    waiting = TicketFactory()
    with routed():
        tr.reassign(ticket=moved, actor=boss.user, agent=new, reason="old owner leaves early")
    assert owner_of(moved) == new
    # The old owner's freed slot pulled the queued ticket at once; nobody is over their maximum.
    assert owner_of(waiting) == old
    assert active_assignment_count(old) == active_assignment_count(new) == 1


def test_reassign_to_an_agent_at_the_maximum_is_refused_and_changes_nothing(front_office, boss):
    owner = AgentFactory(teams=[front_office], max_active_assignments=2)
    full = AgentFactory(user__username="fay", teams=[front_office], max_active_assignments=1)
    ticket = working(owner)
    working(full)
    version = Ticket.objects.get(pk=ticket.pk).version
    with pytest.raises(ValidationFailed, match=r"fay is at the maximum of 1 active assignments \(1\)"):
        tr.reassign(ticket=ticket, actor=boss.user, agent=full, reason="balance")
    after = Ticket.objects.get(pk=ticket.pk)
    assert (after.assignee, after.status, after.version) == (owner, Status.OPEN, version)
    assert active_assignment_count(full) == 1


# --- take next ------------------------------------------------------------------------------------------


def test_take_next_at_the_maximum_is_refused_and_the_ticket_stays_queued(front_office):
    agent = AgentFactory(user__username="tom", teams=[front_office], max_active_assignments=2)
    working(agent)
    working(agent)
    queued = TicketFactory(priority=1)
    with pytest.raises(ValidationFailed, match=r"tom is at the maximum of 2 active assignments \(2\)"):
        take_next(actor=agent.user)
    after = Ticket.objects.get(pk=queued.pk)
    assert (after.status, after.assignee) == (Status.NEW, None)
    assert not after.events.filter(kind="assign").exists()


def test_routing_never_gives_work_to_an_agent_who_is_not_online(front_office):
    away = AgentFactory(user__username="amy", teams=[front_office], presence=Agent.Presence.AWAY)
    ticket = TicketFactory()
    with pytest.raises(ValidationFailed, match="amy is away; routing gives work to online agents only"):
        tr.assign(ticket=ticket, actor=None, agent=away, require_online=True)
    assert owner_of(ticket) is None


# --- supervisors set limits -----------------------------------------------------------------------------


def test_a_supervisor_of_the_team_sets_the_limit_and_raising_it_routes_at_once(front_office, boss, routed):
    agent = AgentFactory(teams=[front_office], max_active_assignments=1)
    working(agent)
    waiting = [TicketFactory(priority=p) for p in (2, 1, 3)]
    with routed():
        after = set_limit(agent=agent, maximum=3, actor=boss.user, reason="busy morning")
    assert after.max_active_assignments == 3
    event = AgentEvent.objects.get(agent=agent)
    assert (event.kind, event.from_value, event.to_value) == ("limit", "1", "3")
    assert (event.actor, event.reason) == (boss.user, "busy morning")
    # Two free slots: the two best queued tickets, in priority order.
    assert [owner_of(t) for t in waiting] == [agent, agent, None]


def test_lowering_the_limit_takes_nothing_away_but_stops_new_work(front_office, boss, routed):
    agent = AgentFactory(teams=[front_office], max_active_assignments=3)
    mine = [working(agent) for _ in range(3)]
    set_limit(agent=agent, maximum=1, actor=boss.user)
    waiting = TicketFactory()
    with routed():
        tr.resolve(ticket=mine[0], actor=agent.user, resolution_type="fixed", notes="done")
    assert active_assignment_count(agent) == 2  # still above the new maximum: no new work
    assert owner_of(waiting) is None
    assert all(owner_of(t) == agent for t in mine[1:])


def test_an_admin_may_set_any_limit(front_office):
    admin = AgentFactory(role=Agent.Role.ADMIN)
    agent = AgentFactory(teams=[front_office], max_active_assignments=2)
    assert set_limit(agent=agent, maximum=4, actor=admin.user).max_active_assignments == 4


@pytest.mark.parametrize("who", ["the agent", "a teammate", "another team's supervisor", "the system"])
def test_only_a_supervisor_of_the_agents_team_or_an_admin_sets_limits(who, front_office, back_office):
    agent = AgentFactory(teams=[front_office], max_active_assignments=2)
    actor = {
        "the agent": agent.user,
        "a teammate": AgentFactory(teams=[front_office]).user,
        "another team's supervisor": AgentFactory(role=Agent.Role.SUPERVISOR, teams=[back_office]).user,
        "the system": None,
    }[who]
    with pytest.raises(PermissionDenied, match="Only a supervisor of .* team or an admin may change"):
        set_limit(agent=agent, maximum=9, actor=actor)
    assert Agent.objects.get(pk=agent.pk).max_active_assignments == 2
    assert not AgentEvent.objects.exists()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (-1, "between 0 and 1000; got -1"),
        (1001, "between 0 and 1000; got 1001"),
        ("lots", "not a whole number"),
    ],
)
def test_a_nonsense_limit_is_refused_with_the_reason(value, message, front_office, boss):
    agent = AgentFactory(teams=[front_office], max_active_assignments=2)
    with pytest.raises(ValidationFailed, match=message):
        set_limit(agent=agent, maximum=value, actor=boss.user)
    assert Agent.objects.get(pk=agent.pk).max_active_assignments == 2
    assert not AgentEvent.objects.exists()


def test_the_same_limit_again_is_a_no_op(front_office, boss):
    agent = AgentFactory(teams=[front_office], max_active_assignments=2)
    set_limit(agent=agent, maximum="2", actor=boss.user)
    assert not AgentEvent.objects.exists()


def test_the_admin_changes_the_limit_through_the_service(admin_client, front_office):
    agent = AgentFactory(teams=[front_office], max_active_assignments=5)
    response = admin_client.post(
        reverse("admin:tickets_agent_change", args=[agent.pk]),
        {
            "user": agent.user.pk,
            "role": agent.role,
            "teams": [front_office.pk],
            "max_active_assignments": 7,
            "presence": agent.presence,
        },
    )
    assert response.status_code == 302
    assert Agent.objects.get(pk=agent.pk).max_active_assignments == 7
    event = AgentEvent.objects.get(agent=agent)
    assert (event.kind, event.from_value, event.to_value, event.actor.username) == (
        "limit",
        "5",
        "7",
        "admin",
    )


# --- reopen never pushes the owner past their maximum ---------------------------------------------------


def closed_by(agent: Agent, **fields) -> Ticket:
    ticket = working(agent, **fields)
    return tr.close(ticket=ticket, actor=agent.user, resolution_type="fixed", notes="Reset the line")


def test_a_reopen_goes_back_to_an_owner_with_a_free_slot(front_office):
    owner = AgentFactory(teams=[front_office], max_active_assignments=2)
    ticket = closed_by(owner)
    working(owner)
    after = tr.reopen(ticket=ticket, actor=None, reason="not fixed")
    assert (after.status, after.assignee) == (Status.ASSIGNED, owner)
    assert after.events.last().reason == "not fixed"


def test_a_reopen_for_an_owner_at_the_maximum_goes_to_the_queue_and_is_routed(front_office, routed):
    owner = AgentFactory(user__username="olly", teams=[front_office], max_active_assignments=1)
    other = AgentFactory(teams=[front_office], max_active_assignments=1)
    ticket = closed_by(owner)
    working(owner)  # the owner's only slot is taken again
    with routed():
        after = tr.reopen(ticket=ticket, actor=None, reason="not fixed")
    assert (after.status, after.assignee) == (Status.NEW, None)
    event = after.events.get(kind="reopen")
    assert event.to_value == Status.NEW
    assert event.reason == "not fixed (to the queue: olly is at the maximum of 1 active assignments (1))"
    assert event.data == {
        "from_agent": "olly",
        "queued_because": "olly is at the maximum of 1 active assignments (1)",
    }
    assert owner_of(ticket) == other  # routed to someone with a free slot
    assert active_assignment_count(owner) == 1


def test_a_customer_writing_again_never_pushes_the_owner_over_the_cap(front_office):
    owner = AgentFactory(teams=[front_office], max_active_assignments=1)
    ticket = closed_by(owner)
    working(owner)
    address = ticket.customer.identities.get().address
    receive(InboundMessage(channel="email", sender=address, text=f"Still broken, see {ticket.number}"))
    after = Ticket.objects.get(pk=ticket.pk)
    assert (after.status, after.assignee, after.reopen_count) == (Status.NEW, None, 1)
    assert "at the maximum of 1" in after.events.get(kind="reopen").reason
    assert Ticket.objects.filter(assignee=owner, status__in=ACTIVE_STATUSES).count() == 1


@pytest.mark.parametrize(
    ("policy", "back_to_owner"),
    [
        (Team.OfflinePolicy.KEEP, True),
        (Team.OfflinePolicy.RETURN_UNOPENED, False),
        (Team.OfflinePolicy.RETURN_ALL, False),
    ],
)
def test_a_reopen_for_an_offline_owner_follows_the_teams_policy(policy, back_to_owner):
    team = TeamFactory(offline_policy=policy)
    owner = AgentFactory(teams=[team], max_active_assignments=3)
    ticket = closed_by(owner, team=team)
    Agent.objects.filter(pk=owner.pk).update(presence=Agent.Presence.OFFLINE)
    after = tr.reopen(ticket=ticket, actor=None, reason="not fixed")
    if back_to_owner:
        assert (after.status, after.assignee) == (Status.ASSIGNED, owner)
    else:
        assert (after.status, after.assignee) == (Status.NEW, None)
        assert "is offline and" in after.events.get(kind="reopen").data["queued_because"]

"""Presence (issue 4): last seen on each request, offline by session timeout and on signing out, and what
an offline agent's tickets do (the team's offline policy)."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from django_q.conf import Conf

from helpdesk.schedules import SCHEDULES
from tests.factories import AgentFactory, TeamFactory, TicketFactory
from tickets.errors import PermissionDenied
from tickets.lifecycle import ACTIVE_STATUSES, Status
from tickets.models import Agent, Team, Ticket
from tickets.models.teams import AgentEvent
from tickets.services import transitions as tr
from tickets.services.routing import distribute, set_presence, time_out_idle_agents

pytestmark = pytest.mark.django_db

TIMEOUT = "tickets.services.routing.time_out_idle_agents"


@pytest.fixture
def routed(monkeypatch, django_capture_on_commit_callbacks):
    """``with routed(): …`` runs what the block's commit enqueues (routing tasks) at once, in-process."""
    monkeypatch.setattr(Conf, "SYNC", True)
    return lambda: django_capture_on_commit_callbacks(execute=True)


def ago(**kw):
    return timezone.now() - timedelta(**kw)


def fresh(agent: Agent) -> Agent:
    return Agent.objects.get(pk=agent.pk)


def owned(agent: Agent, status: str, team: Team | None = None) -> Ticket:
    ticket = tr.assign(ticket=TicketFactory(**({"team": team} if team else {})), actor=None, agent=agent)
    if status in (Status.OPEN, Status.PENDING):
        ticket = tr.open_ticket(ticket=ticket, actor=agent.user)
    if status == Status.PENDING:
        ticket = tr.pend(ticket=ticket, actor=agent.user, reason="waiting on the customer")
    return ticket


# --- last seen, written at most once a minute -----------------------------------------------------------


def test_a_request_notes_when_the_agent_was_last_seen(client, agent):
    client.force_login(agent.user)
    assert fresh(agent).last_seen_at is None
    client.get("/")
    assert fresh(agent).last_seen_at > ago(minutes=1)


def test_last_seen_is_written_at_most_once_a_minute(client, agent):
    client.force_login(agent.user)
    recently = ago(seconds=30)
    Agent.objects.filter(pk=agent.pk).update(last_seen_at=recently)
    client.get("/")
    assert fresh(agent).last_seen_at == recently  # the conditional UPDATE matched nothing
    Agent.objects.filter(pk=agent.pk).update(last_seen_at=ago(seconds=61))
    client.get("/")
    assert fresh(agent).last_seen_at > recently


def test_a_page_refreshing_by_itself_is_not_activity(client, agent):
    client.force_login(agent.user)
    long_ago = ago(minutes=20)
    Agent.objects.filter(pk=agent.pk).update(last_seen_at=long_ago)
    client.get("/", headers={"X-Helpdesk-Background": "1"})
    assert fresh(agent).last_seen_at == long_ago


def test_anonymous_requests_and_users_without_an_agent_are_left_alone(client, django_user_model):
    assert client.get("/").status_code == 302
    client.force_login(django_user_model.objects.create_user("visitor", password="pw"))
    assert client.get("/").status_code == 403


# --- session timeout ------------------------------------------------------------------------------------


def test_idle_online_and_away_agents_go_offline_recorded_as_the_system(front_office, settings):
    settings.HELPDESK = {**settings.HELPDESK, "PRESENCE_TIMEOUT_MINUTES": 15}
    idle = AgentFactory(user__username="ida", teams=[front_office], last_seen_at=ago(minutes=16))
    idle_away = AgentFactory(
        user__username="ali", teams=[front_office], presence=Agent.Presence.AWAY, last_seen_at=ago(hours=3)
    )
    active = AgentFactory(teams=[front_office], last_seen_at=ago(minutes=14))
    just_set_online = AgentFactory(teams=[front_office], presence_changed_at=ago(minutes=2))
    already_offline = AgentFactory(teams=[front_office], presence=Agent.Presence.OFFLINE)

    assert sorted(time_out_idle_agents()) == ["ali", "ida"]
    assert fresh(idle).presence == fresh(idle_away).presence == Agent.Presence.OFFLINE
    assert fresh(active).presence == fresh(just_set_online).presence == Agent.Presence.ONLINE
    assert fresh(already_offline).presence == Agent.Presence.OFFLINE
    event = AgentEvent.objects.get(agent=idle)
    assert (event.kind, event.from_value, event.to_value, event.actor) == (
        "presence",
        "online",
        "offline",
        None,
    )
    assert event.reason == "no activity for 15 min (session timeout)" and event.actor_label == "system"
    assert AgentEvent.objects.get(agent=idle_away).from_value == "away"
    # Safe to run twice: nothing left to time out, nothing recorded again.
    assert time_out_idle_agents() == []
    assert AgentEvent.objects.count() == 2


def test_an_agent_seen_after_the_sweep_looked_stays_as_they_set(front_office):
    agent = AgentFactory(teams=[front_office], last_seen_at=timezone.now())
    # The sweep picked the agent as idle as of the cutoff; they made a request since: nothing changes.
    set_presence(agent=agent, presence="offline", actor=None, unless_seen_since=ago(minutes=15))
    assert fresh(agent).presence == Agent.Presence.ONLINE
    assert not AgentEvent.objects.exists()


def test_a_timeout_of_zero_turns_the_timeout_off(front_office, settings):
    settings.HELPDESK = {**settings.HELPDESK, "PRESENCE_TIMEOUT_MINUTES": 0}
    agent = AgentFactory(teams=[front_office], last_seen_at=ago(days=2))
    assert time_out_idle_agents() == []
    assert fresh(agent).presence == Agent.Presence.ONLINE


def test_the_timeout_sweep_is_scheduled_every_minute():
    (spec,) = [s for s in SCHEDULES if s["func"] == TIMEOUT]
    assert (spec["schedule_type"], spec["minutes"]) == ("I", 1)


def test_signing_out_sets_the_agent_offline(client, agent):
    client.force_login(agent.user)
    response = client.post(reverse("desk:logout"))
    assert response.status_code == 302
    assert fresh(agent).presence == Agent.Presence.OFFLINE
    event = AgentEvent.objects.get(agent=agent)
    assert (event.to_value, event.actor, event.reason) == ("offline", agent.user, "signed out")


# --- presence changes: who, recorded, no-ops ------------------------------------------------------------


def test_presence_changes_are_recorded_and_repeating_one_is_a_no_op(front_office, agent):
    boss = AgentFactory(role=Agent.Role.SUPERVISOR, teams=[front_office])
    set_presence(agent=agent, presence="away", actor=boss.user, reason="lunch cover")
    set_presence(agent=agent, presence="away", actor=agent.user)
    event = AgentEvent.objects.get(agent=agent)
    assert (event.from_value, event.to_value, event.actor, event.reason) == (
        "online",
        "away",
        boss.user,
        "lunch cover",
    )


def test_an_admin_may_change_anyones_presence_an_agent_only_their_own(front_office, agent, other_agent):
    admin = AgentFactory(role=Agent.Role.ADMIN)
    assert set_presence(agent=agent, presence="away", actor=admin.user).presence == "away"
    with pytest.raises(PermissionDenied, match="themselves, a supervisor of their team or an admin"):
        set_presence(agent=agent, presence="offline", actor=other_agent.user)
    assert fresh(agent).presence == "away"


# --- the team's offline policy --------------------------------------------------------------------------


def test_by_default_an_offline_agent_keeps_their_tickets(front_office, agent):
    assert front_office.offline_policy == Team.OfflinePolicy.KEEP
    tickets = [owned(agent, s) for s in (Status.ASSIGNED, Status.OPEN, Status.PENDING)]
    set_presence(agent=agent, presence="offline", actor=agent.user)
    assert all(Ticket.objects.get(pk=t.pk).assignee == agent for t in tickets)
    assert not Ticket.objects.filter(events__kind="unassign").exists()


@pytest.mark.parametrize(
    ("policy", "returned"),
    [
        (Team.OfflinePolicy.RETURN_UNOPENED, {Status.ASSIGNED}),
        (Team.OfflinePolicy.RETURN_ALL, {Status.ASSIGNED, Status.OPEN, Status.PENDING}),
    ],
)
def test_going_offline_returns_the_tickets_the_team_says_to_others(policy, returned, front_office, routed):
    Team.objects.filter(pk=front_office.pk).update(offline_policy=policy)
    leaving = AgentFactory(user__username="lea", teams=[front_office], max_active_assignments=5)
    staying = AgentFactory(user__username="stan", teams=[front_office], max_active_assignments=5)
    tickets = {s: owned(leaving, s) for s in (Status.ASSIGNED, Status.OPEN, Status.PENDING)}
    with routed():
        set_presence(agent=leaving, presence="offline", actor=leaving.user)
    for status, ticket in tickets.items():
        after = Ticket.objects.get(pk=ticket.pk)
        if status in returned:
            # Back through the queue (a recorded system move) and routed to the agent still online.
            event = after.events.get(kind="unassign")
            assert (event.actor, event.from_value, event.to_value) == (None, status, Status.NEW)
            assert event.reason.startswith("lea went offline; Front office returns an offline agent's")
            assert event.data["from_agent"] == "lea"
            assert (after.assignee, after.status) == (staying, Status.ASSIGNED)
        else:
            assert (after.assignee, after.status) == (leaving, status)


def test_away_is_a_break_the_agent_keeps_everything(front_office, agent):
    Team.objects.filter(pk=front_office.pk).update(offline_policy=Team.OfflinePolicy.RETURN_ALL)
    ticket = owned(agent, Status.ASSIGNED)
    set_presence(agent=agent, presence="away", actor=agent.user)
    assert Ticket.objects.get(pk=ticket.pk).assignee == agent


def test_each_team_applies_its_own_policy(front_office, back_office, settings):
    settings.HELPDESK = {**settings.HELPDESK, "PRESENCE_TIMEOUT_MINUTES": 15}
    Team.objects.filter(pk=back_office.pk).update(offline_policy=Team.OfflinePolicy.RETURN_UNOPENED)
    agent = AgentFactory(teams=[front_office, back_office], last_seen_at=ago(hours=1))
    kept = owned(agent, Status.ASSIGNED, team=front_office)
    returned = owned(agent, Status.ASSIGNED, team=back_office)
    time_out_idle_agents()  # a timeout applies the policies like any other way of going offline
    assert Ticket.objects.get(pk=kept.pk).assignee == agent
    after = Ticket.objects.get(pk=returned.pk)
    assert (after.status, after.assignee, after.team) == (Status.NEW, None, back_office)


def test_routing_gives_no_work_to_an_agent_who_went_offline(front_office, agent):
    set_presence(agent=agent, presence="offline", actor=agent.user)
    TicketFactory()
    assert distribute(team=front_office) == []


# --- for real: the cluster runs the schedule, and offline races distribution on PostgreSQL --------------


def wait_for(predicate, seconds=30.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


@pytest.mark.cluster
@pytest.mark.django_db(transaction=True)
def test_the_cluster_times_out_an_idle_agent_and_routes_their_unopened_ticket():
    from django_q.brokers import get_broker
    from django_q.cluster import Cluster
    from django_q.models import Schedule
    from django_q.scheduler import scheduler

    team = TeamFactory(name="Chat", slug="chat", offline_policy=Team.OfflinePolicy.RETURN_UNOPENED)
    idle = AgentFactory(user__username="idle", teams=[team], last_seen_at=ago(hours=1))
    busy = AgentFactory(user__username="busy", teams=[team], last_seen_at=timezone.now())
    unopened = owned(idle, Status.ASSIGNED, team=team)
    (spec,) = [s for s in SCHEDULES if s["func"] == TIMEOUT]
    schedule = Schedule.objects.create(**spec)
    Schedule.objects.filter(pk=schedule.pk).update(next_run=ago(minutes=1))  # due now
    broker = get_broker()
    cluster = Cluster(broker)
    cluster.start()
    try:
        scheduler(broker=broker)  # what the cluster's scheduler does every 30 s: the schedule is due
        assert wait_for(lambda: Ticket.objects.filter(pk=unopened.pk, assignee=busy).exists())
    finally:
        cluster.stop()
    assert fresh(idle).presence == Agent.Presence.OFFLINE
    assert AgentEvent.objects.get(agent=idle).actor is None
    assert list(Ticket.objects.get(pk=unopened.pk).events.values_list("kind", flat=True)) == [
        "assign",
        "unassign",
        "assign",
    ]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_going_offline_while_distributors_run_leaves_no_ticket_with_the_offline_agent():
    team = TeamFactory(name="Race", slug="race", offline_policy=Team.OfflinePolicy.RETURN_ALL)
    leaving = AgentFactory(teams=[team], max_active_assignments=50)
    staying = AgentFactory(teams=[team], max_active_assignments=3)
    for _ in range(60):
        TicketFactory(team=team, with_case=False)
    barrier = threading.Barrier(3)
    errors = []

    def run(work):
        try:
            barrier.wait()
            work()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, args=(lambda: distribute(team=team),)),
        threading.Thread(target=run, args=(lambda: distribute(team=team),)),
        threading.Thread(
            target=run, args=(lambda: set_presence(agent=leaving, presence="offline", actor=None),)
        ),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert fresh(leaving).presence == Agent.Presence.OFFLINE
    assert not Ticket.objects.filter(assignee=leaving, status__in=ACTIVE_STATUSES).exists()
    assert Ticket.objects.filter(assignee=staying, status__in=ACTIVE_STATUSES).count() <= 3

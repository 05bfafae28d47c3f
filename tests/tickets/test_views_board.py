"""The supervisor board through the test client: who may see it, what it shows, changes in place."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.factories import AgentFactory, TeamFactory, TicketFactory
from tickets.lifecycle import Status
from tickets.models import Agent, TicketEvent

pytestmark = pytest.mark.django_db

BOARD = "/board/"


def messages_of(response) -> str:
    return " ".join(str(m) for m in response.context["messages"])


def agent_row(html: str, agent: Agent) -> str:
    match = re.search(rf'<tr id="agent-{agent.pk}">(.*?)</tr>', html, re.S)
    assert match, f"no row for {agent}"
    return match.group(1)


def team_row(html: str, team) -> list[str]:
    match = re.search(rf">{re.escape(team.name)}</a></th>(.*?)</tr>", html, re.S)
    assert match, f"no row for {team}"
    return [
        re.sub(r"<[^>]+>", "", cell).strip()
        for cell in re.findall(r"<td[^>]*>(.*?)</td>", match.group(1), re.S)
    ]


# Access ---------------------------------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_log_in(client):
    assert client.get(BOARD)["Location"].startswith(reverse("desk:login"))


@pytest.mark.parametrize("role", [Agent.Role.FRONT_OFFICE, Agent.Role.BACK_OFFICE])
def test_agents_who_do_not_supervise_are_refused(client, front_office, role, agent):
    user = AgentFactory(role=role, teams=[front_office]).user
    client.force_login(user)
    assert client.get(BOARD).status_code == 403
    assert client.post(reverse("desk:board_limit", args=[agent.pk]), {"maximum": 9}).status_code == 403
    assert (
        client.post(reverse("desk:board_presence", args=[agent.pk]), {"presence": "away"}).status_code == 403
    )
    assert client.post(reverse("desk:board_reassign"), {"ticket": "1", "agent": agent.pk}).status_code == 403
    agent.refresh_from_db()
    assert agent.max_active_assignments == 5 and agent.presence == Agent.Presence.ONLINE


def test_supervisors_and_admins_see_it(client, supervisor, front_office):
    client.force_login(supervisor.user)
    assert client.get(BOARD).status_code == 200
    admin = AgentFactory(role=Agent.Role.ADMIN, user__is_staff=True, user__is_superuser=True)
    client.force_login(admin.user)
    response = client.get(BOARD)
    assert response.status_code == 200 and front_office.name in response.content.decode()


# What it shows --------------------------------------------------------------------------------------------


def test_queue_depth_and_sla_risk_per_team(client, supervisor, agent, front_office, back_office):
    now = timezone.now()
    h = timedelta(hours=1)
    TicketFactory(team=front_office, queued_at=now - 3 * h)  # queued, ok
    TicketFactory(team=front_office, created_at=now - 9 * h, resolution_due=now + h)  # queued, at risk
    TicketFactory(team=front_office, status=Status.OPEN, assignee=agent, resolution_due=now - h)  # breached
    TicketFactory(team=front_office, status=Status.CLOSED, assignee=agent, sla_breached=True)  # not counted
    TicketFactory(team=back_office, sla_breached=True)
    elsewhere = TeamFactory(name="Not mine", slug="not-mine")
    TicketFactory(team=elsewhere)
    client.force_login(supervisor.user)
    html = client.get(BOARD).content.decode()
    queued, oldest, active, breached, at_risk = team_row(html, front_office)
    assert (queued, active, breached, at_risk) == ("2", "1", "1", "1")
    assert oldest.startswith("3\xa0hours")
    assert team_row(html, back_office)[0::3] == ["1", "1"]  # queued, breached
    assert "Not mine" not in html


def test_agents_of_my_teams_with_presence_load_limit_and_oldest_ticket(
    client, supervisor, agent, other_agent, front_office
):
    now = timezone.now()
    old = TicketFactory(
        team=front_office, status=Status.OPEN, assignee=agent, created_at=now - timedelta(days=2)
    )
    TicketFactory(
        team=front_office, status=Status.PENDING, assignee=agent, created_at=now - timedelta(hours=1)
    )
    TicketFactory(team=front_office, status=Status.RESOLVED, assignee=agent)  # not active
    Agent.objects.filter(pk=other_agent.pk).update(presence=Agent.Presence.AWAY, max_active_assignments=3)
    stranger = AgentFactory(
        user__username="stranger", teams=[TeamFactory(name="Elsewhere", slug="elsewhere")]
    )
    client.force_login(supervisor.user)
    html = client.get(BOARD).content.decode()
    row = agent_row(html, agent)
    assert '<meter min="0" max="5" value="2"' in row and 'value="5" required' in row
    assert f">{old.number}</a>" in row and "opened 2\xa0days ago" in row
    assert '<option value="online" selected>' in row
    other = agent_row(html, other_agent)
    assert '<option value="away" selected>' in other and '<meter min="0" max="3" value="0"' in other
    assert f'id="agent-{stranger.pk}"' not in html


def test_board_queries_are_bounded(
    client, supervisor, front_office, back_office, django_assert_max_num_queries
):
    agents = [
        AgentFactory(teams=[front_office if i % 2 else back_office], max_active_assignments=20)
        for i in range(20)
    ]
    now = timezone.now()
    for i in range(200):
        a = agents[i % 20]
        team = a.teams.first()
        TicketFactory(
            team=team,
            status=Status.NEW if i % 3 == 0 else Status.OPEN,
            assignee=None if i % 3 == 0 else a,
            created_at=now - timedelta(minutes=i),
            resolution_due=now + timedelta(minutes=60 - i),
            with_case=False,
        )
    client.force_login(supervisor.user)
    with django_assert_max_num_queries(12):
        response = client.get(BOARD)
    assert response.status_code == 200
    assert response.content.decode().count('<tr id="agent-') == 21  # the 20 and the supervisor


def test_the_live_part_polls_and_comes_back_alone(client, supervisor):
    client.force_login(supervisor.user)
    html = client.get(BOARD).content.decode()
    assert re.search(
        r'<div id="board-live" hx-get="/board/" hx-trigger="every \d+s"[^>]*data-poll-guard', html
    )
    live = client.get(BOARD, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="board-live").content.decode().strip()
    assert live.startswith('<div id="board-live"') and "<html" not in live


# Changes in place -----------------------------------------------------------------------------------------


def test_change_an_agents_limit_in_place(client, supervisor, agent):
    client.force_login(supervisor.user)
    response = client.post(
        reverse("desk:board_limit", args=[agent.pk]), {"maximum": "8"}, HTTP_HX_REQUEST="true"
    )
    html = response.content.decode().strip()
    assert html.startswith(f'<tr id="agent-{agent.pk}">') and "may now have 8 active tickets" in html
    assert 'value="8" required' in html
    agent.refresh_from_db()
    assert agent.max_active_assignments == 8
    assert agent.events.filter(kind="limit", from_value="5", to_value="8", actor=supervisor.user).exists()


def test_a_limit_that_is_no_number_is_refused_with_the_reason(client, supervisor, agent):
    client.force_login(supervisor.user)
    response = client.post(
        reverse("desk:board_limit", args=[agent.pk]), {"maximum": "lots"}, HTTP_HX_REQUEST="true"
    )
    assert 'class="row-message error"' in response.content.decode()
    assert "is not a whole number" in response.content.decode()
    agent.refresh_from_db()
    assert agent.max_active_assignments == 5


def test_change_an_agents_presence_in_place_and_without_javascript(client, supervisor, agent):
    client.force_login(supervisor.user)
    response = client.post(
        reverse("desk:board_presence", args=[agent.pk]), {"presence": "away"}, HTTP_HX_REQUEST="true"
    )
    assert '<option value="away" selected>' in response.content.decode()
    agent.refresh_from_db()
    assert agent.presence == Agent.Presence.AWAY
    response = client.post(
        reverse("desk:board_presence", args=[agent.pk]), {"presence": "online"}, follow=True
    )
    assert response.redirect_chain[-1][0] == BOARD and "is online" in messages_of(response)
    agent.refresh_from_db()
    assert agent.presence == Agent.Presence.ONLINE


def test_agents_outside_my_teams_are_not_found(client, supervisor):
    stranger = AgentFactory(teams=[TeamFactory(name="Elsewhere", slug="elsewhere")])
    client.force_login(supervisor.user)
    assert client.post(reverse("desk:board_limit", args=[stranger.pk]), {"maximum": 9}).status_code == 404
    assert (
        client.post(reverse("desk:board_presence", args=[stranger.pk]), {"presence": "away"}).status_code
        == 404
    )
    stranger.refresh_from_db()
    assert stranger.max_active_assignments == 5


def test_reassign_a_ticket(client, supervisor, agent, other_agent, front_office):
    ticket = TicketFactory(team=front_office, status=Status.OPEN, assignee=agent)
    client.force_login(supervisor.user)
    response = client.post(
        reverse("desk:board_reassign"),
        {"ticket": f"{ticket.pk}:{ticket.version}", "agent": other_agent.pk, "reason": "Frank is off sick"},
        follow=True,
    )
    assert f"{ticket.number} is reassigned to olga" in messages_of(response)
    ticket.refresh_from_db()
    assert ticket.assignee_id == other_agent.pk and ticket.status == Status.ASSIGNED
    event = TicketEvent.objects.get(ticket=ticket, kind="reassign")
    assert event.reason == "Frank is off sick" and event.actor_id == supervisor.user.pk


def test_reassign_a_ticket_by_its_typed_number(client, supervisor, agent, other_agent, front_office):
    ticket = TicketFactory(team=front_office, status=Status.ASSIGNED, assignee=agent)
    client.force_login(supervisor.user)
    response = client.post(
        reverse("desk:board_reassign"),
        {"ticket": ticket.number.lower(), "agent": other_agent.pk, "reason": "balance"},
        follow=True,
    )
    assert f"{ticket.number} is reassigned to olga" in messages_of(response)
    ticket.refresh_from_db()
    assert ticket.assignee_id == other_agent.pk


def test_reassign_refusals_say_why(client, supervisor, agent, other_agent, front_office):
    ticket = TicketFactory(team=front_office, status=Status.OPEN, assignee=agent)
    elsewhere = TicketFactory(team=TeamFactory(name="Elsewhere", slug="elsewhere"))
    client.force_login(supervisor.user)
    post = reverse("desk:board_reassign")
    r = client.post(post, {"ticket": ticket.pk, "agent": other_agent.pk, "reason": ""}, follow=True)
    assert "Reassigning needs a reason." in messages_of(r)
    r = client.post(post, {"ticket": f"{ticket.pk}:99", "agent": other_agent.pk, "reason": "x"}, follow=True)
    assert "was changed by someone else" in messages_of(r)
    r = client.post(post, {"ticket": elsewhere.number, "agent": other_agent.pk, "reason": "x"}, follow=True)
    assert f"No ticket {elsewhere.number} that you may see." in messages_of(r)
    r = client.post(post, {"ticket": ticket.pk, "agent": "", "reason": "x"}, follow=True)
    assert "Choose an agent of your teams" in messages_of(r)
    Agent.objects.filter(pk=other_agent.pk).update(max_active_assignments=0)
    r = client.post(post, {"ticket": ticket.pk, "agent": other_agent.pk, "reason": "x"}, follow=True)
    assert "at the maximum of 0 active assignments" in messages_of(r)
    ticket.refresh_from_db()
    assert ticket.assignee_id == agent.pk and ticket.version == 1


def test_the_board_says_why_each_ticket_is_with_its_agent(client, supervisor, front_office):
    from tests.factories import AgentFactory, TicketFactory
    from tickets.models import Agent
    from tickets.services import transitions

    olga = AgentFactory(user__username="olga2", teams=[front_office], presence=Agent.Presence.ONLINE)
    ticket = TicketFactory(team=front_office)
    transitions.assign(ticket=ticket, actor=None, agent=olga, reason="most free capacity 0/5 in Front office")
    client.force_login(supervisor.user)
    page = client.get("/board/").content.decode()
    assert "most free capacity 0/5 in Front office" in page

"""The dashboard, its exports and the per-unique-ID report through the test client, as each role sees them."""

import csv
import io

import pytest
from django.utils import timezone

from reporting.rollup import refresh_ticket_facts
from tests.factories import AgentFactory, TeamFactory, TicketFactory, UserFactory
from tickets.models import Agent

pytestmark = pytest.mark.django_db

WEEK = "period=custom&start=2026-03-02&end=2026-03-08"


def rows_of(response) -> list[list[str]]:
    assert response.streaming, "exports are streamed"
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


@pytest.fixture
def admin_user(db):
    return AgentFactory(user__username="ada", role=Agent.Role.ADMIN).user


def test_agents_are_refused_and_anonymous_visitors_log_in(client, agent, week):
    client.force_login(agent.user)
    for url in ("/reports/", "/reports/export/summary.csv", "/reports/unique-id/", "/reports/unique-id/X/"):
        assert client.get(url).status_code == 403, url
    customer = week[1].customer.unique_id
    assert client.get(f"/reports/unique-id/{customer}.csv").status_code == 403
    client.logout()
    response = client.get("/reports/")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_supervisor_sees_the_numbers_with_their_formulas(client, supervisor, week):
    client.force_login(supervisor.user)
    response = client.get(f"/reports/?{WEEK}")
    assert response.status_code == 200
    page = response.content.decode()
    assert "First-contact resolution" in page and "exactly one interaction and never reopened" in page
    assert "33.3 %" in page  # FCR 1 of 3, reopen rate 1 of 3
    assert "66.7 %" in page  # first-response SLA 2 of 3
    assert "<svg" in page and "<polyline" in page  # charts drawn on the server, no script
    assert 'hx-trigger="every 10s"' in page
    # The navigation offers it to supervisors.
    assert 'href="/reports/"' in page


def test_htmx_refresh_renders_only_the_live_part(client, supervisor, week):
    client.force_login(supervisor.user)
    response = client.get(f"/reports/?{WEEK}", headers={"HX-Request": "true", "HX-Target": "report-live"})
    page = response.content.decode()
    assert response.status_code == 200
    assert page.lstrip().startswith('<div id="report-live"') and "<html" not in page
    assert "66.7 %" in page


def test_supervisor_sees_only_their_teams(client, week):
    other = TeamFactory(slug="elsewhere", name="Elsewhere")
    boss = AgentFactory(user__username="boss", role=Agent.Role.SUPERVISOR, teams=[other])
    client.force_login(boss.user)
    page = client.get(f"/reports/?{WEEK}").content.decode()
    assert "66.7 %" not in page and "over 0 tickets" in page
    # Asking for a team that is not theirs is not honoured: the form refuses it, their own scope stays.
    front = week[1].team
    page = client.get(f"/reports/?{WEEK}&team={front.pk}").content.decode()
    assert "66.7 %" not in page and "Select a valid choice" in page
    assert rows_of(client.get(f"/reports/export/tickets.csv?{WEEK}&team={front.pk}"))[1:] == []


def test_admin_sees_every_team(client, admin_user, week):
    client.force_login(admin_user)
    assert "66.7 %" in client.get(f"/reports/?{WEEK}").content.decode()


def test_exports_match_the_page(client, supervisor, week):
    client.force_login(supervisor.user)
    context = client.get(f"/reports/?{WEEK}").context
    d = context["d"]
    summary = {(r[0], r[1]): r[2] for r in rows_of(client.get(f"/reports/export/summary.csv?{WEEK}"))[1:]}
    # The bucketed median of 10, 20, 30 and 60 minutes (exactly 25: test_metrics works both out).
    assert summary[("first_response_time", "calendar_median (minutes)")] == "24.8"
    assert summary[("first_contact_resolution", "%")] == str(d.fcr.pct)
    assert summary[("sla_compliance", "resolution %")] == str(d.sla.resolution_pct)
    channels = rows_of(client.get(f"/reports/export/channels.csv?{WEEK}"))
    assert channels[0] == ["channel", "tickets"]
    assert [(c, int(n)) for c, n in channels[1:]] == d.by_channel
    days = rows_of(client.get(f"/reports/export/days.csv?{WEEK}"))
    assert [(r[0], int(r[1]), int(r[2])) for r in days[1:]] == [
        (day.isoformat(), c, r) for day, c, r in d.by_day
    ]
    priority = rows_of(client.get(f"/reports/export/sla-by-priority.csv?{WEEK}"))
    assert [r[0] for r in priority[1:]] == [c.label for c in d.sla_by_priority]
    agents = rows_of(client.get(f"/reports/export/agents.csv?{WEEK}"))
    assert [(r[0], int(r[3])) for r in agents[1:]] == [(a.name, a.handled) for a in d.agents]
    tickets = rows_of(client.get(f"/reports/export/tickets.csv?{WEEK}"))
    assert len(tickets) - 1 == d.interactions.count == 6
    assert client.get("/reports/export/nothing.csv").status_code == 404


def test_dashboard_query_count_is_bounded(client, supervisor, week, django_assert_max_num_queries):
    client.force_login(supervisor.user)
    client.get(f"/reports/?{WEEK}")
    with django_assert_max_num_queries(40) as few:
        client.get(f"/reports/?{WEEK}")
    # Ten times the tickets, agents and teams: not one query more.
    team = week[1].team
    for i in range(10):
        AgentFactory(user=UserFactory(username=f"extra{i}"), teams=[team])
    now = timezone.now()
    for _ in range(30):
        TicketFactory(team=team, created_at=now, updated_at=now)
    refresh_ticket_facts()
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(f"/reports/?{WEEK}")

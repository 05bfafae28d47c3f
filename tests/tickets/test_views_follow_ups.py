"""The seniors' follow-up page and the admin pages for surveys, through the test client."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests.factories import AgentFactory, TeamFactory
from tickets.intake import InboundMessage, receive
from tickets.models import Agent, CsatFollowUp, CsatSurvey, Ticket, TicketEvent
from tickets.services import csat, links, transitions

pytestmark = pytest.mark.django_db


def rated(agent, rating: int, sender: str) -> Ticket:
    """A closed ticket whose survey went out and came back with ``rating``."""
    result = receive(
        InboundMessage(channel="email", sender=sender, text="Slow line", provider_message_id=uuid.uuid4().hex)
    )
    ticket = Ticket.objects.get(pk=int(result.ticket[2:]))
    transitions.assign(ticket=ticket, actor=None, agent=agent)
    transitions.open_ticket(ticket=ticket, actor=agent.user)
    transitions.close(ticket=ticket, actor=agent.user, resolution_type="fixed", notes="Line re-profiled")
    survey = CsatSurvey.objects.get(ticket=ticket)
    CsatSurvey.objects.filter(pk=survey.pk).update(scheduled_for=timezone.now())
    csat.send_survey(survey_id=survey.pk)
    csat.answer_survey(
        token=links.make_token(links.SURVEY, survey.pk), rating=rating, comment=f"rated {rating}"
    )
    return ticket


@pytest.fixture
def senior(front_office) -> Agent:
    return AgentFactory(user__username="sara", teams=[front_office], is_senior=True)


def test_a_senior_sees_their_follow_up_and_closes_it_with_an_outcome(client, agent, senior):
    ticket = rated(agent, 1, "a@example.com")
    rated(agent, 5, "b@example.com")  # a good rating opens nothing
    client.force_login(senior.user)
    page = client.get(reverse("desk:follow_ups"))
    assert page.status_code == 200
    html = page.content.decode()
    assert ticket.number in html and "rated 1" in html and "rated 5" not in html
    assert {
        "url": reverse("desk:follow_ups"),
        "label": "Follow-ups",
        "key": "",
        "current": True,
    } in page.context["nav"]

    follow_up = CsatFollowUp.objects.get()
    done = client.post(reverse("desk:follow_up_done", args=[follow_up.pk]), {"outcome": "Called, apologised"})
    assert done.status_code == 302
    follow_up.refresh_from_db()
    assert (follow_up.state, follow_up.done_by, follow_up.outcome) == ("done", senior, "Called, apologised")
    assert TicketEvent.objects.filter(ticket=ticket, kind="csat_follow_up_done").exists()
    assert "Called, apologised" in client.get(reverse("desk:follow_ups") + "?state=done").content.decode()


def test_other_agents_neither_see_nor_close_someone_elses_follow_up(client, agent, senior, front_office):
    rated(agent, 2, "a@example.com")
    follow_up = CsatFollowUp.objects.get()
    client.force_login(agent.user)  # the ticket's own agent, not senior
    page = client.get(reverse("desk:follow_ups"))
    assert "rated 2" not in page.content.decode()
    assert "Follow-ups" not in [item["label"] for item in page.context["nav"]]
    response = client.post(reverse("desk:follow_up_done", args=[follow_up.pk]), {"outcome": "Hidden it"})
    assert response.status_code == 404
    assert CsatFollowUp.objects.get().state == "open"

    # A supervisor of the team sees it; one of another team does not.
    sup = AgentFactory(user__username="sue", role=Agent.Role.SUPERVISOR, teams=[front_office])
    other = AgentFactory(user__username="ola", role=Agent.Role.SUPERVISOR, teams=[TeamFactory()])
    client.force_login(sup.user)
    assert "rated 2" in client.get(reverse("desk:follow_ups")).content.decode()
    client.force_login(other.user)
    assert "rated 2" not in client.get(reverse("desk:follow_ups")).content.decode()


def test_survey_admin_is_read_only_and_does_not_query_per_row(admin_client, agent, senior):
    rated(agent, 2, "a@example.com")
    url = reverse("admin:tickets_csatsurvey_changelist")

    def count(path):
        with CaptureQueriesContext(connection) as queries:
            assert admin_client.get(path).status_code == 200
        return len(queries)

    lists = [
        url,
        reverse("admin:tickets_csatfollowup_changelist"),
        reverse("admin:tickets_verification_changelist"),
    ]
    before = [count(u) for u in lists]
    rated(agent, 1, "b@example.com")
    rated(agent, 4, "c@example.com")
    assert [count(u) for u in lists] == before

    survey = CsatSurvey.objects.first()
    change = admin_client.get(reverse("admin:tickets_csatsurvey_change", args=[survey.pk]))
    assert change.status_code == 200 and b'name="rating"' not in change.content
    assert admin_client.get(reverse("admin:tickets_csatsurvey_add")).status_code == 403
    found = admin_client.get(url + f"?q={survey.ticket.number}")
    assert found.status_code == 200 and survey.ticket.number.encode() in found.content


def test_reply_keywords_are_edited_in_the_admin(admin_client):
    response = admin_client.post(
        reverse("admin:tickets_verificationkeyword_add"),
        {"word": " Sorted ", "answer": "fixed", "active": "on"},
    )
    assert response.status_code == 302
    from tickets.services.verification import answer_in

    assert answer_in("sorted") == "fixed"

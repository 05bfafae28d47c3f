"""The pages behind the signed links sent to customers, through the test client: the ticket's status page,
"is it fixed?" and the CSAT survey (channels_intake/portal/feedback.py)."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from tests.factories import AgentFactory
from tickets.intake import InboundMessage, receive
from tickets.lifecycle import Status
from tickets.models import CsatFollowUp, CsatSurvey, Message, Note, Ticket, TicketEvent, Verification
from tickets.services import csat, links, replies, transitions

pytestmark = pytest.mark.django_db

EMAIL = "erin@example.com"
RESOLUTION = {"resolution_type": "workaround", "notes": "Use the 5 GHz network until the new router arrives."}


@pytest.fixture(autouse=True)
def fresh_limits(settings):
    cache.clear()
    settings.HELPDESK = {**settings.HELPDESK, "CSAT_DELAY_MINUTES": 0}
    yield
    cache.clear()


def inbound(text, sender=EMAIL, **kw) -> Ticket:
    result = receive(
        InboundMessage(channel="email", sender=sender, text=text, provider_message_id=uuid.uuid4().hex, **kw)
    )
    return Ticket.objects.get(pk=int(result.ticket[2:]))


def path_in(body: str, kind: str) -> str:
    found = re.search(rf"http://localhost:8000(/support/{kind}/[^/\s]+/)", body)
    assert found, body
    return found.group(1)


def notice(ticket, kind) -> Message:
    return Message.objects.filter(interaction__case__ticket=ticket, meta__kind=kind).latest("id")


@pytest.fixture
def resolved(agent) -> Ticket:
    ticket = inbound("Wi-Fi keeps dropping")
    transitions.assign(ticket=ticket, actor=None, agent=agent)
    transitions.open_ticket(ticket=ticket, actor=agent.user)
    return transitions.resolve(ticket=ticket, actor=agent.user, **RESOLUTION)


@pytest.fixture
def survey_path(resolved, agent) -> str:
    transitions.close(ticket=resolved, actor=agent.user)
    survey = CsatSurvey.objects.get(ticket=resolved)
    csat.send_survey(survey_id=survey.pk)
    return path_in(notice(resolved, "csat_survey").body, "survey")


# --- "Is it fixed?" ----------------------------------------------------------------------------------


def test_opening_the_verify_link_changes_nothing_and_fixed_closes(client, resolved):
    url = path_in(notice(resolved, "verification").body, "verify")
    page = client.get(url)
    assert page.status_code == 200
    assert b"Use the 5 GHz network" in page.content and b'value="fixed"' in page.content
    assert Ticket.objects.get(pk=resolved.pk).status == Status.RESOLVED  # mail scanners open links

    done = client.post(url, {"answer": "fixed"})
    assert done.status_code == 200 and b"glad it is fixed" in done.content
    ticket = Ticket.objects.get(pk=resolved.pk)
    assert ticket.status == Status.CLOSED
    assert Verification.objects.get(ticket=ticket).answered_via == "link"
    assert notice(ticket, "closure").channel == "email"

    again = client.post(url, {"answer": "not_fixed"})
    assert again.status_code == 410 and b"already been used" in again.content
    assert Ticket.objects.get(pk=resolved.pk).status == Status.CLOSED


def test_not_fixed_from_the_link_reopens_to_the_owner_with_the_words(client, resolved, agent):
    url = path_in(notice(resolved, "verification").body, "verify")
    response = client.post(url, {"answer": "not_fixed", "words": "Drops again every night at 9"})
    assert response.status_code == 200 and b"on it again" in response.content
    ticket = Ticket.objects.get(pk=resolved.pk)
    assert (ticket.status, ticket.assignee) == (Status.ASSIGNED, agent)
    words = Message.objects.get(interaction__case__ticket=ticket, body="Drops again every night at 9")
    assert words.direction == "in"
    assert "Drops again every night at 9" in TicketEvent.objects.get(ticket=ticket, kind="reopen").reason


def test_a_verify_link_the_ticket_moved_past_says_so(client, resolved, agent):
    url = path_in(notice(resolved, "verification").body, "verify")
    transitions.reopen(ticket=resolved, actor=agent.user, reason="Customer phoned")
    response = client.post(url, {"answer": "fixed"})
    assert response.status_code == 410 and b"no longer open" in response.content
    assert Ticket.objects.get(pk=resolved.pk).status == Status.ASSIGNED


def test_a_forged_verify_link_is_refused(client, resolved):
    response = client.post(
        f"/support/verify/{links.make_token(links.STATUS, resolved.pk)}/", {"answer": "fixed"}
    )
    assert response.status_code == 400 and b"not valid" in response.content
    assert Ticket.objects.get(pk=resolved.pk).status == Status.RESOLVED


# --- The survey --------------------------------------------------------------------------------------


def test_the_survey_page_works_without_javascript_and_a_2_reaches_a_senior(client, survey_path, front_office):
    senior = AgentFactory(user__username="sara", teams=[front_office], is_senior=True)
    page = client.get(survey_path)
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count('type="radio"') == 5 and 'method="post"' in html

    done = client.post(survey_path, {"rating": "2", "comment": "Three calls to get an answer"})
    assert done.status_code == 200 and "senior member" in done.content.decode()
    survey = CsatSurvey.objects.get()
    assert (survey.state, survey.rating, survey.comment) == ("answered", 2, "Three calls to get an answer")
    assert CsatFollowUp.objects.get().assignee == senior

    reused = client.post(survey_path, {"rating": "5"})
    assert reused.status_code == 410 and b"already been used" in reused.content
    assert CsatSurvey.objects.get().rating == 2 and CsatFollowUp.objects.count() == 1


@pytest.mark.parametrize("rating", ["0", "6", "", "abc", "2.5"])
def test_a_rating_outside_1_to_5_is_refused_with_the_form_again(client, survey_path, rating):
    response = client.post(survey_path, {"rating": rating, "comment": "kept"})
    assert response.status_code == 422
    assert b"Choose a rating from 1 to 5" in response.content and b"kept" in response.content
    assert CsatSurvey.objects.get().state == "sent"


def test_forged_and_expired_survey_links_get_a_clear_page_and_record_nothing(client, survey_path):
    token = survey_path.split("/")[3]
    forged = client.post(f"/support/survey/{token[:-3]}xyz/", {"rating": "5"})
    assert forged.status_code == 400 and b"not valid" in forged.content
    CsatSurvey.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    expired = client.post(survey_path, {"rating": "5"})
    assert expired.status_code == 410 and b"expired" in expired.content
    assert CsatSurvey.objects.get().state == "sent"
    assert not TicketEvent.objects.filter(kind="csat_answered").exists()


def test_the_link_pages_are_rate_limited_per_client(client, survey_path, settings):
    settings.HELPDESK = {**settings.HELPDESK, "SUPPORT_LINK_RATE": "2/10m"}
    assert client.get(survey_path).status_code == 200
    assert client.get(survey_path).status_code == 200
    limited = client.post(survey_path, {"rating": "5"})
    assert limited.status_code == 429 and b"Please wait" in limited.content
    assert CsatSurvey.objects.get().state == "sent"


# --- The status page ---------------------------------------------------------------------------------


def test_the_status_page_shows_state_and_messages_but_no_notes_and_no_other_ticket(client, agent):
    ticket = inbound("Router blinking red")
    other = inbound("Different issue: invoice wrong", sender="someone@example.com")
    transitions.assign(ticket=ticket, actor=None, agent=agent)
    replies.reply(ticket=ticket, actor=agent.user, body="Please unplug it for 30 seconds.")
    Message.objects.filter(direction="out").update(delivery_status="sent")
    Note.objects.create(ticket=ticket, author=agent, body="INTERNAL: customer sounds annoyed")
    url = f"/support/status/{links.make_token(links.STATUS, ticket.pk)}/"

    page = client.get(url)
    html = page.content.decode()
    assert page.status_code == 200
    assert ticket.number in html and "Being worked on" in html
    assert "Router blinking red" in html and "Please unplug it for 30 seconds." in html
    assert "INTERNAL" not in html and "invoice wrong" not in html and other.number not in html

    forged = client.get(f"/support/status/{links.make_token(links.SURVEY, ticket.pk)}/")
    assert forged.status_code == 400


def test_acknowledgements_carry_the_status_link(client):
    result = receive(
        InboundMessage(
            channel="whatsapp", sender="+447700900777", text="No signal", provider_message_id="wamid.S1"
        )
    )
    ack = Message.objects.get(meta__kind="acknowledgement")
    path = path_in(ack.body, "status")
    assert result.ticket.encode() in client.get(path).content


def test_the_web_forms_thank_you_page_links_to_the_status_page(client):
    form = client.get("/support/contact/").context["form"]
    data = {
        "token": form["token"].value(),
        "name": "Erin",
        "email": EMAIL,
        "reference": "",
        "message": "My bill shows a charge I do not recognise.",
    }
    thanks = client.get(client.post("/support/contact/", data).url)
    link = re.search(r'href="(/support/status/[^"]+/)"', thanks.content.decode()).group(1)
    status = client.get(link)
    assert status.status_code == 200 and b"a charge I do not recognise" in status.content

"""Verification, closure notices and CSAT surveys through the services and the intake pipeline, with real
database transactions (DOMAIN.md, "Closure and feedback"). The public pages are in
tests/channels_intake/test_feedback_pages.py, the chain through a real cluster in test_csat_cluster.py."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import AgentFactory, IdentityFactory, TeamFactory
from tickets.errors import ValidationFailed
from tickets.intake import InboundMessage, receive
from tickets.lifecycle import Status
from tickets.models import (
    Agent,
    CsatFollowUp,
    CsatSurvey,
    Interaction,
    Message,
    Note,
    Ticket,
    TicketEvent,
    Verification,
    VerificationKeyword,
)
from tickets.selectors.customers import interaction_table
from tickets.services import csat, links, transitions, verification
from tickets.services.links import LinkProblem

pytestmark = pytest.mark.django_db

PHONE = "+447700900555"
WA = "447700900555"
EMAIL = "dana@example.com"
RESOLUTION = {"resolution_type": "fixed", "notes": "We reset your line at the exchange."}


def inbound(channel, sender, text, **kw) -> Ticket:
    result = receive(
        InboundMessage(channel=channel, sender=sender, text=text, provider_message_id=uuid.uuid4().hex, **kw)
    )
    return Ticket.objects.get(pk=int(result.ticket[2:]))


def worked(ticket: Ticket, agent: Agent) -> Ticket:
    transitions.assign(ticket=ticket, actor=None, agent=agent)
    return transitions.open_ticket(ticket=ticket, actor=agent.user)


def outbound(ticket: Ticket, kind: str):
    return Message.objects.filter(
        interaction__case__ticket=ticket, direction=Message.Direction.OUTBOUND, meta__kind=kind
    ).order_by("id")


def token_in(body: str, kind: str) -> str:
    found = re.search(rf"/support/{kind}/([^/\s]+)/", body)
    assert found, body
    return found.group(1)


# --- Verification ------------------------------------------------------------------------------------


def test_resolving_asks_on_the_messaging_channel_last_used_with_reply_keywords(agent):
    ticket = worked(inbound("email", EMAIL, "Internet down", customer_unique_id="DANA"), agent)
    inbound("whatsapp", WA, "Any news?", customer_unique_id="DANA", ticket_hints=[ticket.number])
    ticket = transitions.resolve(ticket=ticket, actor=agent.user, **RESOLUTION)

    question = outbound(ticket, "verification").get()
    assert question.channel == "whatsapp"
    assert question.sender == PHONE  # WhatsApp IDs are kept in E.164
    assert "We reset your line at the exchange." in question.body
    assert 'Reply "1"' in question.body and '"2"' in question.body
    asked = Verification.objects.get(ticket=ticket)
    assert (asked.state, asked.channel, asked.message_id) == ("asked", "whatsapp", question.pk)
    event = TicketEvent.objects.filter(ticket=ticket, kind="resolve").get()
    assert event.data["asked_on"] == "whatsapp"


def test_resolving_an_email_ticket_sends_a_signed_link_not_keywords(agent):
    ticket = worked(inbound("email", EMAIL, "Internet down"), agent)
    transitions.resolve(ticket=ticket, actor=agent.user, **RESOLUTION)
    question = outbound(ticket, "verification").get()
    assert question.channel == "email"
    assert "/support/verify/" in question.body and "/support/status/" in question.body
    assert "Reply" not in question.body
    token = token_in(question.body, "verify")
    assert links.read_token(links.VERIFY, token) == Verification.objects.get(ticket=ticket).pk


@pytest.mark.parametrize("word", ["1", "Fixed", " yes! "])
def test_fixed_keyword_closes_the_ticket_and_notifies_on_that_channel(agent, word):
    ticket = worked(inbound("whatsapp", WA, "No signal ORD-55"), agent)
    transitions.resolve(ticket=ticket, actor=agent.user, **RESOLUTION)
    inbound("whatsapp", WA, word)

    ticket.refresh_from_db()
    assert ticket.status == Status.CLOSED
    assert Verification.objects.get(ticket=ticket).state == "fixed"
    assert Verification.objects.get(ticket=ticket).answered_via == "keyword"
    assert not Interaction.objects.filter(case__ticket=ticket, status="open").exists()
    notice = outbound(ticket, "closure").get()
    assert (notice.channel, notice.sender) == ("whatsapp", PHONE)
    assert CsatSurvey.objects.get(ticket=ticket).state == "scheduled"
    close = TicketEvent.objects.get(ticket=ticket, kind="close")
    assert close.actor is None and "confirmed it is fixed (by reply)" in close.reason


def test_not_fixed_keyword_reopens_to_the_same_owner_with_the_customers_message(agent):
    ticket = worked(inbound("sms", PHONE, "Line dead"), agent)
    transitions.resolve(ticket=ticket, actor=agent.user, **RESOLUTION)
    inbound("sms", PHONE, "not fixed")

    ticket.refresh_from_db()
    assert (ticket.status, ticket.assignee) == (Status.ASSIGNED, agent)
    assert ticket.reopen_count == 1
    assert Verification.objects.get(ticket=ticket).state == "not_fixed"
    reopen = TicketEvent.objects.get(ticket=ticket, kind="reopen")
    assert "not fixed (by reply)" in reopen.reason and "“not fixed”" in reopen.reason
    assert Message.objects.filter(interaction__case__ticket=ticket, body="not fixed").exists()
    assert not CsatSurvey.objects.filter(ticket=ticket).exists()


def test_any_other_reply_on_a_resolved_ticket_is_an_ordinary_follow_up(agent):
    ticket = worked(inbound("whatsapp", WA, "No signal"), agent)
    transitions.resolve(ticket=ticket, actor=agent.user, **RESOLUTION)
    inbound("whatsapp", WA, "yes but only in the kitchen")
    ticket.refresh_from_db()
    assert ticket.status == Status.ASSIGNED
    # The question no longer applies once the ticket left resolved: a later "1" is just a message.
    assert Verification.objects.get(ticket=ticket).state == "superseded"


def test_keywords_come_from_the_admin_rows_when_there_are_any(agent):
    VerificationKeyword.objects.create(word="  Sorted ", answer="fixed")
    VerificationKeyword.objects.create(word="nope", answer="not_fixed")
    assert verification.answer_in("SORTED") == "fixed"
    assert verification.answer_in("1") is None  # the settings' defaults no longer apply
    ticket = worked(inbound("whatsapp", WA, "No signal"), agent)
    transitions.resolve(ticket=ticket, actor=agent.user, **RESOLUTION)
    assert 'Reply "sorted"' in outbound(ticket, "verification").get().body
    inbound("whatsapp", WA, "nope")
    assert Ticket.objects.get(pk=ticket.pk).status == Status.ASSIGNED


def test_verification_link_answers_once_and_reopens_with_the_customers_words(agent):
    ticket = worked(inbound("email", EMAIL, "Internet down"), agent)
    transitions.resolve(ticket=ticket, actor=agent.user, **RESOLUTION)
    token = token_in(outbound(ticket, "verification").get().body, "verify")

    verification.answer_by_link(token=token, fixed=False, words="Still drops every evening")
    ticket.refresh_from_db()
    assert (ticket.status, ticket.assignee) == (Status.ASSIGNED, agent)
    words = Message.objects.get(interaction__case__ticket=ticket, body="Still drops every evening")
    assert words.direction == Message.Direction.INBOUND
    with pytest.raises(LinkProblem) as used:
        verification.answer_by_link(token=token, fixed=True)
    assert used.value.kind == "used"
    assert Ticket.objects.get(pk=ticket.pk).status == Status.ASSIGNED


# --- Closure -----------------------------------------------------------------------------------------


def test_closing_closes_every_interaction_and_notifies_on_the_channel_last_used(agent):
    """The worked example: call, WhatsApp, e-mail about ORD-1, then closure — the e-mail came last."""
    t1 = inbound("voice", PHONE, "Internet not working", customer_unique_id="ABC", reference="ORD-1")
    inbound("whatsapp", PHONE, "Still down, ORD-1", customer_unique_id="ABC")
    inbound("email", "abc@example.com", "About ORD-1: still nothing", customer_unique_id="ABC")
    assert Interaction.objects.filter(case__ticket=t1).count() == 3
    worked(t1, agent)
    closed = transitions.close(ticket=t1, actor=agent.user, **RESOLUTION)

    assert closed.status == Status.CLOSED
    assert set(Interaction.objects.filter(case__ticket=t1).values_list("status", flat=True)) == {"closed"}
    assert not t1.cases.filter(status="open").exists()
    notice = outbound(t1, "closure").get()
    assert (notice.channel, notice.sender, notice.delivery_status) == ("email", "abc@example.com", "queued")
    assert "is now closed" in notice.body and "/support/status/" in notice.body
    event = TicketEvent.objects.get(ticket=t1, kind="close")
    assert event.data["notified_on"] == "email" and event.data["closed_interactions"] == 3


def test_a_caller_is_notified_by_sms_on_the_same_number(agent):
    ticket = worked(inbound("voice", PHONE, "Call about my bill"), agent)
    transitions.close(ticket=ticket, actor=agent.user, **RESOLUTION)
    notice = outbound(ticket, "closure").get()
    assert (notice.channel, notice.sender) == ("sms", PHONE)
    # A notice is no contact: it opens no interaction (the per-unique-ID report counts interactions); it is
    # kept in the call's conversation, and the outbox sends it by its own channel.
    call = Interaction.objects.get(case__ticket=ticket)
    assert (call.channel, call.status, notice.interaction_id) == ("voice", "closed", call.pk)
    assert [row.contacts for row in interaction_table(ticket.customer)] == [1]


def test_closing_requires_a_resolution_type_and_notes_and_writes_nothing_without(agent):
    ticket = worked(inbound("email", EMAIL, "Internet down"), agent)
    with pytest.raises(ValidationFailed, match="resolution notes"):
        transitions.close(ticket=ticket, actor=agent.user, resolution_type="fixed", notes=" ")
    assert not outbound(ticket, "closure").exists()
    assert not CsatSurvey.objects.filter(ticket=ticket).exists()


# --- CSAT --------------------------------------------------------------------------------------------


@pytest.fixture
def closed_ticket(agent, settings):
    settings.HELPDESK = {**settings.HELPDESK, "CSAT_DELAY_MINUTES": 0}
    ticket = worked(inbound("whatsapp", WA, "No signal"), agent)
    return transitions.close(ticket=ticket, actor=agent.user, **RESOLUTION)


def sent_token(ticket) -> str:
    survey = CsatSurvey.objects.get(ticket=ticket)
    assert csat.send_survey(survey_id=survey.pk) == "sent"
    return token_in(outbound(ticket, "csat_survey").get().body, "survey")


def test_closure_schedules_the_survey_at_the_configured_delay(agent, settings):
    settings.HELPDESK = {**settings.HELPDESK, "CSAT_DELAY_MINUTES": 45}
    ticket = worked(inbound("email", EMAIL, "Internet down"), agent)
    before = timezone.now()
    transitions.close(ticket=ticket, actor=agent.user, **RESOLUTION)
    survey = CsatSurvey.objects.get(ticket=ticket)
    assert survey.state == "scheduled" and survey.agent == agent and survey.team_id == ticket.team_id
    assert before + timedelta(minutes=45) <= survey.scheduled_for <= timezone.now() + timedelta(minutes=45)
    assert csat.send_survey(survey_id=survey.pk) == "not due yet"
    assert CsatSurvey.objects.get(pk=survey.pk).state == "scheduled"


def test_the_survey_goes_out_on_the_customers_channel_as_a_single_use_link(closed_ticket):
    token = sent_token(closed_ticket)
    survey = CsatSurvey.objects.get(ticket=closed_ticket)
    assert (survey.state, survey.channel) == ("sent", "whatsapp")
    assert survey.expires_at - survey.sent_at == timedelta(days=7)
    assert csat.send_survey(survey_id=survey.pk) == "already sent"  # a second run sends nothing
    assert outbound(closed_ticket, "csat_survey").count() == 1

    answered = csat.answer_survey(token=token, rating=4, comment="Quick, thanks")
    assert (answered.state, answered.rating, answered.comment) == ("answered", 4, "Quick, thanks")
    assert not CsatFollowUp.objects.exists()
    with pytest.raises(LinkProblem) as reused:
        csat.answer_survey(token=token, rating=1)
    assert reused.value.kind == "used"
    assert CsatSurvey.objects.get(pk=survey.pk).rating == 4


def test_reopen_before_the_survey_goes_out_cancels_it(closed_ticket, agent):
    transitions.reopen(ticket=closed_ticket, actor=agent.user, reason="Customer called back")
    survey = CsatSurvey.objects.get(ticket=closed_ticket)
    assert survey.state == "cancelled"
    assert csat.send_survey(survey_id=survey.pk) == "already cancelled"
    assert not outbound(closed_ticket, "csat_survey").exists()
    assert survey.note == "Cancelled: the ticket was reopened."


def test_a_reopen_the_cancel_missed_is_caught_when_sending(closed_ticket, agent):
    survey = CsatSurvey.objects.get(ticket=closed_ticket)
    Ticket.objects.filter(pk=closed_ticket.pk).update(status=Status.OPEN)  # as if reopened behind our back
    assert csat.send_survey(survey_id=survey.pk) == "cancelled"
    assert not outbound(closed_ticket, "csat_survey").exists()


@pytest.mark.parametrize("rating", [0, 6, -1, "five", None, True])
def test_a_rating_outside_1_to_5_is_refused_and_nothing_recorded(closed_ticket, rating):
    token = sent_token(closed_ticket)
    with pytest.raises(ValidationFailed, match="1 to 5"):
        csat.answer_survey(token=token, rating=rating)
    assert CsatSurvey.objects.get(ticket=closed_ticket).state == "sent"


def test_forged_and_expired_tokens_record_nothing(closed_ticket, monkeypatch):
    token = sent_token(closed_ticket)
    survey = CsatSurvey.objects.get(ticket=closed_ticket)
    forged = [
        token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
        links.make_token(links.VERIFY, survey.pk),  # a valid token of another kind
        links.make_token(links.SURVEY, survey.pk + 1000),
        "nonsense",
    ]
    for bad in forged:
        with pytest.raises(LinkProblem) as problem:
            csat.answer_survey(token=bad, rating=5)
        assert problem.value.kind == "forged", bad

    # Past the link's lifetime by its signature's own clock…
    import time

    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 8 * 86400)
    with pytest.raises(LinkProblem) as late:
        csat.answer_survey(token=token, rating=5)
    assert late.value.kind == "expired"
    monkeypatch.setattr(time, "time", real)
    # …and by the survey's recorded expiry.
    CsatSurvey.objects.filter(pk=survey.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(LinkProblem) as expired:
        csat.answer_survey(token=token, rating=5)
    assert expired.value.kind == "expired"
    assert CsatSurvey.objects.get(pk=survey.pk).state == "sent"
    assert not TicketEvent.objects.filter(ticket=closed_ticket, kind="csat_answered").exists()


def test_a_negative_rating_goes_to_a_senior_agent_of_the_team_and_onto_the_history(
    closed_ticket, front_office
):
    away_senior = AgentFactory(user__username="sam", teams=[front_office], is_senior=True, presence="away")
    online_senior = AgentFactory(user__username="sara", teams=[front_office], is_senior=True)
    AgentFactory(user__username="sid", teams=[TeamFactory()], is_senior=True)  # another team's senior
    token = sent_token(closed_ticket)

    csat.answer_survey(token=token, rating=2, comment="Took three days")
    follow_up = CsatFollowUp.objects.get()
    assert (follow_up.assignee, follow_up.ticket, follow_up.state) == (online_senior, closed_ticket, "open")
    assert "senior agent of Front office" in follow_up.routing_reason
    event = TicketEvent.objects.get(ticket=closed_ticket, kind="csat_follow_up")
    assert event.data["agent"] == online_senior.pk and "Rated 2/5" in event.reason
    assert TicketEvent.objects.get(ticket=closed_ticket, kind="csat_answered").to_value == "2/5"
    assert away_senior.csat_follow_ups.count() == 0


def test_follow_ups_spread_over_the_seniors_and_fall_to_supervisors_when_there_is_none(front_office):
    a = AgentFactory(user__username="sam", teams=[front_office], is_senior=True)
    b = AgentFactory(user__username="sara", teams=[front_office], is_senior=True)
    first, _ = csat.route_follow_up(front_office)
    survey = CsatSurvey.objects.create(
        ticket=Ticket.objects.create(
            customer_id=inbound("email", EMAIL, "x").customer_id,
            subject="x",
            channel="email",
            team=front_office,
            created_at=timezone.now(),
            updated_at=timezone.now(),
        ),
        scheduled_for=timezone.now(),
        created_at=timezone.now(),
        state="answered",
        rating=1,
        answered_at=timezone.now(),
    )
    CsatFollowUp.objects.create(
        survey=survey, ticket=survey.ticket, team=front_office, assignee=first, created_at=timezone.now()
    )
    second, _ = csat.route_follow_up(front_office)
    assert {first, second} == {a, b}
    lonely = TeamFactory(name="Billing")
    nobody, why = csat.route_follow_up(lonely)
    assert nobody is None and "supervisors" in why


def test_closing_a_follow_up_takes_its_senior_or_a_supervisor_and_an_outcome(
    closed_ticket, front_office, agent
):
    senior = AgentFactory(user__username="sara", teams=[front_office], is_senior=True)
    csat.answer_survey(token=sent_token(closed_ticket), rating=1)
    follow_up = CsatFollowUp.objects.get()
    with pytest.raises(Exception, match="senior agent or a supervisor"):
        csat.close_follow_up(follow_up=follow_up, actor=agent.user, outcome="Called")
    with pytest.raises(ValidationFailed):
        csat.close_follow_up(follow_up=follow_up, actor=senior.user, outcome="")
    done = csat.close_follow_up(follow_up=follow_up, actor=senior.user, outcome="Called; credit given")
    assert (done.state, done.done_by) == ("done", senior)
    assert (
        TicketEvent.objects.get(ticket=closed_ticket, kind="csat_follow_up_done").reason
        == "Called; credit given"
    )


def test_spam_and_merges_are_not_surveyed(agent):
    ticket = inbound("email", "spam@example.com", "Buy now")
    transitions.mark_spam(ticket=ticket, actor=None)
    assert not CsatSurvey.objects.exists()
    assert not outbound(ticket, "closure").exists()


def test_the_sweep_sends_surveys_whose_schedule_was_lost(closed_ticket):
    survey = CsatSurvey.objects.get(ticket=closed_ticket)
    CsatSurvey.objects.filter(pk=survey.pk).update(scheduled_for=timezone.now() - timedelta(minutes=10))
    assert csat.send_due() == 1
    assert CsatSurvey.objects.get(pk=survey.pk).state == "sent"
    assert csat.send_due() == 0


def test_notes_are_never_part_of_what_the_customer_is_sent(agent):
    ticket = worked(inbound("email", EMAIL, "Internet down"), agent)
    Note.objects.create(ticket=ticket, author=agent, body="SECRET internal")
    transitions.close(ticket=ticket, actor=agent.user, **RESOLUTION)
    assert "SECRET" not in outbound(ticket, "closure").get().body


def test_the_workspace_history_says_what_the_customer_was_told_and_how_they_rated(
    closed_ticket, front_office
):
    from tickets.selectors.workspace import describe_event

    AgentFactory(user__username="sara", teams=[front_office], is_senior=True)
    csat.answer_survey(token=sent_token(closed_ticket), rating=1)
    said = {e.kind: describe_event(e) for e in TicketEvent.objects.filter(ticket=closed_ticket)}
    assert said["close"].endswith("; told the customer on WhatsApp")
    assert said["csat_sent"] == "sent the satisfaction survey on WhatsApp"
    assert said["csat_answered"] == "got the customer's rating: 1/5"
    assert said["csat_follow_up"] == "opened a follow-up of the rating for sara"


def test_an_ended_chat_is_followed_up_by_email_when_the_customer_has_an_address(agent):
    ticket = worked(inbound("chat", "chat:5f0c7d1e-0000-4000-8000-000000000001", "Can't log in"), agent)
    IdentityFactory(customer=ticket.customer, channel="email", address="chatty@example.com")
    transitions.close(ticket=ticket, actor=agent.user, **RESOLUTION)
    notice = outbound(ticket, "closure").get()
    assert (notice.channel, notice.sender) == ("email", "chatty@example.com")
    assert Interaction.objects.filter(case__ticket=ticket).count() == 1

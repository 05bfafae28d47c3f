"""Editing a ticket from the workspace: inline fields, relinking and splitting interactions, canned
responses, replies with attachments — services with real transactions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.concurrency import race
from tests.factories import AgentFactory, TeamFactory
from tickets.errors import ConflictError, InvalidTransition, PermissionDenied, ValidationFailed
from tickets.intake import InboundMessage, receive
from tickets.lifecycle import Status
from tickets.models import Attachment, CannedResponse, Case, Category, Message, Tag, Ticket, TicketEvent
from tickets.models.tickets import parse_number
from tickets.services import editing, transitions
from tickets.services.canned import canned_responses_for, fill_canned, fill_placeholders

pytestmark = pytest.mark.django_db


def _receive(**kw) -> Ticket:
    return Ticket.objects.get(pk=parse_number(receive(InboundMessage(**kw)).ticket))


@pytest.fixture
def ticket(agent) -> Ticket:
    t = _receive(channel="email", sender="r1@example.com", text="No signal", customer_unique_id="R1")
    return transitions.assign(ticket=t, actor=None, agent=agent)


def _state(t: Ticket):
    t = Ticket.objects.get(pk=t.pk)
    return (
        t.version,
        t.priority,
        t.category_id,
        sorted(t.tags.values_list("name", flat=True)),
        t.events.count(),
    )


# Inline edits ----------------------------------------------------------------------------------------------


def test_priority_change_retimes_the_sla_clocks_and_is_recorded(ticket, agent):
    assert ticket.priority == 3
    before = ticket.resolution_due
    changed = editing.set_priority(
        ticket=ticket, actor=agent.user, priority=1, expected_version=ticket.version
    )
    assert changed.priority == 1 and changed.version == ticket.version + 1
    # P1's default policy: 30 min first response, 4 h resolution, from the ticket's creation.
    assert changed.first_response_due == ticket.created_at + timedelta(minutes=30)
    assert changed.resolution_due == ticket.created_at + timedelta(hours=4) != before
    event = changed.events.get(kind="priority")
    assert (event.actor, event.from_value, event.to_value) == (agent.user, "P3", "P1")


def test_category_and_tags_are_recorded_as_events(ticket, agent):
    billing = Category.objects.create(name="Billing", slug="billing")
    outage, router = Tag.objects.create(name="outage"), Tag.objects.create(name="router")
    t = editing.set_category(
        ticket=ticket, actor=agent.user, category=billing, expected_version=ticket.version
    )
    t = editing.set_tags(ticket=t, actor=agent.user, tags=[outage, router], expected_version=t.version)
    t = editing.set_tags(ticket=t, actor=agent.user, tags=[router], expected_version=t.version)
    assert list(t.tags.values_list("name", flat=True)) == ["router"]
    kinds = list(t.events.filter(kind__in=["category", "tags"]).values_list("kind", "to_value", "data"))
    assert kinds == [
        ("category", "Billing", {}),
        ("tags", "outage, router", {"added": ["outage", "router"], "removed": []}),
        ("tags", "router", {"added": [], "removed": ["outage"]}),
    ]
    # Saying the same again is no change: no event, no new version.
    same = editing.set_tags(ticket=t, actor=agent.user, tags=[router], expected_version=t.version)
    assert same.version == t.version and t.events.filter(kind="tags").count() == 2


def test_a_stale_edit_is_refused_and_writes_nothing(ticket, agent):
    stale = ticket.version
    editing.set_priority(ticket=ticket, actor=agent.user, priority=2, expected_version=stale)
    before = _state(ticket)
    with pytest.raises(ConflictError, match="changed by someone else"):
        editing.set_priority(ticket=ticket, actor=agent.user, priority=4, expected_version=stale)
    with pytest.raises(ConflictError):
        editing.set_tags(
            ticket=ticket, actor=agent.user, tags=[Tag.objects.create(name="x")], expected_version=stale
        )
    assert _state(ticket) == before


def test_edits_are_for_the_people_working_the_ticket(ticket, back_agent, agent):
    with pytest.raises(PermissionDenied, match="only its owner, its team"):
        editing.set_priority(ticket=ticket, actor=back_agent.user, priority=1)
    with pytest.raises(PermissionDenied):
        editing.set_priority(ticket=ticket, actor=None, priority=1)
    with pytest.raises(ValidationFailed, match="P7 is not a priority"):
        editing.set_priority(ticket=ticket, actor=agent.user, priority=7)
    transitions.open_ticket(ticket=ticket, actor=agent.user)
    closed = transitions.close(ticket=ticket, actor=agent.user, resolution_type="fixed", notes="Done")
    with pytest.raises(InvalidTransition, match="is closed; reopen it"):
        editing.set_category(ticket=closed, actor=agent.user, category=None)
    assert Ticket.objects.get(pk=ticket.pk).priority == 3


# Relink and split ------------------------------------------------------------------------------------------


@pytest.fixture
def two_issues(agent):
    """Customer R2: a WhatsApp message and an e-mail wrongly joined on ticket A; ticket B about another order."""
    a = _receive(channel="whatsapp", sender="447700900222", text="Internet down", customer_unique_id="R2")
    receive(
        InboundMessage(channel="email", sender="r2@example.com", text="Bill wrong", customer_unique_id="R2")
    )
    b = _receive(
        channel="sms",
        sender="447700900222",
        text="Router ORD-5005",
        customer_unique_id="R2",
        reference="ORD-5005",
    )
    a = transitions.assign(ticket=a, actor=None, agent=agent)
    b = transitions.assign(ticket=b, actor=None, agent=agent)
    email_case = Case.objects.get(ticket=a, interaction__channel="email")
    return a, b, email_case


def test_relink_moves_the_interaction_with_its_messages_and_keeps_first_and_follow_ups_true(
    two_issues, agent
):
    a, b, case = two_issues
    assert Case.objects.filter(ticket=a).count() == 2 and Case.objects.filter(ticket=b).count() == 1
    moved = editing.relink(
        case=case, actor=agent.user, to_ticket=b, reason="about the bill", expected_version=a.version
    )
    assert moved.ticket_id == b.pk and moved.link_rule == Case.LinkRule.MANUAL
    assert moved.link_detail == f"relinked from {a.number}: about the bill"
    assert Case.objects.filter(ticket=a).count() == 1 and Case.objects.filter(ticket=b).count() == 2
    assert Message.objects.filter(interaction__case__ticket=b, body="Bill wrong").exists()
    # b's own first case stays the parent; the moved one (created earlier) is ordered by creation.
    cases_b = list(Case.objects.filter(ticket=b).order_by("created_at", "id"))
    assert cases_b[0].parent_id is None and all(c.parent_id == cases_b[0].pk for c in cases_b[1:])
    assert Case.objects.get(ticket=a).parent_id is None
    a2, b2 = Ticket.objects.get(pk=a.pk), Ticket.objects.get(pk=b.pk)
    assert (a2.version, b2.version) == (a.version + 1, b.version + 1)
    out = TicketEvent.objects.get(ticket=a, kind="relinked")
    inn = TicketEvent.objects.get(ticket=b, kind="relinked_in")
    assert (out.to_value, inn.from_value, out.actor, out.reason) == (
        b.number,
        a.number,
        agent.user,
        "about the bill",
    )


def test_moving_the_first_interaction_makes_the_next_one_the_parent(two_issues, agent):
    a, b, _ = two_issues
    first = Case.objects.get(ticket=a, parent__isnull=True)
    b_first = Case.objects.get(ticket=b)
    editing.relink(case=first, actor=agent.user, to_ticket=b, expected_version=a.version)
    remaining = Case.objects.get(ticket=a)
    assert remaining.parent_id is None and remaining.is_first
    # In b, order of contact decides: the moved interaction came first, so it is b's parent case now.
    assert Case.objects.get(pk=first.pk).parent_id is None
    assert Case.objects.get(pk=b_first.pk).parent_id == first.pk


def test_relink_refusals_say_why_and_move_nothing(two_issues, agent, other_agent):
    a, b, case = two_issues
    stranger = _receive(channel="email", sender="z@example.com", text="Hello", customer_unique_id="OTHER")
    with pytest.raises(ValidationFailed, match="belongs to another customer"):
        editing.relink(case=case, actor=agent.user, to_ticket=stranger, expected_version=a.version)
    with pytest.raises(ConflictError):
        editing.relink(case=case, actor=agent.user, to_ticket=b, expected_version=a.version - 1)
    only = Case.objects.get(ticket=b)
    with pytest.raises(ValidationFailed, match="only interaction of"):
        editing.relink(case=only, actor=agent.user, to_ticket=a, expected_version=b.version)
    with pytest.raises(ValidationFailed, match="already linked"):
        editing.relink(case=case, actor=agent.user, to_ticket=a)
    transitions.open_ticket(ticket=b, actor=agent.user)
    closed = transitions.close(ticket=b, actor=agent.user, resolution_type="fixed", notes="Done")
    with pytest.raises(InvalidTransition, match="is closed"):
        editing.relink(case=case, actor=agent.user, to_ticket=closed)
    back = TeamFactory(name="Billing", slug="billing")
    mover = AgentFactory(user__username="mover", teams=[a.team])
    elsewhere = _receive(channel="sms", sender="447700900222", text="ORD-6006 too", reference="ORD-6006")
    transitions.transfer(ticket=elsewhere, actor=None, team=back)
    with pytest.raises(PermissionDenied, match="may not change"):
        editing.relink(case=case, actor=mover.user, to_ticket=Ticket.objects.get(pk=elsewhere.pk))
    assert Case.objects.get(pk=case.pk).ticket_id == a.pk
    assert not TicketEvent.objects.filter(kind__in=["relinked", "relinked_in"]).exists()


def test_split_makes_a_new_queued_ticket_of_the_interaction(two_issues, agent):
    a, _, case = two_issues
    new = editing.split(
        case=case,
        actor=agent.user,
        subject="Billing question",
        reason="different issue",
        expected_version=a.version,
    )
    assert new.pk != a.pk and new.customer_id == a.customer_id and new.subject == "Billing question"
    assert (new.status, new.assignee_id, new.team_id, new.channel) == (Status.NEW, None, a.team_id, "email")
    assert new.first_response_due is not None and new.resolution_due is not None
    moved = Case.objects.get(pk=case.pk)
    assert moved.ticket_id == new.pk and moved.parent_id is None and moved.link_rule == Case.LinkRule.MANUAL
    assert Case.objects.filter(ticket=a).count() == 1
    assert new.events.get(kind="created").data["split_from"] == a.number
    assert TicketEvent.objects.get(ticket=a, kind="split").to_value == new.number
    assert Ticket.objects.get(pk=a.pk).version == a.version + 1


def test_split_takes_its_subject_from_the_first_message_and_refuses_the_last_interaction(two_issues, agent):
    a, b, case = two_issues
    new = editing.split(case=case, actor=agent.user)
    assert new.subject == "Bill wrong"
    with pytest.raises(ValidationFailed, match="only interaction"):
        editing.split(case=Case.objects.get(ticket=b), actor=agent.user)


# Canned responses ------------------------------------------------------------------------------------------


def test_placeholders_are_filled_and_nothing_else_is_touched(ticket, agent, back_office):
    assert fill_placeholders("{customer_name} {x} {} {agent_name.__class__}", {"customer_name": "Ann"}) == (
        "Ann {x} {} {agent_name.__class__}"
    )
    canned = CannedResponse.objects.create(
        title="Hi", body="Dear {customer_name}, {ticket_number} is with {agent_name}."
    )
    ticket.customer.name = ""
    assert fill_canned(canned=canned, ticket=ticket, agent=agent) == (
        f"Dear R1, {ticket.number} is with {agent}."
    )
    team_only = CannedResponse.objects.create(title="Tech", body="x", team=back_office)
    inactive = CannedResponse.objects.create(title="Old", body="x", active=False)
    available = set(canned_responses_for(ticket))
    assert canned in available and team_only not in available and inactive not in available


# Replies with attachments ----------------------------------------------------------------------------------


def test_a_reply_carries_its_attachments_on_the_outbound_message(ticket, agent):
    files = [SimpleUploadedFile("../../etc/quote.pdf", b"%PDF-1.4 quote", content_type="application/pdf")]
    message = editing.reply_with_attachments(
        ticket=ticket,
        actor=agent.user,
        body="Your quote",
        channel="email",
        files=files,
        expected_version=ticket.version,
    )
    assert message.direction == "out" and message.delivery_status == "queued" and message.channel == "email"
    stored = message.attachments.get()
    assert (stored.filename, stored.size, stored.content_type) == ("quote.pdf", 14, "application/pdf")
    assert stored.file.read() == b"%PDF-1.4 quote"


def test_attachments_only_by_email_and_within_limits(ticket, agent):
    receive(InboundMessage(channel="whatsapp", sender="447700900301", text="WA too", customer_unique_id="R1"))
    pdf = SimpleUploadedFile("a.pdf", b"x")
    with pytest.raises(ValidationFailed, match="by e-mail only"):
        editing.reply_with_attachments(
            ticket=ticket, actor=agent.user, body="Hi", channel="whatsapp", files=[pdf]
        )
    with pytest.raises(ValidationFailed, match="At most 5"):
        editing.reply_with_attachments(
            ticket=ticket,
            actor=agent.user,
            body="Hi",
            files=[SimpleUploadedFile(f"{i}", b"x") for i in range(6)],
        )
    big = SimpleUploadedFile("big.bin", b"x" * (editing.MAX_ATTACHMENT_BYTES + 1))
    with pytest.raises(ValidationFailed, match="the limit is 10 MB"):
        editing.reply_with_attachments(ticket=ticket, actor=agent.user, body="Hi", files=[big])
    # Nothing half-written: no reply, no file, the ticket untouched.
    assert not Message.objects.filter(direction="out", author=agent).exists()
    assert not Attachment.objects.exists()
    assert Ticket.objects.get(pk=ticket.pk).status == Status.ASSIGNED


# Concurrency (PostgreSQL) ----------------------------------------------------------------------------------


def _two_tickets_of_one_customer(agent):
    a = _receive(channel="whatsapp", sender="447700900333", text="Issue A", customer_unique_id="R3")
    receive(InboundMessage(channel="email", sender="r3@example.com", text="Also A", customer_unique_id="R3"))
    b = _receive(channel="sms", sender="447700900333", text="Issue B ORD-8008", reference="ORD-8008")
    receive(InboundMessage(channel="chat", sender="chat-r3", text="Also B ORD-8008", customer_unique_id="R3"))
    return transitions.assign(ticket=a, actor=None, agent=agent), transitions.assign(
        ticket=b, actor=None, agent=agent
    )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_crossing_relinks_do_not_deadlock_and_keep_one_parent_per_ticket(agent, other_agent):
    a, b = _two_tickets_of_one_customer(agent)
    assert Case.objects.filter(ticket=a).count() == Case.objects.filter(ticket=b).count() == 2
    a_case = Case.objects.filter(ticket=a).order_by("id").last()
    b_case = Case.objects.filter(ticket=b).order_by("id").last()
    results = race(
        lambda: editing.relink(case=a_case, actor=agent.user, to_ticket=b),
        lambda: editing.relink(case=b_case, actor=other_agent.user, to_ticket=a),
    )
    assert all(isinstance(r, Case) for r in results), results
    for t in (a, b):
        cases = Case.objects.filter(ticket=t)
        assert cases.count() == 2 and cases.filter(parent__isnull=True).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_agents_moving_from_one_view_one_wins(agent, other_agent):
    a, b = _two_tickets_of_one_customer(agent)
    seen = Ticket.objects.get(pk=a.pk).version
    first, second = Case.objects.filter(ticket=a).order_by("id")
    results = race(
        lambda: editing.relink(case=second, actor=agent.user, to_ticket=b, expected_version=seen),
        lambda: editing.split(case=first, actor=other_agent.user, expected_version=seen),
    )
    assert sum(isinstance(r, ConflictError) for r in results) == 1, results
    assert Case.objects.filter(ticket=a).count() == 1
    assert Case.objects.filter(ticket=a, parent__isnull=True).count() == 1

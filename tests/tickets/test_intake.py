"""The intake pipeline, through the service, with real transactions (DOMAIN.md, "How an interaction finds its ticket")."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import AgentFactory
from tickets.errors import IntakeError
from tickets.intake import InboundAttachment, InboundMessage, receive
from tickets.lifecycle import Status
from tickets.models import Case, Customer, CustomerConflict, CustomerIdentity, Interaction, Message, Ticket
from tickets.services import transitions

pytestmark = pytest.mark.django_db

PHONE = "+441632960001"


def msg(channel, sender, text, **kw) -> InboundMessage:
    return InboundMessage(channel=channel, sender=sender, text=text, **kw)


def work_and_close(ticket_number: str, agent) -> Ticket:
    ticket = Ticket.objects.get(pk=int(ticket_number[2:]))
    transitions.assign(ticket=ticket, actor=None, agent=agent)
    transitions.open_ticket(ticket=ticket, actor=agent.user)
    return transitions.close(
        ticket=ticket, actor=agent.user, resolution_type="fixed", notes="Router replaced"
    )


def test_seed_story_end_to_end(agent):
    """A voice, B WhatsApp, C e-mail → T1 with three cases; D billing → T2; close T1 → A, B, C closed."""
    a = receive(
        msg(
            "voice",
            PHONE,
            "Internet not working",
            customer_unique_id="ABC",
            reference="ORD-1",
            provider_message_id="CA1",
        )
    )
    b = receive(
        msg("whatsapp", PHONE.lstrip("+"), "Still no internet, order ORD-1", provider_message_id="wamid.B")
    )
    c = receive(
        msg(
            "email",
            "ABC Customer <abc@example.com>",
            "My internet is still down",
            subject="Order ORD-1",
            customer_unique_id="ABC",
            provider_message_id="<c@example.com>",
        )
    )
    d = receive(
        msg(
            "email",
            "abc@example.com",
            "I was billed twice",
            subject="Billing problem ORD-2",
            provider_message_id="<d@example.com>",
        )
    )

    assert (a.new_ticket, a.link_rule) == (True, "new_ticket")
    assert (b.ticket, b.link_rule, b.new_ticket) == (a.ticket, "reference", False)
    assert (c.ticket, c.link_rule, c.new_ticket) == (a.ticket, "reference", False)
    assert d.new_ticket and d.ticket != a.ticket

    customer = Customer.objects.get(unique_id="ABC")
    assert customer.identities.count() == 3  # phone, WhatsApp, e-mail: one customer
    t1 = Ticket.objects.get(pk=int(a.ticket[2:]))
    assert t1.reference.value == "ORD-1"
    cases = list(t1.cases.order_by("created_at", "id"))
    assert [x.pk for x in cases] == [a.case, b.case, c.case]
    assert cases[0].parent is None and all(x.parent_id == cases[0].pk for x in cases[1:])
    assert [x.interaction.channel for x in cases] == ["voice", "whatsapp", "email"]

    work_and_close(a.ticket, agent)
    closed = Interaction.objects.filter(pk__in=[a.interaction, b.interaction, c.interaction])
    assert set(closed.values_list("status", flat=True)) == {"closed"}
    assert set(Case.objects.filter(ticket=t1).values_list("status", flat=True)) == {"closed"}
    assert Interaction.objects.get(pk=d.interaction).status == "open"

    # The per-unique-ID table of DOMAIN.md: running counts in order of contact.
    rows, seen_tickets, per_ticket = [], [], {}
    for interaction in customer.interactions.order_by("started_at", "id").select_related("case__ticket"):
        ticket = interaction.case.ticket
        per_ticket[ticket.pk] = per_ticket.get(ticket.pk, 0) + 1
        if ticket.pk not in seen_tickets:
            seen_tickets.append(ticket.pk)
        rows.append((ticket.number, per_ticket[ticket.pk], len(rows) + 1, len(seen_tickets)))
    assert rows == [(a.ticket, 1, 1, 1), (a.ticket, 2, 2, 1), (a.ticket, 3, 3, 1), (d.ticket, 1, 4, 2)]


def test_redelivery_of_one_provider_id_is_one_message():
    results = [receive(msg("sms", "+441632960002", "Hello", provider_message_id="SM123")) for _ in range(5)]
    assert Message.objects.filter(provider_message_id="SM123").count() == 1
    assert [r.duplicate for r in results] == [False, True, True, True, True]
    assert len({(r.message, r.ticket, r.case) for r in results}) == 1
    assert Ticket.objects.count() == 1


def test_same_provider_id_on_another_channel_is_another_message():
    receive(msg("sms", "+441632960002", "Hello", provider_message_id="X1"))
    second = receive(msg("whatsapp", "441632960002", "Hello", provider_message_id="X1"))
    assert not second.duplicate


def test_digital_messages_join_the_open_interaction_but_calls_never_do():
    first = receive(msg("whatsapp", "441632960003", "Hi, my router blinks red"))
    second = receive(msg("whatsapp", "441632960003", "Hello?"))
    assert second.interaction == first.interaction and second.link_rule == "open_interaction"
    call1 = receive(msg("voice", "+441632960003", "Call about the router"))
    call2 = receive(msg("voice", "+441632960003", "Second call"))
    assert call1.interaction != call2.interaction
    # Both calls name nothing and find the customer's only, recently updated ticket (rule 3).
    assert call1.ticket == call2.ticket == first.ticket
    assert call1.link_rule == "recent_ticket"


def test_a_message_naming_another_reference_starts_a_new_interaction():
    first = receive(msg("email", "x@example.com", "Internet down for ORD-10"))
    other = receive(msg("email", "x@example.com", "Also, invoice wrong for ORD-11"))
    assert other.interaction != first.interaction
    assert other.new_ticket and other.ticket != first.ticket


def test_ticket_number_links_only_for_its_own_customer():
    mine = receive(msg("email", "alice@example.com", "Printer on fire"))
    again = receive(
        msg(
            "sms",
            "+441632960004",
            f"About {mine.ticket}",
            customer_unique_id=Customer.objects.get().unique_id,
        )
    )
    assert (again.ticket, again.link_rule) == (mine.ticket, "ticket_number")
    # Mallory quotes Alice's ticket number: a ticket of Mallory's own, never a write into Alice's.
    intruder = receive(msg("email", "mallory@example.com", f"Re: {mine.ticket} please refund me"))
    assert intruder.ticket != mine.ticket and intruder.new_ticket
    alice_ticket = Ticket.objects.get(pk=int(mine.ticket[2:]))
    assert alice_ticket.cases.count() == 2


def test_thread_headers_find_the_ticket():
    first = receive(msg("email", "carol@example.com", "Hello", provider_message_id="<root@example.com>"))
    Interaction.objects.filter(pk=first.interaction).update(status="closed")
    reply = receive(
        msg(
            "email",
            "carol@example.com",
            "Any news?",
            provider_message_id="<r2@x>",
            thread_ids=["<root@example.com>"],
        )
    )
    assert (reply.ticket, reply.link_rule) == (first.ticket, "ticket_number")


def test_unknown_address_quoting_a_known_order_joins_that_customer():
    receive(msg("voice", "+441632960005", "Internet", customer_unique_id="DEF", reference="ORD-55"))
    result = receive(msg("email", "def.new@example.com", "Status of ORD-55?"))
    assert CustomerIdentity.objects.get(address="def.new@example.com").customer.unique_id == "DEF"
    assert result.link_rule == "reference" and not result.new_ticket


def test_reference_of_another_customer_is_flagged_not_merged():
    receive(msg("voice", "+441632960006", "Order problem", customer_unique_id="GHI", reference="ORD-77"))
    receive(msg("email", "jkl@example.com", "Hi", customer_unique_id="JKL"))
    result = receive(msg("email", "jkl@example.com", "What about ORD-77?"))
    conflict = CustomerConflict.objects.get()
    assert conflict.claimed_customer.unique_id == "GHI" and conflict.identity.customer.unique_id == "JKL"
    ticket = Ticket.objects.get(pk=int(result.ticket[2:]))
    assert ticket.customer.unique_id == "JKL" and ticket.reference is None


def test_follow_up_within_the_reopen_window_reopens(agent):
    first = receive(msg("email", "dan@example.com", "Broken", reference="ORD-90"))
    work_and_close(first.ticket, agent)
    again = receive(msg("email", "dan@example.com", "Broken again, ORD-90"))
    ticket = Ticket.objects.get(pk=int(first.ticket[2:]))
    assert again.ticket == first.ticket and again.link_rule == "reopened"
    assert ticket.status == Status.ASSIGNED and ticket.assignee == agent and ticket.reopen_count == 1


def test_follow_up_after_the_reopen_window_opens_a_linked_ticket(agent):
    first = receive(msg("email", "erin@example.com", "Broken", reference="ORD-91"))
    closed = work_and_close(first.ticket, agent)
    Ticket.objects.filter(pk=closed.pk).update(closed_at=timezone.now() - timedelta(hours=73))
    again = receive(msg("email", "erin@example.com", "Broken again, ORD-91"))
    assert again.new_ticket
    assert Ticket.objects.get(pk=int(again.ticket[2:])).follows_id == closed.pk


def test_customer_reply_moves_pending_back_to_open(agent):
    first = receive(msg("whatsapp", "441632960007", "Help"))
    ticket = Ticket.objects.get(pk=int(first.ticket[2:]))
    transitions.assign(ticket=ticket, actor=None, agent=agent)
    transitions.open_ticket(ticket=ticket, actor=agent.user)
    transitions.pend(ticket=ticket, actor=agent.user, reason="Asked for the router model")
    receive(msg("whatsapp", "441632960007", "It is a TP-Link"))
    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN
    assert ticket.events.filter(kind="customer_reply").count() == 1


def test_premium_customer_starts_high_priority():
    Customer.objects.create(unique_id="VIP1", tier=Customer.Tier.PREMIUM)
    result = receive(msg("email", "boss@example.com", "Login broken", customer_unique_id="VIP1"))
    assert Ticket.objects.get(pk=int(result.ticket[2:])).priority == 2


def test_new_ticket_has_sla_due_times_and_a_created_event():
    result = receive(msg("chat", "session-42", "Hi"))
    ticket = Ticket.objects.get(pk=int(result.ticket[2:]))
    assert ticket.first_response_due > ticket.created_at
    assert ticket.resolution_due > ticket.first_response_due
    assert ticket.events.get().kind == "created"


def test_attachments_are_stored_with_safe_names(tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path
    result = receive(
        msg(
            "email",
            "f@example.com",
            "See attached",
            attachments=[InboundAttachment("../../etc/<script>.png", b"\x89PNG")],
        )
    )
    attachment = Message.objects.get(pk=result.message).attachments.get()
    assert attachment.filename == "_script_.png" and attachment.size == 4
    assert ".." not in attachment.file.name


@pytest.mark.parametrize(
    ("channel", "sender", "cause"),
    [
        ("fax", "+441632960008", "unknown channel"),
        ("sms", "", "no sender"),
        ("sms", "not-a-number", "not a phone number"),
        ("email", "nobody", "not an e-mail address"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_written(channel, sender, cause):
    with pytest.raises(IntakeError, match=cause):
        receive(msg(channel, sender, "Hello"))
    assert not Customer.objects.exists() and not Message.objects.exists() and not Ticket.objects.exists()


def test_failure_midway_leaves_nothing_half_written(monkeypatch):
    from tickets import intake

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(intake, "store_attachment", boom)
    with pytest.raises(RuntimeError):
        receive(msg("email", "g@example.com", "x", attachments=[InboundAttachment("a.txt", b"a")]))
    assert not Customer.objects.exists() and not Ticket.objects.exists() and not Interaction.objects.exists()


def test_agent_factory_sanity(agent):
    # Fixture agents are online members of the front office, used by the tests above.
    assert agent.teams.get().slug == "front-office" and AgentFactory._meta.model is not None


def test_first_message_of_a_new_ticket_is_acknowledged_once_per_ticket():
    first = receive(msg("whatsapp", "447700900401", "Help"))
    receive(msg("whatsapp", "447700900401", "Hello?"))  # same ticket: no second acknowledgement
    acks = Message.objects.filter(direction="out", meta__kind="acknowledgement")
    assert acks.count() == 1
    ack = acks.get()
    assert first.ticket in ack.body and ack.channel == "whatsapp" and ack.delivery_status == "queued"
    assert ack.sender == "+447700900401"


def test_acknowledgements_are_limited_per_sender_and_never_sent_to_automated_mail(settings):
    settings.HELPDESK = {**settings.HELPDESK, "ACK_LIMIT_PER_HOUR": 2}
    for n in range(4):
        receive(msg("email", "flood@example.com", f"Issue {n}", reference=f"ORD-70{n}"))
    receive(
        msg(
            "email", "robot@example.com", "Out of office", meta={"auto_reply": "Auto-Submitted: auto-replied"}
        )
    )
    acks = Message.objects.filter(direction="out", meta__kind="acknowledgement")
    assert acks.filter(sender="flood@example.com").count() == 2
    assert not acks.filter(sender="robot@example.com").exists()


def test_calls_are_not_acknowledged():
    receive(msg("voice", "+447700900402", "Call"))
    assert not Message.objects.filter(direction="out").exists()


@pytest.mark.parametrize(
    "raw, e164",
    [
        ("07700900123", "+447700900123"),  # national, trunk prefix 0, read in the default region (GB)
        ("447700900123", "+447700900123"),  # international without "+" (as WhatsApp sends it)
        ("whatsapp:+447700900123", "+447700900123"),
        ("+44 7700 900123", "+447700900123"),
    ],
)
def test_phone_numbers_normalise_to_e164(raw, e164):
    from tickets.services.customers import normalise_phone

    assert normalise_phone(raw) == e164

import pytest

from tickets.errors import PermissionDenied, ValidationFailed
from tickets.intake import InboundMessage, receive
from tickets.lifecycle import Status
from tickets.models import Message, Note, Ticket
from tickets.services import transitions
from tickets.services.replies import add_note, reply

pytestmark = pytest.mark.django_db


@pytest.fixture
def ticket(agent) -> Ticket:
    result = receive(
        InboundMessage(channel="whatsapp", sender="447700900301", text="No signal", customer_unique_id="R1")
    )
    receive(
        InboundMessage(channel="email", sender="r1@example.com", text="Also by mail", customer_unique_id="R1")
    )
    t = Ticket.objects.get(pk=int(result.ticket[2:]))
    return transitions.assign(ticket=t, actor=None, agent=agent)


def test_reply_queues_an_outbound_message_on_the_latest_channel_and_opens(ticket, agent):
    message = reply(ticket=ticket, actor=agent.user, body="We are on it")
    ticket.refresh_from_db()
    assert message.direction == "out" and message.delivery_status == "queued"
    assert message.channel == "email" and message.sender == "r1@example.com"
    assert ticket.status == Status.OPEN and ticket.first_responded_at is not None
    assert list(ticket.events.values_list("kind", flat=True))[-2:] == ["open", "reply"]


def test_reply_on_another_channel_the_customer_has(ticket, agent):
    message = reply(ticket=ticket, actor=agent.user, body="Hi", channel="whatsapp")
    assert message.channel == "whatsapp" and message.sender == "+447700900301"


def test_reply_refused_without_an_address_body_or_right(ticket, agent, other_agent):
    with pytest.raises(ValidationFailed, match="no SMS address"):
        reply(ticket=ticket, actor=agent.user, body="Hi", channel="sms")
    with pytest.raises(ValidationFailed, match="needs a message"):
        reply(ticket=ticket, actor=agent.user, body="  ")
    with pytest.raises(PermissionDenied):
        reply(ticket=ticket, actor=other_agent.user, body="Not my ticket")
    assert not Message.objects.filter(direction="out").exclude(meta__kind="acknowledgement").exists()


def test_notes_are_for_the_team(ticket, agent, other_agent, back_agent):
    add_note(ticket=ticket, actor=other_agent.user, body="Known outage in the area")
    with pytest.raises(PermissionDenied):
        add_note(ticket=ticket, actor=back_agent.user, body="Not my team")
    assert Note.objects.get().body == "Known outage in the area"

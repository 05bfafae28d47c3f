"""The e-mail typed to start a chat is saved as the customer's e-mail identity (through ``resolve_sender``, like
every address the intake sees), so a later e-mail from it is the same customer; an address that is already
another customer's stays theirs and the clash is flagged as a customer conflict, never merged."""

import uuid

import pytest
from django.core.cache import cache

from tests.factories import CustomerFactory, IdentityFactory
from tickets.intake import InboundMessage, receive
from tickets.models import Customer, CustomerConflict, CustomerIdentity, Interaction, Ticket

pytestmark = pytest.mark.django_db

CHAT, START = "/support/chat/", "/support/chat/start/"


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    cache.clear()
    yield
    cache.clear()


def start(client, email: str, text="My router keeps restarting.") -> Ticket:
    token = client.get(CHAT).context["form"]["token"].value()
    response = client.post(START, {"token": token, "name": "Ada Lovelace", "email": email, "text": text})
    assert response.status_code == 302
    return Ticket.objects.get(channel="chat")


def test_a_new_chat_customers_e_mail_is_their_identity_and_their_later_e_mail_is_theirs(client):
    ticket = start(client, "Ada.L@Example.com")
    customer = ticket.customer
    email = CustomerIdentity.objects.get(channel="email")
    assert email.customer == customer and email.address == "ada.l@example.com"
    assert email.display_name == "Ada Lovelace"

    result = receive(
        InboundMessage(channel="email", sender="Ada <ada.l@example.com>", subject="Router", text="Any news?")
    )
    assert Customer.objects.count() == 1
    assert Interaction.objects.get(pk=result.interaction).customer == customer
    assert not CustomerConflict.objects.exists()


def test_a_known_e_mail_starts_the_chat_as_that_customer_and_adds_nothing(client):
    known = IdentityFactory(address="ada@example.com").customer
    ticket = start(client, "ada@example.com")
    assert ticket.customer == known
    assert CustomerIdentity.objects.filter(channel="email").count() == 1
    assert not CustomerConflict.objects.exists()


def test_another_customers_e_mail_is_never_taken_over_but_flagged():
    owner = IdentityFactory(address="ada@example.com").customer
    chat = IdentityFactory(channel="chat", address=f"chat:{uuid.uuid4()}", customer=CustomerFactory())
    result = receive(
        InboundMessage(channel="chat", sender=chat.address, text="Hello", sender_email="ADA@example.com")
    )
    # The message stays with the chat's customer; the address stays the owner's.
    assert Interaction.objects.get(pk=result.interaction).customer == chat.customer
    assert CustomerIdentity.objects.get(channel="email").customer == owner
    conflict = CustomerConflict.objects.get()
    assert conflict.claimed_customer == owner and conflict.identity == chat
    assert conflict.message_id == result.message
    assert "ada@example.com" in conflict.detail and owner.unique_id in conflict.detail
    assert result.conflicts == 1


def test_an_unreadable_e_mail_in_an_old_payload_does_not_stop_the_chat():
    result = receive(
        InboundMessage(
            channel="chat", sender=f"chat:{uuid.uuid4()}", text="Hi", sender_email="not an address"
        )
    )
    assert result.ticket and not CustomerIdentity.objects.filter(channel="email").exists()


def test_only_the_start_of_a_chat_records_the_e_mail(client):
    start(client, "ada@example.com")
    CustomerIdentity.objects.filter(channel="email").delete()
    token = client.get(CHAT).context["form"]["token"].value()
    client.post("/support/chat/send/", {"token": token, "text": "Still restarting."})
    assert not CustomerIdentity.objects.filter(channel="email").exists()

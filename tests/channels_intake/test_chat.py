"""The customer's live chat (/support/chat/), through the Django test client; agents answer with the reply
service, as the workspace does."""

import re

import pytest
from django.core import signing
from django.core.cache import cache
from django.test import Client

from channels_intake.models import InboundEvent
from channels_intake.portal.services import CHAT_SESSION_KEY
from tests.factories import IdentityFactory
from tickets.intake import InboundMessage, receive
from tickets.models import CustomerIdentity, Message, Ticket
from tickets.services import transitions
from tickets.services.replies import add_note, reply

pytestmark = pytest.mark.django_db

CHAT = "/support/chat/"
START = "/support/chat/start/"
SEND = "/support/chat/send/"
POLL = "/support/chat/messages/"
END = "/support/chat/end/"
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    cache.clear()
    yield
    cache.clear()


def limits(settings, **values):
    settings.HELPDESK = {**settings.HELPDESK, **values}


def start(client, text="My router keeps restarting.", email="ada@example.com", name="Ada") -> Ticket:
    token = client.get(CHAT).context["form"]["token"].value()
    response = client.post(START, {"token": token, "name": name, "email": email, "text": text})
    assert response.status_code == 302 and response.url == CHAT
    return Ticket.objects.get(cases__interaction__identity__address=chat_address(client))


def chat_address(client) -> str:
    value = signing.loads(client.session[CHAT_SESSION_KEY], salt="helpdesk.support.chat")
    return f"chat:{value['id']}"


def send(client, text, **extra):
    token = client.get(CHAT).context["form"]["token"].value()
    return client.post(SEND, {"token": token, "text": text}, **extra)


def version(client) -> str:
    return client.get(CHAT).context["transcript"].version


def answered(ticket, agent, body):
    ticket = transitions.assign(ticket=ticket, actor=None, agent=agent)
    return reply(ticket=ticket, actor=agent.user, body=body)


def test_starting_a_chat_opens_a_ticket_on_the_chat_channel(client):
    page = client.get(CHAT)
    assert page.status_code == 200 and b"Start the chat" in page.content
    ticket = start(client)
    assert ticket.channel == "chat" and ticket.customer.name == "Ada"
    identity = CustomerIdentity.objects.get(customer=ticket.customer, channel="chat")
    assert re.fullmatch(r"chat:[0-9a-f-]{36}", identity.address)
    # The e-mail typed to start it is the customer's e-mail identity as well.
    assert (
        CustomerIdentity.objects.get(customer=ticket.customer, channel="email").address == "ada@example.com"
    )
    event = InboundEvent.objects.get()
    assert event.source == "web_chat" and event.status == "processed"

    html = client.get(CHAT).content.decode()
    assert "My router keeps restarting." in html and ticket.number in html
    # The automatic acknowledgement is the first answer the customer sees.
    assert "An agent will join shortly." in html
    assert 'hx-trigger="every 3s"' in html and 'hx-get="/support/chat/messages/?v=' in html


def test_a_known_e_mail_address_is_the_known_customer(client):
    known = IdentityFactory(address="ada@example.com").customer
    ticket = start(client, email="ADA@example.com")
    assert ticket.customer == known
    assert Message.objects.get(direction="in").meta == {"email": "ADA@example.com"}


def test_a_double_start_is_one_chat_and_one_message(client):
    token = client.get(CHAT).context["form"]["token"].value()
    data = {"token": token, "name": "Ada", "email": "ada@example.com", "text": "Hello?"}
    client.post(START, data)
    client.post(START, data)
    assert Message.objects.filter(direction="in").count() == 1 and Ticket.objects.count() == 1


def test_messages_are_sent_with_and_without_htmx(client):
    ticket = start(client)
    plain = send(client, "Still restarting.")
    assert plain.status_code == 302 and plain.url == CHAT

    response = send(client, "Every ten minutes.", **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    # The form comes back empty with a fresh one-time ID; the transcript is swapped out of band.
    assert '<form id="compose"' in html and 'hx-swap-oob="true"' in html
    assert "Every ten minutes." in html and "Still restarting." in html
    assert re.search(r"<textarea[^>]*>\s*</textarea>", html)
    bodies = list(Message.objects.filter(direction="in").order_by("id").values_list("body", flat=True))
    assert bodies == ["My router keeps restarting.", "Still restarting.", "Every ten minutes."]
    # One interaction on one ticket: the chat is one conversation.
    assert Ticket.objects.count() == 1 and ticket.cases.count() == 1


def test_sending_the_same_message_form_twice_is_a_no_op(client):
    start(client)
    token = client.get(CHAT).context["form"]["token"].value()
    client.post(SEND, {"token": token, "text": "Once"}, **HTMX)
    client.post(SEND, {"token": token, "text": "Once"}, **HTMX)
    assert Message.objects.filter(body="Once").count() == 1


def test_an_empty_message_is_refused_with_the_reason(client):
    start(client)
    response = send(client, "   ", **HTMX)
    assert response.status_code == 422
    assert "This field is required." in response.content.decode()
    assert InboundEvent.objects.count() == 1


def test_the_agents_reply_appears_on_the_next_poll(client, agent):
    ticket = start(client)
    before = version(client)
    assert client.get(POLL, {"v": before}).status_code == 204

    message = answered(ticket, agent, "Hello Ada, I am looking at your line now.")
    response = client.get(POLL, {"v": before}, **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Hello Ada, I am looking at your line now." in html
    assert f'hx-get="/support/chat/messages/?v={version(client)}"' in html
    # Nothing to send it through: the customer's page showed it, so it is delivered.
    message.refresh_from_db()
    assert message.delivery_status == "delivered"
    assert client.get(POLL, {"v": version(client)}).status_code == 204


def test_another_session_cannot_read_the_chat(client, agent):
    ticket = start(client, text="My account number is ACC-991")
    answered(ticket, agent, "Thanks, I see your account.")

    stranger = Client()
    poll = stranger.get(POLL, **HTMX)
    assert poll.status_code == 286 and b"This chat has ended" in poll.content
    page = stranger.get(CHAT).content.decode()
    assert "ACC-991" not in page and "I see your account" not in page
    assert stranger.post(SEND, {"token": "x", "text": "hi"}).status_code == 302

    # Another customer's own chat shows only their own messages.
    start(stranger, text="Where is my parcel?", email="grace@example.com", name="Grace")
    page = stranger.get(CHAT).content.decode()
    assert "Where is my parcel?" in page and "ACC-991" not in page and "I see your account" not in page

    # A session value that was not signed by us is no chat at all.
    session = stranger.session
    session[CHAT_SESSION_KEY] = signing.dumps({"id": "x", "name": "", "email": ""}, salt="another salt")
    session.save()
    assert stranger.get(POLL).status_code == 286


def test_only_the_chat_itself_is_shown_never_notes_or_other_channels(client, agent, other_agent):
    IdentityFactory(address="ada@example.com")
    ticket = start(client)
    answered(ticket, agent, "Visible answer")
    add_note(ticket=ticket, actor=other_agent.user, body="Internal: customer sounds upset")
    # The same customer's e-mail about the same issue joins the ticket but is not part of the chat.
    receive(InboundMessage(channel="email", sender="ada@example.com", text="Private e-mail thread"))
    assert Ticket.objects.count() == 1 and ticket.cases.count() == 2

    html = client.get(POLL).content.decode()
    assert "Visible answer" in html and "My router keeps restarting." in html
    assert "Internal" not in html and "Private e-mail thread" not in html


def test_customer_supplied_markup_is_escaped(client):
    start(client, name="<b>Ada</b>")
    send(client, "<script>alert('x')</script>", **HTMX)
    html = client.get(CHAT).content.decode()
    assert "<script>alert" not in html and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html
    assert "<b>Ada</b>" not in html and "&lt;b&gt;Ada&lt;/b&gt;" in html


def test_over_the_rate_limit_the_message_is_kept_with_a_429(client, settings):
    limits(settings, SUPPORT_CHAT_RATE="3/m")
    start(client)  # the first message counts
    assert send(client, "Two", **HTMX).status_code == 200
    assert send(client, "Three", **HTMX).status_code == 200
    response = send(client, "Four, please keep me", **HTMX)
    html = response.content.decode()
    assert response.status_code == 429
    assert "Please wait a moment" in html and "Four, please keep me" in html
    assert not Message.objects.filter(body__startswith="Four").exists()
    assert send(client, "Five").status_code == 429


def test_starting_chats_is_rate_limited_per_address(settings):
    limits(settings, SUPPORT_CHAT_START_RATE="1/10m")
    start(Client(REMOTE_ADDR="198.51.100.1"))
    again = Client(REMOTE_ADDR="198.51.100.2")
    token = again.get(CHAT).context["form"]["token"].value()
    data = {"token": token, "name": "Ada", "email": "ada@example.com", "text": "Hello again"}
    response = again.post(START, data)
    assert response.status_code == 429 and b"Hello again" in response.content
    assert Ticket.objects.count() == 1


def test_csrf_is_enforced_on_chat_messages():
    browser = Client(enforce_csrf_checks=True)
    token = browser.get(CHAT).context["form"]["token"].value()
    data = {"token": token, "name": "Ada", "email": "ada@example.com", "text": "Hello"}
    assert browser.post(START, data).status_code == 403
    assert not InboundEvent.objects.exists()
    data["csrfmiddlewaretoken"] = browser.cookies["csrftoken"].value
    assert browser.post(START, data).status_code == 302


def test_ending_the_chat_stops_the_polling(client):
    start(client)
    response = client.post(END, follow=True)
    assert b"The chat has ended" in response.content and b"Start the chat" in response.content
    assert client.get(POLL, **HTMX).status_code == 286


def test_the_chat_page_fits_the_csp(client):
    start(client)
    response = client.get(CHAT)
    html = response.content.decode()
    assert " style=" not in html and "<style" not in html and "hx-on" not in html
    assert all("src=" in tag for tag in re.findall(r"<script[^>]*>", html))
    assert 'aria-live="polite"' in html and '<label for="id_text">' in html

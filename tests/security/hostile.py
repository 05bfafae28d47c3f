"""A customer who types markup into everything: the data the stored-XSS tests render on every page.

Built through the real doors: a raw e-mail through the MTA webhook (display name, subject, text, HTML part,
attachment file name), the web form and the live chat under /support/ (names, reference, message), and the
intake contract for what a provider payload can carry (a social sender's address, a unique ID, a reference).
"""

from __future__ import annotations

from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage

from django.core.cache import cache
from django.test import Client

from tickets.intake import InboundMessage, receive
from tickets.models import Customer, Ticket
from tickets.services import transitions

# Breaks out of text (script), out of an attribute ("><img …) and out of a URL (javascript:).
SCRIPT = "<script>alert('xss')</script>"
TAG = '"><img src=x onerror=alert(1)>'
PAYLOAD = f"{SCRIPT}{TAG}"
# What must never appear unescaped in a page.
RAW = ("<script>alert(", "<img src=x onerror")
# How Django writes PAYLOAD's pieces when it escapes them.
ESCAPED = ("&lt;script&gt;alert(", "&lt;img src=x onerror=alert(1)&gt;")
INTAKE_TOKEN = "hostile-test-token"


@dataclass
class Hostile:
    tickets: list[Ticket]
    customers: list[Customer]
    chat_client: Client  # the customer's own browser session of the chat


def raw_email() -> bytes:
    msg = EmailMessage()
    msg["From"] = Address(display_name=PAYLOAD, addr_spec="mallory@example.com")
    msg["To"] = "support@helpdesk.localhost"
    msg["Subject"] = f"Subject {PAYLOAD}"
    msg["Message-ID"] = "<hostile-1@example.com>"
    msg.set_content(f"Body {PAYLOAD}")
    msg.add_alternative(
        f"<p>Html body</p>{SCRIPT}<img src=x onerror=alert(1)><a href='javascript:alert(1)'>x</a>",
        subtype="html",
    )
    msg.add_attachment(b"%PDF-1.4 x", maintype="application", subtype="pdf", filename=f"{TAG}.pdf")
    return msg.as_bytes()


def build(settings, *, assign_to=None) -> Hostile:
    settings.INTAKE_TOKEN = INTAKE_TOKEN
    cache.clear()  # the /support/ rate limits
    web = Client()
    response = web.post(
        "/intake/email/raw/",
        raw_email(),
        content_type="message/rfc822",
        HTTP_AUTHORIZATION=f"Bearer {INTAKE_TOKEN}",
    )
    assert response.status_code == 200, response.content

    form = Client()
    token = form.get("/support/contact/").context["form"]["token"].value()
    response = form.post(
        "/support/contact/",
        {
            "token": token,
            "name": f"Form {PAYLOAD}",
            "email": "form@example.com",
            "reference": "ORD-4711",
            "message": f"Form {PAYLOAD}",
        },
    )
    assert response.status_code == 302, response.content

    chat = Client()
    token = chat.get("/support/chat/").context["form"]["token"].value()
    response = chat.post(
        "/support/chat/start/",
        {"token": token, "name": f"Chat {PAYLOAD}", "email": "chat@example.com", "text": f"Chat {PAYLOAD}"},
    )
    assert response.status_code == 302, response.content

    receive(
        InboundMessage(
            channel="social",
            sender=f"messenger:{TAG}",
            sender_name=f"Social {PAYLOAD}",
            text=f"Social {PAYLOAD}",
            customer_unique_id=TAG,  # no "/": it is part of the customer page's URL
            reference=f"ORD-1{TAG}",
            provider_message_id="hostile-social-1",
        )
    )
    tickets = list(Ticket.objects.order_by("pk"))
    assert len(tickets) == 4, tickets
    if assign_to is not None:
        tickets = [
            transitions.assign(ticket=t, actor=None, agent=assign_to, reason="the XSS test") for t in tickets
        ]
    return Hostile(tickets=tickets, customers=list(Customer.objects.order_by("pk")), chat_client=chat)


def unescaped(html: str) -> list[str]:
    return [r for r in RAW if r in html]

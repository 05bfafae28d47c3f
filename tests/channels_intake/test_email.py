"""Inbound e-mail: the raw pipe (``/intake/email/raw/``), the parser, and anymail's inbound signal."""

import json
import re
from base64 import b64encode
from pathlib import Path

import pytest
from anymail.inbound import AnymailInboundMessage
from anymail.signals import AnymailInboundEvent, EventType, inbound
from django.urls import include, path
from django.utils import timezone

from channels_intake import anymail_inbound
from channels_intake.adapters.email import html_to_text, parse, read_message
from channels_intake.models import InboundEvent
from tests.factories import IdentityFactory, TicketFactory
from tickets.intake import DeliveryReceipt, Ignored
from tickets.models import Attachment, Case, Customer, CustomerIdentity, Interaction, Message, Ticket

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).parent / "fixtures" / "email"
URL = "/intake/email/raw/"
TOKEN = "s3cret-intake-token"

# ROOT_URLCONF for the end-to-end test through anymail's own webhook views.
urlpatterns = [path("anymail/", include("anymail.urls")), path("intake/", include("channels_intake.urls"))]


def eml(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def mail(headers: dict, body: str = "Hello, my internet is down.") -> bytes:
    headers = {
        "From": "Zoe <zoe@example.com>",
        "To": "support@helpdesk.localhost",
        "Subject": "Help",
        "Date": "Tue, 03 Mar 2026 09:00:00 +0000",
        "Message-ID": "<zoe-1@example.com>",
        **headers,
    }
    lines = [f"{k}: {v}" for k, v in headers.items() if v is not None]
    return ("\r\n".join(lines) + "\r\n\r\n" + body + "\r\n").encode()


def received():
    """Inbound messages (a new ticket also queues an outbound acknowledgement)."""
    return Message.objects.filter(direction=Message.Direction.INBOUND)


def stored(attachment: Attachment) -> bytes:
    with attachment.file.open("rb") as f:
        return f.read()


def post(client, raw: bytes, token: str | None = TOKEN, **headers):
    if token is not None:
        headers.setdefault("Authorization", f"Bearer {token}")
    return client.post(URL, data=raw, content_type="message/rfc822", headers=headers)


@pytest.fixture(autouse=True)
def intake_token(settings):
    settings.INTAKE_TOKEN = TOKEN
    settings.HELPDESK_FROM_EMAIL = "Help desk <support@helpdesk.localhost>"


# The raw pipe ---------------------------------------------------------------------------------------------


def test_a_plain_message_opens_an_interaction_a_case_and_a_ticket(client):
    response = post(client, eml("plain.eml"))

    assert response.status_code == 200, response.content
    event = InboundEvent.objects.get(pk=response.json()["event"])
    assert (event.source, event.channel, event.status) == ("email_raw", "email", "processed")
    assert event.payload_bytes == eml("plain.eml")  # stored exactly as received
    ticket = Ticket.objects.get()
    assert ticket.subject == "Internet not working"
    assert ticket.channel == "email"
    assert Interaction.objects.get().channel == "email"
    case = Case.objects.get()
    assert case.ticket == ticket and case.link_rule == Case.LinkRule.NEW_TICKET
    message = received().get()
    assert message.provider_message_id == "<plain-1@mail.example.com>"
    assert message.sender == "alice@example.com"  # lower-cased identity
    assert message.subject == "Internet not working"
    assert "down since this morning" in message.body and "Grüße" in message.body
    assert message.sent_at.isoformat() == "2026-03-03T08:15:00+00:00"
    assert CustomerIdentity.objects.get(address="alice@example.com").display_name == "Alice Example"
    assert event.result["messages"][0]["ticket"] == ticket.number


def test_the_same_message_five_times_is_one_message(client):
    statuses = [post(client, eml("plain.eml")).json()["status"] for _ in range(5)]

    assert statuses == ["processed"] + ["duplicate"] * 4
    assert received().count() == 1 and Ticket.objects.count() == 1
    assert InboundEvent.objects.count() == 5  # every delivery is logged


def test_a_thread_of_three_replies_stays_one_interaction_and_one_ticket(client):
    for name in ("thread_1.eml", "thread_2.eml", "thread_3.eml"):
        assert post(client, eml(name)).status_code == 200

    assert Interaction.objects.count() == 1 and Case.objects.count() == 1 and Ticket.objects.count() == 1
    last = received().get(provider_message_id="<thread-3@example.com>")
    assert last.meta["thread_ids"] == ["<thread-2@example.com>", "<thread-1@example.com>"]
    assert received().filter(interaction=Interaction.objects.get()).count() == 3


def test_in_reply_to_links_a_reply_from_another_address_of_the_customer_to_its_ticket(client):
    post(client, eml("thread_1.eml"))
    first = Ticket.objects.get()
    erin = first.customer
    TicketFactory(customer=erin, subject="Another open issue")  # rule 3 cannot decide: two open tickets
    IdentityFactory(customer=erin, address="erin@work.example")

    raw = mail(
        {
            "From": "Erin <erin@work.example>",
            "Subject": "Re: No dial tone",
            "Message-ID": "<erin-work-1@work.example>",
            "In-Reply-To": "<thread-1@example.com>",
        }
    )
    assert post(client, raw).status_code == 200

    message = received().get(provider_message_id="<erin-work-1@work.example>")
    case = message.interaction.case
    assert case.ticket == first and case.link_rule == Case.LinkRule.TICKET_NUMBER


def test_a_ticket_number_quoted_by_another_customer_does_not_join_that_ticket(client):
    post(client, eml("plain.eml"))
    ticket = Ticket.objects.get()
    mallory = IdentityFactory(address="mallory@evil.example")  # a known, different customer

    raw = mail(
        {
            "From": "Mallory <mallory@evil.example>",
            "Subject": f"Re: [{ticket.number}] Internet not working",
            "Message-ID": "<mallory-1@evil.example>",
            "In-Reply-To": "<plain-1@mail.example.com>",
            "References": "<plain-1@mail.example.com>",
        },
        body=f"Please add me to {ticket.number}.",
    )
    assert post(client, raw).status_code == 200

    assert ticket.cases.count() == 1
    other = Ticket.objects.exclude(pk=ticket.pk).get()
    assert other.customer == mallory.customer
    case = other.cases.get()
    assert case.link_rule == Case.LinkRule.NEW_TICKET
    assert ticket.number in case.link_detail and "another customer" in case.link_detail


def test_html_is_kept_only_sanitised(client):
    assert post(client, eml("html_alternative.eml")).status_code == 200

    message = received().get()
    html = message.meta["html"]
    assert "<b>invoice</b>" in html
    assert "<script" not in html.lower() and "document.cookie" not in html
    assert not re.search(r"\son\w+\s*=", html, re.IGNORECASE)  # no onerror=, onclick=, onload=…
    assert "javascript:" not in html.lower()
    assert message.body.strip() == "Why is my invoice twice the usual amount?"  # the text/plain part


def test_an_html_only_message_is_read_as_text(client):
    assert post(client, eml("html_only.eml")).status_code == 200

    message = received().get()
    assert (
        message.body
        == "The router shows a red light.\n\n- Power: on\n\n- WAN: off\n\nCafé & more\nsecond line"
    )
    assert "<script" not in message.meta["html"] and "ignored title" not in message.meta["html"]


@pytest.mark.parametrize("name", ["outlook_oof.eml", "dsn_bounce.eml"])
def test_auto_replies_and_bounces_open_no_ticket(client, name):
    response = post(client, eml(name))

    assert response.status_code == 200
    event = InboundEvent.objects.get()
    assert event.status == "processed" and event.payload_bytes == eml(name)
    assert not Ticket.objects.exists() and not Message.objects.exists() and not Customer.objects.exists()


def test_a_bounce_marks_our_outbound_reply_failed(client):
    ticket = TicketFactory()
    interaction = ticket.cases.get().interaction
    reply = Message.objects.create(
        interaction=interaction,
        channel="email",
        direction=Message.Direction.OUTBOUND,
        sender="support@helpdesk.localhost",
        body="We are on it.",
        provider_message_id="<outbound-1@helpdesk.localhost>",
        delivery_status=Message.DeliveryStatus.SENT,
        sent_at=timezone.now(),
    )

    response = post(client, eml("dsn_bounce.eml"))

    assert response.status_code == 200
    reply.refresh_from_db()
    assert reply.delivery_status == "failed"
    assert "5.1.1" in reply.error and "Recipient address rejected" in reply.error
    event = InboundEvent.objects.get()
    assert event.result == {
        "messages": [{"receipt": "<outbound-1@helpdesk.localhost>", "matched": True, "status": "failed"}]
    }
    assert Ticket.objects.count() == 1 and Message.objects.count() == 2


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"Auto-Submitted": "auto-replied"}, "Auto-Submitted: auto-replied"),
        ({"Auto-Submitted": "auto-generated; owner-email=x@example.com"}, "Auto-Submitted"),
        ({"Precedence": "bulk"}, "Precedence: bulk"),
        ({"Precedence": "junk"}, "Precedence: junk"),
        ({"Precedence": "list"}, "Precedence: list"),
        ({"X-Autoreply": "yes"}, "X-Autoreply"),
        ({"X-Autorespond": "Out of office"}, "X-Autorespond"),
        ({"X-Auto-Response-Suppress": "DR, OOF"}, "X-Auto-Response-Suppress"),
        ({"X-Auto-Response-Suppress": "All"}, "X-Auto-Response-Suppress"),
        ({"From": "Support <SUPPORT@helpdesk.localhost>"}, "own address"),
    ],
)
def test_automatic_mail_is_recognised_with_its_reason(headers, reason):
    msg = read_message(mail(headers))
    assert reason in msg.meta["auto_reply"]
    [ignored] = parse(_event(mail(headers)))
    assert isinstance(ignored, Ignored) and reason in ignored.reason


@pytest.mark.parametrize(
    "headers",
    [{"Auto-Submitted": "no"}, {"X-Auto-Response-Suppress": "DR, RN"}, {"Precedence": "first-class"}, {}],
)
def test_ordinary_mail_is_not_mistaken_for_an_auto_reply(client, headers):
    assert "auto_reply" not in read_message(mail(headers)).meta
    assert post(client, mail(headers)).status_code == 200
    assert Ticket.objects.count() == 1


@pytest.mark.parametrize("returned", ["text/rfc822-headers", "message/rfc822"])
def test_a_bounce_is_read_as_a_delivery_receipt_for_the_original(returned):
    raw = eml("dsn_bounce.eml").replace(
        b"Content-Type: text/rfc822-headers", f"Content-Type: {returned}".encode()
    )
    msg = read_message(raw)
    assert msg.meta["bounce"] is True
    assert msg.meta["bounce_of"] == "<outbound-1@helpdesk.localhost>"
    [receipt] = parse(_event(raw))
    assert receipt == DeliveryReceipt(
        channel="email",
        provider_message_id="<outbound-1@helpdesk.localhost>",
        status="failed",
        error=msg.meta["bounce_status"] + " " + msg.meta["bounce_diagnostic"],
    )


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, "missing or wrong bearer token"),
        ({"Authorization": "Bearer wrong-token"}, "missing or wrong bearer token"),
        ({"Authorization": f"Basic {b64encode(TOKEN.encode()).decode()}"}, "missing or wrong bearer token"),
        ({"Authorization": f"Bearer {TOKEN}x"}, "missing or wrong bearer token"),
    ],
)
def test_a_wrong_or_missing_token_is_refused_and_nothing_stored(client, headers, expected):
    response = post(client, eml("plain.eml"), token=None, **headers)

    assert response.status_code == 403
    assert response.json()["error"] == expected
    assert not InboundEvent.objects.exists() and not Message.objects.exists()


def test_without_an_intake_token_setting_every_request_is_refused(client, settings):
    settings.INTAKE_TOKEN = ""
    for token in ("", "anything"):
        response = post(client, eml("plain.eml"), token=token)
        assert response.status_code == 403
        assert "INTAKE_TOKEN is not set" in response.json()["error"]
    assert not InboundEvent.objects.exists()


def test_only_post_is_allowed(client):
    assert client.get(URL, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 405
    assert not InboundEvent.objects.exists()


def test_a_body_over_the_webhook_limit_is_refused_with_413(client, settings):
    settings.HELPDESK = {**settings.HELPDESK, "MAX_WEBHOOK_BYTES": 200}

    response = post(client, eml("plain.eml"))

    assert response.status_code == 413
    assert not InboundEvent.objects.exists()


@pytest.mark.parametrize("raw", [b"", b"   \r\n", b"just some words, no headers at all"])
def test_a_payload_that_is_not_a_message_is_a_400_and_kept(client, raw):
    response = post(client, raw)

    assert response.status_code == 400
    event = InboundEvent.objects.get()
    assert event.status == "failed" and event.error.startswith("unreadable payload: ")
    assert not Message.objects.exists()


def test_an_unknown_charset_is_accepted_and_decoded_as_far_as_possible(client):
    assert post(client, eml("unknown_charset.eml")).status_code == 200

    message = received().get()
    assert "Bitte prüfen." in message.body  # the UTF-8 that is there
    assert "gest\ufffdrt" in message.body  # the byte that is not, replaced
    assert "\x00" not in message.body
    assert "im Netz" in message.subject
    assert message.meta["unknown_charsets"] == ["x-unknown"]
    assert message.sender == "joerg@example.de"
    assert Ticket.objects.count() == 1


def test_broken_mime_boundaries_are_accepted_with_what_can_be_read(client):
    assert post(client, eml("malformed.eml")).status_code == 200

    message = received().get()
    assert "The modem keeps rebooting every ten minutes." in message.body
    assert "StartBoundaryNotFoundDefect" in message.meta["mime_defects"]
    assert message.meta["unreadable_date"] == "someday soon"
    assert abs((timezone.now() - message.sent_at).total_seconds()) < 60  # no usable Date: now


def test_a_truncated_message_with_broken_base64_keeps_its_parts(client, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    assert post(client, eml("malformed_truncated.eml")).status_code == 200

    message = received().get()
    assert message.body == "The line is noisy."
    assert message.meta["html"] == "<p>The line is noisy.</p>"
    attachment = message.attachments.get()
    assert attachment.filename == "scan.pdf" and stored(attachment) == b"%PDF-1.4\n"


def test_attachments_are_stored_under_a_safe_name(client, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    assert post(client, eml("attachment.eml")).status_code == 200

    attachments = {a.filename: a for a in Attachment.objects.all()}
    assert set(attachments) == {"evil.sh", "attachment-2.png"}
    evil = attachments["evil.sh"]
    assert evil.content_type == "application/x-sh" and evil.size == 19
    assert stored(evil) == b"#!/bin/sh\nrm -rf /\n"
    assert ".." not in evil.file.name and Path(evil.file.path).resolve().is_relative_to(tmp_path.resolve())
    assert attachments["attachment-2.png"].content_type == "image/png"
    assert received().get().body.startswith("Please find the script")


def test_an_attachment_over_the_limit_is_skipped_and_recorded(client, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.HELPDESK = {**settings.HELPDESK, "MAX_ATTACHMENT_BYTES": 10}

    assert post(client, eml("attachment.eml")).status_code == 200

    message = received().get()
    assert [a.filename for a in message.attachments.all()] == ["attachment-2.png"]  # 8 bytes
    assert message.meta["skipped_attachments"] == [
        {
            "filename": "evil.sh",
            "content_type": "application/x-sh",
            "size": 19,
            "reason": "larger than 10 bytes",
        }
    ]


def test_a_message_without_message_id_gets_a_stable_id_and_still_dedupes(client):
    for _ in range(3):
        assert post(client, eml("no_message_id.eml")).status_code == 200

    message = received().get()
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", message.provider_message_id)
    assert message.meta["message_id_generated"] is True


def test_a_text_over_the_message_limit_is_cut_not_refused(client, settings):
    settings.HELPDESK = {**settings.HELPDESK, "MAX_MESSAGE_CHARS": 20}
    assert post(client, eml("plain.eml")).status_code == 200

    message = received().get()
    assert message.body == "Hello,\n\nmy internet "
    assert message.meta["text_truncated_from"] > 20


def test_ticket_numbers_in_the_subject_become_hints():
    msg = read_message(mail({"Subject": "Re: [T-000123] and t-7, not XT-9"}))
    assert msg.ticket_hints == ["T-000123", "T-000007"]


def test_a_future_date_is_not_trusted():
    msg = read_message(mail({"Date": "Tue, 03 Mar 2099 09:00:00 +0000"}))
    assert abs((timezone.now() - msg.sent_at).total_seconds()) < 60
    assert msg.meta["future_date"].startswith("2099-03-03")


def test_html_to_text_drops_markup_scripts_and_styles():
    html = "<style>p{}</style><h1>Title</h1><p>One&nbsp;two<br/>three</p><script>x()</script><table><tr><td>a</td><td>b</td></tr></table>"
    assert html_to_text(html) == "Title\n\nOne two\nthree\n\na b"


# anymail's inbound signal ---------------------------------------------------------------------------------


@pytest.fixture
def anymail_receiver():
    """The receiver connected for the test (and left as it was: the app may connect it in ready())."""
    was_connected = inbound.disconnect(dispatch_uid=anymail_inbound.DISPATCH_UID)
    anymail_inbound.connect()
    yield
    if not was_connected:
        inbound.disconnect(dispatch_uid=anymail_inbound.DISPATCH_UID)


def send_inbound(message: AnymailInboundMessage, event_id: str | None = "evt-1", esp_name: str = "Mailgun"):
    event = AnymailInboundEvent(
        event_type=EventType.INBOUND, event_id=event_id, esp_event={}, message=message
    )
    inbound.send(sender=object, event=event, esp_name=esp_name)


def test_anymail_inbound_feeds_the_same_parser(anymail_receiver, client):
    send_inbound(AnymailInboundMessage.parse_raw_mime_bytes(eml("thread_1.eml")))

    event = InboundEvent.objects.get()
    assert (event.source, event.channel, event.status) == ("email_raw", "email", "processed")
    assert event.content_type == "message/rfc822"
    assert event.headers == {"X-Anymail-ESP": "Mailgun", "X-Anymail-Event-ID": "evt-1"}
    message = received().get()
    assert message.provider_message_id == "<thread-1@example.com>" and message.sender == "erin@example.com"

    # The ESP retries: a duplicate. Then a reply through the raw pipe joins the same interaction.
    send_inbound(AnymailInboundMessage.parse_raw_mime_bytes(eml("thread_1.eml")))
    assert InboundEvent.objects.order_by("-id").first().status == "duplicate"
    post(client, eml("thread_2.eml"))
    assert received().count() == 2 and Interaction.objects.count() == 1 and Ticket.objects.count() == 1


def test_anymail_parsed_messages_without_message_id_still_dedupe(anymail_receiver):
    def constructed():
        # What anymail builds from an ESP's parsed fields: no boundaries, no Message-ID.
        return AnymailInboundMessage.construct(
            from_email="Kim <kim@example.com>",
            to="support@helpdesk.localhost",
            subject="Parsed by the ESP",
            text="Hello from Kim",
            html="<p>Hello <img src=x onerror=alert(1)>from Kim</p>",
            attachments=[
                AnymailInboundMessage.construct_attachment("text/plain", "notes", filename="notes.txt")
            ],
        )

    send_inbound(constructed(), event_id=None)
    send_inbound(constructed(), event_id=None)

    assert InboundEvent.objects.count() == 2
    message = received().get()
    assert message.provider_message_id.startswith("sha256:")
    assert message.body == "Hello from Kim"
    assert "onerror" not in message.meta["html"]
    assert [a.filename for a in message.attachments.all()] == ["notes.txt"]


def test_anymail_auto_replies_open_no_ticket(anymail_receiver):
    send_inbound(AnymailInboundMessage.parse_raw_mime_bytes(eml("outlook_oof.eml")))
    assert InboundEvent.objects.get().status == "processed"
    assert not Ticket.objects.exists()


def test_end_to_end_through_anymails_postmark_webhook(anymail_receiver, client, settings):
    settings.ROOT_URLCONF = __name__
    settings.ANYMAIL = {"WEBHOOK_SECRET": "esp:hook-password"}
    payload = {
        "MessageID": "pm-22c2a8a1",
        "FromFull": {"Email": "alice@example.com", "Name": "Alice Example"},
        "RawEmail": eml("plain.eml").decode(),
    }
    auth = "Basic " + b64encode(b"esp:hook-password").decode()

    refused = client.post("/anymail/postmark/inbound/", json.dumps(payload), content_type="application/json")
    assert refused.status_code == 400 and not InboundEvent.objects.exists()  # anymail: no basic auth
    response = client.post(
        "/anymail/postmark/inbound/",
        json.dumps(payload),
        content_type="application/json",
        headers={"Authorization": auth},
    )

    assert response.status_code == 200
    event = InboundEvent.objects.get()
    assert event.headers == {"X-Anymail-ESP": "Postmark", "X-Anymail-Event-ID": "pm-22c2a8a1"}
    assert received().get().provider_message_id == "<plain-1@mail.example.com>"
    assert Ticket.objects.count() == 1


def _event(raw: bytes) -> InboundEvent:
    return InboundEvent(source="email_raw", channel="email", payload=raw)

"""Outbound e-mail through a real SMTP server on 127.0.0.1 (aiosmtpd), threaded into the customer's mail."""

import email
import socket
from email.policy import default

import pytest
from aiosmtpd.controller import Controller

from channels_intake.outbound.delivery import deliver
from tickets.intake import InboundMessage, receive
from tickets.models import Message, Ticket
from tickets.services import transitions
from tickets.services.replies import reply

pytestmark = pytest.mark.django_db


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content, policy=default))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp(settings):
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": port, "timeout": 5},
        }
    }
    settings.HELPDESK_FROM_EMAIL = "support@helpdesk.test"
    yield inbox
    controller.stop()


def test_reply_reaches_the_smtp_server_in_the_customers_thread(smtp, agent):
    first = receive(
        InboundMessage(
            channel="email",
            sender="cust@example.com",
            subject="Router broken",
            text="Help",
            provider_message_id="<cust-1@example.com>",
        )
    )
    ticket = transitions.assign(ticket=Ticket.objects.get(pk=int(first.ticket[2:])), actor=None, agent=agent)
    ack = Message.objects.get(direction="out", meta__kind="acknowledgement")
    answer = reply(ticket=ticket, actor=agent.user, body="Please restart it.")

    assert deliver(ack.pk) == "sent" and deliver(answer.pk) == "sent"
    assert deliver(answer.pk) == "already handled"  # a redelivered task never sends twice
    assert len(smtp.messages) == 2
    ack_mail, sent = smtp.messages
    assert ack_mail["Auto-Submitted"] == "auto-replied"
    assert sent["In-Reply-To"] == "<cust-1@example.com>"
    assert ticket.number in sent["Subject"] and sent["To"] == "cust@example.com"
    answer.refresh_from_db()
    assert answer.delivery_status == "sent" and answer.provider_message_id == sent["Message-ID"]

    # The customer answers our mail: it threads back to the same ticket.
    back = receive(
        InboundMessage(
            channel="email",
            sender="cust@example.com",
            text="Done, still broken",
            provider_message_id="<cust-2@example.com>",
            thread_ids=[sent["Message-ID"]],
        )
    )
    assert back.ticket == ticket.number


def test_a_reply_carries_its_attachments_to_the_customer(smtp, agent, settings, tmp_path):
    from tickets.services.attachments import store_attachment

    settings.MEDIA_ROOT = tmp_path
    first = receive(
        InboundMessage(
            channel="email", sender="cust@example.com", text="Invoice?", provider_message_id="<a-1@x>"
        )
    )
    ticket = transitions.assign(ticket=Ticket.objects.get(pk=int(first.ticket[2:])), actor=None, agent=agent)
    answer = reply(ticket=ticket, actor=agent.user, body="Attached.")
    store_attachment(
        message=answer, filename="invoice.pdf", content=b"%PDF-1.4 x", content_type="application/pdf"
    )

    assert deliver(answer.pk) == "sent"
    sent = smtp.messages[-1]
    files = [(p.get_filename(), p.get_content_type(), p.get_content()) for p in sent.iter_attachments()]
    assert files == [("invoice.pdf", "application/pdf", b"%PDF-1.4 x")]


def test_unreachable_server_schedules_a_retry_then_gives_up(settings, agent):
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": free_port(), "timeout": 2},
        }
    }
    receive(InboundMessage(channel="email", sender="c2@example.com", text="Hi"))
    ack = Message.objects.get(direction="out")
    from django_q.models import Schedule

    assert deliver(ack.pk) == "retry scheduled"
    ack.refresh_from_db()
    assert (ack.delivery_status, ack.meta["attempts"]) == ("queued", 1) and ack.error
    assert (
        Schedule.objects.filter(func="channels_intake.tasks.deliver_message", args=str(ack.pk)).count() == 1
    )
    for _ in range(4):
        deliver(ack.pk)
    ack.refresh_from_db()
    assert ack.delivery_status == "failed" and "gave up after 5 attempts" in ack.error


def test_channels_without_a_sender_fail_with_the_reason_and_chat_is_shown_on_its_page():
    receive(InboundMessage(channel="sms", sender="+447700900700", text="Hi"))
    receive(InboundMessage(channel="chat", sender="session-7", text="Hi"))
    sms, chat = Message.objects.filter(direction="out").order_by("channel").reverse()
    assert deliver(sms.pk) == "failed"
    sms.refresh_from_db()
    assert "no sender is configured for SMS" in sms.error
    assert deliver(chat.pk) == "sent"

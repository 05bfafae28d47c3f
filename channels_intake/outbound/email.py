"""E-mail replies through Django's mailers (SMTP, or an anymail ESP backend), in the customer's thread.

``In-Reply-To`` names the customer's latest e-mail in the ticket, ``References`` the whole thread, and our own
``Message-ID`` is stored as the message's provider ID, so the customer's answer threads back to the ticket.
"""

from __future__ import annotations

import smtplib

from django.conf import settings
from django.core.mail import EmailMessage, make_msgid

from channels_intake.outbound.base import PermanentFailure, SendResult, TemporaryFailure
from tickets.models import Message


def thread_of(message: Message) -> tuple[list[str], str]:
    """(Message-IDs of the ticket's earlier e-mails oldest first, the customer's latest one)."""
    ticket_id = message.interaction.case.ticket_id
    earlier = (
        Message.objects.filter(
            channel="email", interaction__case__ticket_id=ticket_id, sent_at__lte=message.sent_at
        )
        .exclude(pk=message.pk)
        .filter(provider_message_id__startswith="<")
        .order_by("sent_at", "id")
        .values_list("provider_message_id", "direction")
    )
    ids = [pid for pid, _ in earlier]
    inbound = [pid for pid, direction in earlier if direction == Message.Direction.INBOUND]
    return ids, (inbound[-1] if inbound else (ids[-1] if ids else ""))


def send(message: Message) -> SendResult:
    sender = settings.HELPDESK_FROM_EMAIL
    domain = sender.rsplit("@", 1)[-1] or None
    message_id = make_msgid(domain=domain)
    thread, answering = thread_of(message)
    headers = {"Message-ID": message_id}
    if message.meta.get("kind"):
        # An automatic message (acknowledgement) says so, so other systems don't answer it (RFC 3834).
        headers["Auto-Submitted"] = "auto-replied"
    if answering:
        # We answer the customer's latest mail; References carries the whole thread for mail clients.
        headers["In-Reply-To"] = answering
        headers["References"] = " ".join(thread[-20:])
    mail = EmailMessage(
        subject=message.subject, body=message.body, from_email=sender, to=[message.sender], headers=headers
    )
    try:
        mail.send()
    except smtplib.SMTPRecipientsRefused as exc:
        raise PermanentFailure(f"recipient refused: {exc.recipients}") from None
    except (OSError, smtplib.SMTPException) as exc:
        raise TemporaryFailure(f"{type(exc).__name__}: {exc}") from None
    return SendResult(provider_message_id=message_id)

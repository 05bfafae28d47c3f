"""E-mail replies through Django's mailers (SMTP, or an anymail ESP backend), in the customer's thread.

``In-Reply-To`` names the customer's latest e-mail (in the same interaction, else in the ticket),
``References`` the ticket's e-mail thread in order, and our own ``Message-ID`` (``make_msgid`` on the domain
of ``HELPDESK_FROM_EMAIL``) is stored as the message's provider ID, so the customer's answer threads back to
the ticket. Web-form customers are answered here too: their identity is an e-mail address.

Settings (read at send time, so tests override them):

- ``HELPDESK_FROM_EMAIL``: the From address (default ``DEFAULT_FROM_EMAIL``).
- ``MAILERS`` (Django 6.1): the ``default`` mailer's backend and options: SMTP (host, port, username,
  password, use_tls, timeout) or an anymail ESP backend (its keys in ``ANYMAIL``).

SMTP replies 5xx (and an ESP's 4xx) are permanent; 4xx replies (greylisting, a full mailbox), a refused
connection, a timeout, and an ESP's 429/5xx are temporary.
"""

from __future__ import annotations

import smtplib
from email.utils import parseaddr

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.mail import EmailMessage, make_msgid

from channels_intake.outbound.base import NotConfigured, PermanentFailure, SendResult, TemporaryFailure
from tickets.models import Message

# Channels whose messages belong to one e-mail thread (a web form's answer goes out by e-mail).
EMAIL_CHANNELS = ("email", "web")
# Mail clients need only the recent end of a long thread; RFC 5322 allows trimming the middle.
MAX_REFERENCES = 20


def thread_of(message: Message) -> tuple[list[str], str]:
    """(Message-IDs of the ticket's earlier e-mails oldest first, the customer's e-mail this one answers)."""
    earlier = list(
        Message.objects.filter(
            channel__in=EMAIL_CHANNELS,
            interaction__case__ticket_id=message.interaction.case.ticket_id,
            sent_at__lte=message.sent_at,
            provider_message_id__startswith="<",
        )
        .exclude(pk=message.pk)
        .order_by("sent_at", "id")
        .values_list("provider_message_id", "direction", "interaction_id")
    )
    ids = list(dict.fromkeys(pid for pid, _, _ in earlier))
    inbound = [(pid, iid) for pid, direction, iid in earlier if direction == Message.Direction.INBOUND]
    same = [pid for pid, iid in inbound if iid == message.interaction_id]
    answering = (same or [pid for pid, _ in inbound] or ids[-1:] or [""])[-1]
    return ids, answering


def headers_for(message: Message, message_id: str) -> dict[str, str]:
    headers = {"Message-ID": message_id}
    if message.meta.get("kind"):
        # An automatic message (acknowledgement) says so, so other systems don't answer it (RFC 3834).
        headers["Auto-Submitted"] = "auto-replied"
    thread, answering = thread_of(message)
    if answering:
        # References: the thread in the order it happened (ours and theirs), so every client can rebuild it.
        headers["In-Reply-To"] = answering
        headers["References"] = " ".join(thread[-MAX_REFERENCES:])
    return headers


def send(message: Message) -> SendResult:
    sender = getattr(settings, "HELPDESK_FROM_EMAIL", "") or settings.DEFAULT_FROM_EMAIL
    domain = parseaddr(sender)[1].rpartition("@")[2] or None
    message_id = make_msgid(domain=domain)
    mail = EmailMessage(
        subject=message.subject,
        body=message.body,
        from_email=sender,
        to=[message.sender],
        headers=headers_for(message, message_id),
    )
    for attachment in message.attachments.all():
        with attachment.file.open("rb") as handle:
            mail.attach(attachment.filename, handle.read(), attachment.content_type)
    try:
        mail.send()
    except Exception as exc:
        failure = classify(exc)
        if failure is None:
            raise
        raise failure from None
    status = getattr(mail, "anymail_status", None)
    esp_id = getattr(status, "message_id", None) if status is not None else None
    return SendResult(provider_message_id=message_id, meta={"esp_message_id": esp_id} if esp_id else {})


def classify(exc: Exception) -> PermanentFailure | TemporaryFailure | None:
    """The failure a mailer's exception amounts to (None: not a sending error, let it propagate)."""
    anymail = _classify_anymail(exc)
    if anymail is not None:
        return anymail
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        reason = "; ".join(f"{addr}: {code} {_text(text)}" for addr, (code, text) in exc.recipients.items())
        if exc.recipients and all(code >= 500 for code, _ in exc.recipients.values()):
            return PermanentFailure(f"recipient refused: {reason}")
        return TemporaryFailure(f"recipient deferred: {reason}")
    if isinstance(exc, smtplib.SMTPResponseException):
        reason = f"SMTP {exc.smtp_code} {_text(exc.smtp_error)}"
        return PermanentFailure(reason) if exc.smtp_code >= 500 else TemporaryFailure(reason)
    if isinstance(exc, (OSError, smtplib.SMTPException)):
        # No connection, a timeout, a dropped connection: nothing was accepted.
        return TemporaryFailure(f"{type(exc).__name__}: {exc}")
    if isinstance(exc, ImproperlyConfigured):
        return NotConfigured(f"the e-mail backend is not configured: {exc}")
    return None


def _text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _classify_anymail(exc: Exception) -> PermanentFailure | TemporaryFailure | None:
    """An anymail ESP error (checked first: its request errors are also ``OSError``s)."""
    try:
        from anymail.exceptions import AnymailAPIError, AnymailConfigurationError, AnymailError
    except ImportError:  # pragma: no cover - anymail is a dependency
        return None
    if isinstance(exc, AnymailConfigurationError):
        return NotConfigured(f"the e-mail backend is not configured: {exc}")
    if not isinstance(exc, AnymailError):
        return None
    reason = " ".join(str(exc).split())[:1000]
    status = exc.status_code
    if not isinstance(exc, AnymailAPIError):
        # Refused recipients, an invalid address, a feature the ESP lacks: sending again cannot help.
        return PermanentFailure(reason)
    if status is None or status == 429 or status >= 500:
        # No answer at all (a connection error), a rate limit, or the ESP's own trouble.
        return TemporaryFailure(reason)
    if 200 <= status < 300:
        return PermanentFailure(f"the ESP's answer was unreadable; the message may have been sent: {reason}")
    return PermanentFailure(reason)

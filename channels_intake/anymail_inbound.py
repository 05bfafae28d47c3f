"""ESP inbound mail (Mailgun, SendGrid, Postmark, Amazon SES… through django-anymail) into the same
pipeline as the raw pipe: each message anymail parses is stored as an ``email_raw`` ``InboundEvent``
(its MIME bytes) and processed by ``channels_intake.adapters.email``.

Wiring (once): ``"anymail"`` in ``INSTALLED_APPS``, ``ANYMAIL = {"WEBHOOK_SECRET": "user:password", …}``,
``path("anymail/", include("anymail.urls"))``, and ``anymail_inbound.connect()`` in
``ChannelsIntakeConfig.ready()``. The ESP then posts to ``/anymail/<esp>/inbound/``.

Anymail answers the ESP 200 once the signal returns. The event is committed before processing, so a
message that fails is kept (status failed, with the reason) for ``manage.py replay_inbound``; an
exception here would only make the ESP post it again.
"""

from __future__ import annotations

import hashlib
import logging
from email.message import Message
from email.policy import compat32

from anymail.signals import inbound

from channels_intake.adapters.email import SOURCE
from channels_intake.models import InboundEvent
from channels_intake.services import process_event, record_event

log = logging.getLogger(__name__)

DISPATCH_UID = "channels_intake.anymail_inbound"


def mime_bytes(message: Message) -> bytes:
    """The message as MIME bytes, the same bytes for the same message on every delivery.

    Messages an ESP delivers already parsed (Postmark without RawEmail, SendGrid's parsed mode…) are
    rebuilt by anymail without MIME boundaries; the generator would invent random ones, so a redelivery
    without a Message-ID would not be recognised. Missing boundaries are set from a hash of the content.
    """
    _fix_boundaries(message)
    try:
        return message.as_bytes()
    except Exception:  # noqa: BLE001 - the strict policy cannot re-fold some broken headers
        return message.as_bytes(policy=compat32)


def _fix_boundaries(part: Message) -> None:
    if part.get_content_maintype() != "multipart" or not isinstance(part.get_payload(), list):
        return
    children = part.get_payload()
    for child in children:
        _fix_boundaries(child)
    if part.get_boundary() is None:
        digest = hashlib.sha256()
        for child in children:
            digest.update(child.as_bytes(policy=compat32))
        part.set_boundary(f"=_helpdesk_{digest.hexdigest()[:40]}")


def receive_inbound(sender, event, esp_name: str = "", **kwargs) -> InboundEvent | None:
    """Receiver for ``anymail.signals.inbound``: store the message's MIME, then process it."""
    message = getattr(event, "message", None)
    if message is None:
        log.warning("%s inbound event %s carries no message", esp_name, getattr(event, "event_id", None))
        return None
    stored = record_event(
        source=SOURCE,
        channel="email",
        payload=mime_bytes(message),
        content_type="message/rfc822",
        headers={
            k: str(v)[:200]
            for k, v in (
                ("X-Anymail-ESP", esp_name),
                ("X-Anymail-Event-ID", getattr(event, "event_id", None)),
            )
            if v
        },
    )
    stored = process_event(stored)
    if stored.status == InboundEvent.Status.FAILED:
        log.warning("%s inbound message stored as event %s failed: %s", esp_name, stored.pk, stored.error)
    return stored


def connect() -> None:
    """Connect the receiver (idempotent: a second call does nothing)."""
    inbound.connect(receive_inbound, dispatch_uid=DISPATCH_UID)

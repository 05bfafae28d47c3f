"""Our own customer-facing pages (``/support/``): the contact form and the live chat.

The portal's views store what the customer sent as a JSON inbound event (``web_form`` or ``web_chat``) before
anything else happens, exactly like a provider's webhook; these parsers read it back, so a failed submission
is kept and replayed like any other (``manage.py replay_inbound``).

``web_form``: ``{"form_id", "name", "email", "reference", "message", "submitted_at",
"attachments": [{"filename", "content_type", "content_base64"}]}``. The form's one-time ID is the
provider message ID, so a double submit is a duplicate.

``web_chat``: ``{"chat_id", "message_id", "name", "email", "text", "sent_at", "start"}``. The sender is the
chat's own identity ``chat:<chat_id>``; on the first message (``start``) the e-mail names the customer when it is
a known address, so a known customer starting a chat is recognised, and an address not yet known is recorded as
the chat customer's e-mail identity, so their later e-mails are the same customer (``resolve_sender``).
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid

from django.utils.dateparse import parse_datetime

from tickets.intake import InboundAttachment, InboundMessage
from tickets.selectors.chat import chat_address, customer_for_email

FORM_SOURCE = "web_form"
CHAT_SOURCE = "web_chat"


def _read(event) -> dict:
    from channels_intake.adapters import PayloadError

    try:
        data = json.loads(event.payload_text)
    except json.JSONDecodeError as exc:
        raise PayloadError(f"the payload is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise PayloadError("the payload must be a JSON object")
    return data


def _text(data: dict, key: str, *, required: bool = False) -> str:
    from channels_intake.adapters import PayloadError

    value = data.get(key, "")
    if not isinstance(value, str):
        raise PayloadError(f"{key} must be a string")
    if required and not value.strip():
        raise PayloadError(f"{key} is missing")
    return value


def _uuid(data: dict, key: str) -> str:
    from channels_intake.adapters import PayloadError

    try:
        return str(uuid.UUID(_text(data, key, required=True)))
    except ValueError:
        raise PayloadError(f"{key} is not a UUID") from None


def _when(data: dict, key: str):
    value = _text(data, key)
    return parse_datetime(value) if value else None


def parse_form(event) -> list[InboundMessage]:
    from channels_intake.adapters import PayloadError

    data = _read(event)
    form_id = _uuid(data, "form_id")
    attachments = []
    items = data.get("attachments") or []
    if not isinstance(items, list):
        raise PayloadError("attachments must be a list")
    for item in items:
        if not isinstance(item, dict):
            raise PayloadError("each attachment must be an object")
        try:
            content = base64.b64decode(_text(item, "content_base64"), validate=True)
        except (binascii.Error, ValueError):
            raise PayloadError("an attachment's content is not base64") from None
        attachments.append(
            InboundAttachment(
                filename=_text(item, "filename"),
                content=content,
                content_type=_text(item, "content_type") or "application/octet-stream",
            )
        )
    return [
        InboundMessage(
            channel="web",
            sender=_text(data, "email", required=True),
            sender_name=_text(data, "name"),
            text=_text(data, "message", required=True),
            reference=_text(data, "reference"),
            provider_message_id=f"web-form:{form_id}",
            sent_at=_when(data, "submitted_at"),
            attachments=attachments,
            meta={"source": "contact form"},
        )
    ]


def parse_chat(event) -> list[InboundMessage]:
    data = _read(event)
    chat_id = _uuid(data, "chat_id")
    message_id = _uuid(data, "message_id")
    email = _text(data, "email")
    start = bool(data.get("start") and email)
    known = customer_for_email(email) if start else None
    return [
        InboundMessage(
            channel="chat",
            sender=chat_address(chat_id),
            sender_name=_text(data, "name"),
            text=_text(data, "text", required=True),
            provider_message_id=f"chat:{chat_id}:{message_id}",
            customer_unique_id=known or "",
            sender_email=email if start else "",
            sent_at=_when(data, "sent_at"),
            meta={"email": email} if email else {},
        )
    ]


PARSERS = {FORM_SOURCE: parse_form, CHAT_SOURCE: parse_chat}

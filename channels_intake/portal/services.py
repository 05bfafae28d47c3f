"""What the customer-facing pages do: every submission is stored as an inbound event first, then taken in
through the intake pipeline, exactly like a provider's webhook (lossless, replayable, duplicates are no-ops).

A chat lives in the customer's Django session as a signed value (its ID, name and e-mail): no account, and
nothing a browser can forge to read somebody else's chat.
"""

from __future__ import annotations

import base64
import json
from dataclasses import asdict, dataclass

from django.core import signing
from django.utils import timezone

from channels_intake.adapters.webchat import CHAT_SOURCE, FORM_SOURCE
from channels_intake.models import InboundEvent
from channels_intake.portal.forms import Upload
from channels_intake.services import accept
from tickets.models import Message
from tickets.selectors.chat import Transcript, chat_transcript, outbound_to_mark_delivered

CHAT_SESSION_KEY = "support_chat"
CHAT_SALT = "helpdesk.support.chat"


@dataclass(frozen=True)
class Submitted:
    """What became of one submission: its inbound event and the ticket it went to."""

    event_id: int
    ticket: str | None
    duplicate: bool
    # Stored, but the pipeline refused it: it waits in the inbound log, with the reason, for a replay.
    failed: bool


def _outcome(event: InboundEvent) -> Submitted:
    messages = (event.result or {}).get("messages") or [{}]
    return Submitted(
        event_id=event.pk,
        ticket=messages[0].get("ticket"),
        duplicate=event.status == InboundEvent.Status.DUPLICATE,
        failed=event.status == InboundEvent.Status.FAILED,
    )


def _store_and_take_in(*, source: str, channel: str, payload: dict, client: dict) -> Submitted:
    event = accept(
        source=source,
        channel=channel,
        payload=json.dumps(payload),
        content_type="application/json",
        headers=client,
    )
    return _outcome(event)


def submit_contact(
    *, form_id: str, name: str, email: str, reference: str, message: str, uploads: list[Upload], client: dict
) -> Submitted:
    """The contact form: one web-channel message (answered by e-mail), attachments included."""
    payload = {
        "form_id": form_id,
        "name": name,
        "email": email,
        "reference": reference,
        "message": message,
        "submitted_at": timezone.now().isoformat(),
        "attachments": [
            {
                "filename": u.filename,
                "content_type": u.content_type,
                "content_base64": base64.b64encode(u.content).decode("ascii"),
            }
            for u in uploads
        ],
    }
    return _store_and_take_in(source=FORM_SOURCE, channel="web", payload=payload, client=client)


@dataclass(frozen=True)
class ChatSession:
    id: str
    name: str
    email: str


def current_chat(session) -> ChatSession | None:
    """The chat this browser session started, if any (the value is signed: a tampered one is no chat)."""
    value = session.get(CHAT_SESSION_KEY)
    if not value:
        return None
    try:
        return ChatSession(**signing.loads(value, salt=CHAT_SALT))
    except (signing.BadSignature, TypeError):
        return None


def end_chat(session) -> None:
    session.pop(CHAT_SESSION_KEY, None)


def _chat_message(chat: ChatSession, *, message_id: str, text: str, start: bool, client: dict) -> Submitted:
    payload = {
        "chat_id": chat.id,
        "message_id": message_id,
        "name": chat.name,
        "email": chat.email,
        "text": text,
        "sent_at": timezone.now().isoformat(),
        "start": start,
    }
    return _store_and_take_in(source=CHAT_SOURCE, channel="chat", payload=payload, client=client)


def start_chat(*, session, form_id: str, name: str, email: str, text: str, client: dict) -> Submitted:
    """Open a chat with its first message; the start form's one-time ID is the chat's ID (a double submit
    of the start form is the same chat and the same message)."""
    chat = ChatSession(id=form_id, name=name, email=email)
    submitted = _chat_message(chat, message_id=form_id, text=text, start=True, client=client)
    session[CHAT_SESSION_KEY] = signing.dumps(asdict(chat), salt=CHAT_SALT)
    return submitted


def send_chat_message(chat: ChatSession, *, message_id: str, text: str, client: dict) -> Submitted:
    return _chat_message(chat, message_id=message_id, text=text, start=False, client=client)


def show_chat(chat: ChatSession) -> Transcript:
    """The transcript for the customer's page; the agents' messages on it count as delivered."""
    transcript = chat_transcript(chat.id)
    shown = [line.id for line in transcript.lines if not line.mine]
    if shown:
        outbound_to_mark_delivered(chat.id).filter(pk__in=shown).update(
            delivery_status=Message.DeliveryStatus.DELIVERED
        )
    return transcript

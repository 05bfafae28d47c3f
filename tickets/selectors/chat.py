"""What a web-chat customer may read: the messages of their own chat, nothing else.

A chat is one customer identity of kind "chat" (``chat:<uuid>``, held in the customer's session). Its
transcript is the chat-channel messages of that identity's interactions: what the customer wrote and what
agents answered there. Never internal notes (they are not messages), never messages of the ticket's other
channels (an e-mail thread, a call record), never another identity's: the e-mail a chat customer types is not
verified, so it may name a known customer, but it never opens that customer's other conversations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Count, Max, QuerySet

from tickets.channels import AddressKind, Channel
from tickets.errors import IntakeError
from tickets.models import Case, CustomerIdentity, Message
from tickets.services.customers import normalise_address

CHAT_PREFIX = "chat:"
# A chat page shows at most this many of the latest messages.
TRANSCRIPT_LIMIT = 200


def chat_address(chat_id: str) -> str:
    """The identity address of one chat session."""
    return f"{CHAT_PREFIX}{chat_id}"


def customer_for_email(email: str) -> str | None:
    """The unique ID of the customer who has this e-mail address, if any."""
    try:
        _, address = normalise_address(Channel.EMAIL, email)
    except IntakeError:
        return None
    return (
        CustomerIdentity.objects.filter(channel=AddressKind.EMAIL, address=address)
        .values_list("customer__unique_id", flat=True)
        .first()
    )


@dataclass(frozen=True)
class ChatLine:
    id: int
    mine: bool
    author: str
    body: str
    sent_at: datetime


@dataclass
class Transcript:
    lines: list[ChatLine] = field(default_factory=list)
    ticket_number: str | None = None
    # Changes whenever a message is added: the poll answers "nothing new" while it stays the same.
    version: str = "0"


def _visible(identity_id: int) -> QuerySet[Message]:
    return Message.objects.filter(interaction__identity_id=identity_id, channel=Channel.CHAT).exclude(
        direction=Message.Direction.OUTBOUND, delivery_status=Message.DeliveryStatus.FAILED
    )


def _identity_id(chat_id: str) -> int | None:
    return (
        CustomerIdentity.objects.filter(channel=AddressKind.CHAT, address=chat_address(chat_id))
        .values_list("pk", flat=True)
        .first()
    )


def _version(identity_id: int | None) -> str:
    if identity_id is None:
        return "0"
    agg = _visible(identity_id).aggregate(n=Count("id"), last=Max("id"))
    return f"{agg['n']}.{agg['last'] or 0}"


def transcript_version(chat_id: str) -> str:
    """A cheap fingerprint of the chat (message count and latest ID): two queries, no rows."""
    return _version(_identity_id(chat_id))


def chat_transcript(chat_id: str, *, limit: int = TRANSCRIPT_LIMIT) -> Transcript:
    """The latest ``limit`` messages of one chat, oldest first, and the ticket it is about."""
    identity_id = _identity_id(chat_id)
    if identity_id is None:
        return Transcript()
    rows = list(_visible(identity_id).select_related("author__user").order_by("-sent_at", "-id")[:limit])
    lines = [
        ChatLine(
            id=m.pk,
            mine=m.direction == Message.Direction.INBOUND,
            author="You" if m.direction == Message.Direction.INBOUND else _agent_name(m),
            body=m.body,
            sent_at=m.sent_at,
        )
        for m in reversed(rows)
    ]
    case = (
        Case.objects.filter(interaction__identity_id=identity_id)
        .select_related("ticket")
        .order_by("-created_at", "-id")
        .first()
    )
    return Transcript(
        lines=lines, ticket_number=case.ticket.number if case else None, version=_version(identity_id)
    )


def _agent_name(message: Message) -> str:
    # Customers see an agent's first name only; automatic messages come from "Support".
    user = message.author.user if message.author_id else None
    return (user.first_name or "Support agent") if user else "Support"


def outbound_to_mark_delivered(chat_id: str) -> QuerySet[Message]:
    """Agents' messages of this chat not yet known to have reached the customer's page."""
    identity_id = _identity_id(chat_id)
    return Message.objects.filter(
        interaction__identity_id=identity_id,
        channel=Channel.CHAT,
        direction=Message.Direction.OUTBOUND,
        delivery_status__in=[
            Message.DeliveryStatus.QUEUED,
            Message.DeliveryStatus.SENDING,
            Message.DeliveryStatus.SENT,
        ],
    )

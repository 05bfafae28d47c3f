"""What a customer sees on their ticket's status page (opened from a signed link, no account): the ticket's
state and the messages of its conversations, theirs and ours.

Never internal notes (they are not messages), never another ticket's messages, never a message still in
the outbox or one that failed (the customer did not get it), never who on our side wrote it by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tickets.lifecycle import Status
from tickets.models import Message, Ticket

# The latest messages shown; a status page is a summary, not an archive.
MESSAGE_LIMIT = 100

# The customer's words for where their request is.
CUSTOMER_STATUS = {
    Status.NEW: "Received — waiting for an agent",
    Status.ASSIGNED: "With an agent",
    Status.OPEN: "Being worked on",
    Status.PENDING: "Waiting for more information",
    Status.RESOLVED: "Resolved — waiting for your confirmation",
    Status.CLOSED: "Closed",
}
SHOWN = [
    Message.DeliveryStatus.RECEIVED,
    Message.DeliveryStatus.SENT,
    Message.DeliveryStatus.DELIVERED,
    Message.DeliveryStatus.READ,
]


@dataclass(frozen=True)
class StatusLine:
    mine: bool
    channel: str
    subject: str
    body: str
    sent_at: datetime


@dataclass(frozen=True)
class StatusPage:
    number: str
    subject: str
    status: str
    status_label: str
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    lines: list[StatusLine]
    truncated: bool


def status_page(ticket_id: int) -> StatusPage | None:
    ticket = (
        Ticket.objects.filter(pk=ticket_id)
        .only("id", "subject", "status", "created_at", "updated_at", "closed_at")
        .first()
    )
    if ticket is None:
        return None
    messages = list(
        Message.objects.filter(interaction__case__ticket_id=ticket.pk, delivery_status__in=SHOWN)
        .only("direction", "channel", "subject", "body", "sent_at")
        .order_by("-sent_at", "-id")[: MESSAGE_LIMIT + 1]
    )
    truncated = len(messages) > MESSAGE_LIMIT
    lines = [
        StatusLine(
            mine=m.direction == Message.Direction.INBOUND,
            channel=m.get_channel_display(),
            subject=m.subject,
            body=m.body,
            sent_at=m.sent_at,
        )
        for m in reversed(messages[:MESSAGE_LIMIT])
    ]
    return StatusPage(
        number=ticket.number,
        subject=ticket.subject,
        status=ticket.status,
        status_label=CUSTOMER_STATUS.get(ticket.status, ticket.get_status_display()),
        created_at=ticket.created_at,
        updated_at=ticket.updated_at,
        closed_at=ticket.closed_at,
        lines=lines,
        truncated=truncated,
    )

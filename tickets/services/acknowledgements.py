"""The automatic acknowledgement: "we have your message, your ticket is T-000123" (seed 001, best practice).

Sent on the first message of a new ticket, on the channel it came in on, from the per-channel template (a
web-form ticket is answered by e-mail, to the address typed in the form, like every reply on that channel).
Never to an automated sender (auto-replies, bounces: loops), never over a phone call, and at most
``ACK_LIMIT_PER_HOUR`` per address an hour, so a sender flooding us cannot make us flood them.

It carries the signed link to the ticket's status page: where the template says ``{status_link}``, else at
the end.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from tickets.channels import Channel
from tickets.models import Acknowledgement, Interaction, Message, Ticket
from tickets.services import links
from tickets.services.replies import queue_message

ACK = "acknowledgement"


class _Blank(dict):
    def __missing__(self, key):
        return "{" + key + "}"


def acknowledge(*, ticket: Ticket, interaction: Interaction, automated: bool = False) -> Message | None:
    if automated or interaction.channel == Channel.VOICE:
        return None
    template = Acknowledgement.objects.filter(channel=interaction.channel, active=True).first()
    if template is None:
        return None
    address = interaction.identity.address
    since = timezone.now() - timedelta(hours=1)
    recent = Message.objects.filter(
        direction=Message.Direction.OUTBOUND, sender=address, meta__kind=ACK, created_at__gte=since
    ).count()
    if recent >= settings.HELPDESK["ACK_LIMIT_PER_HOUR"]:
        return None
    status_link = links.status_url(ticket.pk)
    body = template.body.format_map(
        _Blank(
            ticket_number=ticket.number,
            customer_name=ticket.customer.name or "",
            subject=ticket.subject,
            status_link=status_link,
        )
    )
    if "{status_link}" not in template.body:
        body += f"\nFollow your request: {status_link}"
    return queue_message(
        ticket=ticket, interaction=interaction, address=address, body=body, meta={"kind": ACK}
    )

"""Telling the customer what happened to their ticket, on the channel they last used (DOMAIN.md, "Closure and
feedback"): the proposed resolution, the closure, the CSAT survey.

Each notice is an outbound ``Message`` in the outbox (``replies.queue_message``), written in the caller's
transaction and delivered after commit by ``channels_intake``'s task.

"The channel they last used" is the channel of the customer's latest message on the ticket, with two
adjustments for channels we cannot write on afterwards: a phone call is answered by SMS to the same number,
and an ended web chat (nobody is on the page any more) by e-mail when the customer has an address.
"""

from __future__ import annotations

from dataclasses import dataclass

from tickets.channels import ADDRESS_KIND, AddressKind, Channel
from tickets.lifecycle import Status
from tickets.models import CustomerIdentity, Interaction, Message, Ticket

# Channels where the customer answers by typing a reply (a keyword); e-mail and the web form get a link.
MESSAGING_CHANNELS = frozenset({Channel.WHATSAPP, Channel.SMS, Channel.SOCIAL, Channel.CHAT})


@dataclass(frozen=True)
class Route:
    channel: str
    identity: CustomerIdentity
    # The ticket's interaction on that channel and address to write in; None: a new one is needed.
    interaction: Interaction | None

    @property
    def is_messaging(self) -> bool:
        return self.channel in MESSAGING_CHANNELS


def _identity(ticket: Ticket, kind: str) -> CustomerIdentity | None:
    return ticket.customer.identities.filter(channel=kind).order_by("-created_at", "-id").first()


def customer_route(ticket: Ticket, *, closing: bool = False) -> Route | None:
    """Where to write to the customer about this ticket, or None when there is no written way to reach them.
    ``closing``: the ticket's conversations are about to close (a chat among them ends with it)."""
    last = (
        Message.objects.filter(interaction__case__ticket=ticket, direction=Message.Direction.INBOUND)
        .select_related("interaction__identity")
        .order_by("-sent_at", "-id")
        .first()
    )
    if last is not None:
        channel, identity, interaction = last.channel, last.interaction.identity, last.interaction
    else:
        # A ticket an agent opened (a logged call, an import): its latest interaction.
        latest = (
            Interaction.objects.filter(case__ticket=ticket)
            .select_related("identity")
            .order_by("-last_message_at", "-id")
            .first()
        )
        if latest is None:
            return None
        channel, identity, interaction = latest.channel, latest.identity, latest

    if channel == Channel.VOICE:
        # The same phone number, written to: SMS.
        channel, interaction = Channel.SMS, None
    elif channel == Channel.CHAT and (closing or interaction.status != Interaction.Status.OPEN):
        email = _identity(ticket, AddressKind.EMAIL)
        if email is not None:
            channel, identity, interaction = Channel.EMAIL, email, None
    if identity.channel != ADDRESS_KIND[Channel(channel)]:
        identity = _identity(ticket, ADDRESS_KIND[Channel(channel)])
        if identity is None:
            return None
    if interaction is None or interaction.channel != channel:
        interaction = (
            Interaction.objects.filter(case__ticket=ticket, channel=channel, identity=identity)
            .order_by("-last_message_at", "-id")
            .first()
        )
    return Route(channel=channel, identity=identity, interaction=interaction)


def _interaction_for(ticket: Ticket, route: Route) -> Interaction | None:
    """The conversation to write in: the ticket's own on the route's channel, else its latest one. A notice
    never opens an interaction (an interaction is the customer reaching out: a notice must not count as a
    contact in the per-unique-ID report), so an SMS after a phone call is kept in the call's conversation
    with its own channel — the outbox sends a message by its channel and address."""
    if route.interaction is not None:
        return route.interaction
    return Interaction.objects.filter(case__ticket=ticket).order_by("-last_message_at", "-id").first()


def notify(
    *, ticket: Ticket, kind: str, body: str, route: Route | None = None, closing: bool = False
) -> Message | None:
    """Queue one notice to the customer (``kind`` goes in ``Message.meta``); None when the customer cannot be
    reached in writing (the caller records that on the ticket's history). ``closing``: the notice is part of
    closing the ticket (its conversations close with it)."""
    from tickets.services.replies import queue_message  # replies imports the transitions that call us

    closing = closing or ticket.status == Status.CLOSED  # closing now, or closed already
    route = route or customer_route(ticket, closing=closing)
    interaction = _interaction_for(ticket, route) if route is not None else None
    if interaction is None:
        return None
    message = queue_message(
        ticket=ticket,
        interaction=interaction,
        address=route.identity.address,
        body=body,
        meta={"kind": kind},
        channel=route.channel,
    )
    Interaction.objects.filter(pk=interaction.pk).update(last_message_at=message.sent_at)
    return message

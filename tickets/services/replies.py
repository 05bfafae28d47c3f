"""Writing to the customer, and internal notes.

A reply is an outbound ``Message`` in ``queued`` state — the outbox — committed with the ticket change;
the delivery task named by ``settings.HELPDESK["OUTBOX_TASK"]`` (in ``channels_intake``) sends it after
commit. ``tickets`` never imports the edge.
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from tickets import lifecycle
from tickets.channels import ADDRESS_KIND, Channel
from tickets.errors import ValidationFailed
from tickets.lifecycle import Status
from tickets.models import Case, Interaction, Message, Note, Ticket
from tickets.permissions import agent_of, relations
from tickets.services import sla as sla_clocks
from tickets.services import transitions
from tickets.services.events import record_event

# The lock-and-check every ticket action shares: state, role and a stale view.
_begin, _finish = transitions._begin, transitions._finish


def enqueue_delivery(message_id: int) -> None:
    from django_q.tasks import async_task

    task = settings.HELPDESK["OUTBOX_TASK"]
    transaction.on_commit(lambda: async_task(task, message_id, group="outbox"))


def _reply_route(ticket: Ticket, channel: str | None) -> tuple[str, Interaction | None, object]:
    """(channel, the interaction to answer in or None, the customer identity to write to)."""
    interactions = (
        Interaction.objects.filter(case__ticket=ticket)
        .select_related("identity")
        .order_by("-last_message_at", "-id")
    )
    latest = interactions.first()
    channel = channel or (latest.channel if latest else ticket.channel)
    if channel not in Channel.values:
        raise ValidationFailed(f"{channel!r} is not a channel.")
    if channel == Channel.VOICE:
        raise ValidationFailed("A reply cannot be sent over a phone call; pick a written channel.")
    same = next((i for i in interactions if i.channel == channel), None)
    if same is not None:
        return channel, (same if same.status == Interaction.Status.OPEN else None), same.identity
    kind = ADDRESS_KIND[Channel(channel)]
    identity = ticket.customer.identities.filter(channel=kind).order_by("-created_at").first()
    if identity is None:
        raise ValidationFailed(
            f"{ticket.customer.unique_id} has no {Channel(channel).label} address; pick another channel."
        )
    return channel, None, identity


@transaction.atomic
def reply(
    *, ticket: Ticket, actor, body: str, channel: str | None = None, expected_version: int | None = None
) -> Message:
    """Send the customer a message on the ticket's latest channel (or another they have)."""
    body = (body or "").strip()
    if not body:
        raise ValidationFailed("A reply needs a message.")
    current = Ticket.objects.get(pk=ticket.pk)
    if current.status == Status.ASSIGNED and lifecycle.OWNER in relations(actor, current):
        # Writing to the customer is looking at the ticket: it opens first.
        current = transitions.open_ticket(ticket=current, actor=actor, expected_version=expected_version)
        expected_version = current.version
    t = _begin(ticket=current, actor=actor, action="reply", expected_version=expected_version)
    channel, interaction, identity = _reply_route(t, channel)
    now = timezone.now()
    if interaction is None:
        interaction = Interaction.objects.create(
            customer=t.customer, identity=identity, channel=channel, started_at=now, last_message_at=now
        )
        Case.objects.create(
            interaction=interaction,
            ticket=t,
            parent=t.cases.order_by("created_at", "id").first(),
            link_rule=Case.LinkRule.MANUAL,
            link_detail="agent wrote on a new channel",
            created_at=now,
        )
    else:
        Interaction.objects.filter(pk=interaction.pk).update(last_message_at=now)
    message = queue_message(
        ticket=t, interaction=interaction, address=identity.address, body=body, author=agent_of(actor)
    )
    fields = []
    if t.first_responded_at is None:
        t.first_responded_at = now
        fields.append("first_responded_at")
    fields += sla_clocks.stop_next_response(t, now=now)  # the answer the customer was owed
    _finish(
        t,
        actor=actor,
        action="reply",
        from_status=t.status,
        data={"message": message.pk, "channel": channel},
        fields=fields,
    )
    return message


def queue_message(
    *,
    ticket: Ticket,
    interaction: Interaction,
    address: str,
    body: str,
    author=None,
    meta=None,
    channel: str | None = None,
) -> Message:
    """Put one outbound message in the outbox; it is sent after the surrounding transaction commits.
    ``channel``: another written channel than the interaction's (an automatic notice by SMS after a call)."""
    message = Message.objects.create(
        interaction=interaction,
        channel=channel or interaction.channel,
        direction=Message.Direction.OUTBOUND,
        sender=address,
        subject=f"[{ticket.number}] {ticket.subject}"[:300],
        body=body,
        delivery_status=Message.DeliveryStatus.QUEUED,
        sent_at=timezone.now(),
        author=author,
        meta=meta or {},
    )
    enqueue_delivery(message.pk)
    return message


@transaction.atomic
def add_note(*, ticket: Ticket, actor, body: str) -> Note:
    body = (body or "").strip()
    if not body:
        raise ValidationFailed("A note needs some text.")
    t = _begin(ticket=ticket, actor=actor, action="note", expected_version=None)
    note = Note.objects.create(ticket=t, author=agent_of(actor), body=body)
    record_event(ticket=t, actor=actor, kind="note", data={"note": note.pk})
    return note

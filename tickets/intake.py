"""The intake pipeline: one normalised inbound message in, linked to its ticket, in one transaction.

Channel adapters (``channels_intake``) build an :class:`InboundMessage` and call :func:`receive`:

    drop duplicates by provider ID → resolve or create the customer → join the open interaction (digital)
    or start a new one (voice) → find the ticket by the four rules and record which → create the case →
    create or update the ticket (reopen within the window) → hand to routing.

A failure leaves nothing half-written; a provider ID seen before is a no-op that reports the existing
message.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from tickets import lifecycle
from tickets.channels import OUTBOUND_CALL, SESSIONLESS_CHANNELS, Channel
from tickets.errors import IntakeError
from tickets.lifecycle import Status
from tickets.models import Case, Customer, CustomerConflict, Interaction, Message, Ticket
from tickets.models.tickets import Level
from tickets.services import linking, rules, transitions, verification
from tickets.services import priority as priorities
from tickets.services import sla as sla_clocks
from tickets.services.acknowledgements import acknowledge
from tickets.services.attachments import store_attachment
from tickets.services.customers import Sender, normalise_address, resolve_sender
from tickets.services.events import record_event
from tickets.services.routing import request_distribution, team_for_new_ticket
from tickets.services.sla import apply_targets


@dataclass
class InboundAttachment:
    filename: str
    content: bytes
    content_type: str = "application/octet-stream"


@dataclass
class InboundMessage:
    """The contract between every channel adapter and the help desk."""

    channel: str
    sender: str
    text: str = ""
    provider_message_id: str = ""
    subject: str = ""
    sender_name: str = ""
    # An e-mail address the sender typed beside their address on this channel (the chat's start form):
    # recorded as the customer's e-mail identity (``resolve_sender``), never taken from another customer.
    sender_email: str = ""
    # What the provider payload or a form field says outright.
    customer_unique_id: str = ""
    reference: str = ""
    sent_at: datetime | None = None
    # Ticket numbers from thread headers, and provider IDs of earlier messages this one replies to.
    ticket_hints: list[str] = field(default_factory=list)
    thread_ids: list[str] = field(default_factory=list)
    attachments: list[InboundAttachment] = field(default_factory=list)
    meta: dict = field(default_factory=dict)

    @property
    def from_customer(self) -> bool:
        """False for a call we placed: the voice adapters and the call log put the call's direction in
        ``meta["call"]["direction"]``. Such a call is recorded like any call but is not the customer coming back."""
        return (self.meta.get("call") or {}).get("direction") != OUTBOUND_CALL


@dataclass
class DeliveryReceipt:
    """A provider's word on an outbound message: sent, delivered, read, or failed (with why)."""

    channel: str
    provider_message_id: str
    status: str
    at: datetime | None = None
    error: str = ""


@dataclass
class Ignored:
    """A payload deliberately not taken in (an auto-reply, a bounce naming nothing of ours), and why."""

    reason: str


@dataclass
class IntakeResult:
    message: int
    duplicate: bool
    interaction: int
    case: int | None
    ticket: str | None
    link_rule: str
    new_ticket: bool
    conflicts: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


# The link_rule reported for a message that joined its identity's open interaction.
OPEN_INTERACTION = "open_interaction"


def check(msg: InboundMessage) -> None:
    """Refuse a message that can never be received, with the cause (unknown channel, no sender…)."""
    if msg.channel not in Channel.values:
        raise IntakeError(f"unknown channel {msg.channel!r}; expected one of {', '.join(Channel.values)}")
    if not (msg.sender or "").strip():
        raise IntakeError("the message has no sender")
    if len(msg.text or "") > settings.HELPDESK["MAX_MESSAGE_CHARS"]:
        raise IntakeError(
            f"the message text is {len(msg.text)} characters; the limit is {settings.HELPDESK['MAX_MESSAGE_CHARS']}"
        )
    if len(msg.provider_message_id or "") > 255:
        raise IntakeError("the provider message ID is longer than 255 characters")
    normalise_address(msg.channel, msg.sender)


def _existing(msg: InboundMessage) -> IntakeResult | None:
    if not msg.provider_message_id:
        return None
    found = (
        Message.objects.filter(channel=msg.channel, provider_message_id=msg.provider_message_id)
        .select_related("interaction__case__ticket")
        .first()
    )
    if found is None:
        return None
    case = getattr(found.interaction, "case", None)
    return IntakeResult(
        message=found.pk,
        duplicate=True,
        interaction=found.interaction_id,
        case=case.pk if case else None,
        ticket=case.ticket.number if case else None,
        link_rule="duplicate",
        new_ticket=False,
    )


def receive(msg: InboundMessage) -> IntakeResult:
    """Run one inbound message through the pipeline. Raises ``IntakeError`` with the cause for bad input."""
    check(msg)
    if (seen := _existing(msg)) is not None:
        return seen
    for attempt in range(3):
        try:
            return _receive(msg)
        except IntegrityError:
            # A concurrent delivery of the same message won the unique index: report it as the duplicate.
            if (seen := _existing(msg)) is not None:
                return seen
            # A concurrent first message from the same new address created the customer: go again.
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


@transaction.atomic
def _receive(msg: InboundMessage) -> IntakeResult:
    now = timezone.now()
    sent_at = msg.sent_at or now
    text_for_refs = f"{msg.subject}\n{msg.text}"
    sender = resolve_sender(
        channel=msg.channel,
        address=msg.sender,
        name=msg.sender_name,
        customer_unique_id=msg.customer_unique_id,
        reference=msg.reference,
        text=text_for_refs,
        email=msg.sender_email,
    )
    # One customer's messages are taken in one at a time: two arriving together about a new order (an e-mail
    # and an SMS in two web workers) would otherwise each find no ticket for it and open one each. Locked
    # before the open interaction and the ticket are looked up, so the second sees what the first committed.
    list(Customer.objects.select_for_update().filter(pk=sender.customer.pk).values_list("pk", flat=True))
    ticket_ids = linking.ticket_numbers_in(msg.subject, msg.text, *msg.ticket_hints)
    ticket_ids += [t for t in linking.tickets_of_thread(msg.channel, msg.thread_ids) if t not in ticket_ids]

    interaction = _open_interaction(msg, sender)
    case: Case | None = None
    new_ticket = False
    rule = OPEN_INTERACTION
    if interaction is not None:
        case = interaction.case
        current = case.ticket
        if _points_elsewhere(sender, ticket_ids, current):
            interaction = None
        elif sender.reference and current.reference_id is None:
            current.reference = sender.reference
            current.save(update_fields=["reference"])

    if interaction is None:
        decision = linking.find_ticket(
            customer=sender.customer, reference=sender.reference, ticket_ids=ticket_ids, now=now
        )
        ticket = decision.ticket
        if ticket is None:
            ticket = _new_ticket(msg, sender, now, decision)
            new_ticket = True
        interaction = Interaction.objects.create(
            customer=sender.customer,
            identity=sender.identity,
            channel=msg.channel,
            started_at=sent_at,
            last_message_at=sent_at,
        )
        parent = ticket.cases.order_by("created_at", "id").first()
        case = Case.objects.create(
            interaction=interaction,
            ticket=ticket,
            parent=parent,
            link_rule=decision.rule,
            link_detail=decision.detail[:200],
            created_at=now,
        )
        rule = decision.rule
        if not new_ticket:
            record_event(
                ticket=ticket,
                kind="linked",
                to_value=f"case {case.pk}",
                reason=case.get_link_rule_display(),
                data={
                    "case": case.pk,
                    "interaction": interaction.pk,
                    "channel": msg.channel,
                    "detail": decision.detail,
                },
                at=now,
            )
    elif sent_at > interaction.last_message_at:
        interaction.last_message_at = sent_at
        interaction.save(update_fields=["last_message_at"])

    message = Message.objects.create(
        interaction=interaction,
        channel=msg.channel,
        direction=Message.Direction.INBOUND,
        sender=sender.identity.address,
        subject=msg.subject[:300],
        body=msg.text,
        provider_message_id=msg.provider_message_id,
        delivery_status=Message.DeliveryStatus.RECEIVED,
        sent_at=sent_at,
        meta={**msg.meta, **({"thread_ids": msg.thread_ids} if msg.thread_ids else {})},
    )
    for a in msg.attachments:
        store_attachment(message=message, filename=a.filename, content=a.content, content_type=a.content_type)
    for claimed, reference, detail in sender.conflicts:
        CustomerConflict.objects.create(
            identity=sender.identity,
            claimed_customer=claimed,
            reference=reference,
            message=message,
            detail=detail,
        )

    if msg.from_customer:
        ticket = _customer_spoke(case.ticket, message, new_ticket=new_ticket, now=now)
    else:
        # A call we placed: recorded on the ticket, which keeps its status, clocks and customer-message time.
        ticket = case.ticket
        Ticket.objects.filter(pk=ticket.pk).update(updated_at=now)
    # The triage rules (issue 6): priority, tags, category, team, spam, duplicates.
    text = f"{msg.subject}\n{msg.text}"
    if new_ticket:
        rules.ticket_created(ticket, text=text, channel=msg.channel)
    elif msg.from_customer:
        rules.customer_message(ticket, text=text, channel=msg.channel)
    ticket = Ticket.objects.select_related("merged_into").get(pk=ticket.pk)
    # Not when a rule closed it as spam or merged it, nor for a call we placed.
    if new_ticket and ticket.status != Status.CLOSED and msg.from_customer:
        acknowledge(ticket=ticket, interaction=interaction, automated=bool(msg.meta.get("auto_reply")))
    if ticket.merged_into_id:  # merged by a rule: the message now lives on the original
        ticket = ticket.merged_into
    return IntakeResult(
        message=message.pk,
        duplicate=False,
        interaction=interaction.pk,
        case=case.pk,
        ticket=ticket.number,
        link_rule=rule,
        new_ticket=new_ticket,
        conflicts=len(sender.conflicts),
    )


def _open_interaction(msg: InboundMessage, sender: Sender) -> Interaction | None:
    """Digital channels: the identity's open interaction on this channel. Voice: every call is new."""
    if msg.channel in SESSIONLESS_CHANNELS:
        return None
    return (
        Interaction.objects.select_related("case__ticket")
        .filter(
            identity=sender.identity, channel=msg.channel, status=Interaction.Status.OPEN, case__isnull=False
        )
        .order_by("-last_message_at")
        .first()
    )


def _points_elsewhere(sender: Sender, ticket_ids: list[int], current: Ticket) -> bool:
    """Does a message in an open interaction name a different issue (another ticket or reference)?"""
    own_numbers = [pk for pk in ticket_ids if Ticket.objects.filter(pk=pk, customer=sender.customer).exists()]
    if any(pk != current.pk for pk in own_numbers) and current.pk not in own_numbers:
        return True
    ref = sender.reference
    if ref is None or ref.pk == current.reference_id:
        return False
    if current.reference_id is not None:
        return True
    # The current ticket has no reference yet: a reference another open ticket carries points there.
    return Ticket.objects.filter(reference=ref).exclude(status=Status.CLOSED).exclude(pk=current.pk).exists()


def _new_ticket(msg: InboundMessage, sender: Sender, now: datetime, decision: linking.LinkDecision) -> Ticket:
    team, team_why = team_for_new_ticket(
        channel=msg.channel,
        customer=sender.customer,
        reference=sender.reference,
        text=f"{msg.subject}\n{msg.text}",
    )
    customer = sender.customer
    # The matrix's priority for a ticket nobody has assessed yet; the "created" rules raise it (a premium
    # customer's ticket is high priority from the first moment), before routing hands it out.
    priority = priorities.from_matrix(Level.MEDIUM, Level.MEDIUM)
    subject = (
        msg.subject or msg.text or f"{Channel(msg.channel).label} from {sender.identity.address}"
    ).strip()
    ticket = Ticket(
        customer=customer,
        reference=sender.reference,
        subject=" ".join(subject.split())[:300] or "(no subject)",
        channel=msg.channel,
        priority=priority,
        team=team,
        team_rule=team_why[:200],
        follows=decision.follows,
        created_at=now,
        updated_at=now,
        queued_at=now,
    )
    apply_targets(ticket)
    ticket.save()
    request_distribution(team.pk)
    record_event(
        ticket=ticket,
        kind="created",
        to_value=Status.NEW,
        reason=decision.detail,
        data={
            "channel": msg.channel,
            "team": team.name,
            "team_rule": team_why,
            "priority": f"P{priority}",
            "priority_rule": "impact × urgency",
            **({"follows": decision.follows.number} if decision.follows else {}),
        },
        at=now,
    )
    return ticket


def _customer_spoke(ticket: Ticket, message: Message, *, new_ticket: bool, now: datetime) -> Ticket:
    """A customer message moves the ticket: pending → open, resolved/closed → reopened."""
    if not new_ticket:
        if ticket.status == Status.PENDING:
            ticket = transitions.customer_reply(ticket=ticket, message_id=message.pk)
        elif ticket.status == Status.RESOLVED and (
            answered := verification.answer_by_keyword(ticket=ticket, message=message)
        ):
            ticket = answered  # "fixed" closed it, "not fixed" reopened it (tickets.services.verification)
        elif ticket.status in (Status.RESOLVED, Status.CLOSED) and lifecycle.allowed_from(
            "reopen", ticket.status
        ):
            ticket = transitions.reopen(
                ticket=ticket,
                actor=None,
                reason=f"The customer wrote again ({message.get_channel_display()})",
            )
    # After the first response, the customer is owed an answer within the next-response target.
    started = [] if new_ticket else sla_clocks.start_next_response(ticket, now=now)
    Ticket.objects.filter(pk=ticket.pk).update(
        last_customer_message_at=now, updated_at=now, **{f: getattr(ticket, f) for f in started}
    )
    ticket.last_customer_message_at = ticket.updated_at = now
    return ticket


# Receipts arrive out of order; a message's status only moves forward (a failure is final).
_RECEIPT_RANK = {"queued": 0, "sending": 0, "sent": 1, "delivered": 2, "read": 3, "failed": 4}


def record_receipt(receipt: DeliveryReceipt) -> dict:
    """Update the outbound message a receipt is about; never creates a message."""
    if receipt.status not in _RECEIPT_RANK or receipt.status in ("queued", "sending"):
        raise IntakeError(f"unknown delivery status {receipt.status!r}")
    with transaction.atomic():
        message = (
            Message.objects.select_for_update()
            .filter(
                channel=receipt.channel,
                provider_message_id=receipt.provider_message_id,
                direction=Message.Direction.OUTBOUND,
            )
            .first()
        )
        if message is None:
            return {"receipt": receipt.provider_message_id, "matched": False, "duplicate": False}
        if _RECEIPT_RANK[receipt.status] > _RECEIPT_RANK.get(message.delivery_status, 0):
            message.delivery_status = receipt.status
            if receipt.error:
                message.error = receipt.error[:2000]
            message.save(update_fields=["delivery_status", "error"])
        return {"receipt": receipt.provider_message_id, "matched": True, "status": message.delivery_status}

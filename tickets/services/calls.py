"""A phone call logged by hand: a front-office agent's record of a call becomes a voice interaction through
the intake pipeline (``tickets.intake.receive``), exactly as a call reported by the telephony webhook does.

Every call is its own interaction (DOMAIN.md); it finds its ticket by the usual rules (a ticket number in
the notes, the reference, the customer's only recent open ticket, else a new ticket); an unknown caller
becomes a new customer. The form carries a call ID made when it was shown, which becomes the message's
provider ID: submitting the same form twice records one call.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils import timezone

from tickets.channels import AddressKind
from tickets.errors import IntakeError, PermissionDenied, ValidationFailed
from tickets.intake import InboundMessage, IntakeResult, receive
from tickets.lifecycle import Status
from tickets.models import Agent, Customer, CustomerIdentity, Reference, Ticket
from tickets.permissions import agent_of, is_admin, visible_tickets
from tickets.selectors.customers import normalise_typed_phone
from tickets.services import linking

INBOUND, OUTBOUND = "inbound", "outbound"
DIRECTIONS = {
    INBOUND: "Inbound: the customer called us",
    OUTBOUND: "Outbound: we called the customer",
}
MAX_DURATION = timedelta(hours=12)
# A call "started" a little ahead of the server's clock is clock skew; further ahead is a typing error.
FUTURE_SKEW = timedelta(minutes=5)
CALL_ID_RE = re.compile(r"^[A-Za-z0-9-]{8,64}$")
PROVIDER_PREFIX = "desk-call-"
PHONE_KINDS = (AddressKind.PHONE, AddressKind.WHATSAPP)
# Roles that talk to customers. Back-office agents have no direct customer contact (DOMAIN.md, "team").
CALL_ROLES = (Agent.Role.FRONT_OFFICE, Agent.Role.SUPERVISOR)


def can_log_calls(user) -> bool:
    agent = agent_of(user)
    return is_admin(user) or (agent is not None and agent.role in CALL_ROLES)


@dataclass
class CallerMatch:
    """Who a call is from, as far as the agent has typed it: what intake will make of it, without writing."""

    customer: Customer | None = None
    phone: str = ""  # the number the call is recorded from (E.164), "" when none is known yet
    matched_by: str = ""  # "phone number", "unique ID", "reference"
    new_customer: bool = False
    warnings: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # the call cannot be logged as it stands
    likely_ticket: Ticket | None = None
    likely_link: str = ""
    open_tickets: list[Ticket] = field(default_factory=list)


def _phone_of(customer: Customer) -> str:
    """The customer's number to record a call from: their newest phone number, else WhatsApp number."""
    found = {
        i.channel: i.address
        for i in CustomerIdentity.objects.filter(customer=customer, channel__in=PHONE_KINDS).order_by("id")
    }
    return found.get(AddressKind.PHONE) or found.get(AddressKind.WHATSAPP) or ""


def find_caller(
    *, phone: str = "", unique_id: str = "", reference: str = "", now=None, user=None
) -> CallerMatch:
    """Look the caller up the way ``resolve_sender`` will: a known number wins; else the customer the unique ID
    names; else the customer of a known reference; else a new customer. Reads only.

    ``user``: list only the customer's open tickets this user may see (the look-up card)."""
    now = now or timezone.now()
    match = CallerMatch()
    phone, unique_id, reference = phone.strip(), unique_id.strip(), reference.strip().upper()

    by_phone = None
    if phone:
        try:
            match.phone = normalise_typed_phone(phone)
        except IntakeError as exc:
            match.problems.append(str(exc))
        else:
            identities = CustomerIdentity.objects.select_related("customer").filter(
                channel__in=PHONE_KINDS, address=match.phone
            )
            # A phone identity first, then the same number on WhatsApp (intake treats them as one customer).
            by_phone = next(
                (i.customer for i in sorted(identities, key=lambda i: i.channel != AddressKind.PHONE)), None
            )
    named = Customer.objects.filter(unique_id=unique_id).first() if unique_id else None
    ref = (
        Reference.objects.select_related("customer", "kind").filter(value__iexact=reference).first()
        if reference
        else None
    )

    if by_phone is not None:
        match.customer, match.matched_by = by_phone, "phone number"
    elif named is not None:
        match.customer, match.matched_by = named, "unique ID"
    elif ref is not None:
        match.customer, match.matched_by = ref.customer, "reference"

    if by_phone is not None and unique_id and (named is None or named.pk != by_phone.pk):
        match.warnings.append(
            f"{match.phone} belongs to {by_phone.unique_id}, not {unique_id}: the call is recorded for "
            f"{by_phone.unique_id} and the mismatch is flagged for an admin."
        )
    if ref is not None and match.customer is not None and ref.customer_id != match.customer.pk:
        match.warnings.append(
            f"{ref.value} belongs to {ref.customer.unique_id}, not {match.customer.unique_id}: the call is not "
            "linked by it, and the mismatch is flagged for an admin."
        )
    if unique_id and named is None and by_phone is None:
        if match.phone:
            match.warnings.append(f"No customer has the unique ID {unique_id} yet: it will be created.")
        else:
            match.problems.append(f"No customer has the unique ID {unique_id}.")
    if reference and ref is None and match.customer is None and not match.phone:
        match.problems.append(f"No customer has the reference {reference}.")

    if match.customer is None:
        match.new_customer = bool(match.phone) and not match.problems
    elif not match.phone:
        match.phone = _phone_of(match.customer)
        if not match.phone:
            match.problems.append(
                f"{match.customer.unique_id} has no phone number on record: enter the number of the call."
            )

    if match.customer is not None:
        tickets = visible_tickets(user) if user is not None else Ticket.objects.all()
        match.open_tickets = list(
            tickets.filter(customer=match.customer)
            .exclude(status=Status.CLOSED)
            .select_related("team")
            .order_by("-updated_at")[:5]
        )
        own_ref = ref if ref is not None and ref.customer_id == match.customer.pk else None
        if reference and ref is None:
            match.likely_link = f"a new ticket (new reference {reference})"
        else:
            decision = linking.find_ticket(customer=match.customer, reference=own_ref, ticket_ids=[], now=now)
            match.likely_ticket = decision.ticket
            if decision.ticket is not None:
                how = "reopens" if decision.reopen else "joins"
                match.likely_link = f"{how} {decision.ticket.number} ({decision.detail})"
            else:
                match.likely_link = f"a new ticket{f' ({decision.detail})' if decision.detail else ''}"
    elif match.new_customer:
        match.likely_link = "a new ticket for a new customer"
    return match


@dataclass
class CallRecord:
    """What the agent wrote down about one call."""

    call_id: str
    direction: str
    started_at: datetime
    duration_seconds: int
    notes: str
    phone: str = ""
    customer_unique_id: str = ""
    reference: str = ""
    caller_name: str = ""
    summary: str = ""


def _duration_words(seconds: int) -> str:
    minutes, secs = divmod(seconds, 60)
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def call_text(record: CallRecord, phone: str, agent_name: str) -> str:
    """The call record an agent reads in the timeline (the same shape as a telephony webhook's)."""
    head = f"Inbound call from {phone}" if record.direction == INBOUND else f"Outbound call to {phone}"
    return f"{head}, {_duration_words(record.duration_seconds)}, logged by {agent_name}.\nNotes: {record.notes.strip()}"


def subject_of(record: CallRecord) -> str:
    """The summary if given, else the notes' first line: what a new ticket is called."""
    if record.summary.strip():
        return " ".join(record.summary.split())[:300]
    first = next((line for line in record.notes.splitlines() if line.strip()), "")
    first = " ".join(first.split())
    return first if len(first) <= 120 else first[:119].rstrip() + "…"


def _validate(record: CallRecord, now: datetime) -> None:
    if record.direction not in DIRECTIONS:
        raise ValidationFailed(f"{record.direction!r} is not a call direction; choose inbound or outbound.")
    if not CALL_ID_RE.match(record.call_id or ""):
        raise ValidationFailed("The form has no valid call ID; reload the page and enter the call again.")
    if record.duration_seconds < 0 or timedelta(seconds=record.duration_seconds) > MAX_DURATION:
        raise ValidationFailed("A call lasts between 0 and 12 hours.")
    if timezone.is_naive(record.started_at):
        raise ValidationFailed("The call's start time needs a time zone.")
    if record.started_at > now + FUTURE_SKEW:
        raise ValidationFailed("The call cannot start in the future.")
    if not record.notes.strip():
        raise ValidationFailed("Write what the call was about in the notes.")
    if not (record.phone.strip() or record.customer_unique_id.strip() or record.reference.strip()):
        raise ValidationFailed(
            "Say who called: their phone number, their unique ID, or an order or account reference."
        )


def log_call(*, actor, record: CallRecord) -> IntakeResult:
    """Record a call through the intake pipeline. Returns intake's result (``duplicate`` for a resubmission).

    Refuses, with the reason: someone who does not talk to customers, a call that cannot have happened, a
    caller who cannot be told apart (no number, and none on record for the customer named).
    """
    if not can_log_calls(actor):
        raise PermissionDenied(
            "Calls are logged by the front office and supervisors; the back office has no direct customer contact."
        )
    now = timezone.now()
    _validate(record, now)
    provider_id = f"{PROVIDER_PREFIX}{record.call_id}"
    match = find_caller(
        phone=record.phone, unique_id=record.customer_unique_id, reference=record.reference, now=now
    )
    if match.problems:
        raise ValidationFailed(" ".join(match.problems))
    if not match.phone:
        raise ValidationFailed("Enter the phone number of the call.")
    agent_name = str(agent_of(actor) or actor.get_username())
    ended_at = record.started_at + timedelta(seconds=record.duration_seconds)
    msg = InboundMessage(
        channel="voice",
        sender=match.phone,
        sender_name=record.caller_name.strip()[:200],
        text=call_text(record, match.phone, agent_name),
        subject=subject_of(record),
        provider_message_id=provider_id,
        customer_unique_id=record.customer_unique_id.strip(),
        reference=record.reference.strip(),
        sent_at=record.started_at,
        meta={
            "call": {
                "provider": "desk",
                "direction": record.direction,
                "status": "completed",
                "from": match.phone if record.direction == INBOUND else "",
                "to": match.phone if record.direction == OUTBOUND else "",
                "duration_seconds": record.duration_seconds,
                "started_at": record.started_at.isoformat(),
                "ended_at": ended_at.isoformat(),
                "logged_by": actor.get_username(),
            }
        },
    )
    return receive(msg)

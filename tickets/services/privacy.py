"""Data protection: export everything the help desk holds about a customer, and erase a customer.

**Export** (``export_customer``) is one JSON document: the customer, identities, references, interactions with
their case and messages (attachments by name, type, size and hash), tickets with their history and internal
notes, CSAT surveys, and the audit trail of who viewed or changed the customer's records. It is itself audited.

**Erase** (``erase_customer``) anonymises in place, in one transaction: what identifies the person or was
written by or about them goes (name, identities' addresses and display names, references, message senders,
subjects, bodies, provider extras, attachments — deleted from storage —, ticket subjects and resolution notes,
internal notes, history reasons, CSAT comments, conflict details, the admin log's object names), and what the
statistics count stays: the customer row and its unique ID, tickets, interactions, cases, messages as rows,
their channels, statuses, priorities, timestamps and SLA facts, so every report reads the same before and
after. Queued outbound messages are failed instead of being sent. Identities and references become
``erased-<id>`` (unique, and matching nobody: a later message from the same address starts a new customer).
The edge (``channels_intake``) scrubs the raw inbound events it kept, through the ``customer_erased`` signal
(``tickets`` never imports it). An audit entry records the erasure; the audit trail itself holds no personal
data (ids only), so it is kept whole.

Running it again finds nothing left to change and does nothing (no second audit entry).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Max, Min, Q
from django.dispatch import Signal
from django.utils import timezone

from tickets.channels import Channel
from tickets.models import (
    Attachment,
    AuditEntry,
    Case,
    Customer,
    CustomerConflict,
    CustomerIdentity,
    Interaction,
    Message,
    Note,
    Reference,
    Ticket,
    TicketEvent,
)
from tickets.models.csat import CsatFollowUp, CsatSurvey, Verification
from tickets.services import audit

ERASED = "[erased]"

# Sent inside the erasing transaction with ``customer``, ``message_ids`` (set), ``addresses`` (the identities'
# addresses before erasure), ``since`` and ``until`` (the customer's first and last message). Receivers scrub
# what they keep about the customer and return how many rows they changed.
customer_erased = Signal()

# What a call record keeps after erasure: the facts reports and the timeline count, not numbers or notes.
CALL_FACTS = ("direction", "status", "duration_seconds")


# --- export -------------------------------------------------------------------------------------------------


def _iso(value):
    return value.isoformat() if value else None


def export_customer(*, customer: Customer, actor=None, actor_label: str = "") -> dict:
    """Everything about ``customer`` as JSON-ready data; records an ``export`` audit entry."""
    identities = list(customer.identities.order_by("id"))
    interactions = list(
        Interaction.objects.filter(customer=customer)
        .select_related("identity", "case", "case__ticket")
        .order_by("started_at", "id")
    )
    messages: dict[int, list] = {}
    for m in (
        Message.objects.filter(interaction__customer=customer)
        .prefetch_related("attachments")
        .order_by("sent_at", "id")
    ):
        messages.setdefault(m.interaction_id, []).append(
            {
                "id": m.pk,
                "direction": m.direction,
                "channel": m.channel,
                "sender": m.sender,
                "subject": m.subject,
                "body": m.body,
                "sent_at": _iso(m.sent_at),
                "delivery_status": m.delivery_status,
                "meta": m.meta,
                "attachments": [
                    {
                        "filename": a.filename,
                        "content_type": a.content_type,
                        "size": a.size,
                        "sha256": a.sha256,
                    }
                    for a in m.attachments.all()
                ],
            }
        )
    tickets = list(
        Ticket.objects.filter(customer=customer)
        .select_related("team", "category", "reference")
        .prefetch_related("events", "notes")
        .order_by("id")
    )
    surveys = CsatSurvey.objects.filter(ticket__customer=customer).order_by("created_at", "id")
    trail = AuditEntry.objects.filter(customer_id=customer.pk).order_by("at", "id")
    data = {
        "exported_at": _iso(timezone.now()),
        "customer": {
            "unique_id": customer.unique_id,
            "name": customer.name,
            "tier": customer.tier,
            "created_at": _iso(customer.created_at),
        },
        "identities": [
            {
                "channel": i.channel,
                "address": i.address,
                "display_name": i.display_name,
                "created_at": _iso(i.created_at),
            }
            for i in identities
        ],
        "references": [
            {"kind": r.kind.code, "value": r.value, "created_at": _iso(r.created_at)}
            for r in customer.references.select_related("kind").order_by("id")
        ],
        "interactions": [
            {
                "id": i.pk,
                "channel": i.channel,
                "address": i.identity.address,
                "status": i.status,
                "started_at": _iso(i.started_at),
                "closed_at": _iso(i.closed_at),
                "case": _case(i),
                "messages": messages.get(i.pk, []),
            }
            for i in interactions
        ],
        "tickets": [
            {
                "number": t.number,
                "subject": t.subject,
                "status": t.status,
                "priority": t.priority,
                "channel": t.channel,
                "team": t.team.name,
                "category": t.category.name if t.category_id else None,
                "reference": t.reference.value if t.reference_id else None,
                "created_at": _iso(t.created_at),
                "resolved_at": _iso(t.resolved_at),
                "closed_at": _iso(t.closed_at),
                "resolution_type": t.resolution_type,
                "resolution_notes": t.resolution_notes,
                "history": [
                    {
                        "at": _iso(e.created_at),
                        "kind": e.kind,
                        "from": e.from_value,
                        "to": e.to_value,
                        "reason": e.reason,
                    }
                    for e in t.events.all()
                ],
                "notes": [{"at": _iso(n.created_at), "body": n.body} for n in t.notes.all()],
            }
            for t in tickets
        ],
        "surveys": [
            {
                "ticket": s.ticket_id,
                "state": s.state,
                "channel": s.channel,
                "sent_at": _iso(s.sent_at),
                "answered_at": _iso(s.answered_at),
                "rating": s.rating,
                "comment": s.comment,
            }
            for s in surveys
        ],
        "access_log": [
            {
                "at": _iso(e.at),
                "who": e.actor_label,
                "action": e.action,
                "object": f"{e.object_type} {e.object_id}",
                "ticket": e.ticket_id,
            }
            for e in trail
        ],
    }
    audit.record(
        actor=actor,
        actor_label=actor_label,
        action=AuditEntry.Action.EXPORT,
        object_type="tickets.customer",
        object_id=customer.pk,
        customer_id=customer.pk,
        details={"tickets": len(tickets), "interactions": len(interactions)},
    )
    return data


def _case(interaction: Interaction) -> dict | None:
    try:
        case = interaction.case
    except Case.DoesNotExist:
        return None
    return {
        "id": case.pk,
        "ticket": case.ticket.number,
        "link_rule": case.link_rule,
        "link_detail": case.link_detail,
        "status": case.status,
    }


# --- erase --------------------------------------------------------------------------------------------------


@dataclass
class Erasure:
    customer: str
    changed: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.changed.values())

    @property
    def noop(self) -> bool:
        return self.total == 0

    def summary(self) -> str:
        if self.noop:
            return f"{self.customer}: nothing left to erase."
        parts = ", ".join(f"{n} {what}" for what, n in self.changed.items() if n)
        return f"{self.customer} erased: {parts}."


def _count(report: Erasure, what: str, n: int) -> None:
    report.changed[what] = report.changed.get(what, 0) + n


@transaction.atomic
def erase_customer(*, customer: Customer, actor=None, actor_label: str = "") -> Erasure:
    """Anonymise ``customer`` and everything written by or about them, keeping what reports count."""
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    report = Erasure(customer.unique_id)
    identities = CustomerIdentity.objects.filter(customer=customer)
    addresses = [a for a in identities.values_list("address", flat=True) if not a.startswith("erased-")]
    tickets = Ticket.objects.filter(customer=customer)
    messages = Message.objects.filter(interaction__customer=customer)
    window = messages.aggregate(since=Min("created_at"), until=Max("created_at"))
    message_ids = set(messages.values_list("pk", flat=True))
    # What names the customer, to find it quoted in structured history (link details, edited values).
    needles = _needles(customer, identities)

    _count(report, "customer", Customer.objects.filter(pk=customer.pk).exclude(name="").update(name=""))
    n = 0
    for identity in identities.exclude(address__startswith="erased-").only("pk"):
        n += CustomerIdentity.objects.filter(pk=identity.pk).update(
            address=f"erased-{identity.pk}", display_name=""
        )
    n += identities.exclude(display_name="").update(display_name="")
    _count(report, "identities", n)
    n = 0
    for ref in Reference.objects.filter(customer=customer).exclude(value__startswith="erased-").only("pk"):
        n += Reference.objects.filter(pk=ref.pk).update(value=f"erased-{ref.pk}")
    _count(report, "references", n)

    # Only a call record keeps something of its provider extras (its facts); every other message loses them all.
    n = (
        messages.exclude(body=ERASED)
        .exclude(channel=Channel.VOICE)
        .update(sender="", subject="", body=ERASED, meta={}, error="")
    )
    for m in messages.exclude(body=ERASED).only("pk", "meta"):
        call = (m.meta or {}).get("call")
        meta = {"call": {k: call[k] for k in CALL_FACTS if k in call}} if isinstance(call, dict) else {}
        n += Message.objects.filter(pk=m.pk).update(sender="", subject="", body=ERASED, meta=meta, error="")
    _count(report, "messages", n)
    # Queued replies are not sent with their text gone.
    _count(
        report,
        "queued replies failed",
        messages.filter(delivery_status=Message.DeliveryStatus.QUEUED).update(
            delivery_status=Message.DeliveryStatus.FAILED, error="customer erased"
        ),
    )
    n = 0
    for attachment in Attachment.objects.filter(message__interaction__customer=customer):
        if attachment.file:
            attachment.file.delete(save=False)  # from storage
        n += 1
    Attachment.objects.filter(message__interaction__customer=customer).delete()
    _count(report, "attachments", n)
    _count(
        report,
        "case link details",
        Case.objects.filter(interaction__customer=customer).exclude(link_detail="").update(link_detail=""),
    )
    _count(
        report,
        "tickets",
        tickets.filter(~Q(subject=ERASED) | ~Q(resolution_notes="")).update(
            subject=ERASED, resolution_notes=""
        ),
    )
    _count(
        report,
        "notes",
        Note.objects.filter(ticket__customer=customer).exclude(body=ERASED).update(body=ERASED),
    )
    _count(
        report,
        "history reasons",
        TicketEvent.objects.filter(ticket__customer=customer).exclude(reason="").update(reason=""),
    )
    _count(report, "history details", _scrub_events(customer, needles))
    _count(
        report,
        "conflicts",
        CustomerConflict.objects.filter(Q(identity__customer=customer) | Q(claimed_customer=customer))
        .exclude(detail=ERASED)
        .update(detail=ERASED),
    )
    _count(
        report,
        "survey comments",
        CsatSurvey.objects.filter(ticket__customer=customer).exclude(comment="").update(comment=""),
    )
    _count(
        report,
        "follow-up outcomes",
        CsatFollowUp.objects.filter(ticket__customer=customer).exclude(outcome="").update(outcome=""),
    )
    _count(
        report,
        "verification answers",
        Verification.objects.filter(ticket__customer=customer).exclude(answer_text="").update(answer_text=""),
    )
    _count(report, "admin log entries", _erase_admin_log(customer))
    for _receiver, scrubbed in customer_erased.send(
        sender=Customer,
        customer=customer,
        message_ids=message_ids,
        addresses=addresses,
        since=window["since"],
        until=window["until"],
    ):
        _count(report, "inbound events", scrubbed or 0)

    if not report.noop:
        audit.record(
            actor=actor,
            actor_label=actor_label,
            action=AuditEntry.Action.ERASE,
            object_type="tickets.customer",
            object_id=customer.pk,
            customer_id=customer.pk,
            details={k: v for k, v in report.changed.items() if v},
        )
    return report


def _needles(customer: Customer, identities) -> list[str]:
    values = [customer.name]
    for address, display_name in identities.values_list("address", "display_name"):
        values += [address, address.lstrip("+"), display_name]
    values += list(Reference.objects.filter(customer=customer).values_list("value", flat=True))
    return [v.lower() for v in values if v and len(v) >= 3 and not v.startswith("erased-")]


def _scrubbed(value, needles: list[str]):
    """``value`` with every string quoting one of ``needles`` replaced (dicts and lists walked)."""
    if isinstance(value, str):
        return ERASED if any(n in value.lower() for n in needles) else value
    if isinstance(value, dict):
        return {k: _scrubbed(v, needles) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrubbed(v, needles) for v in value]
    return value


def _scrub_events(customer: Customer, needles: list[str]) -> int:
    """History entries keep their kind, time and ids; a value that quotes the customer (a reference a case was
    linked by, a name typed into an edited field) is blanked."""
    if not needles:
        return 0
    changed = 0
    events = TicketEvent.objects.filter(ticket__customer=customer).only(
        "pk", "data", "from_value", "to_value"
    )
    for event in events.iterator():
        fields = {
            "data": _scrubbed(event.data, needles),
            "from_value": _scrubbed(event.from_value, needles),
            "to_value": _scrubbed(event.to_value, needles),
        }
        if fields != {"data": event.data, "from_value": event.from_value, "to_value": event.to_value}:
            changed += TicketEvent.objects.filter(pk=event.pk).update(**fields)
    return changed


def _erase_admin_log(customer: Customer) -> int:
    """The admin's log names objects by their ``str()`` (a name, an address, a subject) and describes inline
    changes with them: blank those of the customer's records."""
    objects = {
        Customer: [customer.pk],
        CustomerIdentity: list(
            CustomerIdentity.objects.filter(customer=customer).values_list("pk", flat=True)
        ),
        Reference: list(Reference.objects.filter(customer=customer).values_list("pk", flat=True)),
        Ticket: list(Ticket.objects.filter(customer=customer).values_list("pk", flat=True)),
        Interaction: list(Interaction.objects.filter(customer=customer).values_list("pk", flat=True)),
        Message: list(Message.objects.filter(interaction__customer=customer).values_list("pk", flat=True)),
    }
    where = Q(pk__in=[])
    for model, pks in objects.items():
        if pks:
            ct = ContentType.objects.get_for_model(model)
            where |= Q(content_type=ct, object_id__in=[str(pk) for pk in pks])
    return (
        LogEntry.objects.filter(where)
        .exclude(object_repr=ERASED, change_message="")
        .update(object_repr=ERASED, change_message="")
    )

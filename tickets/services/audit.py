"""The security audit trail (``AuditEntry``): who viewed, changed, exported or erased which ticket and customer.

What is recorded, and where it is called from:

- **view** — the ticket workspace page, an attachment download and the customer page (their views call
  ``record_view``): one INSERT, no reads, so a page view costs exactly one more query;
- **change** — every ticket change a *person* makes: ``tickets.services.events.record_event`` calls
  ``record_change``, and the entry points at the ticket history's event instead of repeating it. The event
  already says what changed, from what, to what and why; the audit entry adds what the history does not keep
  (the request path and client address) and, unlike the history, can never be rewritten or lose its row when a
  ticket is deleted. Changes by the system (intake, routing, SLA sweeps) are in the history only: the trail is
  about people's access;
- **change** in the Django admin — every ``LogEntry`` the admin writes (``tickets.signals``), for any model;
  the entry names the model, the object id and the log entry, never its ``object_repr`` or change message
  (they hold names and addresses, which erasure must be able to remove);
- **export** and **erase** — ``tickets.services.privacy``.

The request's path and client address come from ``helpdesk.audit_middleware.AuditRequestMiddleware``, which
binds them for the request (``bound_request``), so services deep in a call need no request argument.
"""

from __future__ import annotations

import getpass
import ipaddress
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from tickets.models import AuditEntry

Action = AuditEntry.Action


@dataclass(frozen=True)
class RequestInfo:
    path: str
    ip: str | None


_request: ContextVar[RequestInfo | None] = ContextVar("audit_request", default=None)


@contextmanager
def bound_request(*, path: str, ip: str | None):
    """Audit entries written inside carry this request's path and client address."""
    token = _request.set(RequestInfo(path=path[:300], ip=_valid_ip(ip)))
    try:
        yield
    finally:
        _request.reset(token)


def _valid_ip(ip: str | None) -> str | None:
    # A forwarded header can hold anything; the column (inet on PostgreSQL) takes only an address.
    try:
        return str(ipaddress.ip_address((ip or "").strip()))
    except ValueError:
        return None


def _is_person(user) -> bool:
    return user is not None and getattr(user, "is_authenticated", False)


def command_label(command: str) -> str:
    """Who ran a management command, for ``actor_label`` (a command has no signed-in user)."""
    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name in this environment
        user = "unknown"
    return f"manage.py {command} ({user})"


def record(
    *,
    actor,
    action: str,
    object_type: str,
    object_id="",
    ticket_id: int | None = None,
    customer_id: int | None = None,
    event_id: int | None = None,
    details: dict | None = None,
    actor_label: str = "",
) -> AuditEntry:
    """Append one entry. ``actor`` None (or anonymous) is the system, or ``actor_label`` names who it was
    (a management command names the operating-system user). ``details``: ids and kinds, never personal data."""
    person = _is_person(actor)
    where = _request.get()
    return AuditEntry.objects.create(
        actor_id=actor.pk if person else None,
        actor_label=(actor.get_username() if person else actor_label or "system")[:150],
        action=action,
        object_type=object_type,
        object_id=str(object_id or ""),
        ticket_id=ticket_id,
        customer_id=customer_id,
        event_id=event_id,
        path=where.path if where else "",
        ip=where.ip if where else None,
        details=details or {},
    )


def record_view(*, actor, ticket=None, customer=None, details: dict | None = None) -> AuditEntry:
    """A person looked at a ticket (and so its customer) or a customer: one INSERT, nothing read."""
    if ticket is not None:
        return record(
            actor=actor,
            action=Action.VIEW,
            object_type="tickets.ticket",
            object_id=ticket.pk,
            ticket_id=ticket.pk,
            customer_id=ticket.customer_id,
            details=details,
        )
    return record(
        actor=actor,
        action=Action.VIEW,
        object_type="tickets.customer",
        object_id=customer.pk,
        customer_id=customer.pk,
        details=details,
    )


def record_change(event) -> AuditEntry | None:
    """A ticket history event, when a person caused it (the system's changes stay in the history only)."""
    if not _is_person(event.actor):
        return None
    ticket = event.ticket
    return record(
        actor=event.actor,
        action=Action.CHANGE,
        object_type="tickets.ticket",
        object_id=ticket.pk,
        ticket_id=ticket.pk,
        customer_id=ticket.customer_id,
        event_id=event.pk,
        details={"kind": event.kind},
    )


def record_customers_changed(*, actor, customer_ids, details: dict, actor_label: str = "") -> int:
    """One ``change`` entry per customer (a CSV import touches thousands at once: one bulk INSERT)."""
    if not customer_ids:
        return 0
    person = _is_person(actor)
    where = _request.get()
    common = {
        "actor_id": actor.pk if person else None,
        "actor_label": (actor.get_username() if person else actor_label or "system")[:150],
        "action": Action.CHANGE,
        "object_type": "tickets.customer",
        "path": where.path if where else "",
        "ip": where.ip if where else None,
        "details": details,
    }
    entries = [AuditEntry(object_id=str(pk), customer_id=pk, **common) for pk in customer_ids]
    return len(AuditEntry.objects.bulk_create(entries, batch_size=1000))


ADMIN_FLAGS = {1: "addition", 2: "change", 3: "deletion"}


def record_admin_entry(entry) -> AuditEntry:
    """One Django admin ``LogEntry`` (an add, change or delete of any model through the admin)."""
    from django.contrib.auth import get_user_model
    from django.contrib.contenttypes.models import ContentType

    ct = ContentType.objects.get_for_id(entry.content_type_id)  # cached after the first time
    label = f"{ct.app_label}.{ct.model}"
    ticket_id = customer_id = None
    model = ct.model_class()
    if model is not None:
        # Which ticket and customer it concerns, read from the object (still there: the admin logs a deletion
        # before it deletes). Admin changes are few; one read each is cheap.
        obj = model._base_manager.filter(pk=entry.object_id).first()
        if obj is not None:
            if label == "tickets.ticket":
                ticket_id, customer_id = obj.pk, obj.customer_id
            elif label == "tickets.customer":
                customer_id = obj.pk
            else:
                ticket_id = getattr(obj, "ticket_id", None)
                customer_id = getattr(obj, "customer_id", None)
    user = get_user_model()._base_manager.filter(pk=entry.user_id).first()
    return record(
        actor=user,
        action=Action.CHANGE,
        object_type=label,
        object_id=entry.object_id,
        ticket_id=ticket_id,
        customer_id=customer_id,
        details={"admin": ADMIN_FLAGS.get(entry.action_flag, str(entry.action_flag)), "log_entry": entry.pk},
    )


def history(*, ticket_id: int | None = None, customer_id: int | None = None):
    """The trail of one ticket or customer, newest first."""
    entries = AuditEntry.objects.all()
    if ticket_id is not None:
        entries = entries.filter(ticket_id=ticket_id)
    if customer_id is not None:
        entries = entries.filter(customer_id=customer_id)
    return entries

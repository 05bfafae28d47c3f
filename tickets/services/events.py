from __future__ import annotations

from django.utils import timezone

from tickets.models import Ticket, TicketEvent
from tickets.services import audit


def record_event(
    *,
    ticket: Ticket,
    actor=None,
    kind: str,
    from_value: str = "",
    to_value: str = "",
    reason: str = "",
    data: dict | None = None,
    at=None,
) -> TicketEvent:
    """Append one entry to the ticket's history (``actor`` None is the system); a person's change is also
    recorded in the audit trail, pointing at this entry."""
    event = TicketEvent.objects.create(
        ticket=ticket,
        actor=actor if actor is not None and getattr(actor, "is_authenticated", False) else None,
        kind=kind,
        from_value=str(from_value)[:200],
        to_value=str(to_value)[:200],
        reason=reason,
        data=data or {},
        created_at=at or timezone.now(),
    )
    audit.record_change(event)
    return event

"""Auto-close (DOMAIN.md, "Ticket lifecycle"): a resolved ticket with no answer from the customer within
``HELPDESK["AUTO_CLOSE_HOURS"]`` of its resolution closes by itself, through the lifecycle's ``close``.

``close_unanswered(now)`` runs from a django-q2 schedule (``helpdesk/schedules.py``). It is safe to repeat
and to run on several cluster processes at once: each ticket is re-checked under its row lock — still
resolved, resolved long enough ago, no customer message since — and closed only if the version it was
read at is still current (``expected_version``), so a reply or reopen that came first wins.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from tickets.errors import HelpdeskError
from tickets.lifecycle import Status
from tickets.models import Ticket
from tickets.services import transitions

log = logging.getLogger(__name__)


def window() -> timedelta:
    return timedelta(hours=settings.HELPDESK["AUTO_CLOSE_HOURS"])


def due_for_auto_close(now: datetime):
    """Resolved at least the window ago, and the customer has not written since."""
    return Ticket.objects.filter(status=Status.RESOLVED, resolved_at__lte=now - window()).filter(
        Q(last_customer_message_at__isnull=True) | Q(last_customer_message_at__lte=F("resolved_at"))
    )


@transaction.atomic
def close_one(ticket_id: int, *, now: datetime) -> bool:
    locked = due_for_auto_close(now).select_for_update(of=("self",)).filter(pk=ticket_id).first()
    if locked is None:  # answered, reopened or closed meanwhile
        return False
    hours = settings.HELPDESK["AUTO_CLOSE_HOURS"]
    transitions.close(
        ticket=locked,
        actor=None,
        reason=f"Closed automatically: no answer from the customer within {hours} h of the resolution.",
        expected_version=locked.version,
    )
    return True


def close_unanswered(now: datetime | None = None) -> int:
    """Close every resolved ticket left unanswered past the window; how many were closed."""
    if settings.HELPDESK["AUTO_CLOSE_HOURS"] <= 0:
        return 0  # turned off
    now = now or timezone.now()
    closed = 0
    for pk in due_for_auto_close(now).values_list("pk", flat=True).iterator():
        try:
            closed += close_one(pk, now=now)
        except HelpdeskError as exc:
            log.warning("auto-close of ticket %s: %s", pk, exc)
    return closed

"""Priority from impact × urgency, through the matrix an admin edits (``PriorityMatrixCell``; DOMAIN.md,
"Priority and SLA"). Rules then raise it (``tickets.services.rules``): a premium customer's ticket is high
priority from the first moment.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from tickets import sla
from tickets.errors import ValidationFailed
from tickets.models import PriorityMatrixCell, Ticket
from tickets.models.tickets import Level
from tickets.services import editing, rules
from tickets.services.events import record_event
from tickets.services.sla import apply_targets


def from_matrix(impact: int, urgency: int) -> int:
    """The matrix's priority for impact × urgency (a cell the admin deleted falls back to the built-in one)."""
    cell = PriorityMatrixCell.objects.filter(impact=impact, urgency=urgency).values_list(
        "priority", flat=True
    )
    return next(iter(cell), None) or sla.PRIORITY_MATRIX[(impact, urgency)]


def _level(value, what: str) -> int:
    try:
        value = int(value)
    except (TypeError, ValueError):
        raise ValidationFailed(f"{value!r} is not an {what} level.") from None
    if value not in Level.values:
        raise ValidationFailed(f"{value} is not an {what} level; choose high (1), medium (2) or low (3).")
    return value


@transaction.atomic
def set_impact_urgency(
    *, ticket: Ticket, actor, impact: int, urgency: int, reason: str = "", expected_version: int | None = None
) -> Ticket:
    """New impact and urgency; the priority becomes the matrix's (its SLA due times re-timed), recorded."""
    impact, urgency = _level(impact, "impact"), _level(urgency, "urgency")
    t = editing._begin(
        ticket, actor=actor, what="change the impact and urgency of", expected_version=expected_version
    )
    if (t.impact, t.urgency) == (impact, urgency):
        return t
    before = (t.impact, t.urgency, t.priority)
    t.impact, t.urgency = impact, urgency
    t.priority = from_matrix(impact, urgency)
    fields = ["impact", "urgency"]
    if t.priority != before[2]:
        apply_targets(t)
        fields += ["priority", "first_response_due", "resolution_due"]
    t.version += 1
    t.updated_at = timezone.now()
    t.save(update_fields=["version", "updated_at", *fields])
    record_event(
        ticket=t,
        actor=actor,
        kind="priority",
        from_value=f"P{before[2]}",
        to_value=f"P{t.priority}",
        reason=reason.strip()
        or f"Impact {Level(impact).label.lower()} × urgency {Level(urgency).label.lower()} (priority matrix)",
        data={"impact": impact, "urgency": urgency, "from_impact": before[0], "from_urgency": before[1]},
        at=t.updated_at,
    )
    rules.after_change(t)
    return t

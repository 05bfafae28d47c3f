"""Reads for triage in the workspace: the merge a duplicate rule offered (``tickets.services.rules``)."""

from __future__ import annotations

from tickets import lifecycle
from tickets.lifecycle import Status
from tickets.models import Rule, RuleFiring, Ticket
from tickets.permissions import relations


def duplicate_offer(*, ticket: Ticket, user) -> Ticket | None:
    """The ticket a rule found this one to duplicate, while the merge is still possible for ``user``: this
    ticket not closed, the original not closed, and the user allowed to merge (the lifecycle's say)."""
    if ticket.status == Status.CLOSED or ticket.merged_into_id:
        return None
    rel = relations(user, ticket)
    if not (lifecycle.allowed_from("merge", ticket.status) and lifecycle.allowed_for("merge", rel)):
        return None
    firing = (
        RuleFiring.objects.filter(
            ticket=ticket, rule__action=Rule.Action.OFFER_MERGE, duplicate_of__isnull=False
        )
        .exclude(duplicate_of__status=Status.CLOSED)
        .select_related("duplicate_of")
        .order_by("-fired_at", "-id")
        .first()
    )
    return firing.duplicate_of if firing else None

"""Bulk actions from the queue: one action on many tickets, each ticket through its own service call.

Every row goes through the lifecycle services (``transitions``) or the inline-edit service
(``editing.set_priority``), which lock the row, refuse a stale view, and decide who may act — so a bulk action
can do nothing a single action could not. Each row is its own transaction: one refusal does not undo the
others, and the outcome lists what was done and, for each refusal, why.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tickets.errors import HelpdeskError, ValidationFailed
from tickets.lifecycle import Status
from tickets.models import Agent, Team
from tickets.models.tickets import format_number
from tickets.permissions import visible_tickets
from tickets.services import editing, transitions

ASSIGN, TRANSFER, PRIORITY, SPAM = "assign", "transfer", "priority", "spam"
ACTIONS = {
    ASSIGN: "Assign",
    TRANSFER: "Transfer",
    PRIORITY: "Set priority",
    SPAM: "Close as spam",
}
MAX_TICKETS = 200


@dataclass
class BulkOutcome:
    action: str
    done: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)

    def summary(self) -> str:
        """``7 done, 2 refused: T-000012 (why); T-000013 (why)``."""
        text = f"{ACTIONS[self.action]}: {len(self.done)} done"
        if self.refused:
            reasons = "; ".join(f"{number} ({why})" for number, why in self.refused)
            text += f", {len(self.refused)} refused: {reasons}"
        return text


def apply(
    *,
    actor,
    action: str,
    selection: list[tuple[int, int | None]],
    agent: Agent | None = None,
    team: Team | None = None,
    priority: int | None = None,
    reason: str = "",
) -> BulkOutcome:
    """Apply ``action`` to each ``(ticket id, version seen)`` of ``selection``, in order.

    - ``assign``: a queued ticket is assigned to ``agent``; one already owned is reassigned to them (the
      services say who may: agents take tickets for themselves, supervisors give them to anyone);
    - ``transfer``: to ``team``, where it is queued and routed afresh;
    - ``priority``: set to ``priority`` (the SLA due times follow);
    - ``spam``: closed as spam.
    """
    if action not in ACTIONS:
        raise ValidationFailed(f"{action!r} is not a bulk action.")
    if not selection:
        raise ValidationFailed("Select at least one ticket.")
    if len(selection) > MAX_TICKETS:
        raise ValidationFailed(f"At most {MAX_TICKETS} tickets at a time; {len(selection)} were selected.")
    if action == ASSIGN and agent is None:
        raise ValidationFailed("Assigning needs an agent.")
    if action == TRANSFER and team is None:
        raise ValidationFailed("Transferring needs a team.")
    if action == PRIORITY and priority is None:
        raise ValidationFailed("Setting the priority needs a priority.")
    reason = reason.strip()
    outcome = BulkOutcome(action)
    ids = [pk for pk, _version in selection]
    visible = {t.pk: t for t in visible_tickets(actor).filter(pk__in=ids).select_related("team", "assignee")}
    for pk, version in dict(selection).items():
        ticket = visible.get(pk)
        if ticket is None:
            outcome.refused.append((format_number(pk), "no such ticket, or not one you may see"))
            continue
        try:
            _one(
                ticket,
                actor=actor,
                action=action,
                version=version,
                agent=agent,
                team=team,
                priority=priority,
                reason=reason,
            )
        except HelpdeskError as exc:
            outcome.refused.append((ticket.number, str(exc)))
        else:
            outcome.done.append(ticket.number)
    return outcome


def _one(ticket, *, actor, action, version, agent, team, priority, reason) -> None:
    common = {"ticket": ticket, "actor": actor, "expected_version": version}
    if action == ASSIGN:
        if ticket.status == Status.NEW:
            transitions.assign(**common, agent=agent, reason=reason or "assigned from the queue")
        else:
            transitions.reassign(**common, agent=agent, reason=reason or "reassigned from the queue")
    elif action == TRANSFER:
        transitions.transfer(**common, team=team, reason=reason)
    elif action == PRIORITY:
        editing.set_priority(**common, priority=priority, reason=reason)
    elif action == SPAM:
        transitions.mark_spam(**common, reason=reason)

"""The ticket lifecycle as data (DOMAIN.md, "Ticket lifecycle").

One table of transitions: the action, the states it may start from, the state it leads to, and who may
take it. Services, the workspace buttons and the tests all read this table; nothing else decides whether a
move is allowed. Pure: no ORM, no request.

Who may act is expressed as *relations* between the actor and the ticket, computed elsewhere
(``tickets.permissions``) so this module stays pure:

- ``owner``       the ticket's assignee
- ``team``        an agent of the ticket's current team
- ``supervisor``  a supervisor of the ticket's team (or an admin)
- ``system``      the help desk itself: intake, routing, sweeps
- ``customer``    the ticket's customer (a reply, "not fixed", "fixed")
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models


class Status(models.TextChoices):
    NEW = "new", "New"
    ASSIGNED = "assigned", "Assigned"
    OPEN = "open", "Open"
    PENDING = "pending", "Pending"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"


# Tickets an agent is working: they count against the agent's maximum active assignments.
ACTIVE_STATUSES = frozenset({Status.ASSIGNED, Status.OPEN, Status.PENDING})
# Tickets not yet closed: a follow-up joins them without reopening anything.
UNCLOSED_STATUSES = frozenset(set(Status) - {Status.CLOSED})
# Tickets waiting in a team's queue for an owner.
QUEUED_STATUSES = frozenset({Status.NEW})

OWNER = "owner"
TEAM = "team"
SUPERVISOR = "supervisor"
SYSTEM = "system"
CUSTOMER = "customer"
RELATIONS = frozenset({OWNER, TEAM, SUPERVISOR, SYSTEM, CUSTOMER})

# Sentinel targets resolved by the service from the ticket, not fixed by the table.
KEEP = "keep"  # the status does not change (escalate to a supervisor)


@dataclass(frozen=True)
class Transition:
    action: str
    sources: frozenset[str]
    target: str
    who: frozenset[str]
    label: str
    # The target when the ticket has no owner afterwards (reopen of an ownerless ticket goes to the queue).
    target_unowned: str | None = None
    # What the actor must say: a reason, a resolution, a team, an agent, another ticket.
    needs: tuple[str, ...] = ()


def _t(action, sources, target, who, label, **kw) -> Transition:
    return Transition(action, frozenset(sources), target, frozenset(who), label, **kw)


S = Status
WORKING = (S.ASSIGNED, S.OPEN, S.PENDING)

TRANSITIONS: dict[str, Transition] = {
    t.action: t
    for t in [
        # Routing or a supervisor gives a queued ticket an owner; an agent of the team may take it.
        _t("assign", [S.NEW], S.ASSIGNED, [SYSTEM, SUPERVISOR, TEAM], "Assign", needs=("agent",)),
        # The owner looks at it.
        _t("open", [S.ASSIGNED], S.OPEN, [OWNER], "Open"),
        # Work under way, waiting on the customer or the back office.
        _t("pend", [S.OPEN], S.PENDING, [OWNER, SUPERVISOR], "Pend", needs=("reason",)),
        # A customer's reply moves a pending ticket back to open.
        _t("customer_reply", [S.PENDING], S.OPEN, [SYSTEM, CUSTOMER], "Customer replied"),
        # A resolution is proposed; the customer confirms it.
        _t("resolve", [S.OPEN, S.PENDING], S.RESOLVED, [OWNER, SUPERVISOR], "Resolve", needs=("resolution",)),
        # Closing: confirmed, auto-closed, or closed by the owner (a resolution is required on the way).
        _t(
            "close",
            [S.OPEN, S.PENDING, S.RESOLVED],
            S.CLOSED,
            [OWNER, SUPERVISOR, SYSTEM, CUSTOMER],
            "Close",
            needs=("resolution",),
        ),
        # "Not fixed", or a follow-up within the reopen window: back to the same owner.
        _t(
            "reopen",
            [S.RESOLVED, S.CLOSED],
            S.ASSIGNED,
            [OWNER, SUPERVISOR, SYSTEM, CUSTOMER],
            "Reopen",
            target_unowned=S.NEW,
            needs=("reason",),
        ),
        # The owner hands the ticket up: to a supervisor (status kept) or to a back-office team (queued there).
        _t(
            "escalate",
            [S.NEW, *WORKING],
            KEEP,
            [OWNER, SUPERVISOR, SYSTEM],
            "Escalate",
            target_unowned=S.NEW,
            needs=("reason",),
        ),
        # The owner moves the ticket to another skill group; it is routed there afresh. The system transfers
        # a ticket nobody could take in time to the team's fallback team (overflow).
        _t(
            "transfer",
            [S.NEW, *WORKING],
            S.NEW,
            [OWNER, SUPERVISOR, TEAM, SYSTEM],
            "Transfer",
            needs=("team",),
        ),
        # A supervisor alone moves a ticket from one agent to another; the lifecycle restarts at assigned.
        _t("reassign", [S.NEW, *WORKING], S.ASSIGNED, [SUPERVISOR], "Reassign", needs=("agent", "reason")),
        # The help desk takes a ticket back from its owner into the same team's queue: the owner went offline
        # and the team returns an offline agent's tickets (Team.offline_policy). Routed afresh from there.
        _t("unassign", WORKING, S.NEW, [SYSTEM], "Return to queue", needs=("reason",)),
        # Triage folds a duplicate into another ticket: an agent, or a merge rule (the system).
        _t(
            "merge",
            [S.NEW, *WORKING, S.RESOLVED],
            S.CLOSED,
            [OWNER, SUPERVISOR, TEAM, SYSTEM],
            "Merge",
            needs=("ticket",),
        ),
        _t("mark_spam", [S.NEW, *WORKING], S.CLOSED, [OWNER, SUPERVISOR, TEAM, SYSTEM], "Mark as spam"),
    ]
}

ACTIONS = tuple(TRANSITIONS)

# Work on a ticket that does not move its status, checked by the same rules (who, from which states).
ACTIVITIES: dict[str, Transition] = {
    t.action: t
    for t in [
        # Writing to the customer: the owner or a supervisor, while the ticket is being worked or verified.
        _t("reply", [*WORKING, S.RESOLVED], KEEP, [OWNER, SUPERVISOR, SYSTEM], "Reply", needs=("body",)),
        # Internal notes: anyone of the team, at any time.
        _t("note", list(Status), KEEP, [OWNER, TEAM, SUPERVISOR], "Add note", needs=("body",)),
    ]
}


def transition(action: str) -> Transition:
    try:
        return TRANSITIONS.get(action) or ACTIVITIES[action]
    except KeyError:
        raise ValueError(f"unknown action {action!r}") from None


def allowed_from(action: str, status: str) -> bool:
    return status in transition(action).sources


def allowed_for(action: str, relations: frozenset[str] | set[str]) -> bool:
    return bool(transition(action).who & set(relations))


def target_status(action: str, status: str, *, has_owner: bool) -> str:
    t = transition(action)
    target = t.target
    if not has_owner and t.target_unowned:
        target = t.target_unowned
    return status if target == KEEP else target


def available_actions(status: str, relations: frozenset[str] | set[str]) -> list[str]:
    """The actions whose buttons a user with these relations sees on a ticket in this status."""
    return [a for a, t in TRANSITIONS.items() if status in t.sources and t.who & set(relations)]

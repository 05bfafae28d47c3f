"""Every lifecycle transition, one function each (DOMAIN.md, "Ticket lifecycle").

Each one: lock the ticket row, refuse a stale view, check who may act and from which state (the table in
``tickets.lifecycle``), change the ticket, write a ``TicketEvent`` — in one transaction. Nothing else in
the code base sets ``ticket.status``.

``actor`` is a user, or ``None`` for the help desk itself (intake, routing, sweeps, a customer's reply).
``expected_version`` is the ``Ticket.version`` the actor's screen showed; pass it from views so a change
made from a stale view fails with ``ConflictError`` instead of overwriting someone else's.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from tickets import lifecycle
from tickets.errors import ConflictError, InvalidTransition, PermissionDenied, ValidationFailed
from tickets.lifecycle import Status
from tickets.models import Agent, Case, Interaction, Team, Ticket
from tickets.models.tickets import ResolutionType
from tickets.permissions import agent_of, relations
from tickets.selectors.agents import active_assignment_count
from tickets.services import sla as sla_clocks
from tickets.services.events import record_event
from tickets.services.routing import request_distribution


def _describe(statuses: Iterable[str]) -> str:
    return ", ".join(sorted(statuses))


def _lock(ticket: Ticket | int) -> Ticket:
    pk = ticket.pk if isinstance(ticket, Ticket) else ticket
    return Ticket.objects.select_for_update(of=("self",)).select_related("team", "assignee").get(pk=pk)


def _begin(*, ticket: Ticket | int, actor, action: str, expected_version: int | None) -> Ticket:
    """Lock and check; returns the fresh, locked ticket. Must run inside ``transaction.atomic``."""
    t = lifecycle.transition(action)
    locked = _lock(ticket)
    if expected_version is not None and locked.version != expected_version:
        raise ConflictError(
            f"{locked.number} was changed by someone else since you opened it "
            f"(it is now {locked.get_status_display().lower()}); reload and try again."
        )
    if not lifecycle.allowed_for(action, relations(actor, locked)):
        who = actor.get_username() if actor is not None else "the system"
        raise PermissionDenied(f"{who} may not {t.label.lower()} {locked.number}.")
    if not lifecycle.allowed_from(action, locked.status):
        raise InvalidTransition(
            f"Cannot {t.label.lower()} {locked.number}: it is {locked.get_status_display().lower()}; "
            f"{t.label.lower()} is allowed only from {_describe(t.sources)}."
        )
    locked._owner_before = locked.assignee_id  # whose slot a move frees (read by _finish)
    return locked


def _finish(
    ticket: Ticket,
    *,
    actor,
    action: str,
    from_status: str,
    reason: str = "",
    data: dict | None = None,
    fields: Iterable[str] = (),
) -> Ticket:
    now = timezone.now()
    ticket.version += 1
    ticket.updated_at = now
    fields = list(fields)
    if ticket.status in lifecycle.QUEUED_STATUSES and (
        from_status not in lifecycle.QUEUED_STATUSES or "team" in fields
    ):
        ticket.queued_at = now
        fields.append("queued_at")
    fields += sla_clocks.on_transition(ticket, from_status=from_status, now=now)  # pause, resume, breaches
    ticket.save(update_fields=["status", "version", "updated_at", *fields])
    record_event(
        ticket=ticket,
        actor=actor,
        kind=action,
        from_value=from_status,
        to_value=ticket.status,
        reason=reason,
        data=data,
        at=now,
    )
    from tickets.services import rules  # the rule engine acts through these transitions

    rules.after_change(ticket)  # the "changed" triage rules, once this commits
    # Routing triggers: the ticket entered a queue, or its owner freed a slot (resolved, closed, transferred
    # or reassigned away) — a slot they may fill from any of their teams' queues.
    if ticket.status in lifecycle.QUEUED_STATUSES:
        request_distribution(ticket.team_id)
    owner_before = getattr(ticket, "_owner_before", None)
    if (
        owner_before is not None
        and from_status in lifecycle.ACTIVE_STATUSES
        and (ticket.status not in lifecycle.ACTIVE_STATUSES or ticket.assignee_id != owner_before)
    ):
        their_teams = Agent.teams.through.objects.filter(agent_id=owner_before).values_list(
            "team_id", flat=True
        )
        for team_id in their_teams:
            if not (team_id == ticket.team_id and ticket.status in lifecycle.QUEUED_STATUSES):
                request_distribution(team_id)  # the ticket's own queue was requested above
    return ticket


def _feedback():
    """The closure and feedback services (verification, notices, CSAT). Imported when used: they write to the
    outbox through ``replies``, which builds on this module."""
    from types import SimpleNamespace

    from tickets.services import closure, verification

    return SimpleNamespace(closure=closure, verification=verification)


def _require(value, what: str, action: str):
    if value in (None, "") or (isinstance(value, str) and not value.strip()):
        raise ValidationFailed(f"{action} needs {what}.")
    return value.strip() if isinstance(value, str) else value


def _lock_agent_with_capacity(agent: Agent, *, ticket: Ticket, require_online: bool = False) -> Agent:
    """Lock the agent's row (so concurrent assignments queue) and refuse one past the maximum.

    ``require_online``: routing hands work to online agents only. Checked under the same lock that
    ``set_presence`` takes, so an agent going offline either gets no more work or sees it returned."""
    locked = Agent.objects.select_for_update(of=("self",)).select_related("user").get(pk=agent.pk)
    if not locked.user.is_active:
        raise ValidationFailed(f"{locked} is not an active user.")
    if require_online and locked.presence != Agent.Presence.ONLINE:
        raise ValidationFailed(
            f"{locked} is {locked.get_presence_display().lower()}; routing gives work to online agents only."
        )
    if not locked.teams.filter(pk=ticket.team_id).exists():
        raise ValidationFailed(f"{locked} is not in {ticket.team}, the team of {ticket.number}.")
    load = active_assignment_count(locked)
    if load >= locked.max_active_assignments:
        raise ValidationFailed(
            f"{locked} is at the maximum of {locked.max_active_assignments} active assignments ({load})."
        )
    return locked


def _give(ticket: Ticket, agent: Agent) -> None:
    now = timezone.now()
    ticket.assignee = agent
    ticket.assigned_at = now
    Agent.objects.filter(pk=agent.pk).update(last_assigned_at=now)


@transaction.atomic
def assign(
    *,
    ticket,
    actor,
    agent: Agent,
    reason: str = "",
    expected_version: int | None = None,
    require_online: bool = False,
) -> Ticket:
    """A queued ticket gets an owner: routing (``require_online``), a supervisor, or an agent of the team
    taking it."""
    t = _begin(ticket=ticket, actor=actor, action="assign", expected_version=expected_version)
    rel = relations(actor, t)
    if not rel & {lifecycle.SYSTEM, lifecycle.SUPERVISOR}:
        me = agent_of(actor)
        if me is None or me.pk != agent.pk:
            raise PermissionDenied(
                "Only a supervisor may assign a ticket to someone else; agents take tickets."
            )
    agent = _lock_agent_with_capacity(agent, ticket=t, require_online=require_online)
    before = t.status
    _give(t, agent)
    t.status = Status.ASSIGNED
    return _finish(
        t,
        actor=actor,
        action="assign",
        from_status=before,
        reason=reason,
        data={"agent": agent.pk, "agent_name": str(agent)},
        fields=["assignee", "assigned_at"],
    )


@transaction.atomic
def open_ticket(*, ticket, actor, expected_version: int | None = None) -> Ticket:
    t = _begin(ticket=ticket, actor=actor, action="open", expected_version=expected_version)
    before, t.status = t.status, Status.OPEN
    return _finish(t, actor=actor, action="open", from_status=before)


@transaction.atomic
def pend(*, ticket, actor, reason: str, expected_version: int | None = None) -> Ticket:
    t = _begin(ticket=ticket, actor=actor, action="pend", expected_version=expected_version)
    reason = _require(reason, "a reason (what the ticket is waiting on)", "Pending")
    before, t.status = t.status, Status.PENDING
    return _finish(t, actor=actor, action="pend", from_status=before, reason=reason)


@transaction.atomic
def customer_reply(*, ticket, message_id: int | None = None) -> Ticket:
    """The customer answered a pending ticket: back to open for its owner."""
    t = _begin(ticket=ticket, actor=None, action="customer_reply", expected_version=None)
    before, t.status = t.status, Status.OPEN
    return _finish(t, actor=None, action="customer_reply", from_status=before, data={"message": message_id})


def _resolution(t: Ticket, resolution_type: str | None, notes: str | None, action: str) -> None:
    resolution_type = resolution_type or t.resolution_type
    notes = notes if notes not in (None, "") else t.resolution_notes
    _require(resolution_type, "a resolution type", action)
    _require(notes, "resolution notes", action)
    if resolution_type not in ResolutionType.values:
        raise ValidationFailed(f"{resolution_type!r} is not a resolution type.")
    t.resolution_type = resolution_type
    t.resolution_notes = notes.strip()


@transaction.atomic
def resolve(
    *, ticket, actor, resolution_type: str, notes: str, expected_version: int | None = None
) -> Ticket:
    t = _begin(ticket=ticket, actor=actor, action="resolve", expected_version=expected_version)
    _resolution(t, resolution_type, notes, "Resolving")
    before, t.status = t.status, Status.RESOLVED
    t.resolved_at = timezone.now()
    asked = _feedback().verification.ask(ticket=t)  # "is it fixed?" on the customer's channel
    return _finish(
        t,
        actor=actor,
        action="resolve",
        from_status=before,
        reason=t.resolution_notes,
        data={"resolution_type": t.resolution_type, **asked},
        fields=["resolution_type", "resolution_notes", "resolved_at"],
    )


def _close_conversations(t: Ticket) -> int:
    """Closing a ticket closes every linked case and its interaction."""
    now = timezone.now()
    interaction_ids = list(t.cases.filter(status=Case.Status.OPEN).values_list("interaction_id", flat=True))
    Case.objects.filter(ticket=t, status=Case.Status.OPEN).update(status=Case.Status.CLOSED, closed_at=now)
    Interaction.objects.filter(pk__in=interaction_ids, status=Interaction.Status.OPEN).update(
        status=Interaction.Status.CLOSED, closed_at=now
    )
    return len(interaction_ids)


def _close(t: Ticket, *, actor, action: str, reason: str, data: dict | None = None, fields=()) -> Ticket:
    before, t.status = t.status, Status.CLOSED
    now = timezone.now()
    t.closed_at = now
    if t.resolved_at is None:
        t.resolved_at = now
    closed = _close_conversations(t)
    return _finish(
        t,
        actor=actor,
        action=action,
        from_status=before,
        reason=reason,
        data={**(data or {}), "resolution_type": t.resolution_type, "closed_interactions": closed},
        fields=["closed_at", "resolved_at", "resolution_type", "resolution_notes", *fields],
    )


@transaction.atomic
def close(
    *,
    ticket,
    actor,
    resolution_type: str | None = None,
    notes: str | None = None,
    reason: str = "",
    expected_version: int | None = None,
) -> Ticket:
    """Close the ticket and all its cases and interactions; a resolution is required on the way."""
    t = _begin(ticket=ticket, actor=actor, action="close", expected_version=expected_version)
    _resolution(t, resolution_type, notes, "Closing")
    told = _feedback().closure.on_closing(t)  # tell the customer, schedule the CSAT survey
    return _close(t, actor=actor, action="close", reason=reason or t.resolution_notes, data=told)


def _why_not_back_to_owner(t: Ticket) -> str:
    """Why a reopened ticket cannot go back to its owner ("" when it can). Locks the owner's row, so the
    maximum is checked the way an assignment checks it."""
    if t.assignee_id is None:
        return "it has no owner"
    owner = Agent.objects.select_for_update(of=("self",)).select_related("user").get(pk=t.assignee_id)
    if not owner.user.is_active:
        return f"{owner} is no longer an active user"
    load = active_assignment_count(owner)
    if load >= owner.max_active_assignments:
        return f"{owner} is at the maximum of {owner.max_active_assignments} active assignments ({load})"
    if owner.presence == Agent.Presence.OFFLINE and t.team.offline_policy != Team.OfflinePolicy.KEEP:
        return f"{owner} is offline and {t.team} returns an offline agent's tickets to its queue"
    return ""


@transaction.atomic
def reopen(*, ticket, actor, reason: str, expected_version: int | None = None) -> Ticket:
    """Back to the same owner ("not fixed", or a follow-up within the reopen window) — unless the owner is
    gone, at their maximum, or offline in a team that returns an offline agent's tickets: then into the
    team's queue, and the reason says why."""
    t = _begin(ticket=ticket, actor=actor, action="reopen", expected_version=expected_version)
    reason = _require(reason, "a reason", "Reopening")
    why_queued = _why_not_back_to_owner(t)
    owner_ok = not why_queued
    data = None
    if not owner_ok:
        if t.assignee_id is not None:
            data = {"from_agent": str(t.assignee), "queued_because": why_queued}
            reason = f"{reason} (to the queue: {why_queued})"
        t.assignee = None
    before = t.status
    t.status = lifecycle.target_status("reopen", before, has_owner=owner_ok)
    t.reopen_count += 1
    t.resolved_at = None
    t.closed_at = None
    data = {**(data or {}), **_feedback().closure.on_reopening(t)}  # a survey not yet out is cancelled
    return _finish(
        t,
        actor=actor,
        action="reopen",
        from_status=before,
        reason=reason,
        data=data or None,
        fields=["assignee", "reopen_count", "resolved_at", "closed_at"],
    )


@transaction.atomic
def escalate(
    *, ticket, actor, reason: str, to_team: Team | None = None, expected_version: int | None = None
) -> Ticket:
    """Hand the ticket up: to the team's supervisors (status kept), or into a back-office team's queue."""
    t = _begin(ticket=ticket, actor=actor, action="escalate", expected_version=expected_version)
    reason = _require(reason, "a reason", "Escalating")
    before = t.status
    data = {"level": t.escalation_level + 1}
    fields = ["escalated", "escalation_level"]
    if to_team is not None and to_team.pk != t.team_id:
        data.update(from_team=t.team.name, to_team=to_team.name)
        t.team = to_team
        t.assignee = None
        fields += ["team", "assignee"]
    else:
        data["to"] = "supervisor"
    t.status = lifecycle.target_status("escalate", before, has_owner=t.assignee_id is not None)
    t.escalated = True
    t.escalation_level += 1
    return _finish(
        t, actor=actor, action="escalate", from_status=before, reason=reason, data=data, fields=fields
    )


@transaction.atomic
def transfer(*, ticket, actor, team: Team, reason: str = "", expected_version: int | None = None) -> Ticket:
    """Move the ticket to another skill group, where it is queued and routed afresh."""
    t = _begin(ticket=ticket, actor=actor, action="transfer", expected_version=expected_version)
    if team is None:
        raise ValidationFailed("Transferring needs a team.")
    if team.pk == t.team_id:
        raise ValidationFailed(f"{t.number} is already in {team}.")
    before = t.status
    data = {"from_team": t.team.name, "to_team": team.name, "from_agent": str(t.assignee or "")}
    t.team, t.assignee, t.status = team, None, Status.NEW
    return _finish(
        t,
        actor=actor,
        action="transfer",
        from_status=before,
        reason=reason,
        data=data,
        fields=["team", "assignee"],
    )


@transaction.atomic
def reassign(*, ticket, actor, agent: Agent, reason: str, expected_version: int | None = None) -> Ticket:
    """A supervisor moves the ticket to another agent; the lifecycle restarts at assigned."""
    t = _begin(ticket=ticket, actor=actor, action="reassign", expected_version=expected_version)
    reason = _require(reason, "a reason", "Reassigning")
    if t.assignee_id == agent.pk:
        raise ValidationFailed(f"{t.number} is already assigned to {agent}.")
    agent = _lock_agent_with_capacity(agent, ticket=t)
    before, previous = t.status, t.assignee
    _give(t, agent)
    t.status = Status.ASSIGNED
    return _finish(
        t,
        actor=actor,
        action="reassign",
        from_status=before,
        reason=reason,
        data={"from_agent": str(previous or ""), "to_agent": str(agent), "agent": agent.pk},
        fields=["assignee", "assigned_at"],
    )


@transaction.atomic
def unassign(*, ticket, actor, reason: str, expected_version: int | None = None) -> Ticket:
    """The help desk takes a ticket back from its owner into its team's queue (the owner went offline and
    the team returns an offline agent's tickets); routing hands it out afresh."""
    t = _begin(ticket=ticket, actor=actor, action="unassign", expected_version=expected_version)
    reason = _require(reason, "a reason", "Returning to the queue")
    before, previous = t.status, t.assignee
    t.assignee, t.status = None, Status.NEW
    return _finish(
        t,
        actor=actor,
        action="unassign",
        from_status=before,
        reason=reason,
        data={"from_agent": str(previous or ""), "agent": previous.pk if previous else None},
        fields=["assignee"],
    )


@transaction.atomic
def merge(*, ticket, actor, into: Ticket, reason: str = "", expected_version: int | None = None) -> Ticket:
    """Fold a duplicate into another ticket of the same customer: its cases move, it closes as duplicate."""
    t = _begin(ticket=ticket, actor=actor, action="merge", expected_version=expected_version)
    target = _lock(into)
    if target.pk == t.pk:
        raise ValidationFailed("A ticket cannot be merged into itself.")
    if target.customer_id != t.customer_id:
        raise ValidationFailed(f"{t.number} and {target.number} belong to different customers.")
    if target.status == Status.CLOSED:
        raise InvalidTransition(f"{target.number} is closed; merge into an open ticket.")
    if not relations(actor, target):
        raise PermissionDenied(f"You may not change {target.number}.")
    parent = target.cases.order_by("created_at", "id").first()
    moved = list(t.cases.values_list("pk", flat=True))
    # The duplicate's cases, its first one included, become children of the target's first case.
    t.cases.update(ticket=target, parent=parent)
    target.version += 1
    target.updated_at = timezone.now()
    target.save(update_fields=["version", "updated_at"])
    record_event(
        ticket=target,
        actor=actor,
        kind="merged_in",
        reason=reason,
        data={"from": t.number, "cases": moved},
    )
    t.resolution_type = ResolutionType.DUPLICATE
    t.resolution_notes = reason or f"Duplicate of {target.number}"
    t.merged_into = target
    return _close(
        t,
        actor=actor,
        action="merge",
        reason=t.resolution_notes,
        data={"into": target.number, "cases": moved},
        fields=["merged_into"],
    )


@transaction.atomic
def mark_spam(*, ticket, actor, reason: str = "", expected_version: int | None = None) -> Ticket:
    t = _begin(ticket=ticket, actor=actor, action="mark_spam", expected_version=expected_version)
    t.resolution_type = ResolutionType.SPAM
    t.resolution_notes = reason or "Spam"
    t.assignee = None
    return _close(t, actor=actor, action="mark_spam", reason=t.resolution_notes, fields=["assignee"])

"""Every transition service through real database transactions (``tickets.services.transitions``).

The matrix runs every action from every status by every kind of actor and reads the expectation from the
lifecycle table: an allowed move lands and writes one ``TicketEvent``; a refused one raises the error that
names its cause and writes nothing at all. Who the actor *is* to the ticket (owner, team, supervisor…) is
spelt out here from DOMAIN.md rather than asked of ``tickets.permissions``, so the services, the table and
the permission rules are each held to the documentation.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from tests.factories import AgentFactory, IdentityFactory, TicketFactory
from tickets import lifecycle
from tickets.errors import (
    ConflictError,
    HelpdeskError,
    InvalidTransition,
    PermissionDenied,
    ValidationFailed,
)
from tickets.lifecycle import OWNER, SUPERVISOR, SYSTEM, TEAM, Status
from tickets.models import Agent, Case, Interaction, Ticket, TicketEvent
from tickets.permissions import relations
from tickets.selectors.agents import active_assignment_count
from tickets.services import transitions as tr

pytestmark = pytest.mark.django_db

ACTORS = ["owner", "teammate", "supervisor", "admin", "other_supervisor", "outsider", "system"]

# What each kind of actor is to a front-office ticket owned by "owner" (DOMAIN.md, lifecycle.py docstring):
# the owner is its assignee and in its team; a supervisor of the team supervises it; an admin supervises
# everything; a back-office agent or a supervisor of another team is nothing to it.
RELATIONS_TO_OWNED = {
    "owner": {OWNER, TEAM},
    "teammate": {TEAM},
    "supervisor": {TEAM, SUPERVISOR},
    "admin": {TEAM, SUPERVISOR},
    "other_supervisor": set(),
    "outsider": set(),
    "system": {SYSTEM},
}


def relations_of(who: str, ticket: Ticket) -> set[str]:
    rel = set(RELATIONS_TO_OWNED[who])
    if ticket.assignee_id is None:
        rel.discard(OWNER)
    return rel


REASONS = {
    "assign": "picked up from the queue",
    "pend": "waiting for the customer's router serial number",
    "reopen": "customer says the line is still down",
    "escalate": "needs a network specialist",
    "transfer": "line fault: technical team",
    "reassign": "owner on holiday",
    "unassign": "owner went offline",
    "merge": "same outage reported twice",
    "mark_spam": "advertising",
}
RESOLUTION = {"resolution_type": "workaround", "notes": "Reset the line at the exchange"}


@pytest.fixture
def cast(front_office, back_office, agent, other_agent, supervisor, back_agent):
    return {
        "owner": agent,
        "teammate": other_agent,
        "supervisor": supervisor,
        "admin": AgentFactory(user__username="ada", role=Agent.Role.ADMIN),
        "other_supervisor": AgentFactory(
            user__username="otto", role=Agent.Role.SUPERVISOR, teams=[back_office]
        ),
        "outsider": back_agent,
        "front_office": front_office,
        "back_office": back_office,
    }


def user_of(who: str, cast):
    return None if who == "system" else cast[who].user


def ticket_in(status: str, owner: Agent | None, **fields) -> Ticket:
    """A front-office ticket in ``status``, owned by ``owner`` unless it is new, built straight in the DB.

    Built directly rather than through the services so each service is tested on its own.
    """
    now = timezone.now()
    if status != Status.NEW and owner is not None:
        fields.setdefault("assignee", owner)
        fields.setdefault("assigned_at", now - timedelta(hours=1))
    if status in (Status.RESOLVED, Status.CLOSED):
        fields.setdefault("resolution_type", "fixed")
        fields.setdefault("resolution_notes", "Replaced the router")
        fields.setdefault("resolved_at", now - timedelta(minutes=30))
    if status == Status.CLOSED:
        fields.setdefault("closed_at", now - timedelta(minutes=10))
    fields.setdefault("version", 4)
    ticket = TicketFactory(status=status, **fields)
    if status == Status.CLOSED:
        Interaction.objects.filter(case__ticket=ticket).update(status="closed", closed_at=now)
        ticket.cases.update(status="closed", closed_at=now)
    return ticket


def add_case(ticket: Ticket) -> Case:
    """Another interaction of the ticket's customer, linked to it as a follow-up."""
    now = timezone.now()
    interaction = Interaction.objects.create(
        customer=ticket.customer,
        identity=IdentityFactory(customer=ticket.customer),
        channel="email",
        started_at=now,
        last_message_at=now,
    )
    return Case.objects.create(
        interaction=interaction,
        ticket=ticket,
        parent=ticket.cases.order_by("created_at", "id").first(),
        link_rule=Case.LinkRule.REFERENCE,
        created_at=now,
    )


def state(ticket: Ticket) -> dict:
    """Everything a transition could write about a ticket, read fresh from the database."""
    return {
        "ticket": Ticket.objects.filter(pk=ticket.pk).values().get(),
        "events": list(TicketEvent.objects.filter(ticket=ticket.pk).values_list("pk", flat=True)),
        "cases": list(Case.objects.filter(ticket=ticket.pk).values("pk", "status", "parent_id")),
        "interactions": list(
            Interaction.objects.filter(case__ticket=ticket.pk).values("pk", "status").order_by("pk")
        ),
        "agents": list(Agent.objects.values("pk", "last_assigned_at").order_by("pk")),
    }


def assign_target(who: str, cast) -> Agent:
    """Agents take tickets for themselves; supervisors, admins and routing give them to the teammate."""
    return cast["teammate"] if who in ("supervisor", "admin", "system") else cast[who]


def perform(action: str, ticket: Ticket, who: str, cast, *, into: Ticket | None = None, **extra):
    actor = user_of(who, cast)
    calls = {
        "assign": lambda: tr.assign(
            ticket=ticket, actor=actor, agent=assign_target(who, cast), reason=REASONS["assign"], **extra
        ),
        "open": lambda: tr.open_ticket(ticket=ticket, actor=actor, **extra),
        "pend": lambda: tr.pend(ticket=ticket, actor=actor, reason=REASONS["pend"], **extra),
        "customer_reply": lambda: tr.customer_reply(ticket=ticket),
        "resolve": lambda: tr.resolve(ticket=ticket, actor=actor, **RESOLUTION, **extra),
        "close": lambda: tr.close(ticket=ticket, actor=actor, **RESOLUTION, **extra),
        "reopen": lambda: tr.reopen(ticket=ticket, actor=actor, reason=REASONS["reopen"], **extra),
        "escalate": lambda: tr.escalate(ticket=ticket, actor=actor, reason=REASONS["escalate"], **extra),
        "transfer": lambda: tr.transfer(
            ticket=ticket, actor=actor, team=cast["back_office"], reason=REASONS["transfer"], **extra
        ),
        "reassign": lambda: tr.reassign(
            ticket=ticket, actor=actor, agent=cast["teammate"], reason=REASONS["reassign"], **extra
        ),
        "unassign": lambda: tr.unassign(ticket=ticket, actor=actor, reason=REASONS["unassign"], **extra),
        "merge": lambda: tr.merge(ticket=ticket, actor=actor, into=into, reason=REASONS["merge"], **extra),
        "mark_spam": lambda: tr.mark_spam(ticket=ticket, actor=actor, reason=REASONS["mark_spam"], **extra),
    }
    return calls[action]()


def expected_reason(action: str) -> str:
    return RESOLUTION["notes"] if action in ("resolve", "close") else REASONS.get(action, "")


def assert_refused_with_nothing_written(exc_type, call, *tickets, match: str | None = None):
    before = [state(t) for t in tickets]
    with pytest.raises(HelpdeskError) as refused:
        call()
    assert type(refused.value) is exc_type, f"{type(refused.value).__name__}: {refused.value}"
    message = str(refused.value)
    assert message.strip(), "a refusal must say why"
    if match:
        assert re.search(match, message), message
    assert [state(t) for t in tickets] == before, "a refused transition wrote something"
    return refused.value


# --- The matrix: every action, from every status, by every kind of actor -----------------------------------

MATRIX = [
    (action, status, who)
    for action in lifecycle.ACTIONS
    for status in Status.values
    # A customer's reply has no actor: it always arrives through the help desk itself.
    for who in (["system"] if action == "customer_reply" else ACTORS)
]


@pytest.mark.parametrize(("action", "status", "who"), MATRIX, ids=["-".join(c) for c in MATRIX])
def test_every_action_from_every_status_by_every_actor(action, status, who, cast):
    ticket = ticket_in(status, cast["owner"])
    into = TicketFactory(customer=ticket.customer) if action == "merge" else None
    extra = {} if action == "customer_reply" else {"expected_version": ticket.version}
    rel = relations_of(who, ticket)
    allowed_for = lifecycle.allowed_for(action, rel)
    allowed_from = lifecycle.allowed_from(action, status)
    label = lifecycle.transition(action).label.lower()

    if not allowed_for:
        name = "the system" if who == "system" else cast[who].user.username
        assert_refused_with_nothing_written(
            PermissionDenied,
            lambda: perform(action, ticket, who, cast, into=into, **extra),
            ticket,
            *([into] if into else []),
            match=rf"^{re.escape(name)} may not {re.escape(label)} {ticket.number}\.$",
        )
        return
    if not allowed_from:
        sources = ", ".join(sorted(lifecycle.transition(action).sources))
        assert_refused_with_nothing_written(
            InvalidTransition,
            lambda: perform(action, ticket, who, cast, into=into, **extra),
            ticket,
            *([into] if into else []),
            match=rf"^Cannot {re.escape(label)} {ticket.number}: it is {status}; "
            rf"{re.escape(label)} is allowed only from {re.escape(sources)}\.$",
        )
        return

    before = state(ticket)
    returned = perform(action, ticket, who, cast, into=into, **extra)
    after = Ticket.objects.get(pk=ticket.pk)
    target = lifecycle.target_status(action, status, has_owner=ticket.assignee_id is not None)
    assert returned.pk == ticket.pk
    assert (returned.status, returned.version) == (after.status, after.version)
    assert after.status == target
    assert after.version == ticket.version + 1
    assert after.updated_at > ticket.updated_at

    new_events = TicketEvent.objects.filter(ticket=ticket).exclude(pk__in=before["events"])
    assert new_events.count() == 1
    event = new_events.get()
    assert event.actor_id == (None if who == "system" else cast[who].user_id)
    assert (event.kind, event.from_value, event.to_value) == (action, status, target)
    assert event.reason == expected_reason(action)

    # What each move does besides the status.
    if action in ("assign", "reassign"):
        assert after.assignee == (assign_target(who, cast) if action == "assign" else cast["teammate"])
        assert after.assigned_at > ticket.updated_at
    elif action in ("transfer", "mark_spam", "unassign"):
        assert after.assignee_id is None
    elif action in ("customer_reply", "open", "pend"):
        assert after.assignee_id == ticket.assignee_id
    if action == "transfer":
        assert after.team == cast["back_office"]
        assert after.queued_at > ticket.queued_at
    else:
        assert after.team_id == ticket.team_id
    if action == "resolve":
        assert (after.resolution_type, after.resolution_notes) == ("workaround", RESOLUTION["notes"])
        assert after.resolved_at is not None
    if action == "escalate":
        assert after.escalated and after.escalation_level == ticket.escalation_level + 1
        assert after.assignee_id == ticket.assignee_id  # handed to the supervisors, not taken away
    if action == "reopen":
        assert after.reopen_count == ticket.reopen_count + 1
        assert after.resolved_at is None and after.closed_at is None
        assert after.assignee == cast["owner"]  # back to the same owner
    if target == Status.CLOSED:
        assert after.closed_at is not None
        assert not Case.objects.filter(ticket=ticket, status="open").exists()
        resolution = {"close": "workaround", "merge": "duplicate", "mark_spam": "spam"}[action]
        assert after.resolution_type == resolution
    if action == "merge":
        assert after.merged_into_id == into.pk


@pytest.mark.parametrize("who", [w for w in ACTORS if w != "system"])
def test_the_actors_relations_are_the_documented_ones(who, cast):
    """The matrix's idea of who each actor is to a ticket is the one ``tickets.permissions`` works out."""
    owned = ticket_in(Status.OPEN, cast["owner"])
    queued = ticket_in(Status.NEW, None)
    assert relations(cast[who].user, owned) == relations_of(who, owned)
    assert relations(cast[who].user, queued) == relations_of(who, queued)
    assert relations(None, owned) == {SYSTEM}


# --- Who may do what, beyond the table ---------------------------------------------------------------------


@pytest.mark.parametrize("status", ["new", "assigned", "open", "pending"])
@pytest.mark.parametrize("who", ["owner", "teammate", "outsider", "other_supervisor", "system"])
def test_only_a_supervisor_of_the_team_may_reassign(who, status, cast):
    ticket = ticket_in(status, cast["owner"])
    name = "the system" if who == "system" else cast[who].user.username
    assert_refused_with_nothing_written(
        PermissionDenied,
        lambda: tr.reassign(ticket=ticket, actor=user_of(who, cast), agent=cast["teammate"], reason="swap"),
        ticket,
        match=rf"{name} may not reassign {ticket.number}",
    )


@pytest.mark.parametrize("status", ["new", "assigned", "open", "pending"])
def test_reassign_restarts_the_lifecycle_at_assigned_for_the_new_owner(status, cast):
    ticket = ticket_in(status, cast["owner"], escalated=True, escalation_level=1)
    owner, teammate = cast["owner"], cast["teammate"]
    owner_load = active_assignment_count(owner)
    after = tr.reassign(
        ticket=ticket, actor=cast["supervisor"].user, agent=teammate, reason="owner on holiday"
    )
    after = Ticket.objects.get(pk=after.pk)
    assert (after.status, after.assignee) == (Status.ASSIGNED, teammate)
    assert active_assignment_count(teammate) == 1
    assert active_assignment_count(owner) == owner_load - (status != Status.NEW)
    event = after.events.last()
    assert (event.kind, event.from_value, event.to_value) == ("reassign", status, "assigned")
    assert event.actor == cast["supervisor"].user and event.reason == "owner on holiday"
    assert event.data["to_agent"] == str(teammate) and event.data["agent"] == teammate.pk
    assert event.data["from_agent"] == ("" if status == Status.NEW else str(owner))
    # The new owner starts from the beginning: they open it; the old owner no longer can.
    with pytest.raises(PermissionDenied):
        tr.open_ticket(ticket=after, actor=owner.user)
    assert tr.open_ticket(ticket=after, actor=teammate.user).status == Status.OPEN


@pytest.mark.parametrize("action", ["resolve", "pend", "open"])
def test_an_agent_who_is_not_the_owner_may_not_work_the_ticket(action, cast):
    status = {"resolve": "open", "pend": "open", "open": "assigned"}[action]
    ticket = ticket_in(status, cast["owner"])
    assert_refused_with_nothing_written(
        PermissionDenied,
        lambda: perform(action, ticket, "teammate", cast),
        ticket,
        match=rf"^olga may not {action} {ticket.number}\.$",
    )


def test_an_agent_takes_tickets_for_themselves_only(cast):
    ticket = ticket_in(Status.NEW, None)
    assert_refused_with_nothing_written(
        PermissionDenied,
        lambda: tr.assign(ticket=ticket, actor=cast["teammate"].user, agent=cast["owner"]),
        ticket,
        match="Only a supervisor may assign a ticket to someone else",
    )
    after = tr.assign(ticket=ticket, actor=cast["teammate"].user, agent=cast["teammate"])
    assert (after.status, after.assignee) == (Status.ASSIGNED, cast["teammate"])


# --- The agent's maximum ----------------------------------------------------------------------------------


def fill_up(agent: Agent, limit: int) -> None:
    """``agent`` owns ``limit`` active tickets (and some inactive ones, which do not count)."""
    agent.max_active_assignments = limit
    agent.save(update_fields=["max_active_assignments"])
    for status in [Status.ASSIGNED, Status.OPEN, Status.PENDING][:limit]:
        ticket_in(status, agent)
    for _ in range(limit - 3):
        ticket_in(Status.OPEN, agent)
    ticket_in(Status.RESOLVED, agent)
    ticket_in(Status.CLOSED, agent)
    assert active_assignment_count(agent) == limit


HANDING_OUT = {
    "routing assigns": lambda t, cast: tr.assign(ticket=t, actor=None, agent=cast["teammate"]),
    "supervisor assigns": lambda t, cast: tr.assign(
        ticket=t, actor=cast["supervisor"].user, agent=cast["teammate"]
    ),
    "agent takes": lambda t, cast: tr.assign(ticket=t, actor=cast["teammate"].user, agent=cast["teammate"]),
    "supervisor reassigns": lambda t, cast: tr.reassign(
        ticket=t, actor=cast["supervisor"].user, agent=cast["teammate"], reason="balance the load"
    ),
}


@pytest.mark.parametrize("limit", [1, 2, 5])
@pytest.mark.parametrize("how", list(HANDING_OUT))
def test_nobody_is_given_a_ticket_past_their_maximum(how, limit, cast):
    fill_up(cast["teammate"], limit)
    ticket = ticket_in(Status.OPEN if how == "supervisor reassigns" else Status.NEW, cast["owner"])
    assert_refused_with_nothing_written(
        ValidationFailed,
        lambda: HANDING_OUT[how](ticket, cast),
        ticket,
        match=rf"is at the maximum of {limit} active assignments \({limit}\)",
    )
    assert active_assignment_count(cast["teammate"]) == limit
    # One of theirs is resolved: the slot is free and the same move now lands.
    Ticket.objects.filter(assignee=cast["teammate"], status=Status.ASSIGNED).update(status=Status.RESOLVED)
    after = HANDING_OUT[how](ticket, cast)
    assert after.assignee == cast["teammate"]
    assert active_assignment_count(cast["teammate"]) == limit


@pytest.mark.parametrize("how", list(HANDING_OUT))
def test_tickets_go_only_to_active_agents_of_the_ticket_team(how, cast):
    ticket = ticket_in(Status.OPEN if how == "supervisor reassigns" else Status.NEW, cast["owner"])
    cast["teammate"].teams.set([cast["back_office"]])
    cast["teammate"].__dict__.pop("_team_ids", None)
    cast["teammate"].user.agent.__dict__.pop("_team_ids", None)
    if how == "agent takes":
        # No longer of the team: the agent has no say over the ticket at all.
        exc, match = PermissionDenied, "may not assign"
    else:
        exc, match = ValidationFailed, rf"is not in Front office, the team of {ticket.number}"
    assert_refused_with_nothing_written(exc, lambda: HANDING_OUT[how](ticket, cast), ticket, match=match)

    cast["teammate"].teams.set([cast["front_office"]])
    cast["teammate"].user.agent.__dict__.pop("_team_ids", None)
    cast["teammate"].user.is_active = False
    cast["teammate"].user.save(update_fields=["is_active"])
    assert_refused_with_nothing_written(
        ValidationFailed, lambda: HANDING_OUT[how](ticket, cast), ticket, match="is not an active user"
    )


def test_reassigning_to_the_current_owner_is_refused(cast):
    ticket = ticket_in(Status.OPEN, cast["teammate"])
    assert_refused_with_nothing_written(
        ValidationFailed,
        lambda: tr.reassign(ticket=ticket, actor=cast["supervisor"].user, agent=cast["teammate"], reason="x"),
        ticket,
        match=rf"{ticket.number} is already assigned to olga",
    )


# --- What each action needs ---------------------------------------------------------------------------------

MISSING = {
    "pend: empty reason": ("open", lambda t, c: tr.pend(ticket=t, actor=c["owner"].user, reason="")),
    "pend: blank reason": ("open", lambda t, c: tr.pend(ticket=t, actor=c["owner"].user, reason="  \n ")),
    "pend: no reason": ("open", lambda t, c: tr.pend(ticket=t, actor=c["owner"].user, reason=None)),
    "resolve: no notes": (
        "open",
        lambda t, c: tr.resolve(ticket=t, actor=c["owner"].user, resolution_type="fixed", notes=""),
    ),
    "resolve: blank notes": (
        "pending",
        lambda t, c: tr.resolve(ticket=t, actor=c["owner"].user, resolution_type="fixed", notes="   "),
    ),
    "resolve: no type": (
        "open",
        lambda t, c: tr.resolve(ticket=t, actor=c["owner"].user, resolution_type="", notes="done"),
    ),
    "resolve: unknown type": (
        "open",
        lambda t, c: tr.resolve(ticket=t, actor=c["owner"].user, resolution_type="magic", notes="done"),
    ),
    "close: no resolution": ("open", lambda t, c: tr.close(ticket=t, actor=c["owner"].user)),
    "close: notes but no type": (
        "pending",
        lambda t, c: tr.close(ticket=t, actor=c["supervisor"].user, notes="done"),
    ),
    "reopen: no reason": ("resolved", lambda t, c: tr.reopen(ticket=t, actor=c["owner"].user, reason="")),
    "reopen: blank reason": ("closed", lambda t, c: tr.reopen(ticket=t, actor=None, reason=" ")),
    "escalate: no reason": ("open", lambda t, c: tr.escalate(ticket=t, actor=c["owner"].user, reason="")),
    "reassign: no reason": (
        "open",
        lambda t, c: tr.reassign(ticket=t, actor=c["supervisor"].user, agent=c["teammate"], reason=""),
    ),
    "transfer: no team": ("open", lambda t, c: tr.transfer(ticket=t, actor=c["owner"].user, team=None)),
    "transfer: same team": (
        "assigned",
        lambda t, c: tr.transfer(ticket=t, actor=c["owner"].user, team=c["front_office"]),
    ),
}
MISSING_MESSAGE = {
    "pend": "Pending needs a reason",
    "resolve: no notes": "Resolving needs resolution notes",
    "resolve: blank notes": "Resolving needs resolution notes",
    "resolve: no type": "Resolving needs a resolution type",
    "resolve: unknown type": "'magic' is not a resolution type",
    "close: no resolution": "Closing needs a resolution type",
    "close: notes but no type": "Closing needs a resolution type",
    "reopen": "Reopening needs a reason",
    "escalate": "Escalating needs a reason",
    "reassign": "Reassigning needs a reason",
    "transfer: no team": "Transferring needs a team",
    "transfer: same team": "is already in Front office",
}


@pytest.mark.parametrize("case", list(MISSING))
def test_an_action_missing_what_it_needs_is_refused_and_writes_nothing(case, cast):
    status, call = MISSING[case]
    ticket = ticket_in(status, cast["owner"], resolution_type="", resolution_notes="")
    message = MISSING_MESSAGE.get(case) or MISSING_MESSAGE[case.split(":")[0]]
    assert_refused_with_nothing_written(
        ValidationFailed, lambda: call(ticket, cast), ticket, match=re.escape(message)
    )


def test_the_reason_is_kept_trimmed(cast):
    ticket = ticket_in(Status.OPEN, cast["owner"])
    tr.pend(ticket=ticket, actor=cast["owner"].user, reason="  waiting on the back office \n")
    assert ticket.events.last().reason == "waiting on the back office"


def test_closing_a_resolved_ticket_confirms_the_proposed_resolution(cast):
    ticket = ticket_in(
        Status.RESOLVED, cast["owner"], resolution_type="answered", resolution_notes="Told them"
    )
    after = tr.close(ticket=ticket, actor=None)  # the auto-close sweep, or the customer's "fixed"
    after = Ticket.objects.get(pk=after.pk)
    assert (after.status, after.resolution_type, after.resolution_notes) == (
        "closed",
        "answered",
        "Told them",
    )
    event = after.events.last()
    assert (event.actor, event.kind, event.from_value, event.to_value) == (
        None,
        "close",
        "resolved",
        "closed",
    )
    assert event.reason == "Told them"


# --- Closing closes the conversation ----------------------------------------------------------------------

CLOSING = {
    "close": lambda t, c: tr.close(ticket=t, actor=c["owner"].user, resolution_type="fixed", notes="done"),
    "close by the system": lambda t, c: tr.close(
        ticket=t, actor=None, resolution_type="no_response", notes="no answer", reason="auto-close"
    ),
    "mark_spam": lambda t, c: tr.mark_spam(ticket=t, actor=c["teammate"].user),
}


CLOSING_FROM = [
    (how, status)
    for how in CLOSING
    for status in ["open", "pending", "resolved"]
    if lifecycle.allowed_from(how.split()[0], status)
]


@pytest.mark.parametrize(("how", "status"), CLOSING_FROM, ids=[f"{h}-from-{s}" for h, s in CLOSING_FROM])
def test_closing_closes_every_case_and_interaction_of_the_ticket(how, status, cast):
    ticket = ticket_in(status, cast["owner"])
    add_case(ticket)
    add_case(ticket)
    bystander = ticket_in(Status.OPEN, cast["owner"], customer=ticket.customer)
    assert ticket.cases.filter(status="open").count() == 3

    CLOSING[how](ticket, cast)

    ticket.refresh_from_db()
    assert ticket.status == Status.CLOSED and ticket.closed_at is not None
    cases = Case.objects.filter(ticket=ticket)
    assert cases.count() == 3
    assert {c.status for c in cases} == {"closed"} and all(c.closed_at for c in cases)
    interactions = Interaction.objects.filter(case__ticket=ticket)
    assert {i.status for i in interactions} == {"closed"} and all(i.closed_at for i in interactions)
    assert ticket.events.last().data["closed_interactions"] == 3
    # Another ticket of the same customer keeps its conversation open.
    assert set(Case.objects.filter(ticket=bystander).values_list("status", flat=True)) == {"open"}
    assert set(Interaction.objects.filter(case__ticket=bystander).values_list("status", flat=True)) == {
        "open"
    }


def test_auto_close_records_the_reason_given(cast):
    ticket = ticket_in(Status.RESOLVED, cast["owner"])
    tr.close(ticket=ticket, actor=None, reason="no answer in 7 days")
    assert ticket.events.last().reason == "no answer in 7 days"


# --- Merge --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["new", "assigned", "open", "pending", "resolved"])
def test_merge_moves_the_cases_and_closes_the_duplicate(status, cast):
    target = ticket_in(Status.OPEN, cast["teammate"])
    first_case = target.cases.get()
    duplicate = ticket_in(status, cast["owner"], customer=target.customer)
    add_case(duplicate)
    moved = set(duplicate.cases.values_list("pk", flat=True))
    target_version = target.version

    tr.merge(
        ticket=duplicate,
        actor=cast["owner"].user,
        into=target,
        reason=REASONS["merge"],
        expected_version=duplicate.version,
    )

    duplicate.refresh_from_db()
    target.refresh_from_db()
    assert (duplicate.status, duplicate.resolution_type, duplicate.merged_into) == (
        Status.CLOSED,
        "duplicate",
        target,
    )
    assert duplicate.resolution_notes == REASONS["merge"]
    assert not duplicate.cases.exists()
    # The duplicate's cases now hang under the target's first case, still open: the issue goes on there.
    assert set(target.cases.values_list("pk", flat=True)) == moved | {first_case.pk}
    for case in Case.objects.filter(pk__in=moved):
        assert (case.ticket_id, case.parent_id, case.status) == (target.pk, first_case.pk, "open")
    assert (target.status, target.version) == (Status.OPEN, target_version + 1)
    merged_in = target.events.get(kind="merged_in")
    assert merged_in.actor == cast["owner"].user
    assert set(merged_in.data["cases"]) == moved and merged_in.data["from"] == duplicate.number
    closed = duplicate.events.get(kind="merge")
    assert (closed.from_value, closed.to_value, closed.data["into"]) == (status, "closed", target.number)


def test_merge_without_a_reason_says_what_it_duplicates(cast):
    target = ticket_in(Status.OPEN, cast["owner"])
    duplicate = ticket_in(Status.NEW, None, customer=target.customer)
    tr.merge(ticket=duplicate, actor=cast["teammate"].user, into=target)
    duplicate.refresh_from_db()
    assert duplicate.resolution_notes == f"Duplicate of {target.number}"
    assert duplicate.events.last().reason == f"Duplicate of {target.number}"


def test_merge_refusals_write_nothing_to_either_ticket(cast):
    ticket = ticket_in(Status.OPEN, cast["owner"])
    owner = cast["owner"].user
    assert_refused_with_nothing_written(
        ValidationFailed,
        lambda: tr.merge(ticket=ticket, actor=owner, into=ticket),
        ticket,
        match="cannot be merged into itself",
    )
    stranger = ticket_in(Status.OPEN, cast["owner"])  # another customer's
    assert_refused_with_nothing_written(
        ValidationFailed,
        lambda: tr.merge(ticket=ticket, actor=owner, into=stranger),
        ticket,
        stranger,
        match="belong to different customers",
    )
    closed = ticket_in(Status.CLOSED, cast["owner"], customer=ticket.customer)
    assert_refused_with_nothing_written(
        InvalidTransition,
        lambda: tr.merge(ticket=ticket, actor=owner, into=closed),
        ticket,
        closed,
        match=rf"{closed.number} is closed; merge into an open ticket",
    )
    elsewhere = ticket_in(Status.NEW, None, customer=ticket.customer, team=cast["back_office"])
    assert_refused_with_nothing_written(
        PermissionDenied,
        lambda: tr.merge(ticket=ticket, actor=owner, into=elsewhere),
        ticket,
        elsewhere,
        match=rf"may not change {elsewhere.number}",
    )


# --- Reopen, escalate, transfer, spam: the details ---------------------------------------------------------


@pytest.mark.parametrize("status", ["resolved", "closed"])
def test_reopen_goes_to_the_queue_when_the_owner_is_gone(status, cast):
    ticket = ticket_in(status, cast["owner"])
    cast["owner"].user.is_active = False
    cast["owner"].user.save(update_fields=["is_active"])
    after = Ticket.objects.get(pk=tr.reopen(ticket=ticket, actor=None, reason="not fixed").pk)
    assert (after.status, after.assignee_id) == (Status.NEW, None)
    assert after.queued_at > ticket.queued_at
    assert after.events.last().to_value == "new"


def test_reopening_spam_puts_it_back_in_the_queue(cast):
    ticket = tr.mark_spam(ticket=ticket_in(Status.OPEN, cast["owner"]), actor=cast["owner"].user)
    assert ticket.assignee_id is None
    after = tr.reopen(ticket=ticket, actor=cast["supervisor"].user, reason="it was a real customer")
    assert (after.status, after.assignee_id, after.reopen_count) == (Status.NEW, None, 1)


@pytest.mark.parametrize("status", ["new", "assigned", "open", "pending"])
def test_escalating_to_a_back_office_team_queues_it_there(status, cast):
    ticket = ticket_in(status, cast["owner"])
    after = tr.escalate(
        ticket=ticket, actor=cast["supervisor"].user, reason="line fault", to_team=cast["back_office"]
    )
    after = Ticket.objects.get(pk=after.pk)
    assert (after.status, after.team, after.assignee_id) == (Status.NEW, cast["back_office"], None)
    assert after.escalated and after.escalation_level == 1
    assert after.queued_at > ticket.queued_at
    event = after.events.last()
    assert (event.kind, event.from_value, event.to_value) == ("escalate", status, "new")
    assert (event.data["from_team"], event.data["to_team"]) == ("Front office", cast["back_office"].name)
    # The owner's slot is free again.
    assert active_assignment_count(cast["owner"]) == 0


def test_escalating_to_the_own_team_goes_to_the_supervisor(cast):
    ticket = ticket_in(Status.PENDING, cast["owner"], escalation_level=1, escalated=True)
    after = tr.escalate(
        ticket=ticket, actor=cast["owner"].user, reason="second escalation", to_team=cast["front_office"]
    )
    assert (after.status, after.assignee, after.escalation_level) == (Status.PENDING, cast["owner"], 2)
    assert after.events.last().data == {"level": 2, "to": "supervisor"}


def test_transfer_routes_the_ticket_afresh_in_the_other_team(cast):
    ticket = ticket_in(Status.PENDING, cast["owner"])
    after = tr.transfer(ticket=ticket, actor=cast["owner"].user, team=cast["back_office"], reason="tech")
    assert (after.status, after.team, after.assignee) == (Status.NEW, cast["back_office"], None)
    event = after.events.last()
    assert event.data == {
        "from_team": "Front office",
        "to_team": cast["back_office"].name,
        "from_agent": "frank",
    }
    # Now the back office's agent may take it, and the front office's agents have no say over it.
    with pytest.raises(PermissionDenied):
        tr.assign(ticket=after, actor=cast["owner"].user, agent=cast["owner"])
    assert tr.assign(ticket=after, actor=cast["outsider"].user, agent=cast["outsider"]).status == "assigned"


# --- Stale views ----------------------------------------------------------------------------------------------


def first_allowed(action: str, status: str) -> str:
    """An actor the table lets take ``action`` on an owned ticket in ``status``."""
    ticket = Ticket(status=status, assignee_id=1 if status != Status.NEW else None)
    return next(w for w in ACTORS if lifecycle.allowed_for(action, relations_of(w, ticket)))


STALE = [
    (a, s)
    for a in lifecycle.ACTIONS
    if a != "customer_reply"  # a customer's reply has no screen to be stale
    for s in sorted(lifecycle.transition(a).sources)
]


@pytest.mark.parametrize("seen", [-1, +1], ids=["older", "newer"])
@pytest.mark.parametrize(("action", "status"), STALE, ids=[f"{a}-from-{s}" for a, s in STALE])
def test_a_move_made_from_a_stale_view_is_a_conflict(action, status, seen, cast):
    ticket = ticket_in(status, cast["owner"])
    into = TicketFactory(customer=ticket.customer) if action == "merge" else None
    who = first_allowed(action, status)
    assert_refused_with_nothing_written(
        ConflictError,
        lambda: perform(action, ticket, who, cast, into=into, expected_version=ticket.version + seen),
        ticket,
        *([into] if into else []),
        match=rf"^{ticket.number} was changed by someone else since you opened it \(it is now {status}\); "
        "reload and try again\\.$",
    )
    # The same move from an up-to-date view lands.
    assert perform(action, ticket, who, cast, into=into, expected_version=ticket.version).version == (
        ticket.version + 1
    )


def test_a_second_move_from_the_same_view_is_a_conflict(cast):
    ticket = ticket_in(Status.OPEN, cast["owner"])
    seen = ticket.version
    tr.pend(ticket=ticket, actor=cast["owner"].user, reason="waiting", expected_version=seen)
    assert_refused_with_nothing_written(
        ConflictError,
        lambda: tr.resolve(ticket=ticket, actor=cast["supervisor"].user, **RESOLUTION, expected_version=seen),
        ticket,
        match=r"it is now pending",
    )


def test_the_ticket_can_be_given_by_its_id(cast):
    ticket = ticket_in(Status.ASSIGNED, cast["owner"])
    after = tr.open_ticket(ticket=ticket.pk, actor=cast["owner"].user, expected_version=ticket.version)
    assert (after.pk, after.status) == (ticket.pk, Status.OPEN)


# --- Property: random actions by random actors, the service and the table always agree ----------------------

MACHINE_ACTORS = [*ACTORS, "full"]
FORWARD = {"assign", "open", "pend", "customer_reply", "resolve", "close"}


class TicketLifecycle(RuleBasedStateMachine):
    """One ticket driven by random actions of random actors; each example runs in a rolled-back savepoint."""

    cast: dict  # set by the test below
    seen: Counter  # what the run did, over all examples

    def __init__(self):
        super().__init__()
        self.teams = {
            w: set(self.cast[w].teams.values_list("pk", flat=True)) for w in MACHINE_ACTORS if w != "system"
        }
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        try:
            self.ticket = TicketFactory()
        except BaseException:
            self.teardown()
            raise
        self.version = self.ticket.version
        self.events = 0

    def teardown(self):
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    def relations(self, who: str, ticket: Ticket) -> set[str]:
        """DOMAIN.md's relations, worked out from roles and team memberships."""
        if who == "system":
            return {SYSTEM}
        agent = self.cast[who]
        if agent.role == Agent.Role.ADMIN:
            return {SUPERVISOR, TEAM}
        rel = set()
        if ticket.assignee_id == agent.pk:
            rel.add(OWNER)
        if ticket.team_id in self.teams[who]:
            rel.add(TEAM)
            if agent.role == Agent.Role.SUPERVISOR:
                rel.add(SUPERVISOR)
        return rel

    def expect(self, action, who, ticket, *, agent, into):
        """The error the move must raise, or None when it must land."""
        rel = self.relations(who, ticket)
        if not lifecycle.allowed_for(action, rel):
            return PermissionDenied
        if not lifecycle.allowed_from(action, ticket.status):
            return InvalidTransition
        if action == "assign" and not rel & {SYSTEM, SUPERVISOR} and agent.pk != self.cast[who].pk:
            return PermissionDenied
        if action == "reassign" and ticket.assignee_id == agent.pk:
            return ValidationFailed
        if action in ("assign", "reassign"):
            if ticket.team_id not in set(agent.teams.values_list("pk", flat=True)):
                return ValidationFailed
            if active_assignment_count(agent) >= agent.max_active_assignments:
                return ValidationFailed
        if action == "merge" and not self.relations(who, into):
            return PermissionDenied
        return None

    @rule(
        data=st.data(),
        who=st.sampled_from(["assignee", *MACHINE_ACTORS]),
        anything=st.booleans(),
        pick=st.sampled_from(["self", "owner", "teammate", "outsider", "full"]),
        elsewhere=st.booleans(),
        stale=st.sampled_from([False] * 7 + [True]),
    )
    def act(self, data, who, anything, pick, elsewhere, stale):
        ticket = Ticket.objects.get(pk=self.ticket.pk)
        if who == "assignee":  # whoever owns the ticket now
            who = next((w for w in self.teams if self.cast[w].pk == ticket.assignee_id), "owner")
        # Half the moves are any action at all; half are ones the table offers this actor now, those that
        # move the ticket along first and weighted up, so it gets deep into its life instead of bouncing
        # off refusals or going round new -> closed -> new.
        offered = [] if anything else lifecycle.available_actions(ticket.status, self.relations(who, ticket))
        offered = [a for a in offered if a in FORWARD] * 4 + offered
        action = data.draw(st.sampled_from(offered or lifecycle.ACTIONS), label="action")
        if action == "customer_reply":
            who, stale = "system", False  # no actor, no screen to be stale
        if action in ("assign", "reassign"):
            agent = self.cast[who if pick == "self" and who != "system" else pick.replace("self", "owner")]
        else:
            agent = None
        front, back = self.cast["front_office"], self.cast["back_office"]
        other_team = back if ticket.team_id == front.pk else front
        into = TicketFactory(customer=ticket.customer) if action == "merge" else None
        should = ConflictError if stale else self.expect(action, who, ticket, agent=agent, into=into)
        actor = user_of(who, self.cast)
        version = {} if action == "customer_reply" else {"expected_version": ticket.version - stale}
        calls = {
            "assign": lambda: tr.assign(ticket=ticket, actor=actor, agent=agent, **version),
            "open": lambda: tr.open_ticket(ticket=ticket, actor=actor, **version),
            "pend": lambda: tr.pend(ticket=ticket, actor=actor, reason="waiting", **version),
            "customer_reply": lambda: tr.customer_reply(ticket=ticket),
            "resolve": lambda: tr.resolve(ticket=ticket, actor=actor, **RESOLUTION, **version),
            "close": lambda: tr.close(ticket=ticket, actor=actor, **RESOLUTION, **version),
            "reopen": lambda: tr.reopen(ticket=ticket, actor=actor, reason="not fixed", **version),
            "escalate": lambda: tr.escalate(
                ticket=ticket,
                actor=actor,
                reason="help",
                to_team=other_team if elsewhere else None,
                **version,
            ),
            "transfer": lambda: tr.transfer(ticket=ticket, actor=actor, team=other_team, **version),
            "reassign": lambda: tr.reassign(
                ticket=ticket, actor=actor, agent=agent, reason="balance", **version
            ),
            "unassign": lambda: tr.unassign(ticket=ticket, actor=actor, reason="offline", **version),
            "merge": lambda: tr.merge(ticket=ticket, actor=actor, into=into, **version),
            "mark_spam": lambda: tr.mark_spam(ticket=ticket, actor=actor, **version),
        }
        step = f"{who} {action} from {ticket.status}" + (" (stale view)" if stale else "")
        try:
            after = calls[action]()
        except HelpdeskError as exc:
            self.seen[f"refused: {type(exc).__name__}"] += 1
            assert should is type(exc), f"{step}: {exc!r}, expected {should}"
            fresh = Ticket.objects.get(pk=ticket.pk)
            assert (fresh.status, fresh.version, fresh.assignee_id, fresh.team_id) == (
                ticket.status,
                ticket.version,
                ticket.assignee_id,
                ticket.team_id,
            )
            return
        assert should is None, f"{step} landed; expected {should.__name__}"
        self.seen[f"landed: {action} from {ticket.status}"] += 1
        has_owner = after.assignee_id is not None
        assert after.status == lifecycle.target_status(action, ticket.status, has_owner=has_owner)
        self.version += 1
        self.events += 1
        last = TicketEvent.objects.filter(ticket=ticket).last()
        assert (last.kind, last.from_value, last.to_value) == (action, ticket.status, after.status)
        assert last.actor == actor

    @invariant()
    def version_and_history_move_together(self):
        ticket = Ticket.objects.get(pk=self.ticket.pk)
        assert ticket.version == self.version  # +1 on every success, unchanged on every refusal
        assert TicketEvent.objects.filter(ticket=ticket).count() == self.events

    @invariant()
    def new_means_unowned_and_worked_means_owned(self):
        ticket = Ticket.objects.get(pk=self.ticket.pk)
        assert ticket.status in Status.values
        if ticket.status == Status.NEW:
            assert ticket.assignee_id is None
        if ticket.status in (Status.ASSIGNED, Status.OPEN, Status.PENDING, Status.RESOLVED):
            assert ticket.assignee_id is not None
        if ticket.status == Status.CLOSED:
            assert not ticket.cases.filter(status="open").exists()

    @invariant()
    def nobody_is_past_their_maximum(self):
        for who in ("owner", "teammate", "outsider", "full"):
            agent = self.cast[who]
            assert active_assignment_count(agent) <= agent.max_active_assignments


def test_random_actions_by_random_actors_agree_with_the_table(cast):
    full = AgentFactory(user__username="fiona", teams=[cast["front_office"]], max_active_assignments=1)
    ticket_in(Status.OPEN, full)
    seen = Counter()
    machine = type("Machine", (TicketLifecycle,), {"cast": {**cast, "full": full}, "seen": seen})
    run_state_machine_as_test(
        machine, settings=settings(max_examples=50, stateful_step_count=30, deadline=None)
    )
    # Not a vacuous run: the ticket went through its whole life, and every kind of refusal came up.
    landed = {key.split()[1] for key in seen if key.startswith("landed")}
    assert {"assign", "open", "pend", "resolve", "close", "reopen"} <= landed, seen
    refused = {key.split()[1] for key in seen if key.startswith("refused")}
    assert {"PermissionDenied", "InvalidTransition", "ConflictError"} <= refused, seen

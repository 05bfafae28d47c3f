"""Every action from every status by every kind of actor: the services do exactly what the table says.

The expectation is read from ``tickets.lifecycle`` (states and roles) and ``tickets.permissions``
(relations); a refusal raises the right error and writes nothing.
"""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.factories import AgentFactory, TicketFactory
from tickets import lifecycle
from tickets.errors import ConflictError, InvalidTransition, PermissionDenied, ValidationFailed
from tickets.lifecycle import Status
from tickets.models import Agent, Case, Interaction, Ticket, TicketEvent
from tickets.permissions import relations
from tickets.selectors.agents import active_assignment_count
from tickets.services import transitions as tr

pytestmark = pytest.mark.django_db

ACTORS = ["owner", "teammate", "supervisor", "outsider", "system"]


@pytest.fixture
def cast(front_office, back_office):
    owner = AgentFactory(user__username="owner", teams=[front_office])
    return {
        "owner": owner,
        "teammate": AgentFactory(user__username="mate", teams=[front_office]),
        "supervisor": AgentFactory(
            user__username="boss", role=Agent.Role.SUPERVISOR, teams=[front_office, back_office]
        ),
        "outsider": AgentFactory(user__username="outsider", role=Agent.Role.BACK_OFFICE, teams=[back_office]),
        "back_office": back_office,
    }


def ticket_in(status: str, owner: Agent) -> Ticket:
    t = TicketFactory()
    if status == Status.NEW:
        return t
    t = tr.assign(ticket=t, actor=None, agent=owner)
    if status == Status.ASSIGNED:
        return t
    t = tr.open_ticket(ticket=t, actor=owner.user)
    if status == Status.OPEN:
        return t
    if status == Status.PENDING:
        return tr.pend(ticket=t, actor=owner.user, reason="waiting")
    t = tr.resolve(ticket=t, actor=owner.user, resolution_type="fixed", notes="done")
    if status == Status.RESOLVED:
        return t
    return tr.close(ticket=t, actor=owner.user)


def perform(action: str, ticket: Ticket, who: str, cast) -> Ticket:
    actor = None if who == "system" else cast[who].user
    agent = cast[who] if who not in ("system", "supervisor") else cast["teammate"]
    calls = {
        "assign": lambda: tr.assign(ticket=ticket, actor=actor, agent=agent),
        "open": lambda: tr.open_ticket(ticket=ticket, actor=actor),
        "pend": lambda: tr.pend(ticket=ticket, actor=actor, reason="waiting on the customer"),
        "customer_reply": lambda: tr.customer_reply(ticket=ticket),
        "resolve": lambda: tr.resolve(
            ticket=ticket, actor=actor, resolution_type="fixed", notes="replaced router"
        ),
        "close": lambda: tr.close(
            ticket=ticket, actor=actor, resolution_type="fixed", notes="replaced router"
        ),
        "reopen": lambda: tr.reopen(ticket=ticket, actor=actor, reason="not fixed"),
        "escalate": lambda: tr.escalate(ticket=ticket, actor=actor, reason="needs a specialist"),
        "transfer": lambda: tr.transfer(
            ticket=ticket, actor=actor, team=cast["back_office"], reason="technical"
        ),
        "reassign": lambda: tr.reassign(ticket=ticket, actor=actor, agent=cast["teammate"], reason="holiday"),
        "unassign": lambda: tr.unassign(ticket=ticket, actor=actor, reason="owner went offline"),
        "merge": lambda: tr.merge(ticket=ticket, actor=actor, into=TicketFactory(customer=ticket.customer)),
        "mark_spam": lambda: tr.mark_spam(ticket=ticket, actor=actor, reason="advert"),
    }
    return calls[action]()


def expected(action: str, ticket: Ticket, who: str, cast) -> bool:
    if action == "customer_reply":
        who = "system"  # the customer's reply always arrives through the system
    actor = None if who == "system" else cast[who].user
    rel = relations(actor, ticket)
    if not (lifecycle.allowed_from(action, ticket.status) and lifecycle.allowed_for(action, rel)):
        return False
    if action == "reassign" and ticket.assignee_id == cast["teammate"].pk:
        return False  # already theirs: refused as nothing to do
    if action == "merge" and who == "outsider":
        return False  # the ticket merged into is in the front office, which the outsider may not change
    if action == "transfer" and ticket.team_id == cast["back_office"].pk:
        return False  # already in that team: nothing to transfer
    if action in ("assign", "reassign"):
        agent = cast["teammate"] if action == "reassign" or who in ("system", "supervisor") else cast[who]
        if active_assignment_count(agent) >= agent.max_active_assignments:
            return False  # never past the agent's maximum
        if not agent.teams.filter(pk=ticket.team_id).exists():
            return False  # only to an agent of the ticket's team
    return True


CASES = [(a, s, w) for a in lifecycle.ACTIONS for s in Status.values for w in ACTORS]


@pytest.mark.parametrize(("action", "status", "who"), CASES, ids=["-".join(c) for c in CASES])
def test_every_action_from_every_status_by_every_actor(action, status, who, cast):
    ticket = ticket_in(status, cast["owner"])
    should = expected(action, ticket, who, cast)
    version, events = ticket.version, TicketEvent.objects.filter(ticket=ticket).count()
    if should:
        after = perform(action, ticket, who, cast)
        target = lifecycle.target_status(action, status, has_owner=after.assignee_id is not None)
        assert after.status == target
        assert after.version == version + 1
        event = TicketEvent.objects.filter(ticket=ticket).last()
        assert (event.kind, event.from_value, event.to_value) == (action, status, after.status)
        assert event.actor_id == (
            None if who == "system" or action == "customer_reply" else cast[who].user_id
        )
    else:
        with pytest.raises((InvalidTransition, PermissionDenied, ValidationFailed)) as refused:
            perform(action, ticket, who, cast)
        assert str(refused.value)  # a clear message, never an empty error
        ticket.refresh_from_db()
        assert (ticket.status, ticket.version) == (status, version)
        assert TicketEvent.objects.filter(ticket=ticket).count() == events


def test_a_transition_from_a_stale_view_is_a_conflict(cast):
    ticket = ticket_in(Status.OPEN, cast["owner"])
    seen = ticket.version
    tr.pend(ticket=ticket, actor=cast["owner"].user, reason="waiting", expected_version=seen)
    with pytest.raises(ConflictError, match="changed by someone else"):
        tr.resolve(
            ticket=ticket, actor=cast["owner"].user, resolution_type="fixed", notes="x", expected_version=seen
        )
    assert Ticket.objects.get(pk=ticket.pk).status == Status.PENDING


def test_missing_reason_or_resolution_is_refused(cast):
    ticket = ticket_in(Status.OPEN, cast["owner"])
    with pytest.raises(ValidationFailed, match="resolution notes"):
        tr.resolve(ticket=ticket, actor=cast["owner"].user, resolution_type="fixed", notes=" ")
    with pytest.raises(ValidationFailed, match="a reason"):
        tr.pend(ticket=ticket, actor=cast["owner"].user, reason="")
    with pytest.raises(ValidationFailed, match="not a resolution type"):
        tr.resolve(ticket=ticket, actor=cast["owner"].user, resolution_type="magic", notes="x")


def test_agents_take_tickets_for_themselves_only(cast):
    ticket = ticket_in(Status.NEW, cast["owner"])
    with pytest.raises(PermissionDenied, match="Only a supervisor"):
        tr.assign(ticket=ticket, actor=cast["teammate"].user, agent=cast["owner"])
    assert (
        tr.assign(ticket=ticket, actor=cast["supervisor"].user, agent=cast["owner"]).assignee == cast["owner"]
    )


def test_assignment_never_exceeds_the_maximum(cast):
    owner = cast["owner"]
    owner.max_active_assignments = 1
    owner.save()
    ticket_in(Status.ASSIGNED, owner)
    with pytest.raises(ValidationFailed, match="maximum of 1"):
        tr.assign(ticket=TicketFactory(), actor=None, agent=owner)
    with pytest.raises(ValidationFailed, match="maximum of 1"):
        tr.reassign(
            ticket=ticket_in(Status.ASSIGNED, cast["teammate"]),
            actor=cast["supervisor"].user,
            agent=owner,
            reason="x",
        )


def test_closing_closes_every_case_and_interaction(cast):
    ticket = ticket_in(Status.OPEN, cast["owner"])
    other = TicketFactory(customer=ticket.customer)
    tr.merge(ticket=other, actor=cast["owner"].user, into=ticket)
    assert ticket.cases.count() == 2
    tr.close(ticket=ticket, actor=cast["owner"].user, resolution_type="fixed", notes="done")
    assert set(Case.objects.filter(ticket=ticket).values_list("status", flat=True)) == {"closed"}
    assert set(Interaction.objects.filter(case__ticket=ticket).values_list("status", flat=True)) == {"closed"}
    merged = Ticket.objects.get(pk=other.pk)
    assert (merged.status, merged.resolution_type, merged.merged_into_id) == (
        Status.CLOSED,
        "duplicate",
        ticket.pk,
    )


def test_merge_refuses_another_customers_ticket(cast):
    ticket = ticket_in(Status.OPEN, cast["owner"])
    with pytest.raises(ValidationFailed, match="different customers"):
        tr.merge(ticket=ticket, actor=cast["owner"].user, into=TicketFactory())


def test_reassign_restarts_at_assigned_for_the_new_owner(cast):
    ticket = ticket_in(Status.PENDING, cast["owner"])
    after = tr.reassign(
        ticket=ticket, actor=cast["supervisor"].user, agent=cast["teammate"], reason="holiday"
    )
    assert (after.status, after.assignee) == (Status.ASSIGNED, cast["teammate"])
    with pytest.raises(PermissionDenied):
        tr.reassign(ticket=after, actor=cast["teammate"].user, agent=cast["owner"], reason="swap")


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(steps=st.lists(st.tuples(st.sampled_from(lifecycle.ACTIONS), st.sampled_from(ACTORS)), max_size=12))
def test_random_sequences_agree_with_the_table(cast, steps):
    ticket = TicketFactory()
    for action, who in steps:
        ticket.refresh_from_db()
        should = expected(action, ticket, who, cast)
        before = (ticket.status, ticket.version)
        try:
            after = perform(action, ticket, who, cast)
        except (InvalidTransition, PermissionDenied, ValidationFailed):
            assert not should, f"{who} {action} from {before[0]} was refused"
            ticket.refresh_from_db()
            assert (ticket.status, ticket.version) == before
            continue
        assert should, f"{who} {action} from {before[0]} was allowed"
        assert after.version == before[1] + 1
        assert (after.status == Status.NEW) == (after.assignee_id is None) or after.status in (
            Status.CLOSED,
            Status.RESOLVED,
        )

"""Two people act on the help desk at the same moment (PostgreSQL: row locks, real concurrent transactions).

Each thread has its own database connection (Django's connections are per thread) and closes it when done.
Two kinds of race:

- *released together*: both threads read the ticket, meet at a ``threading.Barrier`` and fire at once,
  several rounds, so whichever gets the row lock first, the other must come second and see its change;
- *held*: the first thread is stopped inside its transaction, holding the row lock, until PostgreSQL
  reports the second one waiting for that lock; so the second is known to have started from the old
  state and to have been made to wait, not to have merely run later.
"""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection

from tests.factories import AgentFactory, TicketFactory
from tickets.errors import ConflictError, HelpdeskError, InvalidTransition, ValidationFailed
from tickets.lifecycle import Status
from tickets.models import Agent, Ticket, TicketEvent
from tickets.selectors.agents import active_assignment_count
from tickets.services import transitions as tr

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

TIMEOUT = 30  # seconds: a deadlock or a lost wake-up fails the test instead of hanging it


def in_thread(fn, results, i):
    def run():
        try:
            results[i] = fn()
        except BaseException as exc:  # the outcome under test, whatever it is
            results[i] = exc
        finally:
            connection.close()  # this thread's own connection

    return threading.Thread(target=run, name=f"racer-{i}")


def race(*moves):
    """Run each ``move(wait)`` in its own thread; ``wait()`` is the barrier they all pass together.

    A move reads what its user's screen shows, calls ``wait()``, then acts. Returns what each move returned
    or raised, in order.
    """
    barrier = threading.Barrier(len(moves), timeout=TIMEOUT)
    results: list = [None] * len(moves)
    threads = [in_thread(lambda m=m: m(barrier.wait), results, i) for i, m in enumerate(moves)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT)
        assert not t.is_alive(), f"{t.name} is stuck"
    return results


def lock_waiters() -> int:
    """Sessions of this test database waiting for a lock right now."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def race_holding_the_first(monkeypatch, first, second):
    """``first`` is held inside its transaction, just before it commits, until ``second`` is seen waiting
    for a lock; then both finish. Both moves take ``wait`` like in ``race`` (it returns at once here)."""
    inside, go = threading.Event(), threading.Event()
    holder = {}
    record_event = tr.record_event

    def record_and_hold(**kwargs):
        event = record_event(**kwargs)
        if threading.current_thread().name == holder.get("name"):
            inside.set()
            assert go.wait(TIMEOUT), "never released"
        return event

    monkeypatch.setattr(tr, "record_event", record_and_hold)
    results: list = [None, None]
    one, two = (
        in_thread(lambda: first(lambda: None), results, 0),
        in_thread(lambda: second(lambda: None), results, 1),
    )
    holder["name"] = one.name
    one.start()
    try:
        assert inside.wait(TIMEOUT), f"the first move never got inside its transaction: {results[0]!r}"
        two.start()
        # Poll PostgreSQL (not a fixed sleep) until the second transaction is blocked on the first's lock.
        deadline = time.monotonic() + TIMEOUT
        while lock_waiters() == 0:
            assert two.is_alive(), f"the second move did not wait for the first: {results[1]!r}"
            assert time.monotonic() < deadline, "the second move never waited for a lock"
            go.wait(0.005)
    finally:
        go.set()
        for t in (one, two):
            if t.is_alive() or t.ident:
                t.join(TIMEOUT)
                assert not t.is_alive(), f"{t.name} is stuck"
    return results


# --- One ticket, two moves from one view -------------------------------------------------------------------


@pytest.fixture
def people(front_office):
    return {
        "owner": AgentFactory(user__username="frank", teams=[front_office]),
        "mate": AgentFactory(user__username="olga", teams=[front_office]),
        "boss": AgentFactory(user__username="sue", role=Agent.Role.SUPERVISOR, teams=[front_office]),
    }


def ticket_in(status: str, people) -> Ticket:
    ticket = TicketFactory()
    if status == Status.NEW:
        return ticket
    ticket = tr.assign(ticket=ticket, actor=None, agent=people["owner"])
    ticket = tr.open_ticket(ticket=ticket, actor=people["owner"].user)
    assert ticket.status == status
    return ticket


def resolve(who):
    def move(ticket, people, version):
        return tr.resolve(
            ticket=ticket,
            actor=people[who].user,
            resolution_type="fixed",
            notes=f"fixed by {who}",
            expected_version=version,
        )

    return move


def pend(who):
    def move(ticket, people, version):
        return tr.pend(ticket=ticket, actor=people[who].user, reason="waiting", expected_version=version)

    return move


def take(who):
    def move(ticket, people, version):
        return tr.assign(ticket=ticket, actor=people[who].user, agent=people[who], expected_version=version)

    return move


# (status, first move, second move, both read the version?, what the loser gets)
SAME_TICKET = {
    "resolve vs pend, same view": ("open", resolve("owner"), pend("boss"), True, ConflictError),
    "resolve vs resolve, same view": ("open", resolve("owner"), resolve("boss"), True, ConflictError),
    "resolve vs resolve, no version": ("open", resolve("owner"), resolve("boss"), False, InvalidTransition),
    "two agents take one ticket, same view": ("new", take("owner"), take("mate"), True, ConflictError),
    "two agents take one ticket, no version": ("new", take("owner"), take("mate"), False, InvalidTransition),
}


def on_screen(ticket_pk, move, people, with_version):
    """What a user does: load the ticket (this is the version their screen shows), wait, act."""

    def act(wait):
        seen = Ticket.objects.get(pk=ticket_pk)
        wait()
        return move(seen, people, seen.version if with_version else None)

    return act


def check_one_won(results, ticket, loser_error):
    wins = [r for r in results if isinstance(r, Ticket)]
    losses = [r for r in results if not isinstance(r, Ticket)]
    assert len(wins) == 1 and len(losses) == 1, results
    assert type(losses[0]) is loser_error, repr(losses[0])
    assert ticket.number in str(losses[0])
    final = Ticket.objects.get(pk=ticket.pk)
    assert final.version == ticket.version + 1
    assert (final.status, final.assignee_id) == (wins[0].status, wins[0].assignee_id)
    return wins[0], losses[0]


@pytest.mark.parametrize("case", list(SAME_TICKET))
def test_two_moves_released_together_one_lands(case, people):
    status, first, second, with_version, loser_error = SAME_TICKET[case]
    for _ in range(3):
        ticket = ticket_in(status, people)
        events = TicketEvent.objects.filter(ticket=ticket).count()
        results = race(
            on_screen(ticket.pk, first, people, with_version),
            on_screen(ticket.pk, second, people, with_version),
        )
        _, loss = check_one_won(results, ticket, loser_error)
        assert TicketEvent.objects.filter(ticket=ticket).count() == events + 1
        if loser_error is ConflictError:
            assert "changed by someone else" in str(loss)


@pytest.mark.parametrize("case", list(SAME_TICKET))
def test_the_second_move_waits_for_the_first_and_sees_its_change(case, people, monkeypatch):
    status, first, second, with_version, loser_error = SAME_TICKET[case]
    ticket = ticket_in(status, people)
    events = TicketEvent.objects.filter(ticket=ticket).count()
    results = race_holding_the_first(
        monkeypatch,
        on_screen(ticket.pk, first, people, with_version),
        on_screen(ticket.pk, second, people, with_version),
    )
    assert isinstance(results[0], Ticket), results  # the held one went first
    check_one_won(results, ticket, loser_error)
    assert TicketEvent.objects.filter(ticket=ticket).count() == events + 1
    final = Ticket.objects.get(pk=ticket.pk)
    if loser_error is InvalidTransition:
        assert f"it is {final.status}" in str(results[1])
    else:
        assert f"it is now {final.status}" in str(results[1])


# --- One agent, one slot left, two tickets ------------------------------------------------------------------


def busy_agent(front_office, *, limit: int) -> Agent:
    """An agent with ``limit - 1`` active tickets: one slot left."""
    agent = AgentFactory(teams=[front_office], max_active_assignments=limit)
    for _ in range(limit - 1):
        tr.assign(ticket=TicketFactory(), actor=None, agent=agent)
    assert active_assignment_count(agent) == limit - 1
    return agent


def giving(how, ticket_pk, agent, boss):
    def act(wait):
        ticket = Ticket.objects.get(pk=ticket_pk)
        wait()
        if how == "routing":
            return tr.assign(ticket=ticket, actor=None, agent=agent)
        if how == "supervisor":
            return tr.assign(ticket=ticket, actor=boss.user, agent=agent)
        if how == "takes":
            return tr.assign(ticket=ticket, actor=agent.user, agent=agent)
        return tr.reassign(ticket=ticket, actor=boss.user, agent=agent, reason="balance the load")

    return act


HOW = [("routing", "routing"), ("routing", "takes"), ("supervisor", "reassign"), ("reassign", "reassign")]


def two_tickets_for(how_pair, people):
    """A ticket for each move: queued for an assignment, someone else's open ticket for a reassignment."""
    return [ticket_in("open" if how == "reassign" else "new", people) for how in how_pair]


def check_capacity_held(results, agent, limit):
    wins = [r for r in results if isinstance(r, Ticket)]
    losses = [r for r in results if isinstance(r, HelpdeskError)]
    assert len(wins) == 1 and len(losses) == 1, results
    assert type(losses[0]) is ValidationFailed and f"maximum of {limit}" in str(losses[0]), repr(losses[0])
    assert wins[0].assignee_id == agent.pk
    assert active_assignment_count(agent) == limit


@pytest.mark.parametrize("limit", [1, 3])
@pytest.mark.parametrize("how_pair", HOW, ids=["-".join(h) for h in HOW])
def test_two_tickets_for_the_last_slot_released_together(how_pair, limit, people, front_office):
    for _ in range(3):
        agent = busy_agent(front_office, limit=limit)
        tickets = two_tickets_for(how_pair, people)
        results = race(
            *(giving(how, t.pk, agent, people["boss"]) for how, t in zip(how_pair, tickets, strict=True))
        )
        check_capacity_held(results, agent, limit)
        # The losing ticket is untouched: still queued, or still with its owner.
        for ticket, result in zip(tickets, results, strict=True):
            if not isinstance(result, Ticket):
                fresh = Ticket.objects.get(pk=ticket.pk)
                assert (fresh.status, fresh.assignee_id, fresh.version) == (
                    ticket.status,
                    ticket.assignee_id,
                    ticket.version,
                )


@pytest.mark.parametrize("how_pair", HOW, ids=["-".join(h) for h in HOW])
def test_the_second_assignment_waits_for_the_first_and_counts_it(how_pair, people, front_office, monkeypatch):
    agent = busy_agent(front_office, limit=2)
    tickets = two_tickets_for(how_pair, people)
    results = race_holding_the_first(
        monkeypatch,
        *(giving(how, t.pk, agent, people["boss"]) for how, t in zip(how_pair, tickets, strict=True)),
    )
    assert isinstance(results[0], Ticket), results
    check_capacity_held(results, agent, 2)


def test_different_agents_are_not_serialised_on_each_other(people, front_office):
    """The agent lock is per agent: two agents each taking their last slot both succeed."""
    one, two = busy_agent(front_office, limit=1), busy_agent(front_office, limit=1)
    first, second = TicketFactory(), TicketFactory()
    results = race(
        giving("routing", first.pk, one, people["boss"]),
        giving("routing", second.pk, two, people["boss"]),
    )
    assert all(isinstance(r, Ticket) for r in results), results
    assert active_assignment_count(one) == active_assignment_count(two) == 1

"""Two agents act on one ticket at the same moment (PostgreSQL row locks, real transactions)."""

import pytest

from tests.concurrency import race
from tests.factories import AgentFactory, TicketFactory
from tickets.errors import ConflictError, HelpdeskError, InvalidTransition
from tickets.lifecycle import Status
from tickets.models import Agent, Ticket, TicketEvent
from tickets.services import transitions as tr

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("with_version", [True, False])
def test_two_transitions_from_one_view_one_wins_one_is_refused(front_office, with_version):
    owner = AgentFactory(teams=[front_office])
    boss = AgentFactory(role=Agent.Role.SUPERVISOR, teams=[front_office])
    ticket = tr.open_ticket(
        ticket=tr.assign(ticket=TicketFactory(), actor=None, agent=owner), actor=owner.user
    )
    seen = ticket.version if with_version else None
    results = race(
        lambda: tr.resolve(
            ticket=ticket, actor=owner.user, resolution_type="fixed", notes="done", expected_version=seen
        ),
        # With a version, any second change conflicts; without, the same move twice must not both land.
        lambda: (
            tr.pend(ticket=ticket, actor=boss.user, reason="waiting", expected_version=seen)
            if with_version
            else tr.resolve(ticket=ticket, actor=boss.user, resolution_type="fixed", notes="also done")
        ),
    )
    wins = [r for r in results if isinstance(r, Ticket)]
    losses = [r for r in results if isinstance(r, HelpdeskError)]
    assert len(wins) == 1 and len(losses) == 1, results
    assert isinstance(losses[0], ConflictError if with_version else (InvalidTransition, ConflictError))
    final = Ticket.objects.get(pk=ticket.pk)
    assert final.status == wins[0].status and final.version == ticket.version + 1
    assert TicketEvent.objects.filter(ticket=ticket, kind__in=["resolve", "pend"]).count() == 1
    if not with_version:
        assert "it is resolved" in str(losses[0])


def test_concurrent_assignments_never_exceed_the_maximum(front_office):
    agent = AgentFactory(teams=[front_office], max_active_assignments=1)
    first, second = TicketFactory(), TicketFactory()
    results = race(
        lambda: tr.assign(ticket=first, actor=None, agent=agent),
        lambda: tr.assign(ticket=second, actor=None, agent=agent),
    )
    assert sum(isinstance(r, Ticket) for r in results) == 1
    assert Ticket.objects.filter(assignee=agent, status=Status.ASSIGNED).count() == 1

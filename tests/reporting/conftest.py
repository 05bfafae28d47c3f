"""A hand-built week of tickets whose every number is worked out in the tests (see ``week``)."""

from datetime import UTC, datetime

import pytest

from reporting.metrics import ReportFilter
from reporting.rollup import refresh_ticket_facts
from tests.factories import IdentityFactory, TicketFactory
from tickets.models import Case, Interaction

# The period: Monday 2 March 2026 00:00 to Monday 9 March 00:00 (UTC, the tests' time zone).
START = datetime(2026, 3, 2, tzinfo=UTC)
END = datetime(2026, 3, 9, tzinfo=UTC)
NOW = datetime(2026, 3, 5, 12, 0, tzinfo=UTC)  # Thursday noon: the backlog's "now"


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


def add_interaction(ticket, channel="email"):
    """One more interaction (and its case) linked to ``ticket``: a follow-up contact."""
    identity = IdentityFactory(customer=ticket.customer)
    when = ticket.created_at
    interaction = Interaction.objects.create(
        customer=ticket.customer, identity=identity, channel=channel, started_at=when, last_message_at=when
    )
    Case.objects.create(
        interaction=interaction, ticket=ticket, link_rule=Case.LinkRule.REFERENCE, created_at=when
    )


def make(**fields):
    fields.setdefault("updated_at", fields["created_at"])
    return TicketFactory(**fields)


@pytest.fixture
def week(db, front_office, agent, other_agent):
    """Seven tickets (``T1``…``T7``) in the period and one before it:

    ==== ========= ======== ============== ============ ============== ===== ===== ============ ============
    T    channel   priority created        first reply  resolved       FR ok RES ok interactions owner
    ==== ========= ======== ============== ============ ============== ===== ===== ============ ============
    T1   email     P1       Mon 09:00      +10 min      +60 min        yes   yes   1            frank
    T2   voice     P2       Mon 09:00      +30 min      +240 min       yes   no    2            frank
    T3   email     P1       Tue 12:00      +60 min      +1440 min      no    no    1, reopened  olga
    T4   whatsapp  P3       Wed 10:00      +20 min      (open)                     1            frank
    T5   email     P3       Thu 08:00      —            spam at 08:05  —     —     1            —
    T6   email     P3       Fri 20 Feb     +5 min       +30 min        yes   yes   1            frank
    T7   chat      P3       Thu 10:00      —            (new)                      1            —
    ==== ========= ======== ============== ============ ============== ===== ===== ============ ============
    T1, T2, T3, T5 closed an hour after their resolution (T5 at once).
    """
    t = {}
    t[1] = make(
        channel="email",
        priority=1,
        status="closed",
        assignee=agent,
        created_at=at(2, 9),
        first_responded_at=at(2, 9, 10),
        resolved_at=at(2, 10),
        closed_at=at(2, 11),
        sla_first_response_met=True,
        sla_resolution_met=True,
        resolution_type="fixed",
    )
    t[2] = make(
        channel="voice",
        priority=2,
        status="closed",
        assignee=agent,
        created_at=at(2, 9),
        first_responded_at=at(2, 9, 30),
        resolved_at=at(2, 13),
        closed_at=at(2, 14),
        sla_first_response_met=True,
        sla_resolution_met=False,
        resolution_type="fixed",
    )
    add_interaction(t[2], "whatsapp")
    t[3] = make(
        channel="email",
        priority=1,
        status="closed",
        assignee=other_agent,
        created_at=at(3, 12),
        first_responded_at=at(3, 13),
        resolved_at=at(4, 12),
        closed_at=at(4, 13),
        sla_first_response_met=False,
        sla_resolution_met=False,
        resolution_type="fixed",
        reopen_count=1,
    )
    t[4] = make(
        channel="whatsapp",
        priority=3,
        status="open",
        assignee=agent,
        created_at=at(4, 10),
        first_responded_at=at(4, 10, 20),
    )
    t[5] = make(
        channel="email",
        priority=3,
        status="closed",
        created_at=at(5, 8),
        resolved_at=at(5, 8, 5),
        closed_at=at(5, 8, 5),
        resolution_type="spam",
    )
    t[6] = make(
        channel="email",
        priority=3,
        status="closed",
        assignee=agent,
        created_at=datetime(2026, 2, 20, 9, tzinfo=UTC),
        first_responded_at=datetime(2026, 2, 20, 9, 5, tzinfo=UTC),
        resolved_at=datetime(2026, 2, 20, 9, 30, tzinfo=UTC),
        closed_at=datetime(2026, 2, 20, 10, tzinfo=UTC),
        sla_first_response_met=True,
        sla_resolution_met=True,
        resolution_type="fixed",
    )
    t[7] = make(channel="chat", priority=3, status="new", created_at=at(5, 10))
    refresh_ticket_facts()
    return t


@pytest.fixture
def period(front_office) -> ReportFilter:
    return ReportFilter(start=START, end=END, team_ids=(front_office.pk,))

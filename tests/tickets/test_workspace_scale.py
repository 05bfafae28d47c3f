"""The workspace of a big ticket (issue 5's benchmark case: 200 messages) in a fixed number of queries, and
the reassign list's agent loads counted without reading each agent's ticket history (bench/workspace.py
found that join costing 0.4 s a page at a million tickets)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests.factories import AgentFactory, TicketFactory
from tickets.lifecycle import Status
from tickets.models import Agent, Attachment, Case, Interaction, Message, Note, TicketEvent

pytestmark = pytest.mark.django_db

CHANNELS = ["email", "whatsapp", "sms", "voice", "chat", "web"]


def big_ticket(owner: Agent, messages: int):
    """A ticket with ``messages`` messages over interactions on six channels, attachments, notes, events."""
    ticket = TicketFactory(status=Status.OPEN, assignee=owner, with_case=False)
    now = timezone.now()
    identity = ticket.customer.identities.create(channel="email", address=f"big{ticket.pk}@example.com")
    interactions = []
    for channel in CHANNELS:
        interaction = Interaction.objects.create(
            customer=ticket.customer, identity=identity, channel=channel, started_at=now, last_message_at=now
        )
        Case.objects.create(interaction=interaction, ticket=ticket, link_rule="reference", created_at=now)
        interactions.append(interaction)
    made = Message.objects.bulk_create(
        [
            Message(
                interaction=interactions[n % 6],
                channel=CHANNELS[n % 6],
                direction="in" if n % 2 == 0 or CHANNELS[n % 6] == "voice" else "out",
                sender="x",
                body=f"Message {n}",
                delivery_status="received" if n % 2 == 0 or CHANNELS[n % 6] == "voice" else "delivered",
                sent_at=now - timedelta(minutes=messages - n),
                author=None if n % 2 == 0 else owner,
                meta={"call": {"direction": "inbound", "status": "completed"}}
                if CHANNELS[n % 6] == "voice"
                else {},
            )
            for n in range(messages)
        ]
    )
    Attachment.objects.bulk_create(
        [
            Attachment(message=made[n], filename=f"f{n}.pdf", sha256="0" * 64, size=10)
            for n in range(0, messages, 40)
        ]
    )
    notes = Note.objects.bulk_create([Note(ticket=ticket, author=owner, body=f"Note {n}") for n in range(12)])
    for n, note in enumerate(notes):  # spread over the ticket's life, like the events
        note.created_at = now - timedelta(minutes=messages - 15 * n - 7)
    Note.objects.bulk_update(notes, ["created_at"])
    TicketEvent.objects.bulk_create(
        [
            TicketEvent(
                ticket=ticket,
                kind="priority",
                from_value="P3",
                to_value="P2",
                created_at=now - timedelta(minutes=messages - 5 * n - 3),
            )
            for n in range(40)
        ]
    )
    return ticket


def test_a_200_message_workspace_costs_what_a_small_one_does(client, supervisor, agent, other_agent):
    small, big = big_ticket(agent, 2), big_ticket(agent, 200)
    client.force_login(supervisor.user)
    counts = {}
    for ticket in (small, big):
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(reverse("desk:ticket", args=[ticket.pk]))
        assert response.status_code == 200
        counts[ticket.pk] = len(ctx.captured_queries)
    assert "Message 199" in response.content.decode()
    assert counts[big.pk] == counts[small.pk] <= 28


def test_the_reassign_list_counts_active_tickets_only_in_one_query(client, supervisor, agent, other_agent):
    ticket = big_ticket(agent, 2)
    for _ in range(2):
        TicketFactory(status=Status.PENDING, assignee=other_agent)
    for _ in range(6):  # history: never part of the load
        TicketFactory(status=Status.CLOSED, assignee=other_agent)
    client.force_login(supervisor.user)
    with CaptureQueriesContext(connection) as ctx:
        html = client.get(reverse("desk:ticket", args=[ticket.pk])).content.decode()
    assert re.search(
        rf"{re.escape(str(other_agent))} \(2/{other_agent.max_active_assignments}, online\)", html
    )
    loads = [
        q["sql"]
        for q in ctx.captured_queries
        if "max_active_assignments" in q["sql"] and "COUNT(" in q["sql"]
    ]
    assert len(loads) == 1
    # A correlated count (over the partial index of active tickets), not a join with every ticket they had.
    assert 'LEFT OUTER JOIN "tickets_ticket"' not in loads[0] and "(SELECT COUNT(" in loads[0].replace(
        "U0.", ""
    )


def test_routing_and_the_board_read_the_same_load(supervisor, agent, front_office):
    from tickets.selectors.board import board_agents
    from tickets.selectors.queues import routing_candidates

    TicketFactory(status=Status.OPEN, assignee=agent)
    TicketFactory(status=Status.CLOSED, assignee=agent)
    idle = AgentFactory(user__username="idle", teams=[front_office])
    candidates = {c.agent_id: c.load for c in routing_candidates(front_office.pk)}
    assert candidates[agent.pk] == 1 and candidates[idle.pk] == 0
    board = {a.pk: a.load for a in board_agents([front_office.pk])}
    assert board[agent.pk] == 1 and board[idle.pk] == 0


def test_the_timeline_shows_its_latest_entries_and_the_rest_on_request(client, agent):
    ticket = big_ticket(agent, 200)
    client.force_login(agent.user)
    html = client.get(reverse("desk:ticket", args=[ticket.pk])).content.decode()
    # 200 messages, 12 notes, 40 events; the latest 50 entries are shown, the interactions count them all.
    assert "252 entries" in html and "Show the 202 earlier entries" in html
    assert "Message 199" in html and ">Message 150<" not in html and "Message 0<" not in html
    assert re.search(r"case \d+ · 34 messages", html) and re.search(r"case \d+ · 33 messages", html)
    full = client.get(reverse("desk:ticket", args=[ticket.pk]), {"timeline": "all"}).content.decode()
    assert "Message 0<" in full and "Message 199" in full and "earlier entr" not in full
    small = TicketFactory(status=Status.OPEN, assignee=agent)
    small = client.get(reverse("desk:ticket", args=[small.pk])).content.decode()
    assert "earlier entr" not in small

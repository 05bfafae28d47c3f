"""Routing throughput: tickets assigned per second by the distribution service, and its invariants.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/helpdesk_bench python bench/routing.py [--workers 1 4]

Builds 10 teams × 20 agents (limit 5 each) and 10,000 queued tickets (bulk inserts, not intake), runs
``tickets.services.routing.distribute`` with N worker processes per team pass, and checks afterwards that no
agent is over the limit and no ticket was assigned twice. Reported against the one-row-insert floor.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.db.models import Count, Q  # noqa: E402
from django.utils import timezone  # noqa: E402

from tickets.lifecycle import ACTIVE_STATUSES  # noqa: E402
from tickets.models import Agent, Customer, Team, Ticket, TicketEvent  # noqa: E402

TEAMS, AGENTS_PER_TEAM, LIMIT, TICKETS = 10, 20, 5, 10_000


def build() -> list[int]:
    Ticket.objects.filter(subject__startswith="bench ").delete()
    Agent.objects.filter(user__username__startswith="bench-").delete()
    get_user_model().objects.filter(username__startswith="bench-").delete()
    teams = [
        Team.objects.get_or_create(slug=f"bench-{t}", defaults={"name": f"Bench team {t}"})[0]
        for t in range(TEAMS)
    ]
    User = get_user_model()
    users = User.objects.bulk_create(
        [User(username=f"bench-{t}-{a}") for t in range(TEAMS) for a in range(AGENTS_PER_TEAM)]
    )
    agents = Agent.objects.bulk_create(
        [Agent(user=u, presence="online", max_active_assignments=LIMIT, role="front_office") for u in users]
    )
    for i, agent in enumerate(agents):
        agent.teams.add(teams[i // AGENTS_PER_TEAM])
    customer, _ = Customer.objects.get_or_create(unique_id="BENCH")
    now = timezone.now()
    Ticket.objects.bulk_create(
        [
            Ticket(
                customer=customer,
                subject=f"bench {i}",
                channel="email",
                team=teams[i % TEAMS],
                priority=1 + i % 4,
                created_at=now,
                updated_at=now,
                queued_at=now,
            )
            for i in range(TICKETS)
        ],
        batch_size=2000,
    )
    return [t.pk for t in teams]


def work(team_ids: list[int]) -> int:
    from tickets.services.routing import distribute

    connection.close()
    return sum(len(distribute(team=Team.objects.get(pk=pk))) for pk in team_ids)


def run(team_ids: list[int], workers: int) -> tuple[int, float]:
    # Every worker walks every team (starting at a different one), as concurrent task runs would.
    orders = [team_ids[i:] + team_ids[:i] for i in range(workers)]
    connection.close()
    start = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        assigned = sum(pool.map(work, orders))
    return assigned, time.perf_counter() - start


def check() -> str:
    over = (
        Agent.objects.annotate(load=Count("tickets", filter=Q(tickets__status__in=ACTIVE_STATUSES)))
        .filter(user__username__startswith="bench-", load__gt=LIMIT)
        .count()
    )
    twice = (
        TicketEvent.objects.filter(kind="assign", ticket__subject__startswith="bench ")
        .values("ticket")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .count()
    )
    return f"agents over the limit: {over}, tickets assigned twice: {twice}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 4])
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE bench_floor (id integer)")
        start = time.perf_counter()
        for i in range(1000):
            with transaction.atomic():
                cursor.execute("INSERT INTO bench_floor VALUES (%s)", [i])
        floor = 1000 / (time.perf_counter() - start)
    print(
        f"{connection.vendor}; {TEAMS} teams × {AGENTS_PER_TEAM} agents (limit {LIMIT}), {TICKETS} queued tickets"
    )
    print(f"floor: one-row insert transactions {floor:,.0f}/s")
    for workers in args.workers:
        team_ids = build()
        assigned, seconds = run(team_ids, workers)
        rate = assigned / seconds
        print(
            f"{workers} worker(s): {assigned} assigned in {seconds:.2f} s = {rate:,.0f}/s ({rate / floor:.3f}x floor); {check()}"
        )


if __name__ == "__main__":
    main()

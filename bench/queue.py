"""The queue view and the supervisor board at a million tickets: server time per page, and per query.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/helpdesk_bench python bench/queue.py [--tickets 1000000]

Builds (once; reused while the count matches, ``--rebuild`` to start again) 20 teams of 10 agents, 10,000
customers and N tickets with one set-based ``INSERT … SELECT … FROM generate_series`` — the newest 8 % active
(the oldest 1,000 of them being worked, 5 per agent; the rest queued), one in 1,024 older ones still
pending (long breached), the rest resolved or closed. Then, through the Django test client (middleware, session, template: the whole request), it times
the median and p95 of:

- the queue with its default filter (my teams' active tickets) — first page and a deep keyset page, as a
  back-office agent of one team, a supervisor of two and an admin of all twenty;
- the queue filtered (priority and SLA state; a text search; unassigned), and the table body it polls;
- the supervisor board;
- the floor: a view that reads one ticket by primary key and renders a small template.

And, per query, the database's own execution time (``EXPLAIN ANALYZE``) of the page query, the capped count,
and — to show why the queue pages by key — the same deep page fetched with ``OFFSET``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

# This file is named like the standard library's ``queue`` module: take its folder off the import path (a
# script's folder comes first), or ``import queue`` anywhere (concurrent.futures, asgiref) would import it.
_here = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _here]
sys.path.insert(0, str(_here.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import F  # noqa: E402
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan  # noqa: E402
from django.http import HttpResponse, QueryDict  # noqa: E402
from django.template import engines  # noqa: E402
from django.test import Client, override_settings  # noqa: E402
from django.urls import include, path  # noqa: E402

from tickets.filters import QueueFilter  # noqa: E402
from tickets.models import Agent, Customer, Tag, Team, Ticket  # noqa: E402
from tickets.selectors import queue_view  # noqa: E402

TEAMS, AGENTS_PER_TEAM, CUSTOMERS = 20, 10, 10_000
# Tickets each agent is working (assigned, open, pending) among the newest; the rest of the newest 8 % queue.
WORKING_PER_AGENT = 5
PREFIX = "qbench"

FLOOR_TEMPLATE = engines["django"].from_string(
    "<p>{{ ticket.number }} {{ ticket.subject }} {{ ticket.status }}</p>"
)


def floor_view(request, pk: int):
    """The floor: one primary-key lookup and a small template."""
    return HttpResponse(FLOOR_TEMPLATE.render({"ticket": Ticket.objects.get(pk=pk)}, request))


urlpatterns = [path("floor/<int:pk>/", floor_view), path("", include("helpdesk.urls"))]


# Building the data ----------------------------------------------------------------------------------------


def bench_ticket_count() -> int:
    customer = Customer.objects.filter(unique_id=f"{PREFIX.upper()}-00001").first()
    if customer is None:
        return 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM tickets_ticket WHERE subject LIKE %s", [f"{PREFIX} %"])
        return cursor.fetchone()[0]


def build(n: int) -> None:
    started = time.perf_counter()
    User = get_user_model()
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM tickets_ticket_tags WHERE ticket_id IN (SELECT id FROM tickets_ticket WHERE subject LIKE %s)",
            [f"{PREFIX} %"],
        )
        cursor.execute("DELETE FROM tickets_ticket WHERE subject LIKE %s", [f"{PREFIX} %"])
    Agent.objects.filter(user__username__startswith=f"{PREFIX}-").delete()
    User.objects.filter(username__startswith=f"{PREFIX}-").delete()
    Customer.objects.filter(unique_id__startswith=f"{PREFIX.upper()}-").delete()

    teams = [
        Team.objects.get_or_create(
            slug=f"{PREFIX}-{t}", defaults={"name": f"Bench queue {t:02d}", "kind": Team.Kind.BACK}
        )[0]
        for t in range(TEAMS)
    ]
    users = User.objects.bulk_create(
        [User(username=f"{PREFIX}-{t}-{a}") for t in range(TEAMS) for a in range(AGENTS_PER_TEAM)]
        + [User(username=f"{PREFIX}-supervisor"), User(username=f"{PREFIX}-admin", is_superuser=True)]
    )
    agents = Agent.objects.bulk_create(
        [
            Agent(user=u, role=Agent.Role.BACK_OFFICE, presence="online", max_active_assignments=10)
            for u in users[:-2]
        ]
        + [
            Agent(user=users[-2], role=Agent.Role.SUPERVISOR, presence="online"),
            Agent(user=users[-1], role=Agent.Role.ADMIN),
        ]
    )
    through = Agent.teams.through
    through.objects.bulk_create(
        [through(agent_id=a.pk, team_id=teams[i // AGENTS_PER_TEAM].pk) for i, a in enumerate(agents[:-2])]
        + [through(agent_id=agents[-2].pk, team_id=teams[t].pk) for t in (0, 1)]
    )
    tag, _ = Tag.objects.get_or_create(name=f"{PREFIX}-billing")
    team_ids = [t.pk for t in teams]
    agent_ids = [a.pk for a in agents[:-2]]
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO tickets_customer (unique_id, name, tier, created_at, updated_at)
            SELECT %s || lpad(g::text, 5, '0'), 'Bench customer ' || g, 'standard', now(), now()
            FROM generate_series(1, %s) g
            """,
            [f"{PREFIX.upper()}-", CUSTOMERS],
        )
        cursor.execute(
            "SELECT min(id) FROM tickets_customer WHERE unique_id LIKE %s", [f"{PREFIX.upper()}-%"]
        )
        first_customer = cursor.fetchone()[0]
        # Ticket g: created 3 s after ticket g-1 (a million span about 35 days); the newest 8 % are active.
        cursor.execute(
            """
            WITH base AS (
                SELECT g,
                       now() - (%(n)s - g) * interval '3 seconds' AS created,
                       1 + (hashint4(g) & 3) AS priority,
                       (g %% %(teams)s) AS team_index,
                       CASE
                         WHEN g > %(n)s * 0.92 + %(working)s THEN 'new'
                         WHEN g > %(n)s * 0.92 THEN (ARRAY['assigned','open','pending'])[1 + g %% 3]
                         WHEN (hashint4(g) & 1023) = 0 THEN 'pending'
                         WHEN g %% 10 = 1 THEN 'resolved'
                         ELSE 'closed'
                       END AS status
                FROM generate_series(1, %(n)s) g
            )
            INSERT INTO tickets_ticket (
                customer_id, subject, channel, impact, urgency, priority, status, team_id, team_rule, assignee_id,
                escalated, escalation_level, first_response_due, resolution_due, first_responded_at, sla_breached,
                resolution_type, resolution_notes, reopen_count, version, created_at, updated_at, assigned_at,
                queued_at, resolved_at, closed_at, sla_paused_minutes
            )
            SELECT %(first_customer)s + (g %% %(customers)s),
                   %(prefix)s || ' ' || g || ' ' || (ARRAY['router down','billing question','slow line','refund','outage'])[1 + g %% 5],
                   (ARRAY['email','whatsapp','sms','voice','chat','web'])[1 + (g / 3) %% 6],
                   2, 2, priority, status, (%(team_ids)s::bigint[])[1 + team_index], 'bench',
                   CASE WHEN status = 'new' THEN NULL
                        ELSE (%(agent_ids)s::bigint[])[1 + team_index * %(per_team)s + (g / %(teams)s) %% %(per_team)s] END,
                   false, 0,
                   created + (ARRAY[30, 60, 240, 480])[priority] * interval '1 minute',
                   created + (ARRAY[240, 480, 1440, 4320])[priority] * interval '1 minute',
                   CASE WHEN status IN ('new', 'assigned') THEN NULL ELSE created + interval '10 minutes' END,
                   false,
                   CASE WHEN status IN ('resolved', 'closed') THEN 'fixed' ELSE '' END,
                   CASE WHEN status IN ('resolved', 'closed') THEN 'bench' ELSE '' END,
                   0, 1, created, created + interval '20 minutes',
                   CASE WHEN status = 'new' THEN NULL ELSE created + interval '5 minutes' END,
                   created,
                   CASE WHEN status IN ('resolved', 'closed') THEN created + interval '2 hours' END,
                   CASE WHEN status = 'closed' THEN created + interval '3 hours' END,
                   0
            FROM base
            """,
            {
                "n": n,
                "working": WORKING_PER_AGENT * AGENTS_PER_TEAM * TEAMS,
                "teams": TEAMS,
                "per_team": AGENTS_PER_TEAM,
                "customers": CUSTOMERS,
                "first_customer": first_customer,
                "prefix": PREFIX,
                "team_ids": team_ids,
                "agent_ids": agent_ids,
            },
        )
        cursor.execute(
            "INSERT INTO tickets_ticket_tags (ticket_id, tag_id) SELECT id, %s FROM tickets_ticket "
            "WHERE subject LIKE %s AND id %% 20 = 0",
            [tag.pk, f"{PREFIX} %"],
        )
        cursor.execute("VACUUM ANALYZE tickets_ticket")
        cursor.execute("ANALYZE tickets_ticket_tags")
    print(f"built {n:,} tickets in {time.perf_counter() - started:.0f} s")


# Measuring ------------------------------------------------------------------------------------------------


def timed(client: Client, url: str, repeat: int) -> list[float]:
    client.get(url)  # warm: connection, caches, templates
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return times


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(round(0.95 * len(ordered))) - 1)]


def explain_ms(sql: str, params) -> tuple[float, str]:
    """The database's execution time of one query, and the first line of its plan."""
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, params)
        plan = cursor.fetchone()[0]
    plan = plan[0] if isinstance(plan, list) else json.loads(plan)[0]
    node = plan["Plan"]
    while node.get("Node Type") in ("Limit", "Aggregate", "Subquery Scan") and node.get("Plans"):
        node = node["Plans"][0]
    where = node.get("Index Name") or node.get("Relation Name") or ""
    return plan["Execution Time"], f"{node['Node Type']} {where}".strip()


def page_queryset(user, query: str):
    filterset = QueueFilter(QueryDict(query), user=user, queryset=queue_view.queue_tickets(user))
    return filterset.qs


def deep_cursor(user, query: str, depth: int) -> tuple[str, int]:
    """A cursor ``depth`` rows into the queue (or half-way, when it is shorter), and the depth used."""
    qs = page_queryset(user, query)
    sort = queue_view.sort_named(QueryDict(query).get("sort"))
    depth = min(depth, max(0, qs.count() - 1) // 2)
    row = qs.order_by(*sort.order())[depth : depth + 1].first()
    key = [getattr(row, k) for k in sort.keys] if row else None
    return (queue_view.encode_cursor(sort, key) if row else ""), depth


def query_times(user, query: str, depth: int) -> list[tuple[str, float, str]]:
    """The queries ``keyset_page`` and ``capped_count`` run, as they run them: the page's ids and sort keys
    (first page, a deep one, and the same deep page by OFFSET for comparison), the page's rows by id, the
    capped count."""
    sort = queue_view.sort_named(QueryDict(query).get("sort"))
    qs = page_queryset(user, query)
    size = queue_view.PER_PAGE + 1

    def keys(queryset):
        return queryset.order_by(*sort.order()).values_list("pk", *sort.keys)

    out = []
    first = keys(qs)[:size]
    out.append(("page 1: ids and sort keys", *explain_ms(*first.query.sql_with_params())))
    ids = [row[0] for row in first]
    if ids:
        rows = qs.filter(pk__in=ids)
        out.append(("page 1: its rows by id", *explain_ms(*rows.query.sql_with_params())))
    cursor, depth = deep_cursor(user, query, depth)
    key = queue_view.decode_cursor(sort, cursor)
    if key is not None:
        deep = keys(qs.filter(TupleGreaterThan(Tuple(*[F(k) for k in sort.keys]), key)))[:size]
        out.append((f"keyset page at row {depth:,}", *explain_ms(*deep.query.sql_with_params())))
        offset = keys(qs)[depth : depth + size]
        out.append((f"OFFSET {depth:,} (for comparison)", *explain_ms(*offset.query.sql_with_params())))
    sql, params = qs.order_by().values("pk")[: queue_view.COUNT_CAP + 1].query.sql_with_params()
    out.append(
        (f"count capped at {queue_view.COUNT_CAP:,}", *explain_ms(f"SELECT count(*) FROM ({sql}) q", params))
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--depth", type=int, default=5_000, help="rows before the deep page")
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("bench/queue.py measures PostgreSQL: set DATABASE_URL=postgres://…")
    call_command("migrate", verbosity=0)
    have = bench_ticket_count()
    if args.rebuild or have != args.tickets:
        build(args.tickets)
    else:
        print(f"reusing {have:,} bench tickets (--rebuild to build them again)")
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM tickets_ticket")
        total = cursor.fetchone()[0]
        cursor.execute(
            "SELECT count(*) FROM tickets_ticket WHERE status IN ('new','assigned','open','pending')"
        )
        active = cursor.fetchone()[0]
        cursor.execute("SELECT version()")
        version = cursor.fetchone()[0].split(" on ")[0]
    print(f"{version}; {total:,} tickets, {active:,} active; {TEAMS} teams × {AGENTS_PER_TEAM} agents")

    User = get_user_model()
    agent = User.objects.get(username=f"{PREFIX}-0-0")
    supervisor = User.objects.get(username=f"{PREFIX}-supervisor")
    admin = User.objects.get(username=f"{PREFIX}-admin")
    some_ticket = (
        Ticket.objects.filter(subject__startswith=f"{PREFIX} ")
        .order_by("-id")
        .values_list("pk", flat=True)[0]
    )

    def client_for(user) -> Client:
        client = Client(SERVER_NAME="localhost")
        client.force_login(user)
        return client

    clients = {"agent": client_for(agent), "supervisor": client_for(supervisor), "admin": client_for(admin)}
    users = {"agent": agent, "supervisor": supervisor, "admin": admin}
    depth = args.depth
    scenarios = [
        ("floor: one ticket by primary key", "agent", f"/floor/{some_ticket}/"),
        ("queue, default filter, page 1 (agent, 1 team)", "agent", "/queue/"),
        ("queue, default filter, page 1 (supervisor, 2 teams)", "supervisor", "/queue/"),
        ("queue, default filter, page 1 (admin, 20 teams)", "admin", "/queue/"),
        (f"queue, default filter, keyset page at row {depth:,} (supervisor)", "supervisor", "deep:"),
        ("queue, SLA at risk (supervisor)", "supervisor", "/queue/?sla=at_risk"),
        ("queue, SLA breached (supervisor)", "supervisor", "/queue/?sla=breached"),
        (
            "queue, unassigned, sorted by last update (supervisor)",
            "supervisor",
            "/queue/?assignee=none&sort=-updated",
        ),
        ("queue, text search 'refund' (supervisor)", "supervisor", "/queue/?q=refund"),
        ("queue, table body poll (supervisor)", "supervisor", "/queue/rows/"),
        ("board (supervisor, 2 teams, 20 agents)", "supervisor", "/board/"),
    ]
    print(f"\nserver time through the test client, {args.repeat} requests each (ms):")
    print(f"{'page':68} {'median':>8} {'p95':>8} {'x floor':>8}")
    floor = None
    with override_settings(ROOT_URLCONF=__name__, DEBUG=False):
        for label, who, url in scenarios:
            if url == "deep:":
                url = "/queue/?after=" + deep_cursor(users[who], "", depth)[0]
            times = timed(clients[who], url, args.repeat)
            median = statistics.median(times)
            floor = floor or median
            print(f"{label:68} {median:8.1f} {p95(times):8.1f} {median / floor:8.1f}")

    for who, query in (
        ("supervisor", ""),
        ("admin", ""),
        ("supervisor", "sla=at_risk"),
        ("supervisor", "sla=breached"),
    ):
        print(f"\nqueries of the queue ({who}, {query or 'default filter'}): database execution time")
        for label, ms, plan in query_times(users[who], query, depth):
            print(f"  {label:40} {ms:8.2f} ms  {plan}")


if __name__ == "__main__":
    main()

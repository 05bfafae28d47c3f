"""The reports at a million tickets and five million interactions: server time of the dashboard and of the
per-unique-ID report, and what the roll-up costs.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/helpdesk_bench python bench/reports.py [--tickets 1000000]

Builds on ``bench/queue.py``'s data (its set-based builder makes the tickets: 20 teams, 10,000 customers,
one ticket every 3 s over about 35 days) and adds, set-based as well and once (reused while the counts
match, ``--rebuild`` to start again):

- about five interactions per ticket (1 to 9), each with its case — 5M of each at a million tickets — so a
  customer has about 500 interactions over 100 tickets;
- spread first-reply times, SLA verdicts on the closed tickets, one closed ticket in 32 reopened;
- a CSAT survey on a third of the closed tickets, half of them answered.

Then the roll-up builds the fact rows from nothing (``refresh_ticket_facts(full=True)``, timed), an
incremental run after 1,000 tickets changed is timed, and through the Django test client (middleware,
session, template: the whole request) it times the median and p95 of the dashboard (7 and 30 days, a
supervisor of two teams and an admin of all twenty, the htmx refresh), an export, the per-unique-ID page and
CSV, and the floor (one ticket by primary key, a small template).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import time
from pathlib import Path

_here = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _here]
sys.path.insert(0, str(_here.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client, override_settings  # noqa: E402

from reporting.models import TicketFact  # noqa: E402
from reporting.rollup import SUMMARIES, rebuild_all_summaries, refresh_ticket_facts  # noqa: E402


def _load_queue_bench():
    """``bench/queue.py`` as a module (its name shadows the standard library's ``queue``)."""
    spec = importlib.util.spec_from_file_location("bench_queue", _here / "queue.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


qb = _load_queue_bench()
PREFIX = qb.PREFIX
urlpatterns = qb.urlpatterns  # the floor view and the project's URLs


def count(sql: str, params=()) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def bench_interactions() -> int:
    return count(
        "SELECT count(*) FROM tickets_case c JOIN tickets_ticket t ON t.id = c.ticket_id WHERE t.subject LIKE %s",
        [f"{PREFIX} %"],
    )


def build_interactions() -> None:
    """About five interactions (and cases) per bench ticket, one identity per customer; the tickets get
    spread first-reply times, SLA verdicts and some reopens; a third of the closed ones a CSAT survey."""
    started = time.perf_counter()
    like = f"{PREFIX} %"
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM tickets_csatsurvey WHERE ticket_id IN (SELECT id FROM tickets_ticket WHERE subject LIKE %s)",
            [like],
        )
        cursor.execute(
            "DELETE FROM tickets_interaction WHERE customer_id IN "
            "(SELECT id FROM tickets_customer WHERE unique_id LIKE %s)",
            [f"{PREFIX.upper()}-%"],
        )
        cursor.execute(
            "DELETE FROM tickets_customeridentity WHERE customer_id IN "
            "(SELECT id FROM tickets_customer WHERE unique_id LIKE %s)",
            [f"{PREFIX.upper()}-%"],
        )
        cursor.execute(
            """
            INSERT INTO tickets_customeridentity (customer_id, channel, address, display_name, created_at)
            SELECT id, 'email', lower(unique_id) || '@bench.example', '', now()
            FROM tickets_customer WHERE unique_id LIKE %s
            """,
            [f"{PREFIX.upper()}-%"],
        )
        # Interaction ids drawn first, so the cases can name them without a join on anything else.
        cursor.execute("DROP TABLE IF EXISTS bench_interactions")
        cursor.execute(
            """
            CREATE TEMP TABLE bench_interactions AS
            SELECT nextval(pg_get_serial_sequence('tickets_interaction', 'id')) AS iid,
                   t.id AS tid, t.customer_id, t.channel, t.status, k,
                   t.created_at + (k - 1) * interval '7 minutes' AS started
            FROM tickets_ticket t, generate_series(1, 1 + ((hashint4((t.id)::int) & 2147483647) %% 9)) k
            WHERE t.subject LIKE %s
            """,
            [like],
        )
        cursor.execute(
            """
            INSERT INTO tickets_interaction (id, customer_id, identity_id, channel, status, started_at,
                                             last_message_at, closed_at)
            SELECT b.iid, b.customer_id, i.id, b.channel,
                   CASE WHEN b.status = 'closed' THEN 'closed' ELSE 'open' END,
                   b.started, b.started, CASE WHEN b.status = 'closed' THEN b.started + interval '3 hours' END
            FROM bench_interactions b JOIN tickets_customeridentity i ON i.customer_id = b.customer_id
            """
        )
        cursor.execute(
            """
            INSERT INTO tickets_case (interaction_id, ticket_id, link_rule, link_detail, status, created_at)
            SELECT iid, tid, CASE WHEN k = 1 THEN 'new_ticket' ELSE 'reference' END, '',
                   CASE WHEN status = 'closed' THEN 'closed' ELSE 'open' END, started
            FROM bench_interactions
            """
        )
        cursor.execute("DROP TABLE bench_interactions")
        cursor.execute(
            """
            UPDATE tickets_ticket SET
                first_responded_at = CASE WHEN status IN ('new', 'assigned') THEN NULL
                                          ELSE created_at + ((hashint4((id)::int) & 255) + 1) * interval '1 minute' END,
                resolved_at = CASE WHEN resolved_at IS NULL THEN NULL
                                   ELSE created_at + ((hashint4((id + 7)::int) & 4095) + 300) * interval '1 minute' END,
                closed_at = CASE WHEN closed_at IS NULL THEN NULL
                                 ELSE created_at + ((hashint4((id + 7)::int) & 4095) + 360) * interval '1 minute' END,
                sla_first_response_met = CASE WHEN status = 'closed' THEN (hashint4((id)::int) & 255) < 200 END,
                sla_resolution_met = CASE WHEN status = 'closed' THEN (hashint4((id + 7)::int) & 4095) < 3000 END,
                reopen_count = CASE WHEN status = 'closed' AND (hashint4((id + 3)::int) & 31) = 0 THEN 1 ELSE 0 END
            WHERE subject LIKE %s
            """,
            [like],
        )
        cursor.execute(
            """
            INSERT INTO tickets_csatsurvey (ticket_id, channel, state, team_id, agent_id, scheduled_for, sent_at,
                                            expires_at, answered_at, rating, comment, note, created_at)
            SELECT id, channel, CASE WHEN answered THEN 'answered' ELSE 'sent' END, team_id, assignee_id,
                   closed_at + interval '30 minutes', closed_at + interval '30 minutes',
                   closed_at + interval '7 days',
                   CASE WHEN answered THEN closed_at + interval '2 hours' END,
                   CASE WHEN answered THEN 1 + (hashint4((id + 11)::int) & 2147483647) %% 5 END, '', '', closed_at
            FROM (SELECT *, (hashint4((id + 5)::int) & 1) = 0 AS answered FROM tickets_ticket
                  WHERE subject LIKE %s AND status = 'closed' AND (hashint4((id + 9)::int) & 2147483647) %% 3 = 0) t
            """,
            [like],
        )
        for table in ("tickets_interaction", "tickets_case", "tickets_ticket", "tickets_csatsurvey"):
            cursor.execute(f"VACUUM ANALYZE {table}")
    print(f"built {bench_interactions():,} interactions and cases in {time.perf_counter() - started:.0f} s")


def timed(client: Client, url: str, repeat: int, headers=None) -> list[float]:
    client.get(url, headers=headers)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        response = client.get(url, headers=headers)
        if response.streaming:
            b"".join(response.streaming_content)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("bench/reports.py measures PostgreSQL: set DATABASE_URL=postgres://…")
    call_command("migrate", verbosity=0)
    rebuilt = False
    if args.rebuild or qb.bench_ticket_count() != args.tickets:
        qb.build(args.tickets)
        rebuilt = True
    if rebuilt or bench_interactions() < 3 * args.tickets:
        build_interactions()
        rebuilt = True
    facts = TicketFact.objects.count()
    tickets = count("SELECT count(*) FROM tickets_ticket")
    if rebuilt or facts != tickets:
        TicketFact.objects.all().delete()
        started = time.perf_counter()
        done = refresh_ticket_facts(full=True)
        print(f"roll-up from nothing: {done:,} tickets' facts in {time.perf_counter() - started:.0f} s")
    elif not all(model.objects.exists() for model in SUMMARIES):
        # A summary table added since the facts were built: recount the summaries alone.
        started = time.perf_counter()
        rebuild_all_summaries()
        print(f"summaries recounted from the facts in {time.perf_counter() - started:.0f} s")
    interactions = count("SELECT count(*) FROM tickets_interaction")
    version = count("SELECT 1")  # connection warm
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        version = cursor.fetchone()[0].split(" on ")[0]
    print(
        f"{version}; {tickets:,} tickets, {interactions:,} interactions, {TicketFact.objects.count():,} facts"
    )
    print("summary rows: " + ", ".join(f"{m.__name__} {m.objects.count():,}" for m in SUMMARIES))

    # An incremental run: 1,000 tickets changed since the last one.
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE tickets_ticket SET updated_at = now() WHERE id IN "
            "(SELECT id FROM tickets_ticket WHERE subject LIKE %s ORDER BY id DESC LIMIT 1000)",
            [f"{PREFIX} %"],
        )
    started = time.perf_counter()
    done = refresh_ticket_facts()
    print(
        f"roll-up after 1,000 changed tickets: {done:,} recomputed in {(time.perf_counter() - started) * 1000:.0f} ms"
    )
    started = time.perf_counter()
    done = refresh_ticket_facts()
    print(
        f"roll-up again at once (the same 1,000, within the 2-minute lag): {done:,} recomputed in {(time.perf_counter() - started) * 1000:.0f} ms"
    )

    User = get_user_model()
    supervisor = User.objects.get(username=f"{PREFIX}-supervisor")
    admin = User.objects.get(username=f"{PREFIX}-admin")
    some_ticket = count("SELECT max(id) FROM tickets_ticket WHERE subject LIKE %s", [f"{PREFIX} %"])
    customer = f"{PREFIX.upper()}-00001"
    customer_interactions = count(
        "SELECT count(*) FROM tickets_interaction i JOIN tickets_customer c ON c.id = i.customer_id "
        "WHERE c.unique_id = %s",
        [customer],
    )

    def client_for(user) -> Client:
        client = Client(SERVER_NAME="localhost")
        # The log-in signal's handlers (failed-login lockout, audit) want a client address; none here.
        with override_settings(AXES_ENABLED=False):
            client.force_login(user)
        return client

    clients = {"supervisor": client_for(supervisor), "admin": client_for(admin)}
    live = {"HX-Request": "true", "HX-Target": "report-live"}
    scenarios = [
        ("floor: one ticket by primary key", "supervisor", f"/floor/{some_ticket}/", None),
        ("dashboard, last 7 days (supervisor, 2 teams)", "supervisor", "/reports/", None),
        ("dashboard, last 7 days, htmx refresh (supervisor)", "supervisor", "/reports/", live),
        ("dashboard, last 7 days (admin, 20 teams)", "admin", "/reports/", None),
        ("dashboard, last 30 days (admin, 20 teams)", "admin", "/reports/?period=30d", None),
        ("dashboard, last 30 days, e-mail only (admin)", "admin", "/reports/?period=30d&channel=email", None),
        (
            "export: summary CSV, last 30 days (admin)",
            "admin",
            "/reports/export/summary.csv?period=30d",
            None,
        ),
        (
            f"per-unique-ID page ({customer_interactions} interactions)",
            "admin",
            f"/reports/unique-id/{customer}/",
            None,
        ),
        (
            f"per-unique-ID CSV ({customer_interactions} rows)",
            "admin",
            f"/reports/unique-id/{customer}.csv",
            None,
        ),
    ]
    print(f"\nserver time through the test client, {args.repeat} requests each (ms):")
    print(f"{'page':60} {'median':>8} {'p95':>8} {'x floor':>8}")
    floor = None
    with override_settings(ROOT_URLCONF=__name__, DEBUG=False):
        for label, who, url, headers in scenarios:
            times = timed(clients[who], url, args.repeat, headers)
            median = statistics.median(times)
            floor = floor or median
            print(f"{label:60} {median:8.1f} {qb.p95(times):8.1f} {median / floor:8.1f}")


if __name__ == "__main__":
    main()

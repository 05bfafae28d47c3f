"""The ticket workspace of a ticket with 200 messages, among a million tickets: server time and queries.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/helpdesk_bench python bench/workspace.py

Reuses ``bench/queue.py``'s million tickets (built by it when missing or of another size; ``--rebuild``
builds them again). Adds, once (``--rebuild-ticket`` to start again):

- conversations behind the newest ``--background`` tickets (default 200,000): one interaction and case
  each, and two messages — so the message, interaction and case tables are not tiny and the planner has
  to choose its joins as it would in production;
- one ticket, owned by a back-office agent, with 200 messages over six interactions on six channels
  (e-mail, WhatsApp, SMS, calls with their call records, chat, web form), in and out, five attachments,
  twelve internal notes by agents of two teams, and 40 history events; its customer has 100 other tickets.

Then, through the Django test client (middleware, session, templates: the whole request), the median and
p95 of the workspace page (the timeline's latest 50 entries) as its owner, a supervisor and an admin, the
whole timeline (``?timeline=all``), the header poll, and the floor (one ticket by primary key, a small
template: ``bench/queue.py``'s, timed again beside each page because the machine is shared) — and the
queries of one workspace request with the database's own time for each (``EXPLAIN ANALYZE``).
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

# bench/queue.py sets up Django and holds the million-ticket builder and the floor view; it is named like
# the standard library's ``queue``, so it is loaded from its path under another name.
_spec = importlib.util.spec_from_file_location("bench_queue", Path(__file__).resolve().parent / "queue.py")
bench_queue = importlib.util.module_from_spec(_spec)
sys.modules["bench_queue"] = bench_queue
_spec.loader.exec_module(bench_queue)

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client, override_settings  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from tickets.channels import AddressKind, Channel  # noqa: E402
from tickets.models import (  # noqa: E402
    Agent,
    Attachment,
    Case,
    Customer,
    CustomerIdentity,
    Interaction,
    Message,
    Note,
    Team,
    Ticket,
    TicketEvent,
)

PREFIX = bench_queue.PREFIX
# Not "qbench …" (with a space): that names the million tickets of bench/queue.py, which it counts.
SUBJECT = f"{PREFIX}-workspace: 200 messages"
MESSAGES = 200
# The ticket's interactions: (channel, the customer's address kind, address).
CONVERSATIONS = [
    (Channel.EMAIL, AddressKind.EMAIL, "bench.customer@example.com"),
    (Channel.WHATSAPP, AddressKind.WHATSAPP, "+447700900001"),
    (Channel.SMS, AddressKind.PHONE, "+447700900002"),
    (Channel.VOICE, AddressKind.PHONE, "+447700900003"),
    (Channel.CHAT, AddressKind.CHAT, "chat:bench-0001"),
    (Channel.WEB, AddressKind.EMAIL, "bench.form@example.com"),
]


# Building ---------------------------------------------------------------------------------------------------


def background_count() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM tickets_message WHERE provider_message_id LIKE %s", [f"{PREFIX}-bg-%"]
        )
        return cursor.fetchone()[0] // 2


def build_background(n: int) -> None:
    """One e-mail interaction, case and two messages behind each of the newest ``n`` bench tickets."""
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM tickets_interaction WHERE id IN (SELECT interaction_id FROM tickets_message "
            "WHERE provider_message_id LIKE %s)",
            [f"{PREFIX}-bg-%"],
        )
        cursor.execute(
            """
            INSERT INTO tickets_customeridentity (customer_id, channel, address, display_name, created_at)
            SELECT c.id, 'email', lower(c.unique_id) || '@bench.example', '', now()
            FROM tickets_customer c WHERE c.unique_id LIKE %s
            ON CONFLICT DO NOTHING
            """,
            [f"{PREFIX.upper()}-%"],
        )
        cursor.execute(
            """
            CREATE TEMP TABLE bench_bg ON COMMIT DROP AS
            SELECT t.id AS ticket_id, t.customer_id, t.created_at, i.id AS identity_id, i.address
            FROM (SELECT id, customer_id, created_at FROM tickets_ticket WHERE subject LIKE %s
                  ORDER BY id DESC LIMIT %s) t
            JOIN tickets_customeridentity i ON i.customer_id = t.customer_id AND i.channel = 'email'
            """,
            [f"{PREFIX} %", n],
        )
        cursor.execute(
            """
            INSERT INTO tickets_interaction (customer_id, identity_id, channel, status, started_at, last_message_at)
            SELECT customer_id, identity_id, 'email', 'closed', created_at, created_at + interval '1 hour'
            FROM bench_bg ORDER BY ticket_id
            """
        )
        # Pair each new interaction with its ticket by (customer, start time), which the temp table holds.
        cursor.execute(
            """
            INSERT INTO tickets_case (interaction_id, ticket_id, link_rule, link_detail, status, created_at)
            SELECT i.id, b.ticket_id, 'new_ticket', '', 'closed', b.created_at
            FROM bench_bg b JOIN tickets_interaction i
              ON i.customer_id = b.customer_id AND i.started_at = b.created_at AND i.identity_id = b.identity_id
            """
        )
        cursor.execute(
            """
            INSERT INTO tickets_message (interaction_id, channel, direction, sender, subject, body,
                provider_message_id, delivery_status, sent_at, created_at, meta, error)
            SELECT c.interaction_id, 'email', d.direction, b.address, 'Bench', 'Background message ' || b.ticket_id,
                   %s || b.ticket_id || '-' || d.direction,
                   CASE d.direction WHEN 'in' THEN 'received' ELSE 'delivered' END,
                   b.created_at + d.lag, b.created_at + d.lag, '{}'::jsonb, ''
            FROM bench_bg b JOIN tickets_case c ON c.ticket_id = b.ticket_id
            CROSS JOIN (VALUES ('in', interval '0'), ('out', interval '30 minutes')) d(direction, lag)
            """,
            [f"{PREFIX}-bg-"],
        )
    with connection.cursor() as cursor:
        for table in ("tickets_interaction", "tickets_case", "tickets_message", "tickets_customeridentity"):
            cursor.execute(f"VACUUM ANALYZE {table}")
    print(f"built conversations for {n:,} tickets in {time.perf_counter() - started:.0f} s")


def find_ticket() -> Ticket | None:
    return Ticket.objects.filter(subject=SUBJECT).first()


@transaction.atomic
def build_ticket() -> Ticket:
    started = time.perf_counter()
    Ticket.objects.filter(subject=SUBJECT).delete()
    User = get_user_model()
    owner = Agent.objects.get(user__username=f"{PREFIX}-0-0")
    colleague = Agent.objects.get(user__username=f"{PREFIX}-0-1")
    other_team = Agent.objects.get(user__username=f"{PREFIX}-1-0")
    supervisor = Agent.objects.get(user__username=f"{PREFIX}-supervisor")
    team = Team.objects.get(slug=f"{PREFIX}-0")
    customer = Customer.objects.get(unique_id=f"{PREFIX.upper()}-00001")
    now = timezone.now()
    start = now - timedelta(days=20)
    ticket = Ticket.objects.create(
        customer=customer,
        subject=SUBJECT,
        channel=Channel.EMAIL,
        priority=2,
        status="open",
        team=team,
        team_rule="bench",
        assignee=owner,
        first_response_due=start + timedelta(hours=1),
        resolution_due=now + timedelta(days=2),
        first_responded_at=start + timedelta(minutes=20),
        created_at=start,
        updated_at=now,
        assigned_at=start,
        queued_at=start,
    )
    identities, interactions = [], []
    for channel, kind, address in CONVERSATIONS:
        identity, _ = CustomerIdentity.objects.get_or_create(
            channel=kind, address=address, defaults={"customer": customer}
        )
        identities.append(identity)
        interactions.append(
            Interaction.objects.create(
                customer=customer,
                identity=identity,
                channel=channel,
                status="open",
                started_at=start,
                last_message_at=now,
            )
        )
    Case.objects.bulk_create(
        [
            Case(
                interaction=i,
                ticket=ticket,
                link_rule="new_ticket" if n == 0 else "reference",
                link_detail="" if n == 0 else "ORD-1001",
                created_at=start + timedelta(minutes=n),
            )
            for n, i in enumerate(interactions)
        ]
    )
    step = (now - start) / (MESSAGES + 1)
    messages = []
    for n in range(MESSAGES):
        slot = n % len(CONVERSATIONS)
        channel, _, address = CONVERSATIONS[slot]
        inbound = n % 2 == 0 or channel == Channel.VOICE
        meta = {}
        if channel == Channel.VOICE:
            meta = {
                "call": {
                    "direction": "inbound",
                    "status": "completed",
                    "duration_seconds": 120 + n,
                    "recording_url": f"https://pbx.example.com/rec/{n}.wav",
                }
            }
        messages.append(
            Message(
                interaction=interactions[slot],
                channel=channel,
                direction="in" if inbound else "out",
                sender=address,
                subject="Internet down, ORD-1001" if channel == Channel.EMAIL else "",
                body=f"Message {n}: the router lights are red again, line test booked for Tuesday. " * 3,
                provider_message_id=f"{PREFIX}-ws-{n}",
                delivery_status="received" if inbound else "delivered",
                sent_at=start + step * (n + 1),
                author=None if inbound else owner,
                meta=meta,
            )
        )
    messages = Message.objects.bulk_create(messages)
    Attachment.objects.bulk_create(
        [
            Attachment(
                message=messages[n * 37],
                file=f"attachments/bench/{n}.pdf",
                filename=f"invoice-{n}.pdf",
                content_type="application/pdf",
                size=40_000 + n,
                sha256=f"{n:064d}",
            )
            for n in range(5)
        ]
    )
    authors = [owner, colleague, other_team, supervisor]
    notes = Note.objects.bulk_create(
        [Note(ticket=ticket, author=authors[n % 4], body=f"Internal note {n}") for n in range(12)]
    )
    for n, note in enumerate(notes):
        note.created_at = start + step * (15 * n + 7)
    Note.objects.bulk_update(notes, ["created_at"])
    actors = [None, owner.user, supervisor.user]
    kinds = ["linked", "priority", "pend", "customer_reply", "tags", "escalate", "transfer", "category"]
    TicketEvent.objects.bulk_create(
        [
            TicketEvent(
                ticket=ticket,
                actor=actors[n % 3],
                kind=kinds[n % len(kinds)],
                from_value="P3" if kinds[n % len(kinds)] == "priority" else "",
                to_value="P2" if kinds[n % len(kinds)] == "priority" else "",
                reason="bench" if n % 5 == 0 else "",
                data={"channel": "email"} if kinds[n % len(kinds)] == "linked" else {},
                created_at=start + step * (5 * n + 3),
            )
            for n in range(40)
        ]
    )
    _ = User
    print(f"built the 200-message ticket {ticket.number} in {time.perf_counter() - started:.1f} s")
    return ticket


# Measuring ------------------------------------------------------------------------------------------------


def queries_of(client: Client, url: str) -> list[dict]:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return ctx.captured_queries


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--background", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--rebuild-ticket", action="store_true")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("bench/workspace.py measures PostgreSQL: set DATABASE_URL=postgres://…")
    call_command("migrate", verbosity=0)
    if args.rebuild or bench_queue.bench_ticket_count() != args.tickets:
        bench_queue.build(args.tickets)
    if args.rebuild or background_count() != args.background:
        build_background(args.background)
    ticket = find_ticket()
    if ticket is None or args.rebuild or args.rebuild_ticket:
        ticket = build_ticket()
        with connection.cursor() as cursor:
            for table in ("tickets_message", "tickets_note", "tickets_ticketevent", "tickets_attachment"):
                cursor.execute(f"ANALYZE {table}")
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM tickets_ticket")
        total = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM tickets_message")
        message_total = cursor.fetchone()[0]
        cursor.execute("SELECT version()")
        version = cursor.fetchone()[0].split(" on ")[0]
    messages = Message.objects.filter(interaction__case__ticket=ticket).count()
    print(
        f"{version}; {total:,} tickets, {message_total:,} messages; {ticket.number}: {messages} messages, "
        f"{ticket.cases.count()} interactions, {ticket.notes.count()} notes, {ticket.events.count()} events"
    )

    User = get_user_model()
    users = {
        "owner": User.objects.get(username=f"{PREFIX}-0-0"),
        "supervisor": User.objects.get(username=f"{PREFIX}-supervisor"),
        "admin": User.objects.get(username=f"{PREFIX}-admin"),
    }
    clients = {}
    for who, user in users.items():
        clients[who] = Client(SERVER_NAME="localhost")
        clients[who].force_login(user)
    page = f"/tickets/{ticket.pk}/"
    # For comparison: one of the owner's open tickets with the background's two messages.
    small = (
        Ticket.objects.filter(assignee__user=users["owner"], status="open", cases__isnull=False)
        .order_by("-id")
        .values_list("pk", flat=True)[0]
    )
    scenarios = [
        ("floor: one ticket by primary key", "owner", f"/floor/{ticket.pk}/"),
        ("workspace, a 2-message ticket (owner)", "owner", f"/tickets/{small}/"),
        ("workspace, 200 messages (owner, back office)", "owner", page),
        ("workspace, 200 messages (supervisor, 2 teams)", "supervisor", page),
        ("workspace, 200 messages (admin)", "admin", page),
        ("workspace as its htmx partial (owner)", "owner", "htmx:" + page),
        ("workspace, every timeline entry: ?timeline=all (owner)", "owner", page + "?timeline=all"),
        ("header poll (owner)", "owner", f"/tickets/{ticket.pk}/header/?seen={ticket.version}"),
    ]
    print(f"\nserver time through the test client, {args.repeat} requests each (ms):")
    print(f"{'page':52} {'median':>8} {'p95':>8} {'floor':>8} {'x floor':>8} {'queries':>8}")
    with override_settings(ROOT_URLCONF="bench_queue", DEBUG=False):
        for label, who, url in scenarios:
            client = clients[who]
            if url.startswith("htmx:"):
                url = url[5:]
                client.defaults["HTTP_HX_REQUEST"] = "true"
            times = bench_queue.timed(client, url, args.repeat)
            # The machine is shared: the floor is timed again beside each page, and the ratio is to that.
            floor = statistics.median(
                bench_queue.timed(clients["owner"], f"/floor/{ticket.pk}/", args.repeat)
            )
            count = len(queries_of(client, url))
            client.defaults.pop("HTTP_HX_REQUEST", None)
            median = statistics.median(times)
            p95 = bench_queue.p95(times)
            print(f"{label:52} {median:8.1f} {p95:8.1f} {floor:8.1f} {median / floor:8.1f} {count:8d}")
        captured = {who: queries_of(clients[who], page) for who in ("owner", "admin")}
    for who, queries in captured.items():
        explained = sorted(((explain_ms(q["sql"]), q["sql"]) for q in queries), key=lambda r: -r[0][0])
        total = sum(ms for (ms, _), _ in explained)
        print(
            f"\nthe {len(queries)} queries of one workspace request ({who}): {total:.1f} ms of database "
            "execution in all (EXPLAIN ANALYZE); the slowest:"
        )
        for (ms, plan), sql in explained[:5]:
            print(f"  {ms:8.2f} ms  {plan:40}  {sql[:110]}")


def explain_ms(sql: str) -> tuple[float, str]:
    """The database's own execution time of a captured query (its parameters already in the text)."""
    if sql.startswith("DECLARE"):
        sql = sql[sql.index(" FOR ") + len(" FOR ") :]  # a server-side cursor's query
    if not sql.lstrip().upper().startswith("SELECT"):
        return 0.0, "(not a SELECT)"
    return bench_queue.explain_ms(sql, None)


if __name__ == "__main__":
    main()

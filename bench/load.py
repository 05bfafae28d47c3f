"""Load and fault test of intake: thousands of signed webhooks at once, then a check that nothing was lost.

Starts the app under gunicorn on 127.0.0.1 (several sync workers) and a django-q2 cluster against a
PostgreSQL database of its own (dropped and created afresh; kept afterwards for inspection), plus a recording
provider API and an SMTP sink on 127.0.0.1 for the acknowledgements. Then sends ``--messages`` messages from
``--customers`` customers over every channel — raw e-mail, WhatsApp, Twilio SMS, Messenger, CTI call events,
Twilio Voice — from a thread pool, every message delivered 2 or 3 times, the copies and the customers'
messages shuffled (so many arrive out of order and concurrently), each request signed as its provider signs
it. A request answered with anything but 200 (a connection refused, a 5xx) is sent again after a pause, as
the providers redeliver.

    .venv/bin/python bench/load.py [--messages 5000] [--customers 500] [--concurrency 32] [--web-workers 4]
    .venv/bin/python bench/load.py --faults [--pg-fault restart|offline]

``--faults`` SIGKILLs the django-q2 cluster at 30 % of the requests and starts a new one at 45 %, and at
60 % takes PostgreSQL away once: ``restart`` (the default) runs ``pg_ctlcluster <version> main restart``
(needs root and restarts the whole server, so other users of it see their connections dropped too);
``offline`` refuses new connections to this database only and terminates its backends
(``pg_terminate_backend``) for a few seconds. Afterwards ``manage.py replay_inbound`` runs the inbound log's
leftovers (failed or never processed) through the pipeline.

It prints requests and messages per second accepted, the inbound events by status, and checks: every
message exists exactly once; each is with the customer it came from and in the ticket of the reference it
named (Twilio calls, which name none, in the customer's only ticket); one ticket per customer and reference;
every call its own interaction; and, with ``--faults``, that every message accepted was taken in. It exits
1 if a check fails. Half the customers are known from a CRM import (one customer over every channel and
address), half are new (one address each, on one channel). Bounded: sending stops after ``--max-seconds``
(420); messages never sent are counted and left out of the checks. On the busy shared 2-core machine of the
README's figures it took 11–13 deliveries a second, so the full 5,000 (12,500 deliveries) reach that bound;
``--messages 500 --customers 50`` is a two-minute smoke run.
"""

# ruff: noqa: E402 - the imports follow the sys.path fix below
from __future__ import annotations

import sys
from pathlib import Path

# This folder is sys.path[0] when the script runs, and bench/queue.py would shadow the standard library's
# queue module (which concurrent.futures imports).
ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [str(ROOT), *(p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench")]

import argparse
import contextlib
import csv
import hashlib
import hmac
import json
import os
import random
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlencode

import psycopg
import requests
from twilio.request_validator import RequestValidator

PYTHON = str(ROOT / ".venv" / "bin" / "python")
GUNICORN = str(ROOT / ".venv" / "bin" / "gunicorn")

SECRETS = {
    "INTAKE_TOKEN": "load-intake-token",
    "WHATSAPP_APP_SECRET": "load-whatsapp-secret",
    "WHATSAPP_VERIFY_TOKEN": "load-verify",
    "META_APP_SECRET": "load-meta-secret",
    "META_VERIFY_TOKEN": "load-verify",
    "TWILIO_AUTH_TOKEN": "load-twilio-token",
    "TWILIO_ACCOUNT_SID": "AC" + "10ad" * 8,
    "TWILIO_FROM_NUMBER": "+447700900999",
    "WHATSAPP_PHONE_NUMBER_ID": "106540352242922",
    "WHATSAPP_ACCESS_TOKEN": "load-wa-token",
    "META_PAGE_ACCESS_TOKEN": "load-page-token",
}
PAGE_ID = "106179391947290"
OUR_NUMBER = SECRETS["TWILIO_FROM_NUMBER"]
KNOWN_CHANNELS = ["email", "whatsapp", "sms", "meta", "cti", "email", "whatsapp", "sms", "meta", "cti"]
NEW_CHANNELS = ["email", "whatsapp", "sms", "meta"]


# --- the workload -------------------------------------------------------------------------------------


@dataclass
class Customer:
    n: int
    known: bool
    references: list[str]
    channel: str = ""  # a new customer's one channel

    @property
    def unique_id(self) -> str:
        return f"LOAD-{self.n:04d}"

    @property
    def phone(self) -> str:
        return f"+447700900{self.n:03d}"  # Ofcom's drama range: 07700 900000–900999

    @property
    def email(self) -> str:
        return f"customer{self.n}@load.example"

    @property
    def psid(self) -> str:
        return f"{6100000000000000 + self.n}"


@dataclass
class Item:
    """One message: what it is, how it is sent, and where it must end up."""

    customer: Customer
    channel: str  # email whatsapp sms meta cti twilio_voice
    provider_id: str
    reference: str
    sent_at: datetime
    first: bool
    request: dict = field(default_factory=dict)

    @property
    def message_channel(self) -> str:
        return {"meta": "social", "cti": "voice", "twilio_voice": "voice"}.get(self.channel, self.channel)


def workload(n_messages: int, n_customers: int, rng: random.Random) -> list[Item]:
    customers = []
    for n in range(n_customers):
        known = n < n_customers // 2
        issues = 1 + n % 3
        refs = [f"ORD-{700000 + n * 10 + k}" for k in range(issues)]
        customers.append(Customer(n, known, refs, "" if known else NEW_CHANNELS[n % len(NEW_CHANNELS)]))
    per_customer = [
        n_messages // n_customers + (1 if n < n_messages % n_customers else 0) for n in range(n_customers)
    ]
    start = datetime.now(UTC) - timedelta(hours=2)
    items = []
    for customer, count in zip(customers, per_customer, strict=True):
        for k in range(count):
            if customer.known:
                channel = KNOWN_CHANNELS[k % len(KNOWN_CHANNELS)]
                # A single-issue customer also phones (Twilio names no reference: the call joins the only ticket).
                if len(customer.references) == 1 and k % 10 == 8:
                    channel = "twilio_voice"
            else:
                channel = customer.channel
            items.append(
                Item(
                    customer=customer,
                    channel=channel,
                    provider_id=f"load-{customer.n}-{k}-{uuid.uuid4().hex[:8]}",
                    reference=customer.references[k % len(customer.references)],
                    sent_at=start + timedelta(seconds=customer.n * 7 + k * 30),
                    first=k == 0,
                )
            )
    return items


def crm_csv(items: list[Item], path: Path) -> None:
    known = {i.customer.n: i.customer for i in items if i.customer.known}
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["unique_id", "name", "tier", "email", "phone", "whatsapp", "references"])
        for c in known.values():
            writer.writerow(
                [
                    c.unique_id,
                    f"Load Customer {c.n}",
                    "standard",
                    c.email,
                    c.phone,
                    c.phone,
                    ";".join(c.references),
                ]
            )


# --- signed requests, as each provider sends them -----------------------------------------------------


def meta_signature(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def build_request(item: Item, base: str) -> dict:
    c, ts = item.customer, item.sent_at
    text = f"Still no internet, order {item.reference} (message {item.provider_id})"
    if item.channel == "email":
        provider_id = f"<{item.provider_id}@load.example>"
        raw = (
            f"From: Load Customer {c.n} <{c.email}>\r\nTo: support@helpdesk.localhost\r\n"
            f"Subject: Order {item.reference}\r\nMessage-ID: {provider_id}\r\n"
            f"Date: {format_datetime(ts)}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n"
        ).encode()
        item.provider_id = provider_id
        return {
            "url": f"{base}/intake/email/raw/",
            "data": raw,
            "headers": {
                "Authorization": f"Bearer {SECRETS['INTAKE_TOKEN']}",
                "Content-Type": "message/rfc822",
            },
        }
    if item.channel == "whatsapp":
        wa_id = c.phone.lstrip("+")
        body = {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": "102290129340398",
                    "changes": [
                        {
                            "field": "messages",
                            "value": {
                                "messaging_product": "whatsapp",
                                "metadata": {
                                    "display_phone_number": OUR_NUMBER.lstrip("+"),
                                    "phone_number_id": SECRETS["WHATSAPP_PHONE_NUMBER_ID"],
                                },
                                "contacts": [{"profile": {"name": f"Load Customer {c.n}"}, "wa_id": wa_id}],
                                "messages": [
                                    {
                                        "from": wa_id,
                                        "id": f"wamid.{item.provider_id}",
                                        "timestamp": str(int(ts.timestamp())),
                                        "type": "text",
                                        "text": {"body": text},
                                    }
                                ],
                            },
                        }
                    ],
                }
            ],
        }
        item.provider_id = f"wamid.{item.provider_id}"
        raw = json.dumps(body).encode()
        return {
            "url": f"{base}/intake/whatsapp/",
            "data": raw,
            "headers": {
                "Content-Type": "application/json",
                "X-Hub-Signature-256": meta_signature(raw, SECRETS["WHATSAPP_APP_SECRET"]),
            },
        }
    if item.channel == "meta":
        mid = f"m_{item.provider_id}"
        body = {
            "object": "page",
            "entry": [
                {
                    "id": PAGE_ID,
                    "time": int(ts.timestamp() * 1000),
                    "messaging": [
                        {
                            "sender": {"id": c.psid},
                            "recipient": {"id": PAGE_ID},
                            "timestamp": int(ts.timestamp() * 1000),
                            "message": {"mid": mid, "text": text},
                        }
                    ],
                }
            ],
        }
        item.provider_id = mid
        raw = json.dumps(body).encode()
        return {
            "url": f"{base}/intake/meta/",
            "data": raw,
            "headers": {
                "Content-Type": "application/json",
                "X-Hub-Signature-256": meta_signature(raw, SECRETS["META_APP_SECRET"]),
            },
        }
    if item.channel == "cti":
        body = {
            "call_id": item.provider_id,
            "direction": "inbound",
            "from": c.phone,
            "to": OUR_NUMBER,
            "started_at": ts.isoformat(),
            "ended_at": (ts + timedelta(minutes=4)).isoformat(),
            "customer_id": c.unique_id,
            "reference": item.reference,
            "notes": text,
        }
        return {
            "url": f"{base}/intake/voice/events/",
            "data": json.dumps(body).encode(),
            "headers": {
                "Authorization": f"Bearer {SECRETS['INTAKE_TOKEN']}",
                "Content-Type": "application/json",
            },
        }
    if item.channel == "sms":
        sid = "SM" + hashlib.md5(item.provider_id.encode()).hexdigest()  # noqa: S324 - an ID, not security
        params = {
            "MessageSid": sid,
            "SmsSid": sid,
            "AccountSid": SECRETS["TWILIO_ACCOUNT_SID"],
            "From": c.phone,
            "To": OUR_NUMBER,
            "Body": text,
            "NumMedia": "0",
            "SmsStatus": "received",
            "ApiVersion": "2010-04-01",
        }
        item.provider_id = sid
        return twilio_request(f"{base}/intake/sms/twilio/", params)
    assert item.channel == "twilio_voice"
    sid = "CA" + hashlib.md5(item.provider_id.encode()).hexdigest()  # noqa: S324 - an ID, not security
    params = {
        "CallSid": sid,
        "AccountSid": SECRETS["TWILIO_ACCOUNT_SID"],
        "From": c.phone,
        "To": OUR_NUMBER,
        "Direction": "inbound",
        "CallStatus": "completed",
        "CallDuration": "185",
        "Timestamp": format_datetime(ts),
        "ApiVersion": "2010-04-01",
    }
    item.provider_id = sid
    return twilio_request(f"{base}/intake/voice/twilio/", params)


def twilio_request(url: str, params: dict) -> dict:
    signature = RequestValidator(SECRETS["TWILIO_AUTH_TOKEN"]).compute_signature(url, params)
    return {
        "url": url,
        "data": urlencode(params).encode(),
        "headers": {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature},
    }


# --- the providers' side of the acknowledgements ------------------------------------------------------


class FakeProviders:
    """WhatsApp Cloud API, Twilio and Meta's Send API on 127.0.0.1, answering every send with success."""

    def __init__(self):
        self.sent = Counter()
        lock = threading.Lock()
        sent = self.sent

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path.endswith("/Messages.json"):
                    kind, answer = "sms", {"sid": "SM" + uuid.uuid4().hex, "status": "queued"}
                elif "/me/messages" in self.path:
                    kind, answer = "social", {"message_id": "m_" + uuid.uuid4().hex}
                else:
                    kind, answer = "whatsapp", {"messages": [{"id": "wamid." + uuid.uuid4().hex}]}
                with lock:
                    sent[kind] += 1
                raw = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


class SmtpSink:
    def __init__(self):
        from aiosmtpd.controller import Controller

        sink = self
        self.count = 0

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                sink.count += 1
                return "250 OK"

        with socket.socket() as probe:  # aiosmtpd wants a port number, not 0
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()


# --- processes ----------------------------------------------------------------------------------------


def migrations_key() -> str:
    digest = hashlib.sha1()  # noqa: S324 - a cache key
    for path in sorted(ROOT.glob("*/migrations/*.py")):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:10]


def recreate_database(admin_url: str, name: str, env: dict) -> None:
    """A fresh migrated database, cloned from a migrated template kept for the current migrations (a
    migration from nothing takes a minute on 2 cores)."""
    template = f"{name}_tpl_{migrations_key()}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        templates = [
            row[0]
            for row in conn.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE %s", [f"{name}_tpl_%"]
            )
        ]
        if template not in templates:
            for old in templates:
                conn.execute(f'DROP DATABASE IF EXISTS "{old}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{template}"')
            url = admin_url.rsplit("/", 1)[0] + f"/{template}"
            manage({**env, "DATABASE_URL": url}, "migrate", "--no-input")
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')


def manage(env: dict, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=check, capture_output=True, text=True
    )


def start_cluster(env: dict, log) -> subprocess.Popen:
    # Its own process group, so a kill takes its workers too (as a crashed machine would).
    return subprocess.Popen(
        [PYTHON, "manage.py", "qcluster"], cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True
    )


def kill_group(process: subprocess.Popen, sig=signal.SIGKILL) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def wait_until_up(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=2)
            return
        except requests.RequestException:
            time.sleep(0.3)
    raise SystemExit(f"the app did not come up at {url}")


def pg_version(admin_url: str) -> str:
    with psycopg.connect(admin_url) as conn:
        return str(conn.info.server_version // 10000)


def take_postgres_away(how: str, admin_url: str, name: str, seconds: float) -> str:
    if how == "restart":
        with psycopg.connect(admin_url) as conn:
            others = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' "
                "AND datname NOT IN (%s, current_database()) AND pid <> pg_backend_pid()",
                [name],
            ).fetchone()[0]
        if others:
            # A shared server: restarting it would break other people's sessions. Our database only, then.
            return f"{others} other sessions on the server, so not restarted: " + take_postgres_away(
                "offline", admin_url, name, seconds
            )
        started = time.monotonic()
        subprocess.run(["pg_ctlcluster", pg_version(admin_url), "main", "restart"], check=True)
        return f"PostgreSQL restarted with pg_ctlcluster ({time.monotonic() - started:.1f} s)"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
        killed = conn.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = %s", [name]
        ).fetchone()[0]
        time.sleep(seconds)
        conn.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')
    return f"database {name} refused connections for {seconds:.0f} s, {killed} backends terminated"


# --- sending ------------------------------------------------------------------------------------------


class Sender:
    """Sends each delivery until it is answered 200 (the providers redeliver until then). Deliveries due after
    ``stop_at`` (the run's time bound) are not sent; retries stop a minute later."""

    def __init__(self, stop_at: float):
        self.local = threading.local()
        self.stop_at = stop_at
        self.deadline = stop_at + 60
        self.skipped = 0
        self.sent: set[int] = set()  # indexes of items delivered at least once
        self.lock = threading.Lock()
        self.statuses = Counter()
        self.done = 0
        self.accepted: set[int] = set()  # indexes of items answered 200 at least once
        self.refused: list[str] = []

    def session(self) -> requests.Session:
        if not hasattr(self.local, "session"):
            self.local.session = requests.Session()
        return self.local.session

    def send(self, index: int, request: dict) -> None:
        if time.monotonic() > self.stop_at:
            with self.lock:
                self.skipped += 1
                self.done += 1
            return
        with self.lock:
            self.sent.add(index)
        pause = 0.2
        while True:
            try:
                response = self.session().post(
                    request["url"], data=request["data"], headers=request["headers"], timeout=30
                )
                status = response.status_code
            except requests.RequestException as exc:
                status, response = type(exc).__name__, None
            with self.lock:
                self.statuses[status] += 1
            if status == 200:
                with self.lock:
                    self.accepted.add(index)
                    self.done += 1
                return
            if status in (400, 403, 413) or time.monotonic() > self.deadline:
                with self.lock:
                    self.refused.append(
                        f"{request['url']}: {status} {response.text[:200] if response else ''}"
                    )
                    self.done += 1
                return
            time.sleep(pause)
            pause = min(pause * 2, 3)


# --- checks -------------------------------------------------------------------------------------------


def check(items: list[Item], accepted: set[int]) -> list[str]:
    from django.db.models import Count

    from tickets.models import Customer as CustomerRow
    from tickets.models import Interaction, Message, Ticket

    problems = []
    inbound = Message.objects.filter(direction=Message.Direction.INBOUND).select_related(
        "interaction__case__ticket__reference", "interaction__customer"
    )
    by_key = defaultdict(list)
    for m in inbound:
        by_key[(m.channel, m.provider_message_id)].append(m)
    missing = [i for i in items if not by_key.get((i.message_channel, i.provider_id))]
    doubled = [k for k, rows in by_key.items() if len(rows) > 1]
    lost = [
        i for n, i in enumerate(items) if n in accepted and not by_key.get((i.message_channel, i.provider_id))
    ]
    if missing:
        problems.append(
            f"{len(missing)} messages missing, e.g. {missing[0].channel} {missing[0].provider_id}"
        )
    if lost:
        problems.append(f"{len(lost)} messages answered 200 but not taken in (lost)")
    if doubled:
        problems.append(f"{len(doubled)} messages stored more than once, e.g. {doubled[0]}")

    customer_of: dict[int, set[int]] = defaultdict(set)  # our customer → customer rows
    tickets_of: dict[tuple[int, str], set[int]] = defaultdict(set)  # (customer, reference) → tickets
    wrong_ticket = 0
    for item in items:
        rows = by_key.get((item.message_channel, item.provider_id))
        if not rows:
            continue
        m = rows[0]
        ticket = m.interaction.case.ticket
        customer_of[item.customer.n].add(m.interaction.customer_id)
        if ticket.customer_id != m.interaction.customer_id:
            problems.append(f"message {m.pk}: its ticket {ticket.number} is another customer's")
        tickets_of[(item.customer.n, item.reference)].add(ticket.pk)
        if (ticket.reference.value if ticket.reference else None) != item.reference:
            wrong_ticket += 1
    if wrong_ticket:
        problems.append(f"{wrong_ticket} messages in a ticket that does not carry the reference they named")
    split = {n: rows for n, rows in customer_of.items() if len(rows) != 1}
    if split:
        problems.append(
            f"{len(split)} customers split over several customer records, e.g. {next(iter(split.items()))}"
        )
    known = {i.customer.n: i.customer.unique_id for i in items if i.customer.known}
    wrong_customer = sum(
        1
        for n, uid in known.items()
        if customer_of.get(n)
        and CustomerRow.objects.filter(pk__in=customer_of[n], unique_id=uid).count() != 1
    )
    if wrong_customer:
        problems.append(f"{wrong_customer} CRM customers' messages not with their CRM record")
    several = {k: v for k, v in tickets_of.items() if len(v) != 1}
    if several:
        problems.append(
            f"{len(several)} (customer, reference) pairs with more than one ticket, e.g. {next(iter(several))}"
        )
    expected_tickets = sum(len({i.reference for i in items if i.customer.n == n}) for n in customer_of)
    actual_tickets = Ticket.objects.filter(
        customer_id__in={r for rows in customer_of.values() for r in rows}
    ).count()
    if actual_tickets != expected_tickets:
        problems.append(f"{actual_tickets} tickets where the rules give {expected_tickets}")
    calls_shared = (
        Interaction.objects.filter(channel="voice").annotate(n=Count("messages")).filter(n__gt=1).count()
    )
    if calls_shared:
        problems.append(f"{calls_shared} call interactions with more than one message")
    return problems


# --- the run ------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--customers", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight")
    parser.add_argument("--web-workers", type=int, default=4, help="gunicorn sync workers")
    parser.add_argument("--q-workers", type=int, default=2, help="django-q2 workers")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--database", default="helpdesk_load")
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--faults", action="store_true")
    parser.add_argument(
        "--pg-fault",
        choices=["restart", "offline"],
        default="restart",
        help="restart: pg_ctlcluster restart, only when nobody else is connected (else offline); "
        "offline: this database refuses connections and its backends are terminated",
    )
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument(
        "--max-seconds", type=float, default=420, help="stop sending after this long (the run stays bounded)"
    )
    args = parser.parse_args()

    rng = random.Random(args.seed)
    base = f"http://127.0.0.1:{args.port}"
    database_url = args.postgres.rsplit("/", 1)[0] + f"/{args.database}"
    providers, smtp = FakeProviders(), SmtpSink()
    env = {
        **os.environ,
        **SECRETS,
        "DATABASE_URL": database_url,
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "LOG_LEVEL": "WARNING",
        "Q_WORKERS": str(args.q_workers),
        "WHATSAPP_API_BASE": f"{providers.url}/v21.0",
        "META_API_BASE": f"{providers.url}/v21.0",
        "TWILIO_API_BASE": providers.url,
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp.port),
    }
    env.pop("REDIS_URL", None)
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")

    print(
        f"load run: {args.messages} messages from {args.customers} customers, each delivered 2–3 times; "
        f"{args.concurrency} in flight; gunicorn {args.web_workers} workers; django-q2 {args.q_workers} workers"
        + (f"; faults: cluster killed, PostgreSQL {args.pg_fault}" if args.faults else "")
    )
    recreate_database(args.postgres, args.database, env)
    manage(env, "sync_schedules")
    items = workload(args.messages, args.customers, rng)
    with tempfile.TemporaryDirectory() as tmp:
        crm = Path(tmp) / "crm.csv"
        crm_csv(items, crm)
        manage(env, "import_customers", str(crm))
    for item in items:
        item.request = build_request(item, base)

    # Deliveries: every customer's first message first (it opens the customer's first ticket), then the rest
    # with their copies all shuffled together: copies race each other, later messages overtake earlier ones.
    first = [(n, i) for n, i in enumerate(items) if i.first]
    rest = [(n, i) for n, i in enumerate(items) if not i.first]
    waves = []
    for wave in (first, rest):
        deliveries = [(n, i.request) for n, i in wave for _ in range(rng.choice((2, 3)))]
        rng.shuffle(deliveries)
        waves.append(deliveries)
    total = sum(len(w) for w in waves)

    log = open(Path(tempfile.gettempdir()) / f"{args.database}.log", "w")  # noqa: SIM115
    web = subprocess.Popen(
        [
            GUNICORN,
            "helpdesk.wsgi",
            "-b",
            f"127.0.0.1:{args.port}",
            "-w",
            str(args.web_workers),
            "--timeout",
            "60",
            "--graceful-timeout",
            "5",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    cluster = start_cluster(env, log)
    events: list[str] = []
    try:
        wait_until_up(f"{base}/healthz")
        sender = Sender(stop_at=time.monotonic() + args.max_seconds)

        def faults() -> None:
            nonlocal cluster
            plan = [(0.30, "kill"), (0.45, "start"), (0.60, "postgres")]
            for share, what in plan:
                while sender.done < share * total:
                    time.sleep(0.1)
                if what == "kill":
                    kill_group(cluster)
                    events.append(
                        f"{sender.done}/{total}: django-q2 cluster killed (SIGKILL to its process group)"
                    )
                elif what == "start":
                    cluster = start_cluster(env, log)
                    events.append(f"{sender.done}/{total}: django-q2 cluster started again")
                else:
                    done = sender.done
                    events.append(
                        f"{done}/{total}: "
                        + take_postgres_away(args.pg_fault, args.postgres, args.database, 5)
                    )

        fault_thread = threading.Thread(target=faults, daemon=True) if args.faults else None
        if fault_thread:
            fault_thread.start()
        load_before = os.getloadavg()[0]
        started = time.perf_counter()
        with ThreadPoolExecutor(args.concurrency) as pool:
            for deliveries in waves:
                list(pool.map(lambda d: sender.send(*d), deliveries))
        elapsed = time.perf_counter() - started
        load_after = os.getloadavg()[0]
        if fault_thread:
            fault_thread.join(timeout=60)

        # Let the cluster finish what the intake enqueued (routing, acknowledgements), within bounds.
        import django

        django.setup()
        from django.db import close_old_connections
        from django.db.models import F
        from django_q.models import OrmQ

        from channels_intake.models import InboundEvent
        from tickets.models import Message

        unsent = Message.objects.filter(
            direction=Message.Direction.OUTBOUND, delivery_status__in=["queued", "sending"]
        )
        drained = time.perf_counter()
        while unsent.exists() and time.perf_counter() - drained < 90:
            time.sleep(1)
            close_old_connections()
        queue_left = OrmQ.objects.count()
        drained = time.perf_counter() - drained
        leftovers = InboundEvent.objects.filter(status__in=["failed", "received"]).count()
        stored = set(
            Message.objects.filter(direction=Message.Direction.INBOUND).values_list(
                "channel", "provider_message_id"
            )
        )
        waiting = sum(
            1 for n in sender.sent if (items[n].message_channel, items[n].provider_id) not in stored
        )
        replay = manage(env, "replay_inbound", check=False)
        replayed = len([line for line in replay.stdout.splitlines() if line.startswith("event ")])
        statuses = Counter(InboundEvent.objects.values_list("status", flat=True))
        # Stored, then left unprocessed by a dying request: finished later by the backlog sweep or the replay.
        late = InboundEvent.objects.filter(processed_at__gt=F("received_at") + timedelta(seconds=10)).count()
        outbound = Counter(
            Message.objects.filter(direction=Message.Direction.OUTBOUND).values_list(
                "delivery_status", flat=True
            )
        )
        # A message never sent (the time bound) is left out; one sent is checked even if only some copies went.
        sent = sorted(sender.sent)
        checked = [items[n] for n in sent]
        accepted = {k for k, n in enumerate(sent) if n in sender.accepted}
        problems = check(checked, accepted)
    finally:
        kill_group(web, signal.SIGTERM)
        kill_group(cluster, signal.SIGTERM)
        smtp.controller.stop()
        providers.server.shutdown()

    n = len(items)
    print(
        f"load average (1 min) before / after sending: {load_before:.1f} / {load_after:.1f} on {os.cpu_count()} cores"
    )
    print(f"channels: {dict(Counter(i.channel for i in items))}")
    attempts = sum(sender.statuses.values())
    print(
        f"deliveries: {total - sender.skipped} in {elapsed:.1f} s = {(total - sender.skipped) / elapsed:.0f}/s ({attempts} requests with the retries;"
        f" answers {dict(sender.statuses)})"
    )
    print(
        f"messages accepted: {len(sender.accepted)} of {n} = {len(sender.accepted) / elapsed:.0f} messages/s"
    )
    if sender.skipped:
        print(
            f"time bound ({args.max_seconds:.0f} s) reached: {sender.skipped} deliveries not sent, "
            f"{n - len(sender.sent)} messages never sent and left out of the checks"
        )
    for line in events:
        print(f"fault at {line}")
    print(
        f"acknowledgements sent by the cluster {drained:.1f} s after the last request ({queue_left} tasks queued)"
    )
    print(
        f"after the run: {waiting} messages not yet taken in, {leftovers} inbound events failed or unprocessed;"
        f" replay_inbound ran {replayed}"
        f"{' (replay_inbound: ' + replay.stderr.strip()[-200:] + ')' if replay.returncode else ''}"
    )
    print(f"inbound events by status: {dict(statuses)}; {late} finished more than 10 s after they arrived")
    print(f"acknowledgements: {dict(outbound)}; providers got {dict(providers.sent)}, SMTP {smtp.count}")
    for line in sender.refused[:5]:
        print(f"refused: {line}")
    if problems:
        print("FAILED:")
        for p in problems:
            print(f"  - {p}")
        raise SystemExit(1)
    print(
        "checks: every message exactly once, with its customer, in the ticket of its reference; "
        "one ticket per customer and reference; every call its own interaction"
        + ("; nothing accepted lost" if args.faults else "")
    )


if __name__ == "__main__":
    main()

"""Intake throughput: messages per second through the whole pipeline (tickets.intake.receive).

Run against a scratch database (it writes customers, tickets and messages):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/helpdesk_bench python bench/intake.py [--messages 2000]

It prints messages/second for new customers (every message opens a ticket), follow-ups (messages join
open interactions) and redeliveries (duplicates), each measured in the same run as the floor from
TOOLING.md: one-row insert transactions on the same database.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from tickets.intake import InboundMessage, receive  # noqa: E402


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds:8.0f}/s  ({n} in {seconds:.2f} s)"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=2000)
    n = parser.parse_args().messages
    call_command("migrate", verbosity=0)
    run = int(time.time())

    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE bench_floor (id integer, note text)")
        start = time.perf_counter()
        for i in range(n):
            with transaction.atomic():
                cursor.execute("INSERT INTO bench_floor VALUES (%s, %s)", [i, "x"])
        floor = time.perf_counter() - start

    def message(i: int, kind: str) -> InboundMessage:
        return InboundMessage(
            channel="sms",
            sender=f"+1202555{i:04d}",
            text=f"Router down, order ORD-{run}{i}",
            provider_message_id=f"bench-{run}-{kind}-{i}",
        )

    start = time.perf_counter()
    for i in range(n):
        receive(message(i, "new"))
    new = time.perf_counter() - start

    start = time.perf_counter()
    for i in range(n):
        receive(message(i, "follow"))
    follow = time.perf_counter() - start

    start = time.perf_counter()
    for i in range(n):
        receive(message(i, "new"))
    duplicate = time.perf_counter() - start

    print(f"database: {connection.vendor} {connection.settings_dict['NAME']}, one client, {n} messages each")
    print(f"floor: one-row insert transactions   {rate(n, floor)}")
    print(f"intake, new customer + new ticket    {rate(n, new)}   {floor / new:.2f}x floor")
    print(f"intake, follow-up in open interaction {rate(n, follow)}   {floor / follow:.2f}x floor")
    print(f"intake, redelivered duplicate        {rate(n, duplicate)}   {floor / duplicate:.2f}x floor")


if __name__ == "__main__":
    main()

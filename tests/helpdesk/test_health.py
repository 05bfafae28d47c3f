"""``/healthz``: the database, the django-q2 clusters' heartbeat and the intake backlog; and JSON log lines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.db.utils import OperationalError
from django.utils import timezone
from django_q.models import Schedule

from channels_intake.models import InboundEvent
from channels_intake.services import record_event

pytestmark = pytest.mark.django_db


def healthz(client, query=""):
    response = client.get(f"/healthz{query}")
    return response.status_code, response.json()


def _old_event(status=InboundEvent.Status.RECEIVED, minutes=30) -> InboundEvent:
    event = record_event(source="cli", channel="sms", payload=b'{"text": "hi"}')
    InboundEvent.objects.filter(pk=event.pk).update(
        status=status, received_at=timezone.now() - timedelta(minutes=minutes)
    )
    return event


def test_all_checks_pass_with_json_per_check(client):
    call_command("sync_schedules")  # next runs now: a cluster has had no time to be late
    status, body = healthz(client)
    assert status == 200 and body["status"] == "ok"
    assert set(body["checks"]) == {"database", "cluster", "intake_backlog"}
    assert all(check["ok"] for check in body["checks"].values())
    assert body["checks"]["cluster"]["overdue_schedules"] == 0
    assert body["checks"]["intake_backlog"]["unprocessed"] == 0


def test_no_schedules_is_reported_not_failed(client):
    status, body = healthz(client)
    assert status == 200 and body["checks"]["cluster"]["schedules"] == 0


def test_a_schedule_left_due_means_no_cluster_is_running(client):
    call_command("sync_schedules")
    Schedule.objects.filter(pk=Schedule.objects.order_by("pk").first().pk).update(
        next_run=timezone.now() - timedelta(minutes=6)
    )
    status, body = healthz(client)
    assert status == 503 and body["status"] == "error"
    assert body["checks"]["cluster"] | {"oldest_due": None} == {
        "ok": False,
        "overdue_schedules": 1,
        "oldest_due": None,
        "stale_after_minutes": 5,
    }
    assert body["checks"]["database"]["ok"] and body["checks"]["intake_backlog"]["ok"]


def test_a_schedule_due_within_the_grace_is_fine(client):
    call_command("sync_schedules")
    Schedule.objects.update(next_run=timezone.now() - timedelta(minutes=4))
    assert healthz(client)[0] == 200


def test_an_old_unprocessed_inbound_event_is_a_backlog(client):
    _old_event()
    status, body = healthz(client)
    assert status == 503
    assert body["checks"]["intake_backlog"] == {
        "ok": False,
        "unprocessed_older_than_minutes": 10,
        "unprocessed": 1,
        "failed": 0,
        "held": 0,
        "held_overdue": 0,
    }


def test_recent_unprocessed_and_old_failed_events_do_not_fail_it(client):
    _old_event(minutes=2)
    _old_event(status=InboundEvent.Status.FAILED)
    status, body = healthz(client)
    assert status == 200 and body["checks"]["intake_backlog"] | {"ok": None} == {
        "ok": None,
        "unprocessed_older_than_minutes": 10,
        "unprocessed": 0,
        "failed": 1,
        "held": 0,
        "held_overdue": 0,
    }


def test_held_events_are_counted_and_fail_it_only_when_their_release_is_overdue(client):
    flooding = _old_event(status=InboundEvent.Status.HELD, minutes=2)
    InboundEvent.objects.filter(pk=flooding.pk).update(held_until=timezone.now() + timedelta(minutes=5))
    status, body = healthz(client)
    assert status == 200
    assert body["checks"]["intake_backlog"]["held"] == 1
    assert body["checks"]["intake_backlog"]["held_overdue"] == 0

    InboundEvent.objects.filter(pk=flooding.pk).update(held_until=timezone.now() - timedelta(minutes=11))
    status, body = healthz(client)
    assert status == 503
    assert body["checks"]["intake_backlog"]["ok"] is False
    assert body["checks"]["intake_backlog"]["held_overdue"] == 1


def test_a_database_that_does_not_answer_is_503_with_the_error(client, monkeypatch):
    def refuse(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(connection, "cursor", refuse)
    status, body = healthz(client)
    assert status == 503
    assert body["checks"]["database"] == {"ok": False, "error": "OperationalError: connection refused"}


def test_a_load_balancer_asks_for_the_database_only(client):
    _old_event()
    assert healthz(client)[0] == 503
    status, body = healthz(client, "?check=database")
    assert status == 200 and list(body["checks"]) == ["database"]
    assert healthz(client, "?check=nonsense")[0] == 400


def test_healthz_needs_no_log_in_and_is_never_cached(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and "no-cache" in response["Cache-Control"]


@pytest.mark.cluster
@pytest.mark.django_db(transaction=True)
def test_a_running_cluster_keeps_the_heartbeat_fresh(client):
    from django_q.brokers import get_broker
    from django_q.cluster import Cluster

    call_command("sync_schedules")
    overdue = timezone.now() - timedelta(minutes=30)
    Schedule.objects.update(next_run=overdue)
    # Harmless work for the test: the schedules' functions would route, poll and scan an empty desk anyway.
    assert healthz(client)[0] == 503
    cluster = Cluster(get_broker())
    cluster.start()
    try:
        deadline = time.monotonic() + 60  # the scheduler runs about every 30 seconds
        while time.monotonic() < deadline and healthz(client)[0] != 200:
            time.sleep(1)
    finally:
        cluster.stop()
    status, body = healthz(client)
    assert status == 200, body
    assert not Schedule.objects.filter(next_run__lte=overdue).exists()


def test_log_format_json_writes_one_json_object_per_line():
    code = (
        "import django, logging; django.setup(); "
        "logging.getLogger('helpdesk.test').warning('ticket %s escalated', 'T-000001', extra={'ticket': 1})"
    )
    env = {**os.environ, "LOG_FORMAT": "json", "DJANGO_SETTINGS_MODULE": "helpdesk.settings"}
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        cwd=settings.BASE_DIR,
        check=True,
    )
    line = json.loads(out.stderr.strip().splitlines()[-1])
    assert line["level"] == "WARNING" and line["logger"] == "helpdesk.test"
    assert line["message"] == "ticket T-000001 escalated" and line["ticket"] == 1
    assert line["time"].startswith(str(timezone.now().year))

    env["LOG_FORMAT"] = "text"
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        cwd=settings.BASE_DIR,
        check=True,
    )
    assert out.stderr.strip().endswith("WARNING helpdesk.test ticket T-000001 escalated")

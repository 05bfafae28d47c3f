"""What ``/healthz`` checks: the database, the django-q2 clusters' heartbeat and the intake backlog.

Each check returns ``(ok, details)``; details are plain JSON values for a monitor to graph.

- **database** — ``SELECT 1`` on the default connection.
- **cluster** — the django-q2 scheduler's heartbeat, read from the database: every running cluster's
  scheduler moves each due schedule's ``next_run`` forward (about every 30 seconds), so a schedule that has
  been due for longer than ``HEALTHZ_CLUSTER_STALE_MINUTES`` means no cluster is running its scheduler. This
  works the same with the ORM and the Redis broker, and for any number of clusters on any number of machines
  (django-q2's own ``Stat`` lives in the broker's cache, which with the ORM broker is each process's memory).
  With no schedules at all (``manage.py sync_schedules`` never ran) there is nothing to judge by: reported,
  not failed.
- **intake_backlog** — inbound events still ``received`` (stored but never processed) for longer than
  ``HEALTHZ_BACKLOG_MINUTES``: the backlog sweep (every minute) should have finished them, so intake is
  falling behind or not running. Failed events are counted but do not fail the check: they wait for an
  operator's replay (``manage.py replay_inbound``), and one malformed payload must not take the site down.
  Events ``held`` because their sender went over the intake limit are counted too (a flood in progress is not
  a failure); one still held ``HEALTHZ_BACKLOG_MINUTES`` after its sender's window ended is, like an
  unprocessed one: the sweep that releases them is falling behind.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone


def _setting(name: str, default: int) -> int:
    return settings.HELPDESK.get(name, default)


def database() -> tuple[bool, dict]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return True, {}


def cluster() -> tuple[bool, dict]:
    from django_q.models import Schedule

    now = timezone.now()
    stale = timedelta(minutes=_setting("HEALTHZ_CLUSTER_STALE_MINUTES", 5))
    schedules = Schedule.objects.exclude(repeats=0).exclude(next_run__isnull=True)
    oldest = schedules.order_by("next_run").values_list("next_run", flat=True).first()
    if oldest is None:
        return True, {"schedules": 0, "note": "no schedules: run manage.py sync_schedules"}
    overdue = schedules.filter(next_run__lt=now - stale).count()
    details = {
        "overdue_schedules": overdue,
        "oldest_due": oldest.isoformat(),
        "stale_after_minutes": int(stale.total_seconds() // 60),
    }
    return overdue == 0, details


def intake_backlog() -> tuple[bool, dict]:
    from channels_intake.models import InboundEvent

    minutes = _setting("HEALTHZ_BACKLOG_MINUTES", 10)
    cutoff = timezone.now() - timedelta(minutes=minutes)
    events = InboundEvent.objects.filter(received_at__lt=cutoff)
    waiting = events.filter(status=InboundEvent.Status.RECEIVED).count()
    failed = events.filter(status=InboundEvent.Status.FAILED).count()
    held = InboundEvent.objects.filter(status=InboundEvent.Status.HELD)
    held_overdue = held.filter(held_until__lt=cutoff).count()
    return waiting == 0 and held_overdue == 0, {
        "unprocessed_older_than_minutes": minutes,
        "unprocessed": waiting,
        "failed": failed,
        "held": held.count(),
        "held_overdue": held_overdue,
    }


CHECKS = {"database": database, "cluster": cluster, "intake_backlog": intake_backlog}


def run(names: list[str] | None = None) -> tuple[bool, dict]:
    """Run the named checks (all by default); one that raises has failed, with the error as its detail."""
    results, healthy = {}, True
    for name in names or list(CHECKS):
        try:
            ok, details = CHECKS[name]()
        except Exception as exc:  # noqa: BLE001 - any error in a check means "not healthy"
            ok, details = False, {"error": f"{type(exc).__name__}: {exc}"[:500]}
        results[name] = {"ok": ok, **details}
        healthy = healthy and ok
    return healthy, results

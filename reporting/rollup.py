"""The roll-up: ``TicketFact`` rows brought up to date with the tickets that changed since the last run.

Run every minute by the django-q2 schedule ``reporting.tasks.refresh_facts`` (``helpdesk/schedules.py``) and
by hand with ``manage.py refresh_reports [--full]``. Reads tickets, cases and calendars; writes only
reporting's own rows. Safe to run twice or concurrently: each row is recomputed from its ticket and upserted.

Which tickets changed: every change to a ticket bumps its ``updated_at`` (transitions, edits, intake linking
an interaction, relinks and merges), so the tickets updated since the newest fact's ``source_updated_at``,
less ``LAG`` for transactions that committed late, are the ones to recompute. Business time needs each
team's calendar (``tickets.sla.working_minutes_between``): it is computed here, in Python, once per change,
never while a report is being read.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.db import connection, transaction
from django.db.models import Count, Exists, F, Max, Min, OuterRef, Q, Sum
from django.db.models.functions import ExtractHour, TruncDate
from django.utils import timezone

from tickets import sla
from tickets.models import BusinessCalendar, Case, Team, Ticket
from tickets.models.tickets import ResolutionType
from tickets.services.sla import business_hours

from .buckets import bucket_expression
from .models import DailyAgentHandled, DailyDurations, DailySummary, HourlyVolume, TicketFact

# A transaction that updated a ticket before the last run but committed after it is still caught.
LAG = timedelta(minutes=2)
BATCH = 2000
NOT_AN_ISSUE = (ResolutionType.SPAM, ResolutionType.DUPLICATE)

FIELDS = (
    "pk",
    "team_id",
    "assignee_id",
    "channel",
    "priority",
    "status",
    "created_at",
    "first_responded_at",
    "resolved_at",
    "closed_at",
    "sla_paused_minutes",
    "sla_first_response_met",
    "sla_resolution_met",
    "reopen_count",
    "resolution_type",
    "updated_at",
)


def _minutes(start, end) -> float | None:
    return None if end is None else max(0.0, (end - start).total_seconds() / 60)


def _team_hours() -> dict[int, sla.BusinessHours | None]:
    calendars = {c.pk: c for c in BusinessCalendar.objects.all()}
    return {
        team_id: business_hours(calendars.get(calendar_id))
        for team_id, calendar_id in Team.objects.values_list("pk", "calendar_id")
    }


def fact_for(row: dict, hours: sla.BusinessHours | None, interactions: int) -> TicketFact:
    """One ticket's facts from its row (``FIELDS``), its team's business hours and its interaction count."""
    created = row["created_at"]
    responded, resolved = row["first_responded_at"], row["resolved_at"]
    paused = row["sla_paused_minutes"] or 0
    return TicketFact(
        ticket_id=row["pk"],
        team_id=row["team_id"],
        assignee_id=row["assignee_id"],
        channel=row["channel"],
        priority=row["priority"],
        status=row["status"],
        created_at=created,
        first_responded_at=responded,
        resolved_at=resolved,
        closed_at=row["closed_at"],
        first_response_minutes=_minutes(created, responded),
        # The first reply comes before any wait on the customer, so no paused time is taken off it.
        first_response_business_minutes=(
            None if responded is None else sla.working_minutes_between(created, responded, hours)
        ),
        resolution_minutes=_minutes(created, resolved),
        resolution_business_minutes=(
            None
            if resolved is None
            else max(0.0, sla.working_minutes_between(created, resolved, hours) - paused)
        ),
        sla_first_response_met=row["sla_first_response_met"],
        sla_resolution_met=row["sla_resolution_met"],
        interactions=interactions,
        reopened=row["reopen_count"] > 0,
        not_an_issue=row["resolution_type"] in NOT_AN_ISSUE,
        source_updated_at=row["updated_at"],
    )


UPDATE_FIELDS = [f.name for f in TicketFact._meta.concrete_fields if not f.primary_key]


def refresh_ticket_facts(*, full: bool = False, batch_size: int = BATCH) -> int:
    """Recompute the facts of the tickets changed since the last run (every ticket with ``full``).

    Returns the number of tickets recomputed. Batches of ``batch_size`` in the order of ``updated_at``, each
    its own transaction, so a long first run makes progress that the next run keeps.
    """
    since = None
    if not full:
        newest = TicketFact.objects.aggregate(newest=Max("source_updated_at"))["newest"]
        since = newest - LAG if newest else None
    hours = _team_hours()
    # A full run walks the tickets by primary key (its index); an incremental one by last update.
    tickets = Ticket.objects.order_by("pk") if full else Ticket.objects.order_by("updated_at", "pk")
    if since is not None:
        tickets = tickets.filter(updated_at__gte=since)
    done, after, days = 0, None, set()
    while True:
        page = tickets
        if after is not None and full:
            page = page.filter(pk__gt=after[1])
        elif after is not None:
            page = page.filter(Q(updated_at__gt=after[0]) | Q(updated_at=after[0], pk__gt=after[1]))
        rows = list(page.values(*FIELDS)[:batch_size])
        if not rows:
            break
        ids = [r["pk"] for r in rows]
        counts = dict(
            Case.objects.filter(ticket_id__in=ids)
            .order_by()
            .values("ticket_id")
            .annotate(n=Count("pk"))
            .values_list("ticket_id", "n")
        )
        facts = [fact_for(r, hours.get(r["team_id"]), counts.get(r["pk"], 0)) for r in rows]
        if not full:
            # The days whose summary these tickets change: where they were counted, and where they are now.
            before = TicketFact.objects.filter(ticket_id__in=ids).values_list(*SUMMARY_MOMENTS)
            days |= _days([*before, *([getattr(f, m) for m in SUMMARY_MOMENTS] for f in facts)])
        with transaction.atomic():
            TicketFact.objects.bulk_create(
                facts, update_conflicts=True, unique_fields=["ticket"], update_fields=UPDATE_FIELDS
            )
        done += len(rows)
        after = (rows[-1]["updated_at"], rows[-1]["pk"])
    if full:
        # Tickets deleted since (reporting keeps no constraint towards them).
        TicketFact.objects.filter(~Exists(Ticket.objects.filter(pk=OuterRef("ticket_id")))).delete()
        rebuild_all_summaries()
    else:
        rebuild_daily_summary(days)
    return done


def rebuild_all_summaries() -> None:
    """Recount every summary row from the facts as they are (after a full run, or when a new summary table
    is deployed: ``manage.py refresh_reports --summaries``)."""
    for model in SUMMARIES:
        model.objects.all().delete()
    bounds = TicketFact.objects.aggregate(first=Min("created_at"), last=Max("source_updated_at"))
    if bounds["first"]:
        first, last = _day(bounds["first"]), _day(max(bounds["last"], timezone.now()))
        rebuild_daily_summary({first + timedelta(days=i) for i in range((last - first).days + 1)})


# The daily summary ------------------------------------------------------------------------------------------

# The moments that date a fact in the summaries: a change to any of them changes those days' rows.
SUMMARY_MOMENTS = ("created_at", "first_responded_at", "resolved_at", "closed_at")
ISSUE = Q(not_an_issue=False)
# Per moment: what each summary column counts among the facts of that day (the definitions the metrics'
# formulas describe; ``reporting.metrics`` only adds them up and divides).
SUMMARY_COUNTS = {
    "created_at": {
        "created": Count("pk"),
        "created_interactions": Sum("interactions"),
        "created_resolved_once": Count(
            "pk", filter=ISSUE & (Q(resolved_at__isnull=False) | Q(reopened=True))
        ),
        "created_reopened": Count("pk", filter=ISSUE & Q(reopened=True)),
    },
    "resolved_at": {
        "resolved": Count("pk", filter=ISSUE),
        "resolved_first_contact": Count("pk", filter=ISSUE & Q(interactions__lte=1, reopened=False)),
    },
    "closed_at": {
        "closed": Count("pk"),
        "first_response_met": Count("pk", filter=Q(sla_first_response_met=True)),
        "first_response_measured": Count("pk", filter=Q(sla_first_response_met__isnull=False)),
        "resolution_met": Count("pk", filter=Q(sla_resolution_met=True)),
        "resolution_measured": Count("pk", filter=Q(sla_resolution_met__isnull=False)),
    },
}


def _day(moment: datetime) -> date:
    return timezone.localtime(moment).date()


def _days(rows) -> set[date]:
    return {_day(m) for row in rows for m in row if m is not None}


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())


def _ranges(days: set[date]) -> list[tuple[date, date]]:
    """Consecutive days as (first, last) ranges."""
    ranges: list[list[date]] = []
    for day in sorted(days):
        if ranges and day - ranges[-1][1] == timedelta(days=1):
            ranges[-1][1] = day
        else:
            ranges.append([day, day])
    return [(a, b) for a, b in ranges]


def _lock_summary() -> None:
    """Two roll-ups at once (a slow run and the next minute's) take turns on the summary: each deletes and
    recounts whole days, and the second must see the first's rows to delete them."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext('reporting.daily_summary'))")


# The duration histograms: per column, the moment that dates a fact and the duration it files in a bucket.
DURATIONS = {
    "first_response": ("first_responded_at", "first_response_minutes", Q()),
    "first_response_business": ("first_responded_at", "first_response_business_minutes", Q()),
    "resolution": ("resolved_at", "resolution_minutes", ISSUE),
    "resolution_business": ("resolved_at", "resolution_business_minutes", ISSUE),
}
SUMMARIES = (DailySummary, DailyDurations, HourlyVolume, DailyAgentHandled)


def _grouped(moment: str, start: datetime, end: datetime, keys: dict, **counts):
    """The facts whose ``moment`` falls in [start, end), counted per local day and ``keys``."""
    zone = timezone.get_current_timezone()
    return (
        TicketFact.objects.filter(**{f"{moment}__gte": start, f"{moment}__lt": end})
        .annotate(day=TruncDate(moment, tzinfo=zone), **keys)
        .order_by()
        .values("day", "team_id", "channel", *keys)
        .annotate(**counts)
    )


def rebuild_daily_summary(days: set[date]) -> None:
    """Recount the summary rows of ``days`` from the facts: the daily counts, the duration histograms,
    hourly volume and agents' handled tickets (ten grouped queries per run of days)."""
    zone = timezone.get_current_timezone()
    for first, last in _ranges(days):
        start, end = _midnight(first), _midnight(last + timedelta(days=1))
        rows: dict[tuple, dict] = {}
        for moment, counts in SUMMARY_COUNTS.items():
            grouped = _grouped(moment, start, end, {"p": F("priority")}, **counts)
            for row in grouped:
                key = (row.pop("day"), row.pop("team_id"), row.pop("channel"), row.pop("p"))
                rows.setdefault(key, {}).update({k: v or 0 for k, v in row.items()})
        durations: dict[tuple, dict] = {}
        for column, (moment, minutes, condition) in DURATIONS.items():
            grouped = _grouped(
                moment, start, end, {"bucket": bucket_expression(minutes)}, n=Count("pk")
            ).filter(condition, **{f"{minutes}__isnull": False})
            for row in grouped:
                key = (row["day"], row["team_id"], row["channel"], row["bucket"])
                durations.setdefault(key, {})[column] = row["n"]
        hours = list(
            _grouped(
                "created_at", start, end, {"hour": ExtractHour("created_at", tzinfo=zone)}, n=Count("pk")
            )
        )
        handled = list(
            _grouped("resolved_at", start, end, {"agent": F("assignee_id")}, n=Count("pk")).filter(
                ISSUE, assignee__isnull=False
            )
        )
        with transaction.atomic():
            _lock_summary()
            for model in SUMMARIES:
                model.objects.filter(day__gte=first, day__lte=last).delete()
            DailySummary.objects.bulk_create(
                [
                    DailySummary(day=d, team_id=team, channel=channel, priority=priority, **counts)
                    for (d, team, channel, priority), counts in rows.items()
                ],
                batch_size=2000,
            )
            DailyDurations.objects.bulk_create(
                [
                    DailyDurations(day=d, team_id=team, channel=channel, bucket=bucket, **counts)
                    for (d, team, channel, bucket), counts in durations.items()
                ],
                batch_size=2000,
            )
            HourlyVolume.objects.bulk_create(
                [
                    HourlyVolume(
                        day=r["day"],
                        hour=r["hour"],
                        team_id=r["team_id"],
                        channel=r["channel"],
                        created=r["n"],
                    )
                    for r in hours
                ],
                batch_size=2000,
            )
            DailyAgentHandled.objects.bulk_create(
                [
                    DailyAgentHandled(
                        day=r["day"],
                        agent_id=r["agent"],
                        team_id=r["team_id"],
                        channel=r["channel"],
                        handled=r["n"],
                    )
                    for r in handled
                ],
                batch_size=2000,
            )

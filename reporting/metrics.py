"""Every reporting metric, defined once: its formula (shown next to the number on the dashboard and in the
README) and the query that computes it, aggregated in the database.

The outcome and time metrics read ``TicketFact`` rows (``reporting.rollup``: up to a minute behind the
tickets); the *now* metrics — backlog and agent load — read the tickets themselves. Every function takes a
``ReportFilter``: a period ``[start, end)``, the teams in scope (``None``: every team) and optionally one
channel. Each metric names which moment of a ticket falls in the period.

Counts, volumes, handled tickets and the time metrics read the summary rows the roll-up keeps per day
(``DailySummary``, ``HourlyVolume``, ``DailyAgentHandled``, ``DailyDurations``), so a period is whole days in
the server's time zone. Medians and p90s come from the duration histograms (``reporting.buckets``): within
4.9 % of the exact ``percentile_cont`` (half a minute under a minute), summed from the histogram rows (at most one per day, team, channel and
bucket: 6,000 a day at 28,000 tickets a day over 20 teams) instead of sorting a month of tickets.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from tickets.channels import Channel
from tickets.lifecycle import ACTIVE_STATUSES
from tickets.models import Agent, CsatSurvey, Team, Ticket
from tickets.models.tickets import QUEUE_ACTIVE_STATUSES, Priority

from . import buckets
from .models import DailyAgentHandled, DailyDurations, DailySummary, HourlyVolume, TicketFact


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    formula: str


METRICS = {
    m.key: m
    for m in (
        Metric(
            "first_response_time",
            "First-response time",
            "Per ticket first replied to by an agent in the period: time from the ticket's creation to the "
            "first agent reply. Median and 90th percentile (continuous), read from log-spaced duration "
            "buckets: within 5 % of the exact value (within half a minute under a minute). Calendar time is "
            "wall-clock time; business time counts only the team calendar's opening hours.",
        ),
        Metric(
            "resolution_time",
            "Resolution time",
            "Per ticket resolved in the period (spam and duplicates left out): time from creation to the "
            "latest resolution. Median and 90th percentile, from log-spaced duration buckets: within 5 % of "
            "the exact value (within half a minute under a minute). Business time counts the team calendar's "
            "opening hours less the time the SLA clock was paused waiting on the customer.",
        ),
        Metric(
            "sla_compliance",
            "SLA compliance",
            "Of the tickets closed in the period with an SLA target: first response met ÷ first response "
            "measured × 100, and resolution met ÷ resolution measured × 100 (met or not as stored when the "
            "ticket closed; spam and duplicates have no verdict).",
        ),
        Metric(
            "first_contact_resolution",
            "First-contact resolution",
            "Tickets resolved in the period with exactly one interaction and never reopened ÷ tickets resolved "
            "in the period × 100 (spam and duplicates left out). One interaction, not 'fewer than two agent "
            "replies': an interaction is one contact by the customer on one channel (a back-and-forth on "
            "WhatsApp or e-mail is one), so the customer never had to come back — whatever the channel, and "
            "whether or not the channel has agent 'replies' at all (a phone call has none).",
        ),
        Metric(
            "reopen_rate",
            "Reopen rate",
            "Of the tickets created in the period and resolved at least once (spam and duplicates left out): "
            "reopened at least once ÷ those tickets × 100 (a follow-up within the reopen window, or 'not "
            "fixed'). Counted by creation, so a ticket reopened and not yet resolved again still counts.",
        ),
        Metric(
            "backlog",
            "Backlog",
            "Now: tickets not yet resolved (new, assigned, open, pending), counted by age since creation "
            "(under 4 h, 4–24 h, 1–3 days, 3–7 days, over 7 days). The period does not apply.",
        ),
        Metric(
            "volume",
            "Volume",
            "Tickets created in the period, by their source channel, by day and by hour of the day "
            "(server time zone); resolved tickets by day of resolution.",
        ),
        Metric(
            "interactions_per_ticket",
            "Interactions per ticket",
            "Of the tickets created in the period: interactions linked to them ÷ tickets (the average "
            "number of contacts an issue took).",
        ),
        Metric(
            "agent_load",
            "Agent load and handled tickets",
            "Load, now: tickets the agent owns that are assigned, open or pending, against the agent's "
            "maximum. Handled: tickets resolved in the period whose owner is the agent.",
        ),
        Metric(
            "csat",
            "CSAT",
            "CSAT % = surveys answered in the period with a rating of 4 or 5 (of 5) ÷ surveys answered in the "
            "period × 100. Response rate = surveys sent in the period that have been answered ÷ surveys sent in "
            "the period × 100. A survey counts for the team and agent of its ticket at closure and for the "
            "channel it was sent on.",
        ),
    )
}


@dataclass(frozen=True)
class ReportFilter:
    start: datetime
    end: datetime  # exclusive
    team_ids: tuple[int, ...] | None = None  # None: every team
    channel: str = ""

    @property
    def last_day(self):
        """The period's last day (``end`` is the midnight after it), in the server's time zone."""
        return timezone.localtime(self.end - timedelta(microseconds=1)).date()

    def scope(self, queryset: QuerySet, team: str = "team_id", channel: str = "channel") -> QuerySet:
        if self.team_ids is not None:
            queryset = queryset.filter(**{f"{team}__in": self.team_ids})
        if self.channel:
            queryset = queryset.filter(**{channel: self.channel})
        return queryset

    @property
    def first_day(self):
        return timezone.localtime(self.start).date()

    def summary(self, model=DailySummary) -> QuerySet:
        """The summary rows (``model``: one of the per-day summaries) of the teams, channel and days in
        scope (the period is whole days)."""
        return self.scope(model.objects.filter(day__gte=self.first_day, day__lte=self.last_day))

    def facts(self, moment: str) -> QuerySet[TicketFact]:
        """The facts of the tickets in scope whose ``moment`` falls in the period."""
        return self.scope(
            TicketFact.objects.filter(**{f"{moment}__gte": self.start, f"{moment}__lt": self.end})
        )


def pct(part: int | None, whole: int | None) -> float | None:
    return round(100 * part / whole, 1) if whole else None


# The metrics ----------------------------------------------------------------------------------------------


@dataclass
class Times:
    """Median and p90 in minutes, calendar and business, and how many tickets they are over."""

    n: int
    calendar_median: float | None
    calendar_p90: float | None
    business_median: float | None
    business_p90: float | None


DURATION_SUMS = {
    name: Coalesce(Sum(name), 0)
    for name in ("first_response", "first_response_business", "resolution", "resolution_business")
}


def duration_times(f: ReportFilter) -> dict[str, Times]:
    """First-response and resolution times (``{"first_response": …, "resolution": …}``) from the period's
    duration histograms, added up per bucket in one grouped query for both."""
    rows = list(f.summary(DailyDurations).order_by().values("bucket").annotate(**DURATION_SUMS))
    result = {}
    for calendar in ("first_response", "resolution"):
        business = f"{calendar}_business"
        histogram = {name: {r["bucket"]: r[name] for r in rows if r[name]} for name in (calendar, business)}
        median, p90 = (
            {name: buckets.percentile(histogram[name], fraction) for name in histogram}
            for fraction in (0.5, 0.9)
        )
        result[calendar] = Times(
            sum(histogram[calendar].values()),
            median[calendar],
            p90[calendar],
            median[business],
            p90[business],
        )
    return result


def first_response_time(f: ReportFilter) -> Times:
    return duration_times(f)["first_response"]


def resolution_time(f: ReportFilter) -> Times:
    return duration_times(f)["resolution"]


@dataclass
class Compliance:
    label: str
    closed: int
    first_response_met: int
    first_response_measured: int
    resolution_met: int
    resolution_measured: int

    @property
    def first_response_pct(self) -> float | None:
        return pct(self.first_response_met, self.first_response_measured)

    @property
    def resolution_pct(self) -> float | None:
        return pct(self.resolution_met, self.resolution_measured)


COMPLIANCE_SUMS = {
    name: Coalesce(Sum(name), 0)
    for name in (
        "closed",
        "first_response_met",
        "first_response_measured",
        "resolution_met",
        "resolution_measured",
    )
}


def sla_compliance(f: ReportFilter) -> Compliance:
    return Compliance("All", **f.summary().aggregate(**COMPLIANCE_SUMS))


def sla_compliance_by_priority(f: ReportFilter) -> list[Compliance]:
    rows = f.summary().order_by().values("priority").annotate(**COMPLIANCE_SUMS)
    found = {r.pop("priority"): r for r in rows if r["closed"]}
    return [Compliance(Priority(p).label, **found[p]) for p in sorted(found)]


def sla_compliance_by_team(f: ReportFilter) -> list[Compliance]:
    rows = f.summary().order_by().values("team_id").annotate(**COMPLIANCE_SUMS)
    found = {r.pop("team_id"): r for r in rows if r["closed"]}
    names = dict(Team.objects.filter(pk__in=found).values_list("pk", "name"))
    return sorted(
        (Compliance(names.get(pk, f"team {pk}"), **counts) for pk, counts in found.items()),
        key=lambda c: c.label,
    )


@dataclass
class Share:
    """``part`` of ``whole`` as a percentage."""

    part: int
    whole: int

    @property
    def pct(self) -> float | None:
        return pct(self.part, self.whole)


def _sums(f: ReportFilter, *names: str) -> dict:
    return f.summary().aggregate(**{name: Coalesce(Sum(name), 0) for name in names})


def first_contact_resolution(f: ReportFilter) -> Share:
    row = _sums(f, "resolved_first_contact", "resolved")
    return Share(row["resolved_first_contact"], row["resolved"])


def reopen_rate(f: ReportFilter) -> Share:
    row = _sums(f, "created_reopened", "created_resolved_once")
    return Share(row["created_reopened"], row["created_resolved_once"])


@dataclass
class Average:
    total: int
    count: int

    @property
    def value(self) -> float | None:
        return round(self.total / self.count, 2) if self.count else None


def interactions_per_ticket(f: ReportFilter) -> Average:
    row = _sums(f, "created_interactions", "created")
    return Average(row["created_interactions"], row["created"])


# (label, lower bound, upper bound) of each backlog age bucket.
AGE_BUCKETS = (
    ("under 4 h", None, timedelta(hours=4)),
    ("4–24 h", timedelta(hours=4), timedelta(hours=24)),
    ("1–3 days", timedelta(days=1), timedelta(days=3)),
    ("3–7 days", timedelta(days=3), timedelta(days=7)),
    ("over 7 days", timedelta(days=7), None),
)


def backlog(f: ReportFilter, now: datetime | None = None) -> list[tuple[str, int]]:
    """Unresolved tickets by age, now (from the tickets themselves: the queue's partial index serves it)."""
    now = now or timezone.now()
    counts = {}
    for i, (_, low, high) in enumerate(AGE_BUCKETS):
        q = Q()
        if low is not None:
            q &= Q(created_at__lte=now - low)
        if high is not None:
            q &= Q(created_at__gt=now - high)
        counts[f"b{i}"] = Count("pk", filter=q)
    row = f.scope(Ticket.objects.filter(status__in=QUEUE_ACTIVE_STATUSES)).aggregate(**counts)
    return [(label, row[f"b{i}"]) for i, (label, _, _) in enumerate(AGE_BUCKETS)]


def volume_by_channel(f: ReportFilter) -> list[tuple[str, int]]:
    rows = dict(
        f.summary().order_by().values("channel").annotate(n=Sum("created")).values_list("channel", "n")
    )
    return [(label, rows[value]) for value, label in Channel.choices if rows.get(value)]


def volume_by_hour(f: ReportFilter) -> list[tuple[int, int]]:
    """Tickets created in the period by hour of the day (0–23) in the server's time zone."""
    rows = dict(
        f.summary(HourlyVolume).order_by().values("hour").annotate(n=Sum("created")).values_list("hour", "n")
    )
    return [(hour, rows.get(hour, 0)) for hour in range(24)]


def volume_by_day(f: ReportFilter) -> list[tuple[object, int, int]]:
    """(day, created, resolved) for each day of the period, in the server's time zone."""
    rows = {
        day: (created, resolved)
        for day, created, resolved in f.summary()
        .order_by()
        .values("day")
        .annotate(c=Sum("created"), r=Sum("resolved"))
        .values_list("day", "c", "r")
    }
    days = [f.first_day + timedelta(days=i) for i in range((f.last_day - f.first_day).days + 1)]
    return [(day, *rows.get(day, (0, 0))) for day in days]


@dataclass
class Csat:
    answered: int
    satisfied: int  # rated 4 or 5
    sent: int
    sent_answered: int

    @property
    def satisfied_pct(self) -> float | None:
        return pct(self.satisfied, self.answered)

    @property
    def response_pct(self) -> float | None:
        return pct(self.sent_answered, self.sent)


SATISFIED = (4, 5)


def csat(f: ReportFilter) -> Csat:
    """Two aggregates over the surveys: answered in the period (by ``answered_at``), sent in it (``sent_at``)."""
    surveys = f.scope(CsatSurvey.objects.all())
    answered = surveys.filter(
        answered_at__gte=f.start, answered_at__lt=f.end, rating__isnull=False
    ).aggregate(answered=Count("pk"), satisfied=Count("pk", filter=Q(rating__in=SATISFIED)))
    sent = surveys.filter(sent_at__gte=f.start, sent_at__lt=f.end).aggregate(
        sent=Count("pk"), sent_answered=Count("pk", filter=Q(answered_at__isnull=False))
    )
    return Csat(**answered, **sent)


@dataclass
class AgentLine:
    agent_id: int
    name: str
    load: int
    limit: int
    handled: int


def agent_load(f: ReportFilter) -> list[AgentLine]:
    """Each agent of the teams in scope (and anyone who handled a ticket in scope): load now, handled in
    the period. Three queries."""
    active = dict(
        f.scope(Ticket.objects.filter(status__in=ACTIVE_STATUSES, assignee__isnull=False))
        .order_by()
        .values("assignee_id")
        .annotate(n=Count("pk"))
        .values_list("assignee_id", "n")
    )
    handled = dict(
        f.summary(DailyAgentHandled)
        .order_by()
        .values("agent_id")
        .annotate(n=Sum("handled"))
        .values_list("agent_id", "n")
    )
    agents = Agent.objects.filter(role__in=[Agent.Role.FRONT_OFFICE, Agent.Role.BACK_OFFICE])
    if f.team_ids is not None:
        agents = agents.filter(teams__in=f.team_ids)
    agents = Agent.objects.filter(Q(pk__in=agents.values("pk")) | Q(pk__in=set(active) | set(handled)))
    lines = [
        AgentLine(a.pk, str(a), active.get(a.pk, 0), a.max_active_assignments, handled.get(a.pk, 0))
        for a in agents.select_related("user").order_by("user__username")
    ]
    return sorted(lines, key=lambda line: (-line.handled, -line.load, line.name))

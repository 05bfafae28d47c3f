"""Each metric on the hand-built week of ``conftest.week``: the expected numbers are worked out here."""

import re
from datetime import UTC, datetime

import pytest
from django.core.management import call_command

from reporting import buckets, metrics
from reporting.metrics import ReportFilter
from reporting.models import DailyAgentHandled, DailyDurations, DailySummary, HourlyVolume, TicketFact
from reporting.rollup import refresh_ticket_facts
from tests.factories import TeamFactory, TicketFactory
from tests.reporting.conftest import END, NOW, START, at
from tickets.models import BusinessCalendar, CsatSurvey, TicketEvent

pytestmark = pytest.mark.django_db


def bucketed(exact: float):
    """A percentile read from the duration buckets: the worked exact value, within the stated bound
    (``reporting.buckets``: 4.9 % above a minute, half a minute under it)."""
    bound = buckets.ABSOLUTE_ERROR_UNDER_A_MINUTE if exact < 1 else exact * buckets.RELATIVE_ERROR
    return pytest.approx(exact, abs=bound + 1e-9, rel=0)


def test_first_response_time_median_and_p90(week, period):
    # First replies in the period: T1 10, T4 20, T2 30, T3 60 minutes (T6's was in February).
    # Median: position (4 − 1) × 0.5 = 1.5 → 20 + 0.5 × (30 − 20) = 25.
    # p90: position 2.7 → 30 + 0.7 × (60 − 30) = 51. A 24/7 team: business time is the same. Read from
    # the buckets: 20 and 30 are taken as their buckets' middles, 1.1^31.5 and 1.1^35.5, interpolated
    # half-way: 24.80.
    times = metrics.first_response_time(period)
    assert times.n == 4
    assert times.calendar_median == bucketed(25)
    assert times.calendar_median == pytest.approx((1.1**31.5 + 1.1**35.5) / 2)
    assert times.calendar_p90 == bucketed(51)
    assert times.business_median == bucketed(25)
    assert times.business_p90 == bucketed(51)


def test_resolution_time_leaves_out_spam(week, period):
    # Resolved in the period: T1 60, T2 240, T3 1440 (T5 is spam). Median 240; p90: position 1.8 →
    # 240 + 0.8 × (1440 − 240) = 1200.
    times = metrics.resolution_time(period)
    assert times.n == 3
    assert times.calendar_median == bucketed(240)
    assert times.calendar_p90 == bucketed(1200)


def test_sla_compliance_overall_by_priority_and_by_team(week, period, front_office):
    # Closed in the period: T1 (met, met), T2 (met, missed), T3 (missed, missed), T5 (spam: no verdict).
    sla = metrics.sla_compliance(period)
    assert (sla.closed, sla.first_response_met, sla.first_response_measured) == (4, 2, 3)
    assert (sla.resolution_met, sla.resolution_measured) == (1, 3)
    assert sla.first_response_pct == 66.7 and sla.resolution_pct == 33.3

    by_priority = {c.label: c for c in metrics.sla_compliance_by_priority(period)}
    assert list(by_priority) == ["P1 critical", "P2 high", "P3 medium"]
    p1, p2, p3 = by_priority.values()
    assert (p1.first_response_pct, p1.resolution_pct) == (50.0, 50.0)  # T1 met both, T3 neither
    assert (p2.first_response_pct, p2.resolution_pct) == (100.0, 0.0)  # T2
    assert (p3.closed, p3.first_response_pct, p3.resolution_pct) == (1, None, None)  # T5, spam

    (team,) = metrics.sla_compliance_by_team(period)
    assert team.label == front_office.name and team.first_response_pct == 66.7


def test_first_contact_resolution(week, period):
    # Resolved in the period (spam left out): T1 (one interaction) counts; T2 had two interactions and
    # T3 was reopened: 1 of 3.
    fcr = metrics.first_contact_resolution(period)
    assert (fcr.part, fcr.whole, fcr.pct) == (1, 3, 33.3)


def test_reopen_rate(week, period):
    # Created in the period and resolved at least once (spam left out): T1, T2, T3; T3 was reopened.
    reopen = metrics.reopen_rate(period)
    assert (reopen.part, reopen.whole, reopen.pct) == (1, 3, 33.3)


def test_interactions_per_ticket(week, period):
    # Created in the period: T1 1, T2 2, T3 1, T4 1, T5 1, T7 1 → 7 interactions over 6 tickets.
    avg = metrics.interactions_per_ticket(period)
    assert (avg.total, avg.count, avg.value) == (7, 6, 1.17)


def test_backlog_by_age_now(week, period):
    # Unresolved on Thursday noon: T7 (new, 2 h old) and T4 (open, 26 h old). T6 and the closed ones are not.
    assert metrics.backlog(period, now=NOW) == [
        ("under 4 h", 1),
        ("4–24 h", 0),
        ("1–3 days", 1),
        ("3–7 days", 0),
        ("over 7 days", 0),
    ]


def test_volume_by_channel_hour_and_day(week, period):
    # In the order of the channel list: T2; T1, T3, T5; T4; T7.
    assert metrics.volume_by_channel(period) == [
        ("Phone call", 1),
        ("E-mail", 3),
        ("WhatsApp", 1),
        ("Web chat", 1),
    ]
    hours = dict(metrics.volume_by_hour(period))
    assert len(hours) == 24
    assert {h: n for h, n in hours.items() if n} == {8: 1, 9: 2, 10: 2, 12: 1}
    days = metrics.volume_by_day(period)
    assert [(d.day, created, resolved) for d, created, resolved in days] == [
        (2, 2, 2),  # Mon: T1, T2 created and resolved
        (3, 1, 0),  # Tue: T3 created
        (4, 1, 1),  # Wed: T4 created, T3 resolved
        (5, 2, 0),  # Thu: T5 (spam: created, not counted as resolved), T7
        (6, 0, 0),
        (7, 0, 0),
        (8, 0, 0),
    ]


def test_agent_load_and_handled(week, period, agent, other_agent):
    # Load now: frank owns T4 (open). Handled in the period: frank T1 and T2, olga T3.
    lines = {line.name: line for line in metrics.agent_load(period)}
    frank, olga = lines[str(agent)], lines[str(other_agent)]
    assert (frank.load, frank.limit, frank.handled) == (1, 5, 2)
    assert (olga.load, olga.handled) == (0, 1)


def test_channel_and_team_filters(week, period, back_office):
    email = ReportFilter(start=START, end=END, team_ids=period.team_ids, channel="email")
    assert metrics.resolution_time(email).n == 2  # T1, T3
    assert metrics.interactions_per_ticket(email).count == 3  # T1, T3, T5
    other_team = ReportFilter(start=START, end=END, team_ids=(back_office.pk,))
    assert metrics.first_response_time(other_team).n == 0
    assert metrics.sla_compliance(other_team).closed == 0
    assert metrics.backlog(other_team, now=NOW)[0] == ("under 4 h", 0)


def test_business_time_counts_opening_hours_less_pauses(db, agent):
    # Monday to Friday 09:00–17:00 UTC. Created Friday 6 March 16:00, first reply Monday 9 March 10:00:
    # calendar 66 h = 3,960 min; business Fri 16–17 + Mon 9–10 = 120 min. Resolved Monday 12:00 after 30
    # business minutes paused on the customer: calendar 68 h = 4,080 min; business 60 + 180 − 30 = 210.
    hours = {day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}
    calendar = BusinessCalendar.objects.create(name="Office", timezone="UTC", weekly_hours=hours)
    team = TeamFactory(slug="office", name="Office", calendar=calendar)
    TicketFactory(
        team=team,
        status="resolved",
        assignee=agent,
        created_at=at(6, 16),
        updated_at=at(9, 12),
        first_responded_at=at(9, 10),
        resolved_at=at(9, 12),
        sla_paused_minutes=30,
        resolution_type="fixed",
    )
    refresh_ticket_facts()
    f = ReportFilter(start=START, end=datetime(2026, 3, 10, tzinfo=UTC), team_ids=(team.pk,))
    first, resolution = metrics.first_response_time(f), metrics.resolution_time(f)
    assert (first.calendar_median, first.business_median) == (bucketed(3960), bucketed(120))
    assert (resolution.calendar_median, resolution.business_median) == (bucketed(4080), bucketed(210))


def test_rollup_picks_up_changes_and_is_idempotent(week, period, agent):
    t4 = week[4]
    # T4 resolved later on: the next run sees the change through updated_at.
    t4.status, t4.resolved_at, t4.updated_at = "resolved", at(5, 10), at(5, 10)
    t4.resolution_type = "fixed"
    t4.save()
    assert refresh_ticket_facts() >= 1
    assert TicketFact.objects.get(ticket=t4).resolution_minutes == pytest.approx(24 * 60)
    assert metrics.resolution_time(period).n == 4
    # The daily summary follows: T4 (one interaction, never reopened) is a first-contact resolution now.
    fcr = metrics.first_contact_resolution(period)
    assert (fcr.part, fcr.whole) == (2, 4)
    # And so do the histograms and the handled counts: T4 (1,440 minutes) is its owner frank's third.
    assert metrics.resolution_time(period).calendar_p90 == bucketed(1440)
    assert {line.name: line.handled for line in metrics.agent_load(period)}[str(agent)] == 3

    # Running it again changes nothing; a full run recomputes every ticket to the same rows, and so does
    # recounting the summaries alone.
    def snapshot():
        summaries = [
            [{**r, "id": None} for r in model.objects.order_by(*key).values()]
            for model, key in (
                (DailySummary, ["day", "team", "channel", "priority"]),
                (DailyDurations, ["day", "team", "channel", "bucket"]),
                (HourlyVolume, ["day", "hour", "team", "channel"]),
                (DailyAgentHandled, ["day", "agent", "team", "channel"]),
            )
        ]
        return list(TicketFact.objects.order_by("pk").values()), summaries

    before = snapshot()
    assert all(before[1])
    refresh_ticket_facts()
    assert snapshot() == before
    refresh_ticket_facts(full=True)
    assert snapshot() == before
    call_command("refresh_reports", "--summaries")
    assert snapshot() == before


def test_reporting_never_writes_tickets(week, period, django_assert_max_num_queries):
    events = TicketEvent.objects.count()
    with django_assert_max_num_queries(40) as ctx:
        refresh_ticket_facts(full=True)
    writes = [q["sql"] for q in ctx.captured_queries if q["sql"].split()[0] in ("INSERT", "UPDATE", "DELETE")]
    assert writes and all(re.match(r'(INSERT INTO|UPDATE|DELETE FROM) "reporting_', sql) for sql in writes)
    assert TicketEvent.objects.count() == events


def survey(ticket, *, sent, answered=None, rating=None, team=None):
    return CsatSurvey.objects.create(
        ticket=ticket,
        team=team or ticket.team,
        channel="email",
        state="answered" if answered else "sent",
        scheduled_for=sent,
        created_at=sent,
        sent_at=sent,
        answered_at=answered,
        rating=rating,
    )


def test_csat_and_response_rate(week, period, back_office):
    survey(week[1], sent=at(2, 12), answered=at(2, 13), rating=5)
    survey(week[2], sent=at(2, 15), answered=at(3, 9), rating=2)
    survey(week[3], sent=at(4, 14))  # never answered
    # Sent in February, answered in the period: counts for CSAT, not for the period's response rate.
    survey(week[6], sent=datetime(2026, 2, 20, 11, tzinfo=UTC), answered=at(2, 10), rating=3)
    # Another team's survey: out of scope.
    survey(week[4], sent=at(4, 12), answered=at(4, 13), rating=5, team=back_office)
    # Answered in the period: ratings 5, 2, 3 → one of three is 4–5: 33.3 %.
    # Sent in the period: three, two of them answered: 66.7 %.
    result = metrics.csat(period)
    assert (result.satisfied, result.answered, result.satisfied_pct) == (1, 3, 33.3)
    assert (result.sent_answered, result.sent, result.response_pct) == (2, 3, 66.7)


@pytest.mark.parametrize("fraction", [0.5, 0.9])
def test_bucketed_percentile_is_within_the_stated_bound_of_the_exact_one(fraction):
    # Durations from seconds to weeks, some tied, some exactly on a bucket's edge (1.1^k minutes): the
    # bucketed percentile against percentile_cont worked out on the sorted values.
    values = sorted(
        [0, 0.2, 0.9, 1, 1.1, 1.21, 3, 7.5, 7.5, 42, 90, 480, 1440, 2000, 10080, 40000] * 3 + [55]
    )
    for n in range(1, len(values) + 1):
        sample = values[:n]
        position = (n - 1) * fraction
        low = int(position)
        high = sample[min(low + 1, n - 1)]
        exact = sample[low] + (high - sample[low]) * (position - low)
        histogram: dict[int, int] = {}
        for v in sample:
            histogram[buckets.bucket_of(v)] = histogram.get(buckets.bucket_of(v), 0) + 1
        estimate = buckets.percentile(histogram, fraction)
        assert abs(estimate - exact) <= max(exact * buckets.RELATIVE_ERROR, 0.5) + 1e-9, (n, exact, estimate)
    assert buckets.percentile({}, fraction) is None

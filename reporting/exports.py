"""Every report table as CSV rows, streamed: a generator of rows per table, written out as the response
goes (``StreamingHttpResponse``), never a whole export in memory. Big tables read with ``iterator()``."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator

from tickets.models.tickets import format_number
from tickets.selectors.customers import interaction_rows

from . import metrics
from .metrics import ReportFilter


class _Echo:
    """A file-like object whose ``write`` hands the line back (Django's streaming CSV recipe)."""

    def write(self, value):
        return value


def csv_lines(rows: Iterable[Iterable]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    for row in rows:
        yield writer.writerow(row)


def _num(value):
    return "" if value is None else round(value, 1) if isinstance(value, float) else value


def _compliance(lines) -> Iterator[list]:
    yield [
        "group",
        "closed",
        "first_response_met",
        "first_response_measured",
        "first_response_pct",
        "resolution_met",
        "resolution_measured",
        "resolution_pct",
    ]
    for c in lines:
        yield [
            c.label,
            c.closed,
            c.first_response_met,
            c.first_response_measured,
            _num(c.first_response_pct),
            c.resolution_met,
            c.resolution_measured,
            _num(c.resolution_pct),
        ]


def summary(f: ReportFilter) -> Iterator[list]:
    """The dashboard's headline numbers, one per row, with the formula."""
    yield ["metric", "measure", "value", "over", "formula"]
    formulas = metrics.METRICS
    durations = metrics.duration_times(f)
    for key, times in (
        ("first_response_time", durations["first_response"]),
        ("resolution_time", durations["resolution"]),
    ):
        for measure in ("calendar_median", "calendar_p90", "business_median", "business_p90"):
            yield [key, f"{measure} (minutes)", _num(getattr(times, measure)), times.n, formulas[key].formula]
    sla = metrics.sla_compliance(f)
    yield [
        "sla_compliance",
        "first response %",
        _num(sla.first_response_pct),
        sla.first_response_measured,
        formulas["sla_compliance"].formula,
    ]
    yield [
        "sla_compliance",
        "resolution %",
        _num(sla.resolution_pct),
        sla.resolution_measured,
        formulas["sla_compliance"].formula,
    ]
    fcr, reopen = metrics.first_contact_resolution(f), metrics.reopen_rate(f)
    yield [
        "first_contact_resolution",
        "%",
        _num(fcr.pct),
        fcr.whole,
        formulas["first_contact_resolution"].formula,
    ]
    yield ["reopen_rate", "%", _num(reopen.pct), reopen.whole, formulas["reopen_rate"].formula]
    csat = metrics.csat(f)
    yield ["csat", "satisfied %", _num(csat.satisfied_pct), csat.answered, formulas["csat"].formula]
    yield ["csat", "response rate %", _num(csat.response_pct), csat.sent, formulas["csat"].formula]
    avg = metrics.interactions_per_ticket(f)
    yield [
        "interactions_per_ticket",
        "average",
        _num(avg.value),
        avg.count,
        formulas["interactions_per_ticket"].formula,
    ]


def sla_by_priority(f):
    return _compliance(metrics.sla_compliance_by_priority(f))


def sla_by_team(f):
    return _compliance(metrics.sla_compliance_by_team(f))


def backlog(f):
    yield ["age", "tickets"]
    yield from metrics.backlog(f)


def channels(f):
    yield ["channel", "tickets"]
    yield from metrics.volume_by_channel(f)


def hours(f):
    yield ["hour", "tickets"]
    yield from metrics.volume_by_hour(f)


def days(f):
    yield ["day", "created", "resolved"]
    for day, created, resolved in metrics.volume_by_day(f):
        yield [day.isoformat(), created, resolved]


def agents(f):
    yield ["agent", "load", "limit", "handled"]
    for a in metrics.agent_load(f):
        yield [a.name, a.load, a.limit, a.handled]


def tickets(f):
    """Every ticket created in the period with its facts: the rows behind the numbers (streamed)."""
    columns = [
        "ticket_id",
        "team__name",
        "channel",
        "priority",
        "status",
        "created_at",
        "first_responded_at",
        "resolved_at",
        "closed_at",
        "first_response_minutes",
        "first_response_business_minutes",
        "resolution_minutes",
        "resolution_business_minutes",
        "sla_first_response_met",
        "sla_resolution_met",
        "interactions",
        "reopened",
        "not_an_issue",
    ]
    yield ["ticket", *columns[1:]]
    rows = f.facts("created_at").order_by("created_at", "ticket_id").values_list(*columns)
    for row in rows.iterator(chunk_size=2000):
        yield [format_number(row[0]), *(_num(v) for v in row[1:])]


# name → (title, rows of the filter). Every table of the dashboard, and the tickets behind it.
TABLES = {
    "summary": ("Summary", summary),
    "sla-by-priority": ("SLA compliance by priority", sla_by_priority),
    "sla-by-team": ("SLA compliance by team", sla_by_team),
    "backlog": ("Backlog by age", backlog),
    "channels": ("Volume by channel", channels),
    "hours": ("Volume by hour", hours),
    "days": ("Volume by day", days),
    "agents": ("Agent load and handled tickets", agents),
    "tickets": ("Tickets (facts)", tickets),
}

UNIQUE_ID_COLUMNS = [
    "interaction",
    "channel",
    "case",
    "ticket",
    "interactions_in_ticket",
    "contacts_per_unique_id",
    "issues",
]


def unique_id_row(row) -> list:
    """One row of DOMAIN.md's per-unique-ID table as the CSV writes it (and the page shows it)."""
    return [
        "first" if row.first else "follow-up",
        row.channel,
        row.case_id or "",
        row.ticket_number,
        row.interactions_in_ticket,
        row.contacts,
        row.issues,
    ]


def unique_id_table(customer) -> Iterator[list]:
    yield UNIQUE_ID_COLUMNS
    for row in interaction_rows(customer):
        yield unique_id_row(row)

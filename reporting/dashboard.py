"""Everything the dashboard shows for one filter, in a fixed number of queries (however many tickets)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Max
from django.utils import timezone

from . import metrics
from .charts import BarChart, LineChart, bar_chart, line_chart
from .metrics import ReportFilter
from .models import TicketFact


@dataclass
class Dashboard:
    filter: ReportFilter
    now: datetime
    facts_as_of: datetime | None
    first_response: metrics.Times
    resolution: metrics.Times
    sla: metrics.Compliance
    sla_by_priority: list[metrics.Compliance]
    sla_by_team: list[metrics.Compliance]
    fcr: metrics.Share
    reopen: metrics.Share
    interactions: metrics.Average
    backlog: list[tuple[str, int]]
    by_channel: list[tuple[str, int]]
    by_hour: list[tuple[int, int]]
    by_day: list[tuple[object, int, int]]
    agents: list[metrics.AgentLine]
    csat: metrics.Csat
    charts: dict[str, BarChart | LineChart]

    @property
    def created(self) -> int:
        return sum(n for _, n in self.by_channel)


def dashboard(f: ReportFilter, now: datetime | None = None) -> Dashboard:
    now = now or timezone.now()
    by_day = metrics.volume_by_day(f)
    by_channel = metrics.volume_by_channel(f)
    by_hour = metrics.volume_by_hour(f)
    backlog = metrics.backlog(f, now)
    agents = metrics.agent_load(f)
    csat = metrics.csat(f)
    times = metrics.duration_times(f)
    charts = {
        "days": line_chart(
            "Tickets created and resolved per day",
            [f"{day:%d %b}" for day, _, _ in by_day],
            [
                ("created", "series-created", [c for _, c, _ in by_day]),
                ("resolved", "series-resolved", [r for _, _, r in by_day]),
            ],
        ),
        "channels": bar_chart("Tickets created by channel", by_channel),
        "hours": line_chart(
            "Tickets created by hour of the day",
            [f"{h:02d}h" for h, _ in by_hour],
            [("created", "series-created", [n for _, n in by_hour])],
        ),
        "backlog": bar_chart("Backlog by age", backlog),
        "agents": bar_chart("Tickets handled by agent", [(a.name, a.handled) for a in agents[:15]]),
    }
    return Dashboard(
        filter=f,
        now=now,
        facts_as_of=TicketFact.objects.aggregate(m=Max("source_updated_at"))["m"],
        first_response=times["first_response"],
        resolution=times["resolution"],
        sla=metrics.sla_compliance(f),
        sla_by_priority=metrics.sla_compliance_by_priority(f),
        sla_by_team=metrics.sla_compliance_by_team(f),
        fcr=metrics.first_contact_resolution(f),
        reopen=metrics.reopen_rate(f),
        interactions=metrics.interactions_per_ticket(f),
        backlog=backlog,
        by_channel=by_channel,
        by_hour=by_hour,
        by_day=by_day,
        agents=agents,
        csat=csat,
        charts=charts,
    )

"""The roll-up's entry points (schedule, task, command) and the filter form's periods."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command

from helpdesk.schedules import SCHEDULES
from reporting import tasks
from reporting.forms import ReportFilterForm
from reporting.models import TicketFact
from tests.factories import TicketFactory

pytestmark = pytest.mark.django_db


def test_the_schedule_runs_the_task_which_rolls_up_new_tickets(front_office, capsys):
    assert any(s["func"] == "reporting.tasks.refresh_facts" and s["minutes"] == 1 for s in SCHEDULES)
    ticket = TicketFactory()
    assert tasks.refresh_facts() == 1
    assert TicketFact.objects.get(ticket=ticket).interactions == 1
    ticket.delete()
    call_command("refresh_reports", "--full")
    assert not TicketFact.objects.exists()  # the full run drops rows of deleted tickets
    assert "recomputed the facts of 0 tickets" in capsys.readouterr().out


def test_periods(supervisor, front_office, back_office):
    now = datetime(2026, 3, 5, 15, 30, tzinfo=UTC)
    f = ReportFilterForm({"period": "7d"}, user=supervisor.user).report_filter(now)
    assert (f.start, f.end) == (datetime(2026, 2, 27, tzinfo=UTC), datetime(2026, 3, 6, tzinfo=UTC))
    assert set(f.team_ids) == {front_office.pk, back_office.pk}
    f = ReportFilterForm({"period": "today", "team": front_office.pk}, user=supervisor.user).report_filter(
        now
    )
    assert (f.end - f.start, f.team_ids) == (timedelta(days=1), (front_office.pk,))
    custom = {"period": "custom", "start": "2026-01-01", "end": "2026-01-31", "channel": "sms"}
    f = ReportFilterForm(custom, user=supervisor.user).report_filter(now)
    assert (f.start, f.end, f.channel) == (
        datetime(2026, 1, 1, tzinfo=UTC),
        datetime(2026, 2, 1, tzinfo=UTC),
        "sms",
    )
    for bad in (
        {"period": "custom", "start": "2026-02-01", "end": "2026-01-01"},
        {"period": "custom", "start": "2024-01-01", "end": "2026-01-01"},
        {"period": "custom", "start": "2026-01-01"},
    ):
        form = ReportFilterForm(bad, user=supervisor.user)
        assert not form.is_valid()
        # An invalid form still reports: the default period, the supervisor's teams.
        assert form.report_filter(now).end - form.report_filter(now).start == timedelta(days=7)

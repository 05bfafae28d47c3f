"""The report filters: a period, a team (of those the user may see) and a channel."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django import forms
from django.utils import timezone

from tickets.channels import Channel

from .access import report_team_ids, report_teams
from .metrics import ReportFilter

PERIODS = [
    ("today", "Today"),
    ("7d", "Last 7 days"),
    ("30d", "Last 30 days"),
    ("90d", "Last 90 days"),
    ("custom", "From … to …"),
]
DAYS = {"7d": 7, "30d": 30, "90d": 90}
DEFAULT_PERIOD = "7d"
# The longest custom period: a year of days is still one chart, and bounded work for the database.
MAX_DAYS = 366


class ReportFilterForm(forms.Form):
    period = forms.ChoiceField(choices=PERIODS, required=False, initial=DEFAULT_PERIOD)
    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}), label="From")
    end = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}), label="To (inclusive)"
    )
    team = forms.ModelChoiceField(queryset=None, required=False, empty_label="All my teams")
    channel = forms.ChoiceField(choices=[("", "All channels"), *Channel.choices], required=False)

    def __init__(self, data=None, *, user, **kwargs):
        super().__init__(data, **kwargs)
        self.user = user
        self.fields["team"].queryset = report_teams(user)

    def clean(self):
        data = super().clean()
        if data.get("period") == "custom":
            start, end = data.get("start"), data.get("end")
            if not start or not end:
                raise forms.ValidationError("Give both dates of a custom period.")
            if end < start:
                raise forms.ValidationError("The period ends before it starts.")
            if (end - start).days + 1 > MAX_DAYS:
                raise forms.ValidationError(f"A period is at most {MAX_DAYS} days.")
        return data

    def report_filter(self, now: datetime | None = None) -> ReportFilter:
        """The filter the form describes; an invalid form gives the default (last 7 days, all my teams)."""
        now = timezone.localtime(now or timezone.now())
        data = self.cleaned_data if self.is_valid() else {}
        period = data.get("period") or DEFAULT_PERIOD
        zone = timezone.get_current_timezone()
        today = now.date()
        if period == "custom":
            first, last = data["start"], data["end"]
        elif period == "today":
            first = last = today
        else:
            first, last = today - timedelta(days=DAYS[period] - 1), today
        start = datetime.combine(first, time.min, tzinfo=zone)
        end = datetime.combine(last + timedelta(days=1), time.min, tzinfo=zone)
        team = data.get("team")
        team_ids = (team.pk,) if team else report_team_ids(self.user)
        return ReportFilter(start=start, end=end, team_ids=team_ids, channel=data.get("channel") or "")

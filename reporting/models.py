"""Reporting's own tables: summary rows rolled up from the tickets tables, never written back to them.

``TicketFact`` is one narrow row per ticket with what the metrics need already worked out: the durations in
calendar *and* business minutes (business time needs the team's calendar, which SQL cannot apply) and the
number of interactions linked to the ticket (which would otherwise join millions of cases). The roll-up
(``reporting.rollup.refresh_ticket_facts``, every minute by a django-q2 schedule) rewrites the rows of the
tickets that changed since the last run. The metrics (``reporting.metrics``) aggregate these rows in the
database.
"""

from django.db import models

from tickets.channels import Channel


class TicketFact(models.Model):
    # No database constraints towards tickets: reporting never holds up a change to a ticket or a team; a
    # fact whose ticket is gone is removed by the next roll-up.
    ticket = models.OneToOneField(
        "tickets.Ticket", primary_key=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    team = models.ForeignKey(
        "tickets.Team", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    assignee = models.ForeignKey(
        "tickets.Agent", null=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    channel = models.CharField(max_length=16, choices=Channel.choices)
    priority = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=10)
    created_at = models.DateTimeField()
    first_responded_at = models.DateTimeField(null=True)
    resolved_at = models.DateTimeField(null=True)
    closed_at = models.DateTimeField(null=True)
    # Minutes from creation to the first agent reply / to the (latest) resolution: wall-clock, and business
    # time (working minutes in the team's calendar, less the minutes the clock was paused on the customer).
    first_response_minutes = models.FloatField(null=True)
    first_response_business_minutes = models.FloatField(null=True)
    resolution_minutes = models.FloatField(null=True)
    resolution_business_minutes = models.FloatField(null=True)
    # As stored on the ticket when it closed (None: no target, or closed as spam or duplicate).
    sla_first_response_met = models.BooleanField(null=True)
    sla_resolution_met = models.BooleanField(null=True)
    interactions = models.PositiveIntegerField(default=0)
    reopened = models.BooleanField(default=False)
    # Closed as spam or as a duplicate: not an issue that was worked, left out of the outcome metrics.
    not_an_issue = models.BooleanField(default=False)
    # The ticket's ``updated_at`` when this row was computed: the roll-up's high-water mark.
    source_updated_at = models.DateTimeField()

    class Meta:
        indexes = [
            # Each metric's period is on one of these moments (reporting.metrics). They carry the columns the
            # metrics read (as trailing key columns: SQLite has no INCLUDE), so a month of a million tickets
            # is read from the index alone.
            models.Index(fields=["created_at", "team", "channel"], name="fact_created_cover"),
            models.Index(
                fields=[
                    "first_responded_at",
                    "team",
                    "channel",
                    "first_response_minutes",
                    "first_response_business_minutes",
                ],
                condition=models.Q(first_responded_at__isnull=False),
                name="fact_first_responded_cover",
            ),
            models.Index(
                fields=[
                    "resolved_at",
                    "team",
                    "channel",
                    "not_an_issue",
                    "assignee",
                    "resolution_minutes",
                    "resolution_business_minutes",
                ],
                condition=models.Q(resolved_at__isnull=False),
                name="fact_resolved_cover",
            ),
            models.Index(
                fields=["closed_at"], condition=models.Q(closed_at__isnull=False), name="fact_closed"
            ),
            models.Index(fields=["source_updated_at"], name="fact_source_updated"),
        ]

    def __str__(self):
        return f"Facts of ticket {self.ticket_id}"


class DailySummary(models.Model):
    """Counts per day (in the server's time zone), team, channel and priority: what the count metrics sum over
    a period, so a month's dashboard adds up a few thousand rows instead of scanning a million facts.

    Rebuilt by the roll-up for every day a changed ticket was (or is now) created, resolved or closed on
    (``reporting.rollup.rebuild_daily_summary``). Each column counts the facts of that day that ...
    """

    day = models.DateField()
    team = models.ForeignKey(
        "tickets.Team", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    channel = models.CharField(max_length=16, choices=Channel.choices)
    priority = models.PositiveSmallIntegerField()
    # ... were created that day; their interactions; of them, resolved at least once (spam and duplicates
    # left out) and, of those, reopened at least once.
    created = models.PositiveIntegerField(default=0)
    created_interactions = models.PositiveIntegerField(default=0)
    created_resolved_once = models.PositiveIntegerField(default=0)
    created_reopened = models.PositiveIntegerField(default=0)
    # ... were resolved that day (spam and duplicates left out); of them, with one interaction, never reopened.
    resolved = models.PositiveIntegerField(default=0)
    resolved_first_contact = models.PositiveIntegerField(default=0)
    # ... were closed that day, with their stored SLA verdicts.
    closed = models.PositiveIntegerField(default=0)
    first_response_met = models.PositiveIntegerField(default=0)
    first_response_measured = models.PositiveIntegerField(default=0)
    resolution_met = models.PositiveIntegerField(default=0)
    resolution_measured = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["day", "team", "channel", "priority"], name="daily_summary_key")
        ]

    def __str__(self):
        return f"{self.day} team {self.team_id} {self.channel} P{self.priority}"


class DailyDurations(models.Model):
    """Histograms of the durations, per day (in the server's time zone), team, channel and duration bucket:
    what the time metrics' medians and p90s are read from, so a month's percentiles add up histogram rows
    (bounded by the buckets, not by the tickets) instead of sorting a million facts (``reporting.buckets.percentile``).

    Each count column counts the facts of that day whose duration falls in ``bucket``
    (``reporting.metrics.bucket_bounds``: bucket 0 is under a minute, bucket k ≥ 1 is
    [1.1^(k−1), 1.1^k) minutes). First-response columns count the tickets first replied to that day;
    resolution columns the tickets resolved that day (spam and duplicates left out). No priority: the
    dashboard does not filter by it, and each dimension multiplies the rows a month adds up.
    """

    day = models.DateField()
    team = models.ForeignKey(
        "tickets.Team", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    channel = models.CharField(max_length=16, choices=Channel.choices)
    bucket = models.PositiveSmallIntegerField()
    first_response = models.PositiveIntegerField(default=0)
    first_response_business = models.PositiveIntegerField(default=0)
    resolution = models.PositiveIntegerField(default=0)
    resolution_business = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["day", "team", "channel", "bucket"], name="daily_durations_key")
        ]

    def __str__(self):
        return f"{self.day} team {self.team_id} {self.channel} bucket {self.bucket}"


class HourlyVolume(models.Model):
    """Tickets created per day and hour of the day (both in the server's time zone), team and channel."""

    day = models.DateField()
    hour = models.PositiveSmallIntegerField()
    team = models.ForeignKey(
        "tickets.Team", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    channel = models.CharField(max_length=16, choices=Channel.choices)
    created = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["day", "hour", "team", "channel"], name="hourly_volume_key")
        ]

    def __str__(self):
        return f"{self.day} {self.hour:02d}h team {self.team_id} {self.channel}"


class DailyAgentHandled(models.Model):
    """Tickets resolved per day, owner, team and channel (spam and duplicates left out): agents' handled
    tickets. The channel is kept so the dashboard's channel filter applies to it like to everything else."""

    day = models.DateField()
    agent = models.ForeignKey(
        "tickets.Agent", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    team = models.ForeignKey(
        "tickets.Team", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    channel = models.CharField(max_length=16, choices=Channel.choices)
    handled = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["day", "agent", "team", "channel"], name="daily_agent_handled_key"
            )
        ]

    def __str__(self):
        return f"{self.day} agent {self.agent_id} team {self.team_id} {self.channel}"

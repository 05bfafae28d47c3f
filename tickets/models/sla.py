"""Escalation rules: what the SLA scan does to a ticket at risk, breached, followed up often, or critical.

An admin edits them; ``tickets.services.escalation.scan`` applies them, each at most once per ticket (an
``EscalationFiring`` row, unique per ticket and rule).
"""

from django.core.exceptions import ValidationError
from django.db import models

from tickets.models.tickets import Priority


class EscalationRule(models.Model):
    class Trigger(models.TextChoices):
        AT_RISK = "at_risk", "SLA target at risk"
        BREACHED = "breached", "SLA target breached"
        FOLLOW_UPS = "follow_ups", "Customer followed up N times"
        P1 = "p1", "Priority P1 (critical)"

    class Target(models.TextChoices):
        ANY = "", "Either target"
        FIRST_RESPONSE = "first_response", "First response"
        RESOLUTION = "resolution", "Resolution"
        NEXT_RESPONSE = "next_response", "Next response"

    class Action(models.TextChoices):
        NOTIFY_SUPERVISOR = "notify_supervisor", "Escalate to the team's supervisors"
        RAISE_PRIORITY = "raise_priority", "Raise the priority by one"
        MOVE_TO_TEAM = "move_to_team", "Escalate into another team's queue"

    name = models.CharField(max_length=120)
    active = models.BooleanField(default=True)
    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    target = models.CharField(
        max_length=16, choices=Target.choices, blank=True, help_text="For the at-risk and breached triggers."
    )
    priority_at_most = models.PositiveSmallIntegerField(
        "for priorities up to",
        choices=Priority.choices,
        default=Priority.P4,
        help_text="P2 means P1 and P2 tickets only.",
    )
    follow_ups = models.PositiveSmallIntegerField(
        "follow-ups at least", default=3, help_text="For the follow-up trigger: interactions after the first."
    )
    action = models.CharField(max_length=20, choices=Action.choices)
    escalation_team = models.ForeignKey(
        "tickets.Team",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="For “escalate into another team's queue”.",
    )
    order = models.PositiveSmallIntegerField(default=100, help_text="Lower runs first.")

    class Meta:
        ordering = ["order", "id"]

    def __str__(self):
        return self.name

    def clean(self):
        if self.action == self.Action.MOVE_TO_TEAM and self.escalation_team_id is None:
            raise ValidationError({"escalation_team": "Name the team the ticket is escalated into."})
        if self.trigger == self.Trigger.FOLLOW_UPS and self.follow_ups < 1:
            raise ValidationError({"follow_ups": "At least one follow-up."})


class EscalationFiring(models.Model):
    """A rule acted on a ticket: never again for the same ticket."""

    rule = models.ForeignKey(EscalationRule, on_delete=models.CASCADE, related_name="firings")
    ticket = models.ForeignKey("tickets.Ticket", on_delete=models.CASCADE, related_name="escalation_firings")
    fired_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["ticket", "rule"], name="escalation_once_per_ticket")]

    def __str__(self):
        return f"{self.rule} on {self.ticket_id}"

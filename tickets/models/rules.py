"""Triage and priority rules an admin edits (issue 6): the priority matrix, and rules of the form
*when (trigger) and if (conditions) then (action)*, applied by the one engine in ``tickets.services.rules``.

A rule acts on a ticket at most once (a ``RuleFiring`` row, unique per rule and ticket): an agent's later
change stands, and two rules cannot fight over a ticket forever.
"""

from django.core.exceptions import ValidationError
from django.db import models

from tickets.channels import Channel
from tickets.lifecycle import Status
from tickets.models.tickets import Level, Priority


class PriorityMatrixCell(models.Model):
    """One cell of the impact × urgency matrix: the priority a ticket of that impact and urgency gets."""

    impact = models.PositiveSmallIntegerField(choices=Level.choices)
    urgency = models.PositiveSmallIntegerField(choices=Level.choices)
    priority = models.PositiveSmallIntegerField(choices=Priority.choices)

    class Meta:
        ordering = ["impact", "urgency"]
        verbose_name = "priority matrix cell"
        verbose_name_plural = "priority matrix"
        constraints = [models.UniqueConstraint(fields=["impact", "urgency"], name="priority_matrix_cell")]

    def __str__(self):
        return f"impact {self.get_impact_display()} × urgency {self.get_urgency_display()} → P{self.priority}"


class Rule(models.Model):
    class Action(models.TextChoices):
        SET_PRIORITY = "set_priority", "Set the priority"
        RAISE_PRIORITY = "raise_priority", "Raise the priority to at least"
        ADD_TAG = "add_tag", "Add a tag"
        SET_CATEGORY = "set_category", "Set the category"
        TRANSFER = "transfer", "Transfer to a team"
        MARK_SPAM = "mark_spam", "Close as spam"
        OFFER_MERGE = "offer_merge", "Offer to merge with a duplicate"
        MERGE = "merge", "Merge into the duplicate"

    name = models.CharField(max_length=120)
    active = models.BooleanField(default=True)
    order = models.PositiveSmallIntegerField(default=100, help_text="Lower runs first.")

    # Triggers: when the rule is looked at (any that is ticked).
    on_created = models.BooleanField("when a ticket is created", default=False)
    on_customer_message = models.BooleanField("when a customer message arrives", default=False)
    on_changed = models.BooleanField("when a ticket changes", default=False)
    on_sweep = models.BooleanField("in the periodic sweep", default=False)

    # Conditions: every one that is filled in must hold (empty matches anything).
    customer_tier = models.CharField(
        max_length=16,
        blank=True,
        choices=[("standard", "Standard"), ("premium", "Premium"), ("vip", "VIP")],
    )
    channel = models.CharField(
        max_length=16,
        blank=True,
        choices=Channel.choices,
        help_text="The message's channel, else the ticket's.",
    )
    keywords = models.CharField(
        max_length=300,
        blank=True,
        help_text="Comma-separated; any one in the subject or the message text matches (any case).",
    )
    reference_kind = models.ForeignKey(
        "tickets.ReferenceKind", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    team = models.ForeignKey(
        "tickets.Team", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    priority = models.PositiveSmallIntegerField(
        "priority is", null=True, blank=True, choices=Priority.choices
    )
    status = models.CharField("status is", max_length=10, blank=True, choices=Status.choices)
    idle_hours = models.PositiveIntegerField(
        "unchanged for at least (hours)", null=True, blank=True, help_text="Mostly for the periodic sweep."
    )

    # The action and what it needs.
    action = models.CharField(max_length=16, choices=Action.choices)
    new_priority = models.PositiveSmallIntegerField(
        null=True, blank=True, choices=Priority.choices, help_text="For set / raise the priority."
    )
    tag = models.ForeignKey("tickets.Tag", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    category = models.ForeignKey(
        "tickets.Category", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    to_team = models.ForeignKey(
        "tickets.Team",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text="For “transfer to a team”.",
    )
    duplicate_window_hours = models.PositiveIntegerField(
        default=24,
        help_text="For the merge actions: another open ticket of the same customer with the same reference, or "
        "with close text created within this many hours before, is a duplicate.",
    )

    class Meta:
        ordering = ["order", "id"]

    def __str__(self):
        return self.name

    def clean(self):
        if not (self.on_created or self.on_customer_message or self.on_changed or self.on_sweep):
            raise ValidationError("Tick at least one trigger.")
        needs = {
            self.Action.SET_PRIORITY: ("new_priority", self.new_priority),
            self.Action.RAISE_PRIORITY: ("new_priority", self.new_priority),
            self.Action.ADD_TAG: ("tag", self.tag_id),
            self.Action.SET_CATEGORY: ("category", self.category_id),
            self.Action.TRANSFER: ("to_team", self.to_team_id),
        }
        if self.action in needs and needs[self.action][1] is None:
            field = needs[self.action][0]
            raise ValidationError({field: f"“{self.get_action_display()}” needs this."})


class RuleFiring(models.Model):
    """A rule acted on a ticket: never again for the same ticket."""

    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="firings")
    ticket = models.ForeignKey("tickets.Ticket", on_delete=models.CASCADE, related_name="rule_firings")
    trigger = models.CharField(max_length=20)
    fired_at = models.DateTimeField()
    # The merge actions: the ticket found to be the duplicate's original (offered in the workspace, or merged into).
    duplicate_of = models.ForeignKey(
        "tickets.Ticket", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["ticket", "rule"], name="rule_once_per_ticket")]

    def __str__(self):
        return f"{self.rule} on {self.ticket_id}"

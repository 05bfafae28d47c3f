from datetime import UTC, datetime

from django.conf import settings
from django.db import models
from django.db.models.functions import Coalesce

from tickets.channels import Channel
from tickets.lifecycle import Status

NUMBER_PREFIX = "T-"
# Where a ticket without a resolution due time sorts in the queue view: last (its sort key is never null, so
# a keyset page can name a position with a row comparison).
NO_DUE_TIME = datetime(9999, 1, 1, tzinfo=UTC)
# The queue view's default filter: tickets not yet resolved (new, assigned, open, pending).
QUEUE_ACTIVE_STATUSES = [Status.NEW, Status.ASSIGNED, Status.OPEN, Status.PENDING]


class Priority(models.IntegerChoices):
    P1 = 1, "P1 critical"
    P2 = 2, "P2 high"
    P3 = 3, "P3 medium"
    P4 = 4, "P4 low"


class Level(models.IntegerChoices):
    """Impact and urgency share one scale; priority is read off their matrix (``tickets.sla``)."""

    HIGH = 1, "High"
    MEDIUM = 2, "Medium"
    LOW = 3, "Low"


class ResolutionType(models.TextChoices):
    FIXED = "fixed", "Fixed"
    WORKAROUND = "workaround", "Workaround"
    ANSWERED = "answered", "Question answered"
    NOT_REPRODUCIBLE = "not_reproducible", "Could not reproduce"
    WONT_FIX = "wont_fix", "Won't fix"
    CUSTOMER_GONE = "no_response", "No response from customer"
    DUPLICATE = "duplicate", "Duplicate"
    SPAM = "spam", "Spam"


class Category(models.Model):
    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=50, unique=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "categories"

    def __str__(self):
        return self.name


class Tag(models.Model):
    name = models.SlugField(max_length=50, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class SlaPolicy(models.Model):
    """Targets for one priority, optionally for one team; counted in the team's business calendar."""

    priority = models.PositiveSmallIntegerField(choices=Priority.choices)
    team = models.ForeignKey("tickets.Team", null=True, blank=True, on_delete=models.CASCADE)
    first_response_minutes = models.PositiveIntegerField()
    resolution_minutes = models.PositiveIntegerField()
    # Once answered, each customer message waiting for an agent's answer must get one within this (blank: the
    # built-in default of ``tickets.sla.DEFAULT_NEXT_RESPONSE``).
    next_response_minutes = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        verbose_name = "SLA policy"
        verbose_name_plural = "SLA policies"
        ordering = ["priority", "team__name"]
        constraints = [
            models.UniqueConstraint(fields=["priority", "team"], name="sla_policy_unique"),
            models.UniqueConstraint(
                fields=["priority"], condition=models.Q(team__isnull=True), name="sla_policy_default_unique"
            ),
        ]

    def __str__(self):
        return f"P{self.priority} {self.team or 'all teams'}"


class Ticket(models.Model):
    customer = models.ForeignKey("tickets.Customer", on_delete=models.PROTECT, related_name="tickets")
    reference = models.ForeignKey(
        "tickets.Reference", null=True, blank=True, on_delete=models.SET_NULL, related_name="tickets"
    )
    subject = models.CharField(max_length=300)
    channel = models.CharField("source channel", max_length=16, choices=Channel.choices)
    category = models.ForeignKey(Category, null=True, blank=True, on_delete=models.SET_NULL)
    tags = models.ManyToManyField(Tag, blank=True, related_name="tickets")
    impact = models.PositiveSmallIntegerField(choices=Level.choices, default=Level.MEDIUM)
    urgency = models.PositiveSmallIntegerField(choices=Level.choices, default=Level.MEDIUM)
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.P3)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.NEW)
    team = models.ForeignKey("tickets.Team", on_delete=models.PROTECT, related_name="tickets")
    # Why the ticket started in its team (the routing rule, or the default).
    team_rule = models.CharField(max_length=200, blank=True)
    assignee = models.ForeignKey(
        "tickets.Agent", null=True, blank=True, on_delete=models.SET_NULL, related_name="tickets"
    )
    escalated = models.BooleanField(default=False)
    escalation_level = models.PositiveSmallIntegerField(default=0)
    # SLA clocks (due times come from the policy for the priority, in business time).
    first_response_due = models.DateTimeField(null=True, blank=True)
    resolution_due = models.DateTimeField(null=True, blank=True)
    first_responded_at = models.DateTimeField(null=True, blank=True)
    sla_breached = models.BooleanField(default=False)
    # Breaches with the moment they happened (the due time that passed); ``sla_breached`` is "any of them".
    first_response_breached_at = models.DateTimeField(null=True, blank=True)
    resolution_breached_at = models.DateTimeField(null=True, blank=True)
    # Next response: after the first response, a customer message starts this clock (when it is not running
    # already); the next agent reply the customer receives stops it. The breach holds the latest due time missed.
    next_response_started_at = models.DateTimeField(null=True, blank=True)
    next_response_due = models.DateTimeField(null=True, blank=True)
    next_response_breached_at = models.DateTimeField(null=True, blank=True)
    # The clocks pause while the ticket is pending (waiting on the customer): since when, and the business
    # minutes paused so far (due times already include them; ``tickets.services.sla``).
    sla_paused_at = models.DateTimeField(null=True, blank=True)
    sla_paused_minutes = models.FloatField(default=0)
    # Compliance, stored when the ticket closes (None: no target, or closed as spam or duplicate).
    sla_first_response_met = models.BooleanField(null=True, blank=True)
    sla_resolution_met = models.BooleanField(null=True, blank=True)
    resolution_type = models.CharField(max_length=20, choices=ResolutionType.choices, blank=True)
    resolution_notes = models.TextField(blank=True)
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="merged_tickets"
    )
    # A follow-up after the reopen window opens a new ticket linked to the closed one.
    follows = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="followed_by"
    )
    reopen_count = models.PositiveSmallIntegerField(default=0)
    # Optimistic concurrency: every transition bumps it; a change made from a stale view is refused.
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    assigned_at = models.DateTimeField(null=True, blank=True)
    # When the ticket last entered its team's queue (overflow waits are counted from here).
    queued_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    last_customer_message_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=[s.value for s in Status]), name="ticket_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(priority__gte=1, priority__lte=4), name="ticket_priority_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(assignee__isnull=True) | ~models.Q(status="new"),
                name="ticket_new_is_unassigned",
            ),
        ]
        indexes = [
            # Intake rules 2 and 3: a customer's open tickets, by reference and by last update.
            models.Index(fields=["customer", "reference"], name="ticket_customer_reference"),
            models.Index(fields=["customer", "status", "updated_at"], name="ticket_customer_status"),
            # A team's queue in the order it is handed out: priority, SLA due time, age (partial: queued only).
            models.Index(
                fields=["team", "priority", "resolution_due", "created_at"],
                condition=models.Q(status="new"),
                name="ticket_queue",
            ),
            # Tickets changed since a moment: the reports' roll-up (reporting.rollup) reads them every minute.
            models.Index(fields=["updated_at", "id"], name="ticket_updated"),
            # An agent's active work.
            models.Index(
                fields=["assignee", "status"],
                condition=models.Q(status__in=["assigned", "open", "pending"]),
                name="ticket_assignee_active",
            ),
            # The queue view's default filter and order (tickets/selectors/queue_view.py): unresolved tickets by
            # priority, SLA due time (none last), age — for one team, and across teams (a supervisor's or an
            # admin's queue). Partial: only the active few percent of the table are in them.
            models.Index(
                models.F("team"),
                models.F("priority"),
                Coalesce("resolution_due", models.Value(NO_DUE_TIME)),
                models.F("created_at"),
                models.F("id"),
                condition=models.Q(status__in=QUEUE_ACTIVE_STATUSES),
                name="ticket_active_team_queue",
            ),
            models.Index(
                models.F("priority"),
                Coalesce("resolution_due", models.Value(NO_DUE_TIME)),
                models.F("created_at"),
                models.F("id"),
                condition=models.Q(status__in=QUEUE_ACTIVE_STATUSES),
                name="ticket_active_queue",
            ),
        ]

    def __str__(self):
        return f"{self.number} {self.subject}"

    @property
    def number(self) -> str:
        return format_number(self.pk)


def format_number(pk: int | None) -> str:
    return f"{NUMBER_PREFIX}{pk:06d}" if pk else f"{NUMBER_PREFIX}?"


def parse_number(text: str) -> int | None:
    """``T-000123`` (any case, any zero padding) → 123; anything else → None."""
    text = text.strip().upper()
    if not text.startswith(NUMBER_PREFIX):
        return None
    digits = text[len(NUMBER_PREFIX) :]
    return int(digits) if digits.isdigit() and int(digits) > 0 else None


class TicketEvent(models.Model):
    """The ticket's history: who, when, from what, to what, and why. Append-only."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    kind = models.CharField(max_length=32)
    from_value = models.CharField(max_length=200, blank=True)
    to_value = models.CharField(max_length=200, blank=True)
    reason = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["ticket", "created_at"], name="event_ticket_time")]

    def __str__(self):
        return f"{self.kind} {self.from_value}→{self.to_value}"

    @property
    def actor_label(self) -> str:
        return self.actor.get_username() if self.actor_id else "system"


class Note(models.Model):
    """An internal note: agents only, never sent to the customer."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey("tickets.Agent", null=True, on_delete=models.SET_NULL)
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self):
        return f"Note {self.pk} on {self.ticket.number}"


class CannedResponse(models.Model):
    title = models.CharField(max_length=120)
    body = models.TextField(help_text="Placeholders: {customer_name}, {ticket_number}, {agent_name}")
    team = models.ForeignKey("tickets.Team", null=True, blank=True, on_delete=models.CASCADE)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["title"]

    def __str__(self):
        return self.title


class Acknowledgement(models.Model):
    """The automatic answer to the first message of a new ticket, per channel (editable by admins)."""

    channel = models.CharField(max_length=16, choices=Channel.choices, unique=True)
    body = models.TextField(
        help_text="Placeholders: {ticket_number}, {customer_name}, {subject}. Keep SMS short."
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["channel"]

    def __str__(self):
        return f"Acknowledgement on {self.get_channel_display()}"

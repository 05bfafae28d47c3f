from django.conf import settings
from django.db import models


class BusinessCalendar(models.Model):
    """Business hours in a time zone, with a country's public holidays; SLA clocks count in it."""

    name = models.CharField(max_length=100, unique=True)
    timezone = models.CharField(max_length=64, default="UTC")
    # {"mon": [["09:00", "17:00"]], ...}; a missing day is closed.
    weekly_hours = models.JSONField(default=dict, blank=True)
    holiday_country = models.CharField(max_length=8, blank=True, help_text="ISO country code, e.g. GB")
    always_open = models.BooleanField(default=False, help_text="24/7: every hour counts")

    def __str__(self):
        return self.name


class Team(models.Model):
    class Kind(models.TextChoices):
        FRONT = "front", "Front office"
        BACK = "back", "Back office"

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=50, unique=True)
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.FRONT)
    fallback_team = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="fallback_for"
    )
    overflow_after_minutes = models.PositiveIntegerField(
        default=30, help_text="Queued this long with nobody able to take it: move to the fallback team."
    )
    calendar = models.ForeignKey(BusinessCalendar, null=True, blank=True, on_delete=models.SET_NULL)

    class OfflinePolicy(models.TextChoices):
        # What happens to an agent's active tickets of this team when the agent goes offline (by hand, by
        # signing out, or by session timeout). "Away" is a break: the agent always keeps their tickets.
        KEEP = "keep", "Keep: the agent keeps their tickets"
        RETURN_UNOPENED = "return_unopened", "Return unopened: tickets still assigned go back to the queue"
        RETURN_ALL = "return_all", "Return all: every active ticket goes back to the queue"

    offline_policy = models.CharField(
        max_length=16,
        choices=OfflinePolicy.choices,
        default=OfflinePolicy.KEEP,
        help_text="When an agent goes offline: keep their tickets, or return them to this team's queue "
        "(only those they have not opened yet, or all their assigned, open and pending ones).",
    )

    class ReopenPolicy(models.TextChoices):
        # What a customer's follow-up to a closed ticket of this team does (DOMAIN.md: reopen within the window).
        DEFAULT = (
            "",
            "Default: reopen within HELPDESK_REOPEN_WINDOW_HOURS of closure, later a new linked ticket",
        )
        FREELY = "freely", "Reopen freely: a follow-up always reopens the ticket"
        NEVER = "never", "Never reopen: a follow-up opens a new ticket linked to the closed one"
        AFTER_DAYS = "after_days", "Reopen within N days of closure, later a new linked ticket"

    reopen_policy = models.CharField(max_length=12, choices=ReopenPolicy.choices, blank=True, default="")
    reopen_after_days = models.PositiveSmallIntegerField(
        "reopen within (days)", null=True, blank=True, help_text="For “reopen within N days of closure”."
    )

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def clean(self):
        from django.core.exceptions import ValidationError

        if self.reopen_policy == self.ReopenPolicy.AFTER_DAYS and self.reopen_after_days is None:
            raise ValidationError({"reopen_after_days": "Say within how many days a follow-up reopens."})


class Agent(models.Model):
    class Role(models.TextChoices):
        FRONT_OFFICE = "front_office", "Front-office agent"
        BACK_OFFICE = "back_office", "Back-office agent"
        SUPERVISOR = "supervisor", "Supervisor"
        ADMIN = "admin", "Admin"

    class Presence(models.TextChoices):
        ONLINE = "online", "Online"
        AWAY = "away", "Away"
        OFFLINE = "offline", "Offline"

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.FRONT_OFFICE)
    teams = models.ManyToManyField(Team, related_name="agents", blank=True)
    max_active_assignments = models.PositiveSmallIntegerField(default=5)
    presence = models.CharField(max_length=8, choices=Presence.choices, default=Presence.OFFLINE)
    is_senior = models.BooleanField(default=False, help_text="Receives negative-CSAT follow-ups")
    last_assigned_at = models.DateTimeField(null=True, blank=True)
    presence_changed_at = models.DateTimeField(null=True, blank=True)
    # The agent's last request, written at most once a minute (tickets.middleware): presence times out from it.
    last_seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["user__username"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(role__in=["front_office", "back_office", "supervisor", "admin"]),
                name="agent_role_valid",
            ),
        ]

    def __str__(self):
        return self.user.get_full_name() or self.user.get_username()

    @property
    def is_supervisor(self) -> bool:
        return self.role in (self.Role.SUPERVISOR, self.Role.ADMIN)


class AgentEvent(models.Model):
    """An agent's history: presence and limit changes — who, when, from what, to what, and why.

    Append-only, like ``TicketEvent``; ``actor`` empty is the help desk itself (session timeout)."""

    class Kind(models.TextChoices):
        PRESENCE = "presence", "Presence"
        LIMIT = "limit", "Maximum active assignments"

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    from_value = models.CharField(max_length=32, blank=True)
    to_value = models.CharField(max_length=32, blank=True)
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["agent", "created_at"], name="agentevent_agent_time")]

    def __str__(self):
        return f"{self.kind} {self.from_value}→{self.to_value}"

    @property
    def actor_label(self) -> str:
        return self.actor.get_username() if self.actor_id else "system"


class RoutingRule(models.Model):
    """Which team a new ticket starts in: the first active rule (lowest position) whose conditions all hold.

    Empty conditions match anything; a rule with only a channel is that channel's default team.
    """

    name = models.CharField(max_length=100)
    position = models.PositiveIntegerField(
        default=100, help_text="Rules are tried in this order, lowest first."
    )
    active = models.BooleanField(default=True)
    channel = models.CharField(max_length=16, blank=True, help_text="e.g. email, whatsapp, voice")
    category = models.ForeignKey("tickets.Category", null=True, blank=True, on_delete=models.CASCADE)
    customer_tier = models.CharField(max_length=16, blank=True, help_text="standard, premium or vip")
    reference_kind = models.ForeignKey(
        "tickets.ReferenceKind", null=True, blank=True, on_delete=models.CASCADE
    )
    keywords = models.CharField(
        max_length=300,
        blank=True,
        help_text="Comma-separated; any one in the subject or text matches (any case).",
    )
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="routing_rules")

    class Meta:
        ordering = ["position", "id"]

    def __str__(self):
        return f"{self.name} → {self.team}"

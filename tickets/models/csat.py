"""Customer satisfaction (DOMAIN.md, "Closure and feedback").

A ``CsatSurvey`` is scheduled when a ticket closes and sent a configurable delay later
(``HELPDESK["CSAT_DELAY_MINUTES"]``) as a signed, expiring, single-use link; its ``state`` is the token's
state (the link works only while the survey is ``sent`` and not past ``expires_at``). A rating of 1–2 opens a
``CsatFollowUp`` for a senior agent of the ticket's team.

Reporting reads ``rating``, ``comment``, ``sent_at``, ``answered_at``, ``ticket``, ``channel``, ``team`` and
``agent``: keep those names stable.
"""

from django.db import models

from tickets.channels import Channel

NEGATIVE_RATINGS = (1, 2)


class CsatSurvey(models.Model):
    class State(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"  # waiting for the delay after closure
        SENT = "sent", "Sent"  # the link is out and unused
        ANSWERED = "answered", "Answered"  # the link was used: single use
        CANCELLED = "cancelled", "Cancelled"  # the ticket reopened before the survey went out
        UNSENDABLE = "unsendable", "Not sent"  # no written channel to reach the customer on

    ticket = models.ForeignKey("tickets.Ticket", on_delete=models.CASCADE, related_name="csat_surveys")
    # The channel the survey went out on (the one the customer last used); empty until sent.
    channel = models.CharField(max_length=16, choices=Channel.choices, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.SCHEDULED)
    # Who and which team the rating is about: the ticket's at closure (a later reassignment does not move it).
    team = models.ForeignKey(
        "tickets.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    agent = models.ForeignKey(
        "tickets.Agent", null=True, blank=True, on_delete=models.SET_NULL, related_name="csat_surveys"
    )
    scheduled_for = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    rating = models.PositiveSmallIntegerField(null=True, blank=True)
    comment = models.TextField(blank=True)
    # The outbound message that carried the link.
    message = models.ForeignKey(
        "tickets.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Why it was cancelled or could not be sent.
    note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "CSAT survey"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(rating__isnull=True) | models.Q(rating__gte=1, rating__lte=5),
                name="csat_rating_1_to_5",
            ),
            models.CheckConstraint(
                condition=models.Q(state="answered", rating__isnull=False, answered_at__isnull=False)
                | (~models.Q(state="answered") & models.Q(rating__isnull=True)),
                name="csat_answered_has_rating",
            ),
            models.CheckConstraint(
                condition=models.Q(state__in=["scheduled", "sent", "answered", "cancelled", "unsendable"]),
                name="csat_state_valid",
            ),
            # One survey on its way per ticket (a ticket closed again after a reopen gets a new one).
            models.UniqueConstraint(
                fields=["ticket"],
                condition=models.Q(state__in=["scheduled", "sent"]),
                name="csat_one_pending_per_ticket",
            ),
        ]
        indexes = [
            models.Index(fields=["answered_at"], name="csat_answered_at"),
            models.Index(fields=["ticket", "created_at"], name="csat_ticket_time"),
            # The sweep for surveys whose task was lost.
            models.Index(
                fields=["scheduled_for"], condition=models.Q(state="scheduled"), name="csat_scheduled"
            ),
        ]

    def __str__(self):
        return f"CSAT survey {self.pk} for ticket {self.ticket_id}"

    @property
    def is_negative(self) -> bool:
        return self.rating in NEGATIVE_RATINGS


class CsatFollowUp(models.Model):
    """A negative rating's follow-up: a task for a senior agent of the ticket's team (not a new ticket, so
    ticket volume, first-contact resolution and reopen rates stay about the customers' issues)."""

    class State(models.TextChoices):
        OPEN = "open", "Open"
        DONE = "done", "Done"

    survey = models.OneToOneField(CsatSurvey, on_delete=models.CASCADE, related_name="follow_up")
    ticket = models.ForeignKey("tickets.Ticket", on_delete=models.CASCADE, related_name="csat_follow_ups")
    team = models.ForeignKey("tickets.Team", on_delete=models.PROTECT, related_name="+")
    # The senior agent it was routed to; empty when the team has no senior agent (the supervisors see it).
    assignee = models.ForeignKey(
        "tickets.Agent", null=True, blank=True, on_delete=models.SET_NULL, related_name="csat_follow_ups"
    )
    routing_reason = models.CharField(max_length=300, blank=True)
    state = models.CharField(max_length=8, choices=State.choices, default=State.OPEN)
    created_at = models.DateTimeField()
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(
        "tickets.Agent", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    outcome = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "CSAT follow-up"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(state__in=["open", "done"]), name="csat_followup_state"
            ),
        ]
        indexes = [
            models.Index(
                fields=["assignee", "created_at"],
                condition=models.Q(state="open"),
                name="csat_followup_open",
            ),
        ]

    def __str__(self):
        return f"Follow-up of CSAT survey {self.survey_id}"


class Verification(models.Model):
    """Resolving asks the customer "fixed or not fixed?" on the channel they last used; this is that question
    and its answer (a reply keyword on messaging channels, a signed link on e-mail and web)."""

    class State(models.TextChoices):
        ASKED = "asked", "Asked"
        FIXED = "fixed", "Fixed"
        NOT_FIXED = "not_fixed", "Not fixed"
        # The ticket left ``resolved`` another way (reopened, closed by an agent or auto-closed).
        SUPERSEDED = "superseded", "Superseded"

    class Via(models.TextChoices):
        KEYWORD = "keyword", "Reply keyword"
        LINK = "link", "Signed link"

    ticket = models.ForeignKey("tickets.Ticket", on_delete=models.CASCADE, related_name="verifications")
    channel = models.CharField(max_length=16, choices=Channel.choices, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.ASKED)
    message = models.ForeignKey(
        "tickets.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    asked_at = models.DateTimeField()
    answered_at = models.DateTimeField(null=True, blank=True)
    answered_via = models.CharField(max_length=8, choices=Via.choices, blank=True)
    # The customer's words (a "not fixed" reopens the ticket with them).
    answer_text = models.TextField(blank=True)

    class Meta:
        ordering = ["-asked_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["ticket"], condition=models.Q(state="asked"), name="verification_one_asked_per_ticket"
            ),
        ]

    def __str__(self):
        return f"Verification {self.pk} of ticket {self.ticket_id}"


class VerificationKeyword(models.Model):
    """A word a customer may reply with on a messaging channel to answer the verification question. When
    there are no active rows the settings' defaults apply (``HELPDESK["VERIFICATION_KEYWORDS"]``)."""

    class Answer(models.TextChoices):
        FIXED = "fixed", "Fixed"
        NOT_FIXED = "not_fixed", "Not fixed"

    word = models.CharField(max_length=40, unique=True, help_text="Matched as the whole reply, any case.")
    answer = models.CharField(max_length=10, choices=Answer.choices)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["answer", "word"]

    def __str__(self):
        return f"{self.word} → {self.get_answer_display()}"

    def save(self, *args, **kwargs):
        self.word = " ".join(self.word.split()).lower()
        super().save(*args, **kwargs)

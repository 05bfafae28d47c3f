from django.db import models

from tickets.channels import Channel


class Interaction(models.Model):
    """One instance of a customer reaching out on one channel (DOMAIN.md)."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    customer = models.ForeignKey("tickets.Customer", on_delete=models.CASCADE, related_name="interactions")
    identity = models.ForeignKey(
        "tickets.CustomerIdentity", on_delete=models.CASCADE, related_name="interactions"
    )
    channel = models.CharField(max_length=16, choices=Channel.choices)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    started_at = models.DateTimeField()
    last_message_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["started_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["open", "closed"]), name="interaction_status_valid"
            ),
        ]
        indexes = [
            # Intake: "the open interaction of this identity on this channel".
            models.Index(
                fields=["identity", "channel"],
                condition=models.Q(status="open"),
                name="interaction_open_by_identity",
            ),
            # Per-unique-ID report and customer history: a customer's interactions in order of contact.
            models.Index(fields=["customer", "started_at"], name="interaction_customer_time"),
        ]

    def __str__(self):
        return f"{self.get_channel_display()} interaction {self.pk}"


class Case(models.Model):
    """The agent-side record of one interaction; linked to the ticket of its issue."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    class LinkRule(models.TextChoices):
        # DOMAIN.md "How an interaction finds its ticket", in order.
        TICKET_NUMBER = "ticket_number", "Ticket number in the message"
        REFERENCE = "reference", "Reference of an open ticket"
        RECENT_TICKET = "recent_ticket", "Customer's only recently updated open ticket"
        NEW_TICKET = "new_ticket", "New issue: new ticket"
        REOPENED = "reopened", "Follow-up within the reopen window"
        MANUAL = "manual", "Linked by an agent"

    # One case per interaction, enforced by the database.
    interaction = models.OneToOneField(Interaction, on_delete=models.CASCADE, related_name="case")
    ticket = models.ForeignKey("tickets.Ticket", on_delete=models.CASCADE, related_name="cases")
    # The first case of the ticket is the parent; later cases about the same issue are its children.
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children"
    )
    link_rule = models.CharField(max_length=16, choices=LinkRule.choices)
    link_detail = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["open", "closed"]), name="case_status_valid"
            ),
        ]
        indexes = [models.Index(fields=["ticket", "created_at"], name="case_ticket_time")]

    def __str__(self):
        return f"Case {self.pk}"

    @property
    def is_first(self) -> bool:
        return self.parent_id is None


class Message(models.Model):
    class Direction(models.TextChoices):
        INBOUND = "in", "Inbound"
        OUTBOUND = "out", "Outbound"

    class DeliveryStatus(models.TextChoices):
        RECEIVED = "received", "Received"
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        DELIVERED = "delivered", "Delivered"
        READ = "read", "Read"
        FAILED = "failed", "Failed"

    interaction = models.ForeignKey(Interaction, on_delete=models.CASCADE, related_name="messages")
    # Denormalised from the interaction so the database can enforce provider-ID uniqueness per channel.
    channel = models.CharField(max_length=16, choices=Channel.choices)
    direction = models.CharField(max_length=3, choices=Direction.choices)
    sender = models.CharField(max_length=320, blank=True)
    subject = models.CharField(max_length=300, blank=True)
    body = models.TextField(blank=True)
    # The provider's own ID (wamid, MessageSid, Message-ID, CallSid): a redelivery is a no-op.
    provider_message_id = models.CharField(max_length=255, blank=True)
    delivery_status = models.CharField(max_length=10, choices=DeliveryStatus.choices)
    # When the provider says it happened (ordering out-of-order deliveries), and when we stored it.
    sent_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    author = models.ForeignKey("tickets.Agent", null=True, blank=True, on_delete=models.SET_NULL)
    # Thread hints and provider extras (In-Reply-To, References, call duration…).
    meta = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["sent_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "provider_message_id"],
                condition=~models.Q(provider_message_id=""),
                name="message_provider_id_unique_per_channel",
            ),
            models.CheckConstraint(
                condition=models.Q(direction__in=["in", "out"]), name="message_direction_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(
                    delivery_status__in=[
                        "received",
                        "queued",
                        "sending",
                        "sent",
                        "delivered",
                        "read",
                        "failed",
                    ]
                ),
                name="message_delivery_status_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["interaction", "sent_at"], name="message_interaction_time"),
            # The outbox: queued outbound messages, oldest first.
            models.Index(
                fields=["created_at"], condition=models.Q(delivery_status="queued"), name="message_outbox"
            ),
        ]

    def __str__(self):
        return f"{self.get_direction_display()} {self.get_channel_display()} message {self.pk}"


def attachment_path(instance, filename):
    # Never the customer's file name on disk: it may carry paths or scripts.
    return f"attachments/{instance.message_id}/{instance.sha256[:16]}"


class Attachment(models.Model):
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to=attachment_path, max_length=300)
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=120, default="application/octet-stream")
    size = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(max_length=64)

    def __str__(self):
        return self.filename

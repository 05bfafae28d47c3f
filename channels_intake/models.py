from django.db import models

from tickets.channels import Channel


class InboundEvent(models.Model):
    """A provider's request exactly as it arrived, stored before anything is done with it.

    The inbound log is what makes intake lossless: a payload that fails to process stays here, marked
    failed with the reason, and ``manage.py replay_inbound`` runs it through the pipeline again.
    """

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        PROCESSED = "processed", "Processed"
        DUPLICATE = "duplicate", "Duplicate"
        FAILED = "failed", "Failed"

    # Which adapter reads it ("cli", "email_raw", "whatsapp", "twilio_sms"…).
    source = models.CharField(max_length=32)
    channel = models.CharField(max_length=16, choices=Channel.choices)
    # The bytes exactly as received (a raw e-mail need not be valid UTF-8).
    payload = models.BinaryField()
    content_type = models.CharField(max_length=100, blank=True)
    headers = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RECEIVED)
    error = models.TextField(blank=True)
    result = models.JSONField(default=dict, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["received", "processed", "duplicate", "failed"]),
                name="inbound_event_status_valid",
            ),
        ]
        indexes = [
            # The backlog: what still needs (re)processing.
            models.Index(
                fields=["received_at"],
                condition=models.Q(status__in=["received", "failed"]),
                name="inbound_event_backlog",
            ),
        ]

    def __str__(self):
        return f"{self.source} event {self.pk} ({self.status})"

    @property
    def payload_bytes(self) -> bytes:
        return bytes(self.payload)

    @property
    def payload_text(self) -> str:
        return self.payload_bytes.decode("utf-8", errors="replace")

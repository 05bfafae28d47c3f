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


class Mailbox(models.Model):
    """A support mailbox polled over IMAP (``channels_intake.imap``): every unseen message is stored in the
    inbound event log, run through the e-mail adapter, and only then marked seen, moved or deleted."""

    class Security(models.TextChoices):
        SSL = "ssl", "SSL/TLS (IMAPS, usually port 993)"
        STARTTLS = "starttls", "STARTTLS (usually port 143)"
        NONE = "none", "None: plain text (only for a server on this machine)"

    class AfterProcessing(models.TextChoices):
        MOVE = "move", "Mark seen and move to the processed folder (only mark seen if it does not exist)"
        SEEN = "seen", "Mark seen and leave it in the folder"
        DELETE = "delete", "Delete it from the server"

    name = models.CharField(max_length=100, unique=True)
    host = models.CharField(max_length=255)
    port = models.PositiveIntegerField(default=993)
    security = models.CharField(max_length=10, choices=Security.choices, default=Security.SSL)
    username = models.CharField(max_length=255)
    # IMAP needs the password itself to log in, so it cannot be hashed; the admin never shows it back.
    password = models.CharField(max_length=255)
    folder = models.CharField(max_length=255, default="INBOX", help_text="The folder polled for unseen mail.")
    after_processing = models.CharField(
        "processed mail", max_length=10, choices=AfterProcessing.choices, default=AfterProcessing.MOVE
    )
    processed_folder = models.CharField(max_length=255, default="Processed", blank=True)
    active = models.BooleanField(default=True, help_text="Polled every minute when set.")
    last_polled_at = models.DateTimeField(null=True, blank=True)
    last_fetched = models.PositiveIntegerField(default=0, help_text="Messages taken in by the last poll.")
    last_error = models.TextField(blank=True)
    # A poll's lease: a second poll of the same mailbox (an overlapping schedule, "poll now") skips it.
    polling_until = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "mailboxes"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(security__in=["ssl", "starttls", "none"]), name="mailbox_security_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(after_processing__in=["move", "seen", "delete"]),
                name="mailbox_after_processing_valid",
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.username}@{self.host})"

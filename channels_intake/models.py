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
        # Over the per-sender intake limit (``channels_intake.sender_limits``): kept, not processed until
        # the sender's window has passed (the backlog releases it) or an operator releases it.
        HELD = "held", "Held (sender over the limit)"

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
    # A held event: the throttled sender ("<channel>:<normalised address>") and when its window ends.
    sender = models.CharField(max_length=300, blank=True)
    held_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["received", "processed", "duplicate", "failed", "held"]),
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
            # Held events, per sender, in arrival order (a sender's later messages wait behind its held ones).
            models.Index(
                fields=["sender", "received_at", "id"],
                condition=models.Q(status="held"),
                name="inbound_event_held",
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


class ChannelAccount(models.Model):
    """A provider account's credentials, entered in the admin instead of (or beside) the settings.

    The webhooks accept a request signed with the secret of any active account of their kind, or with the
    setting; the account the payload names (WhatsApp ``phone_number_id``, the Page or Instagram ID, Twilio's
    ``AccountSid`` or ``To`` number) is tried first. A reply goes out with the account the customer wrote to
    (``channels_intake.accounts``). Secrets are kept as entered (the providers need them to sign and to call
    their APIs, so they cannot be hashed); the admin never shows them back.
    """

    class Kind(models.TextChoices):
        WHATSAPP = "whatsapp", "WhatsApp Cloud API"
        META = "meta", "Messenger / Instagram (Meta)"
        TWILIO = "twilio", "Twilio (SMS and voice)"
        EMAIL_PIPE = "email_pipe", "Raw e-mail pipe (MTA)"
        CTI = "cti", "CTI / PBX call events"

    # What each kind needs filled in (checked by clean(); the admin shows the rest as optional).
    REQUIRED = {
        Kind.WHATSAPP: ("account_id", "secret"),
        Kind.META: ("account_id", "secret"),
        Kind.TWILIO: ("account_id", "secret"),
        Kind.EMAIL_PIPE: ("secret",),
        Kind.CTI: ("secret",),
    }

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    active = models.BooleanField(default=True, help_text="Only active accounts are used, in and out.")
    account_id = models.CharField(
        "account ID",
        max_length=100,
        blank=True,
        help_text="WhatsApp: the phone number ID. Messenger/Instagram: the Page ID (or the Instagram account "
        "ID). Twilio: the Account SID (AC…). Not used by the e-mail pipe and CTI.",
    )
    phone_number = models.CharField(
        max_length=32,
        blank=True,
        help_text="Twilio: our number in E.164 (+44…): replies are sent from it, and inbound requests to it "
        "select this account.",
    )
    verify_token = models.CharField(
        max_length=255, blank=True, help_text="WhatsApp, Messenger/Instagram: the verify token typed at Meta."
    )
    secret = models.CharField(
        max_length=255,
        blank=True,
        help_text="WhatsApp, Messenger/Instagram: the app secret. Twilio: the auth token. E-mail pipe and "
        "CTI: the bearer token the sender puts in Authorization.",
    )
    access_token = models.CharField(
        max_length=1000,
        blank=True,
        help_text="WhatsApp: the system-user access token. Messenger/Instagram: the Page access token.",
    )
    api_base = models.URLField(
        "API base URL",
        blank=True,
        help_text="Blank: the provider's (or the setting's). WhatsApp/Meta e.g. https://graph.facebook.com/v21.0, "
        "Twilio https://api.twilio.com.",
    )

    class Meta:
        ordering = ["kind", "name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=["whatsapp", "meta", "twilio", "email_pipe", "cti"]),
                name="channel_account_kind_valid",
            ),
            models.UniqueConstraint(
                fields=["kind", "account_id"],
                condition=~models.Q(account_id=""),
                name="channel_account_id_unique_per_kind",
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.get_kind_display()})"

    def clean(self):
        from django.core.exceptions import ValidationError

        missing = {
            name: f"Required for {self.get_kind_display()}."
            for name in self.REQUIRED.get(self.kind, ())
            if not getattr(self, name)
        }
        if missing:
            raise ValidationError(missing)

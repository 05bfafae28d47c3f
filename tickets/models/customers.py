import re

from django.core.exceptions import ValidationError
from django.db import models

from tickets.channels import AddressKind


class Customer(models.Model):
    class Tier(models.TextChoices):
        STANDARD = "standard", "Standard"
        PREMIUM = "premium", "Premium"
        VIP = "vip", "VIP"

    # The customer's unique ID (the CRM's account ID, e.g. "ABC"); generated for unknown senders.
    unique_id = models.CharField("unique ID", max_length=64, unique=True)
    name = models.CharField(max_length=200, blank=True)
    tier = models.CharField(max_length=16, choices=Tier.choices, default=Tier.STANDARD)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["unique_id"]

    def __str__(self):
        return f"{self.unique_id} {self.name}".strip()


class CustomerIdentity(models.Model):
    """One address of a customer on one kind of channel, normalised (E.164, lower-cased e-mail)."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="identities")
    channel = models.CharField(max_length=16, choices=AddressKind.choices)
    address = models.CharField(max_length=320)
    display_name = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "customer identities"
        constraints = [
            models.UniqueConstraint(fields=["channel", "address"], name="identity_unique_per_channel"),
        ]

    def __str__(self):
        return f"{self.get_channel_display()}: {self.address}"


class ReferenceKind(models.Model):
    """A kind of reference (order ID, account ID) and the pattern that recognises it in free text."""

    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=100)
    pattern = models.CharField(
        max_length=200,
        help_text="A regular expression matching the whole ID, e.g. ORD-\\d{3,}. Matched case-insensitively "
        "on word boundaries in message text.",
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]

    def __str__(self):
        return self.name

    def clean(self):
        try:
            re.compile(self.pattern)
        except re.error as exc:
            raise ValidationError({"pattern": f"Not a valid regular expression: {exc}"}) from exc


class Reference(models.Model):
    """An identifier naming what a contact is about; a known one names its customer."""

    kind = models.ForeignKey(ReferenceKind, on_delete=models.PROTECT, related_name="references")
    value = models.CharField(max_length=100)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="references")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "value"], name="reference_unique_per_kind")]
        indexes = [models.Index(fields=["value"], name="reference_value_idx")]

    def __str__(self):
        return self.value


class CustomerConflict(models.Model):
    """A message whose sender and whose reference point at different customers.

    Flagged for a person to decide, never merged silently: the message stays with the sender's customer.
    """

    identity = models.ForeignKey(CustomerIdentity, on_delete=models.CASCADE, related_name="conflicts")
    claimed_customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="claimed_conflicts")
    reference = models.ForeignKey(Reference, null=True, blank=True, on_delete=models.SET_NULL)
    message = models.ForeignKey("tickets.Message", null=True, blank=True, on_delete=models.SET_NULL)
    detail = models.TextField()
    resolved = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.identity} claims {self.claimed_customer.unique_id}"

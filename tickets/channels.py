"""The channels a customer reaches us on, and the kind of address each one carries.

Pure data: used by models (choices), the intake pipeline and the adapters alike.
"""

from django.db import models


class Channel(models.TextChoices):
    VOICE = "voice", "Phone call"
    EMAIL = "email", "E-mail"
    WHATSAPP = "whatsapp", "WhatsApp"
    SMS = "sms", "SMS"
    SOCIAL = "social", "Social"
    CHAT = "chat", "Web chat"
    WEB = "web", "Web form"


class AddressKind(models.TextChoices):
    """What a customer identity is: voice and SMS share one phone number, so one identity."""

    PHONE = "phone", "Phone number"
    EMAIL = "email", "E-mail address"
    WHATSAPP = "whatsapp", "WhatsApp ID"
    SOCIAL = "social", "Social handle"
    CHAT = "chat", "Chat session"


ADDRESS_KIND = {
    Channel.VOICE: AddressKind.PHONE,
    Channel.SMS: AddressKind.PHONE,
    Channel.EMAIL: AddressKind.EMAIL,
    Channel.WEB: AddressKind.EMAIL,
    Channel.WHATSAPP: AddressKind.WHATSAPP,
    Channel.SOCIAL: AddressKind.SOCIAL,
    Channel.CHAT: AddressKind.CHAT,
}

# DOMAIN.md: every call is its own interaction; digital messages join the open interaction.
SESSIONLESS_CHANNELS = frozenset({Channel.VOICE, Channel.WEB})

# A call record's ``meta["call"]["direction"]`` when an agent placed the call: recorded as the ticket's call,
# never counted as the customer coming back (tickets.intake, the escalation rules' follow-up count).
OUTBOUND_CALL = "outbound"

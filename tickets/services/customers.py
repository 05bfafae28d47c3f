"""Who sent this? Addresses, references, and the customer they name (DOMAIN.md, "Words")."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from email.utils import parseaddr

import phonenumbers
from django.conf import settings

from tickets.channels import ADDRESS_KIND, AddressKind, Channel
from tickets.errors import IntakeError
from tickets.models import Customer, CustomerIdentity, Reference, ReferenceKind

OTHER_REFERENCE_KIND = "other"
PHONE_LIKE = (AddressKind.PHONE, AddressKind.WHATSAPP)


def normalise_address(channel: str, raw: str) -> tuple[str, str]:
    """(identity kind, normalised address) for a sender on a channel, or ``IntakeError`` saying why not."""
    try:
        kind = ADDRESS_KIND[Channel(channel)]
    except ValueError:
        raise IntakeError(
            f"unknown channel {channel!r}; expected one of {', '.join(Channel.values)}"
        ) from None
    raw = (raw or "").strip()
    if not raw:
        raise IntakeError("the message has no sender")
    if kind == AddressKind.EMAIL:
        address = parseaddr(raw)[1].strip().lower()
        if "@" not in address or address.startswith("@") or address.endswith("@") or " " in address:
            raise IntakeError(f"{raw!r} is not an e-mail address")
        return kind, address
    if kind in (AddressKind.PHONE, AddressKind.WHATSAPP):
        return kind, normalise_phone(raw)
    return kind, raw[:320]


def normalise_phone(raw: str) -> str:
    """E.164. WhatsApp IDs come as bare digits with the country code; Twilio prefixes ``whatsapp:``."""
    text = raw.strip()
    for prefix in ("whatsapp:", "tel:", "sip:"):
        if text.lower().startswith(prefix):
            text = text[len(prefix) :]
    # More than ten bare digits is an international number without its "+" (WhatsApp IDs come that way) —
    # unless it starts with the trunk prefix 0, which makes it national (07700900123), read in the region.
    if text.isdigit() and len(text) > 10 and not text.startswith("0"):
        text = "+" + text
    try:
        number = phonenumbers.parse(text, settings.HELPDESK["DEFAULT_PHONE_REGION"])
    except phonenumbers.NumberParseException as exc:
        raise IntakeError(f"{raw!r} is not a phone number ({exc})") from None
    if not phonenumbers.is_possible_number(number):
        raise IntakeError(f"{raw!r} is not a possible phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _kinds() -> list[ReferenceKind]:
    return list(ReferenceKind.objects.filter(active=True).order_by("code"))


def find_references(text: str, kinds: list[ReferenceKind] | None = None) -> list[tuple[ReferenceKind, str]]:
    """References named in free text, in the order they appear, each once."""
    found: list[tuple[int, ReferenceKind, str]] = []
    for kind in kinds if kinds is not None else _kinds():
        pattern = re.compile(rf"(?<![\w-])(?:{kind.pattern})(?![\w-])", re.IGNORECASE)
        found += [(m.start(), kind, m.group(0).upper()) for m in pattern.finditer(text or "")]
    seen, result = set(), []
    for _, kind, value in sorted(found, key=lambda f: f[0]):
        if (kind.pk, value) not in seen:
            seen.add((kind.pk, value))
            result.append((kind, value))
    return result


def classify_reference(value: str, kinds: list[ReferenceKind] | None = None) -> tuple[ReferenceKind, str]:
    """The kind of an explicitly given reference: the first pattern that matches it whole, else "other"."""
    value = value.strip().upper()
    if not value:
        raise IntakeError("the reference is empty")
    for kind in kinds if kinds is not None else _kinds():
        if re.fullmatch(kind.pattern, value, re.IGNORECASE):
            return kind, value
    other, _ = ReferenceKind.objects.get_or_create(
        code=OTHER_REFERENCE_KIND, defaults={"name": "Other reference", "pattern": r"(?!)", "active": False}
    )
    return other, value


def new_unique_id() -> str:
    return f"C-{uuid.uuid4().hex[:10].upper()}"


@dataclass
class Sender:
    customer: Customer
    identity: CustomerIdentity
    reference: Reference | None
    new_customer: bool = False
    new_identity: bool = False
    # (claimed customer, reference, detail) for each reference that names somebody else.
    conflicts: list[tuple[Customer, Reference | None, str]] = field(default_factory=list)


def _record_email(
    customer: Customer, email: str, *, name: str, sender: str
) -> list[tuple[Customer, Reference | None, str]]:
    """Give the customer the e-mail identity they typed, unless it is somebody else's (then: the conflict)."""
    try:
        _, address = normalise_address(Channel.EMAIL, email)
    except IntakeError:
        return []  # unreadable (the form checks it; an old payload may not): the message is taken in anyway
    known = (
        CustomerIdentity.objects.select_related("customer")
        .filter(channel=AddressKind.EMAIL, address=address)
        .first()
    )
    if known is None:
        CustomerIdentity.objects.create(
            customer=customer, channel=AddressKind.EMAIL, address=address, display_name=name.strip()[:200]
        )
        return []
    if known.customer_id == customer.pk:
        return []
    return [
        (
            known.customer,
            None,
            f"{sender} ({customer.unique_id}) gave the e-mail address {address}, which belongs to "
            f"{known.customer.unique_id}",
        )
    ]


def resolve_sender(
    *,
    channel: str,
    address: str,
    name: str = "",
    customer_unique_id: str = "",
    reference: str = "",
    text: str = "",
    email: str = "",
) -> Sender:
    """Find or create the customer behind a message, and the reference it is about.

    The sender's known identity wins; else the customer the payload names; else the customer of a known
    reference the message quotes (the new address is recorded for them); else a new customer. A reference
    that belongs to a different customer than the sender's is flagged as a conflict, never merged.

    ``email``: an address the sender typed beside their own (the chat's start form): recorded as the
    customer's e-mail identity, so a later e-mail from it is the same customer; one that is already another
    customer's stays theirs and is flagged as a conflict.
    """
    kind, normalised = normalise_address(channel, address)
    kinds = _kinds()
    identity = (
        CustomerIdentity.objects.select_related("customer").filter(channel=kind, address=normalised).first()
    )

    named = None
    if customer_unique_id.strip():
        named, _ = Customer.objects.get_or_create(
            unique_id=customer_unique_id.strip(), defaults={"name": name.strip()[:200]}
        )

    candidates: list[tuple[ReferenceKind, str]] = []
    if reference.strip():
        candidates.append(classify_reference(reference, kinds))
    candidates += [c for c in find_references(text, kinds) if c not in candidates]
    known = {
        (r.kind_id, r.value): r
        for r in Reference.objects.select_related("customer").filter(
            value__in=[v for _, v in candidates], kind__in=[k for k, _ in candidates]
        )
    }

    conflicts: list[tuple[Customer, Reference | None, str]] = []
    customer = identity.customer if identity else named
    if identity and named and named.pk != identity.customer_id:
        conflicts.append(
            (
                named,
                None,
                f"{normalised} belongs to {identity.customer.unique_id} but the message names {named.unique_id}",
            )
        )
    if customer is None and kind in PHONE_LIKE:
        # A WhatsApp ID is a phone number: the same number on WhatsApp and by phone is one customer.
        twin = CustomerIdentity.objects.select_related("customer").filter(
            channel__in=PHONE_LIKE, address=normalised
        )
        customer = next((i.customer for i in twin), None)
    if customer is None:
        # A message from a new address that quotes a customer's reference joins that customer.
        for k, v in candidates:
            if (k.pk, v) in known:
                customer = known[(k.pk, v)].customer
                break
    new_customer = customer is None
    if customer is None:
        customer = Customer.objects.create(unique_id=new_unique_id(), name=name.strip()[:200])

    new_identity = identity is None
    if identity is None:
        identity = CustomerIdentity.objects.create(
            customer=customer, channel=kind, address=normalised, display_name=name.strip()[:200]
        )

    if email.strip():
        conflicts += _record_email(customer, email, name=name, sender=normalised)

    chosen = None
    for k, v in candidates:
        ref = known.get((k.pk, v))
        if ref is not None and ref.customer_id != customer.pk:
            conflicts.append(
                (
                    ref.customer,
                    ref,
                    f"{normalised} ({customer.unique_id}) quoted {v}, which belongs to "
                    f"{ref.customer.unique_id}",
                )
            )
            continue
        if ref is None:
            ref = Reference.objects.create(kind=k, value=v, customer=customer)
        chosen = chosen or ref
    return Sender(customer, identity, chosen, new_customer, new_identity, conflicts)

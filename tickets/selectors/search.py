"""Global search: ticket number, customer (unique ID, name), identity (e-mail, phone), reference, and message
text — over what the user may see only, every list bounded.

Text matching is ``icontains`` on both databases, with a bounded result count. A trigram (``pg_trgm``) or
full-text index would make message search scale on PostgreSQL, but both need a migration (the extension and
a GIN index); without an index they scan as much as ``icontains`` does. Queries shorter than
``MIN_TEXT_CHARS`` match exactly only (number, unique ID, address, reference), never message text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.db.models import Q

from tickets.channels import AddressKind
from tickets.errors import IntakeError
from tickets.models import Customer, Message, Ticket
from tickets.models.tickets import parse_number
from tickets.permissions import visible_tickets
from tickets.selectors.customers import normalise_typed_phone, visible_customers

MIN_TEXT_CHARS = 3
TICKET_LIMIT = 50
CUSTOMER_LIMIT = 20
# Messages matched by text are read up to this many before their tickets are looked up.
MESSAGE_SCAN_LIMIT = 500
MAX_QUERY_CHARS = 200

PHONE_LIKE_RE = re.compile(r"^\+?[\d\s().\-/]{6,}$")
PHONE_KINDS = (AddressKind.PHONE, AddressKind.WHATSAPP)


@dataclass
class SearchResults:
    query: str
    jump_to: int | None = None  # an exact, visible ticket number: go straight to it
    tickets: list[Ticket] = field(default_factory=list)
    customers: list[Customer] = field(default_factory=list)
    more_tickets: bool = False
    more_customers: bool = False
    text_searched: bool = False  # False: the query was too short for a text match

    @property
    def empty(self) -> bool:
        return not (self.tickets or self.customers)


def ticket_number(query: str) -> int | None:
    """``T-000123``, ``t-123`` or ``123`` → 123."""
    text = query.strip()
    if text.isdigit():
        return int(text) if 0 < int(text) < 2**31 else None
    pk = parse_number(text)
    return pk if pk is not None and pk < 2**31 else None


def phone_number(query: str) -> str | None:
    """The query as an E.164 number, normalised as intake normalises a caller's number; else None."""
    if not PHONE_LIKE_RE.match(query.strip()):
        return None
    try:
        return normalise_typed_phone(query)
    except IntakeError:
        return None


def _customer_filter(query: str, phone: str | None, text: bool) -> Q:
    q = Q(unique_id__iexact=query) | Q(identities__address__iexact=query) | Q(references__value__iexact=query)
    if phone:
        q |= Q(identities__channel__in=PHONE_KINDS, identities__address=phone)
    if text:
        q |= (
            Q(name__icontains=query)
            | Q(unique_id__istartswith=query)
            | Q(identities__address__icontains=query)
        )
        digits = re.sub(r"\D", "", query)
        if len(digits) >= 6 and PHONE_LIKE_RE.match(query.strip()):
            q |= Q(identities__channel__in=PHONE_KINDS, identities__address__contains=digits)
    return q


def search(user, query: str) -> SearchResults:
    query = " ".join((query or "").split())[:MAX_QUERY_CHARS]
    results = SearchResults(query=query)
    if not query:
        return results
    visible = visible_tickets(user)
    number = ticket_number(query)
    if number is not None and visible.filter(pk=number).exists():
        results.jump_to = number

    text = len(query) >= MIN_TEXT_CHARS
    results.text_searched = text
    phone = phone_number(query)

    customers = list(
        visible_customers(user)
        .filter(_customer_filter(query, phone, text))
        .distinct()
        .order_by("unique_id")[: CUSTOMER_LIMIT + 1]
    )
    results.more_customers = len(customers) > CUSTOMER_LIMIT
    results.customers = customers[:CUSTOMER_LIMIT]

    ticket_q = Q(reference__value__iexact=query)
    if number is not None:
        ticket_q |= Q(pk=number)
    if results.customers:
        ticket_q |= Q(customer__in=[c.pk for c in results.customers])
    if text:
        ticket_q |= Q(subject__icontains=query)
        message_tickets = {
            pk
            for pk in Message.objects.filter(Q(subject__icontains=query) | Q(body__icontains=query))
            .filter(interaction__case__ticket__in=visible)
            .order_by()
            .values_list("interaction__case__ticket_id", flat=True)[:MESSAGE_SCAN_LIMIT]
            if pk is not None
        }
        if message_tickets:
            ticket_q |= Q(pk__in=message_tickets)
    tickets = list(
        visible.filter(ticket_q)
        .select_related("customer", "team", "assignee__user")
        .order_by("-updated_at", "-id")[: TICKET_LIMIT + 1]
    )
    results.more_tickets = len(tickets) > TICKET_LIMIT
    results.tickets = tickets[:TICKET_LIMIT]
    return results

"""How an interaction finds its ticket (DOMAIN.md), the first rule that applies winning:

1. a ticket number in the message — honoured only when the ticket is the sender's customer's;
2. a reference that an open ticket of this customer carries;
3. naming neither: the customer's only open ticket, if it was updated within the window;
4. otherwise a new ticket.

A closed ticket found by rule 1 or 2 is reopened as its team's reopen policy says (freely, never, within N
days of closure, or by default within ``HELPDESK_REOPEN_WINDOW_HOURS``); otherwise a new ticket is opened and
linked to the old one (``Ticket.follows``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings

from tickets.lifecycle import Status
from tickets.models import Case, Customer, Message, Reference, Team, Ticket
from tickets.models.tickets import NUMBER_PREFIX, format_number

TICKET_NUMBER_RE = re.compile(rf"(?<![\w-]){re.escape(NUMBER_PREFIX)}(\d{{1,12}})(?![\w-])", re.IGNORECASE)
Rule = Case.LinkRule


@dataclass
class LinkDecision:
    rule: str
    ticket: Ticket | None = None  # None: open a new ticket
    reopen: bool = False  # the ticket is closed and within the window: reopen it
    follows: Ticket | None = None  # a new ticket continues this closed one
    detail: str = ""


def ticket_numbers_in(*texts: str) -> list[int]:
    found: list[int] = []
    for text in texts:
        for m in TICKET_NUMBER_RE.finditer(text or ""):
            pk = int(m.group(1))
            if pk and pk not in found:
                found.append(pk)
    return found


def tickets_of_thread(channel: str, thread_ids: list[str]) -> list[int]:
    """Tickets of earlier messages a reply points at (e-mail ``In-Reply-To``/``References``)."""
    if not thread_ids:
        return []
    # Answers to web-form tickets go out by e-mail but live on the "web" channel: an e-mailed reply threads to them.
    channels = [channel, "web"] if channel == "email" else [channel]
    return list(
        Message.objects.filter(channel__in=channels, provider_message_id__in=thread_ids)
        .exclude(interaction__case__isnull=True)
        .values_list("interaction__case__ticket_id", flat=True)
        .distinct()
    )


def _window(name: str) -> timedelta:
    return timedelta(hours=settings.HELPDESK[name])


def _followed(ticket: Ticket) -> Ticket:
    """A merged duplicate stands for the ticket it was merged into."""
    seen = set()
    while ticket.merged_into_id and ticket.pk not in seen:
        seen.add(ticket.pk)
        ticket = ticket.merged_into
    return ticket


def reopens(team: Team, closed_at: datetime | None, now: datetime) -> bool:
    """Does a follow-up at ``now`` reopen a ticket of ``team`` closed at ``closed_at``? The team's reopen
    policy: freely (always), never, within N days of closure, or by default within
    ``HELPDESK["REOPEN_WINDOW_HOURS"]``. The window's last moment still reopens."""
    policy = team.reopen_policy
    if policy == Team.ReopenPolicy.FREELY:
        return True
    if policy == Team.ReopenPolicy.NEVER or closed_at is None:
        return False
    if policy == Team.ReopenPolicy.AFTER_DAYS and team.reopen_after_days is not None:
        return now - closed_at <= timedelta(days=team.reopen_after_days)
    return now - closed_at <= _window("REOPEN_WINDOW_HOURS")


def _closed_or_open(ticket: Ticket, rule: str, now: datetime, detail: str) -> LinkDecision:
    if ticket.status != Status.CLOSED:
        return LinkDecision(rule, ticket, detail=detail)
    if reopens(ticket.team, ticket.closed_at, now):
        closed = f"; closed {ticket.closed_at:%Y-%m-%d %H:%M}" if ticket.closed_at else ""
        return LinkDecision(Rule.REOPENED, ticket, reopen=True, detail=f"{detail}{closed}")
    if ticket.team.reopen_policy == Team.ReopenPolicy.NEVER:
        why = f"closed, and {ticket.team} never reopens a closed ticket"
    else:
        why = "closed beyond the reopen window"
    return LinkDecision(Rule.NEW_TICKET, None, follows=ticket, detail=f"{detail}; {why}")


def find_ticket(
    *, customer: Customer, reference: Reference | None, ticket_ids: list[int], now: datetime
) -> LinkDecision:
    ignored = []
    # Rule 1: a ticket number, honoured only for the customer's own tickets.
    for pk in ticket_ids:
        ticket = Ticket.objects.filter(pk=pk).select_related("merged_into").first()
        if ticket is None:
            continue
        if ticket.customer_id != customer.pk:
            ignored.append(format_number(pk))
            continue
        ticket = _followed(ticket)
        return _closed_or_open(ticket, Rule.TICKET_NUMBER, now, f"names {ticket.number}")
    note = f"ignored {', '.join(ignored)} (another customer's)" if ignored else ""

    # Rule 2: a reference an open ticket of this customer carries (or a recently closed one).
    if reference is not None:
        mine = Ticket.objects.filter(customer=customer, reference=reference)
        ticket = mine.exclude(status=Status.CLOSED).order_by("-updated_at").first()
        if ticket is None:
            ticket = mine.filter(status=Status.CLOSED).order_by("-closed_at").first()
        if ticket is not None:
            return _closed_or_open(ticket, Rule.REFERENCE, now, f"reference {reference.value}")
        return LinkDecision(Rule.NEW_TICKET, detail=f"new reference {reference.value}")

    # Rule 3: naming nothing, the customer's only open ticket if it moved recently.
    if not ticket_ids:
        open_tickets = list(
            Ticket.objects.filter(customer=customer).exclude(status=Status.CLOSED).order_by("-updated_at")[:2]
        )
        if len(open_tickets) == 1 and now - open_tickets[0].updated_at <= _window(
            "RECENT_TICKET_WINDOW_HOURS"
        ):
            return LinkDecision(Rule.RECENT_TICKET, open_tickets[0], detail="the customer's only open ticket")

    # Rule 4.
    return LinkDecision(Rule.NEW_TICKET, detail=note)

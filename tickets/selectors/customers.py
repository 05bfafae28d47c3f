"""One customer, everything about them: identities, references, tickets, and the per-unique-ID interaction
table of DOMAIN.md ("The worked example", step 6), which the reporting app reuses.

Who may look at a customer: admins and supervisors any; an agent a customer with at least one ticket the
agent may see (``tickets.permissions.visible_tickets``). The tickets listed are always the visible ones.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Exists, OuterRef, QuerySet

from tickets.channels import Channel
from tickets.models import Agent, Customer, Interaction, Ticket
from tickets.models.tickets import format_number
from tickets.permissions import agent_of, is_admin, visible_tickets
from tickets.services.customers import normalise_phone

# The customer page shows the newest rows of the interaction table and the newest tickets; counts stay exact.
TABLE_ROWS_SHOWN = 200
TICKETS_SHOWN = 50


def sees_every_customer(user) -> bool:
    agent = agent_of(user)
    return is_admin(user) or (agent is not None and agent.role == Agent.Role.SUPERVISOR)


def visible_customers(user) -> QuerySet[Customer]:
    """Customers ``user`` may look at: all for admins and supervisors; else those with a visible ticket."""
    if sees_every_customer(user):
        return Customer.objects.all()
    if agent_of(user) is None:
        return Customer.objects.none()
    return Customer.objects.filter(Exists(visible_tickets(user).filter(customer=OuterRef("pk"))))


def customer_for(user, unique_id: str) -> Customer | None:
    """The customer with this unique ID if ``user`` may look at them, else None (the view answers 404)."""
    return visible_customers(user).filter(unique_id=unique_id).first()


def normalise_typed_phone(raw: str) -> str:
    """A number an agent typed, normalised exactly as intake normalises a sender (E.164)."""
    return normalise_phone((raw or "").strip())


def issue_label(n: int) -> str:
    """1 → A, 2 → B, … 26 → Z, 27 → AA: the issue letters of DOMAIN.md's table."""
    label = ""
    while n > 0:
        n, rest = divmod(n - 1, 26)
        label = chr(ord("A") + rest) + label
    return label


@dataclass(frozen=True)
class InteractionRow:
    """One row of the per-unique-ID table: one interaction, in order of contact."""

    interaction_id: int
    channel: str
    started_at: datetime
    case_id: int | None
    ticket_id: int | None
    first: bool  # the first interaction of its ticket (else a follow-up)
    issue: str  # "A", "B"… in order of the customer's first contact about each issue
    interactions_in_ticket: int  # running count of this ticket's interactions, this one included
    contacts: int  # running count of the customer's interactions (contacts per unique ID)
    issues: int  # running count of distinct issues (tickets) so far

    @property
    def ticket_number(self) -> str:
        return format_number(self.ticket_id) if self.ticket_id else ""

    @property
    def channel_label(self) -> str:
        return Channel(self.channel).label if self.channel in Channel.values else self.channel

    @property
    def kind(self) -> str:
        """``first interaction (issue A)`` / ``follow-up (issue A)``, the words of DOMAIN.md's table."""
        if self.ticket_id is None:
            return "not linked"
        return f"{'first interaction' if self.first else 'follow-up'} (issue {self.issue})"


def interaction_table(customer: Customer | int) -> list[InteractionRow]:
    """The customer's interactions in order of contact, with DOMAIN.md's running counts. One query."""
    return list(interaction_rows(customer))


def interaction_rows(customer: Customer | int) -> Iterator[InteractionRow]:
    """``interaction_table`` one row at a time, read with ``iterator()`` (the reporting app streams it as CSV).

    Counts follow each interaction's case to the ticket it is linked to *now* (a relinked or merged case
    counts for its new ticket). An interaction without a case (never left by intake) counts as a contact
    but opens no issue.
    """
    customer_id = customer.pk if isinstance(customer, Customer) else customer
    rows = (
        Interaction.objects.filter(customer_id=customer_id)
        .order_by("started_at", "id")
        .values_list("pk", "channel", "started_at", "case__pk", "case__ticket_id")
    )
    per_ticket: dict[int, int] = {}
    issue_of: dict[int, str] = {}
    for contacts, (pk, channel, started_at, case_id, ticket_id) in enumerate(rows.iterator(), start=1):
        in_ticket = 0
        if ticket_id is not None:
            in_ticket = per_ticket[ticket_id] = per_ticket.get(ticket_id, 0) + 1
            if ticket_id not in issue_of:
                issue_of[ticket_id] = issue_label(len(issue_of) + 1)
        yield InteractionRow(
            interaction_id=pk,
            channel=channel,
            started_at=started_at,
            case_id=case_id,
            ticket_id=ticket_id,
            first=in_ticket == 1,
            issue=issue_of.get(ticket_id, ""),
            interactions_in_ticket=in_ticket,
            contacts=contacts,
            issues=len(issue_of),
        )


@dataclass
class CustomerPage:
    customer: Customer
    identities: list
    references: list
    tickets: list[Ticket]
    tickets_total: int
    open_tickets: int
    table: list[InteractionRow]
    table_total: int
    visible_ticket_ids: set[int] = field(default_factory=set)

    @property
    def table_hidden(self) -> int:
        """Earlier rows not shown (the page shows the newest ``TABLE_ROWS_SHOWN``)."""
        return self.table_total - len(self.table)


def customer_page(user, customer: Customer) -> CustomerPage:
    """Everything the customer page shows, in a fixed number of queries."""
    identities = list(customer.identities.order_by("channel", "address"))
    references = list(customer.references.select_related("kind").order_by("-created_at", "-id")[:100])
    mine = visible_tickets(user).filter(customer=customer)
    tickets = list(
        mine.select_related("team", "assignee__user", "reference").order_by("-created_at", "-id")[
            :TICKETS_SHOWN
        ]
    )
    tickets_total = len(tickets) if len(tickets) < TICKETS_SHOWN else mine.count()
    open_tickets = sum(1 for t in tickets if t.status != "closed")
    if tickets_total > len(tickets):
        open_tickets = mine.exclude(status="closed").count()
    table = interaction_table(customer)
    linked = {row.ticket_id for row in table if row.ticket_id}
    shown_ids = {t.pk for t in tickets}
    visible_ids = shown_ids | set(
        mine.filter(pk__in=linked - shown_ids).values_list("pk", flat=True) if linked - shown_ids else []
    )
    return CustomerPage(
        customer=customer,
        identities=identities,
        references=references,
        tickets=tickets,
        tickets_total=tickets_total,
        open_tickets=open_tickets,
        table=table[-TABLE_ROWS_SHOWN:],
        table_total=len(table),
        visible_ticket_ids=visible_ids,
    )

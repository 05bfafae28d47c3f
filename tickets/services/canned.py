"""Canned responses: the ones a ticket's team may use, and their placeholders filled in.

Placeholders are replaced one by one from a fixed list, never with ``str.format``: a canned text is
written by people in the admin, and ``format`` would choke on a stray brace or reach into attributes
(``{customer_name.__class__}``). Anything that is not one of the known placeholders stays as written.
"""

from __future__ import annotations

import re

from django.db.models import Q, QuerySet

from tickets.models import Agent, CannedResponse, Ticket

PLACEHOLDERS = ("customer_name", "ticket_number", "agent_name")
_PLACEHOLDER_RE = re.compile(r"\{(" + "|".join(PLACEHOLDERS) + r")\}")


def canned_responses_for(ticket: Ticket) -> QuerySet[CannedResponse]:
    """Active canned responses for everyone, and those of the ticket's team."""
    return CannedResponse.objects.filter(Q(team__isnull=True) | Q(team_id=ticket.team_id), active=True)


def placeholder_values(*, ticket: Ticket, agent: Agent | None) -> dict[str, str]:
    customer = ticket.customer
    return {
        # A customer we only know by an address has no name yet: greet them by their unique ID.
        "customer_name": customer.name or customer.unique_id,
        "ticket_number": ticket.number,
        "agent_name": str(agent) if agent is not None else "the support team",
    }


def fill_placeholders(text: str, values: dict[str, str]) -> str:
    return _PLACEHOLDER_RE.sub(lambda m: values[m.group(1)], text)


def fill_canned(*, canned: CannedResponse, ticket: Ticket, agent: Agent | None) -> str:
    """The canned response's text for this ticket, as the agent would send it."""
    return fill_placeholders(canned.body, placeholder_values(ticket=ticket, agent=agent))

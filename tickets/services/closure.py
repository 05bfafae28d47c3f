"""What closing and reopening a ticket set off beyond the state change (DOMAIN.md, "Closure and feedback").

``transitions.close`` calls :func:`on_closing` and ``transitions.reopen`` :func:`on_reopening`, in their
transactions with the ticket locked, and records what they did in the transition's own history entry. (Closing every linked case and interaction is ``transitions._close``'s
own work; merges and spam close without telling the customer or asking for a rating.)
"""

from __future__ import annotations

from django.conf import settings

from tickets.models import Ticket
from tickets.services import csat, links, verification
from tickets.services.notifications import notify

NOTICE = "closure"


def _closure_text(ticket: Ticket) -> str:
    hours = settings.HELPDESK["REOPEN_WINDOW_HOURS"]
    return (
        f"Your request {ticket.number} ({ticket.subject}) is now closed.\n\n"
        f"Resolution: {ticket.resolution_notes}\n\n"
        f"If the problem comes back, reply to this message within {hours} hours and we will pick it up again.\n"
        f"Your request: {links.status_url(ticket.pk)}"
    )


def on_closing(ticket: Ticket) -> dict:
    """Tell the customer and schedule the survey; returns what the close event records about it."""
    verification.supersede(ticket=ticket)
    message = notify(ticket=ticket, kind=NOTICE, body=_closure_text(ticket), closing=True)
    told = (
        {"notified_on": message.channel, "message": message.pk}
        if message
        else {"customer_not_notified": True}
    )
    survey = csat.schedule_survey(ticket=ticket)
    if survey is not None:
        told["survey"] = survey.pk
        told["survey_at"] = survey.scheduled_for.isoformat()
    return told


def on_reopening(ticket: Ticket) -> dict:
    """The question and any survey not yet answered stop applying (each cancelled survey says why on its own
    row). Returns what the reopen event records about it: nothing, the reopen's own reason says it all."""
    verification.supersede(ticket=ticket)
    csat.cancel_pending(ticket=ticket)
    return {}

"""``my/``: the front office's desk — my tickets by state and SLA urgency, my load, and "take next"."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, path, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from tickets.errors import HelpdeskError
from tickets.selectors.agents import active_assignment_count
from tickets.selectors.my_work import my_work as my_work_for
from tickets.selectors.my_work import queue_depth, take_next_blocker
from tickets.services.routing import take_next as take_next_ticket
from tickets.views.base import agent_required, refusal

TEMPLATE = "tickets/my_work/page.html"


def ticket_url(pk: int) -> str | None:
    """The ticket workspace's address, or None while that page is not installed."""
    try:
        return reverse("desk:ticket", args=[pk])
    except NoReverseMatch:
        return None


def _agent_only(request):
    if request.agent is None:
        raise PermissionDenied("My work is for agents; an admin without an agent profile has no tickets.")


@agent_required
def my_work(request):
    _agent_only(request)
    work = my_work_for(request.agent)
    # The list's own refresh (every ~15 s) gets the list alone; a boosted navigation gets the whole page.
    template = f"{TEMPLATE}#work" if request.htmx and not request.htmx.boosted else TEMPLATE
    return render(request, template, {"work": work})


def _back(request) -> str:
    """Where a refused "take next" returns: the queue the agent pressed it on (with its filters), else My work."""
    back = request.POST.get("next", "")
    if back.startswith(reverse("desk:queue")) and url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}
    ):
        return back
    return reverse("desk:my_work")


@require_POST
@agent_required
def take_next(request):
    """Take the best queued ticket of my teams and go to it; a refusal says why and stays where it was."""
    _agent_only(request)
    agent = request.agent
    queued, _ = queue_depth(agent)
    blocker = take_next_blocker(agent, load=active_assignment_count(agent), queued=queued)
    if blocker:
        messages.error(request, blocker)
        return redirect(_back(request))
    try:
        ticket = take_next_ticket(actor=request.user)
    except HelpdeskError as exc:
        refusal(request, exc)
        return redirect(_back(request))
    if ticket is None:
        # Someone else took the last one between the page and the button.
        messages.error(request, "Nothing is queued in your teams right now.")
        return redirect(_back(request))
    messages.success(request, f"You took {ticket.number}: {ticket.subject}")
    return redirect(ticket_url(ticket.pk) or reverse("desk:my_work"))


urlpatterns = [
    path("my/", my_work, name="my_work"),
    path("my/take-next/", take_next, name="take_next"),
]

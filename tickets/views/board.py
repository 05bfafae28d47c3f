"""``board/``: the supervisor board — my teams' queues and SLA risk, my agents' presence and load.

Supervisors and admins only (others get 403). An agent's presence and limit change in place (HTMX swaps the
agent's row; without JavaScript the form posts and the board comes back with a message); a ticket is
reassigned through ``transitions.reassign``. Every change goes through its service, which checks again.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path
from django.views.decorators.http import require_POST

from tickets.errors import HelpdeskError
from tickets.models import Agent
from tickets.models.tickets import parse_number
from tickets.permissions import visible_tickets
from tickets.selectors import board as board_selector
from tickets.services import transitions
from tickets.services.routing import set_limit, set_presence
from tickets.views.base import agent_required, refusal

TEMPLATE = "tickets/board/page.html"
POLL_SECONDS = 15


def _supervisors_only(request) -> None:
    if not board_selector.may_see_board(request.user):
        raise PermissionDenied("The board is for supervisors and admins.")


@agent_required
def board(request):
    _supervisors_only(request)
    the_board = board_selector.board(request.user)
    context = {
        "board": the_board,
        "agent_choices": [line.agent for line in the_board.agents],
        "presence_choices": Agent.Presence.choices,
        "poll_seconds": POLL_SECONDS,
        "now": the_board.now,
    }
    template = TEMPLATE
    if request.htmx and request.htmx.target == "board-live":
        template = f"{TEMPLATE}#live"
    return render(request, template, context)


def _agent_changed(request, agent_pk: int, change) -> object:
    """Run ``change(agent)``; answer an HTMX request with the agent's fresh row, anything else with the board."""
    _supervisors_only(request)
    agent = board_selector.on_board(request.user, agent_pk)
    if agent is None:
        raise Http404("No such agent on your board.")
    try:
        done = change(agent)
        level = "success"
    except HelpdeskError as exc:
        done, level = str(exc), "error"
    if not request.htmx:
        (messages.success if level == "success" else messages.error)(request, done)
        return redirect("desk:board")
    line = board_selector.agent_line(request.user, agent.pk)
    line.message, line.message_level = done, level
    return render(
        request,
        f"{TEMPLATE}#agent_row",
        {
            "line": line,
            "agent_choices": list(
                board_selector.team_members(board_selector.board_teams(request.user).values("pk"))
            ),
            "presence_choices": Agent.Presence.choices,
            "now": line.now,
        },
    )


@require_POST
@agent_required
def agent_presence(request, pk: int):
    def change(agent):
        after = set_presence(agent=agent, presence=request.POST.get("presence", ""), actor=request.user)
        return f"{after} is {after.get_presence_display().lower()}."

    return _agent_changed(request, pk, change)


@require_POST
@agent_required
def agent_limit(request, pk: int):
    def change(agent):
        after = set_limit(
            agent=agent,
            maximum=request.POST.get("maximum", ""),
            actor=request.user,
            reason=request.POST.get("reason", "").strip(),
        )
        return f"{after} may now have {after.max_active_assignments} active tickets."

    return _agent_changed(request, pk, change)


@require_POST
@agent_required
def reassign(request):
    """Move a ticket (by number, from the board's lists or typed) to another agent, with a reason."""
    _supervisors_only(request)
    # "T-000123" or "123" typed, or "123:4" (the version the board showed) from an agent's list.
    raw, _, version = request.POST.get("ticket", "").strip().partition(":")
    pk = parse_number(raw) or (int(raw) if raw.isdigit() else None)
    ticket = visible_tickets(request.user).filter(pk=pk).first() if pk else None
    agent_pk = request.POST.get("agent", "")
    target = board_selector.on_board(request.user, int(agent_pk)) if agent_pk.isdigit() else None
    if ticket is None:
        messages.error(request, f"No ticket {raw or '(none given)'} that you may see.")
    elif target is None:
        messages.error(request, "Choose an agent of your teams to reassign the ticket to.")
    else:
        try:
            transitions.reassign(
                ticket=ticket,
                actor=request.user,
                agent=target,
                reason=request.POST.get("reason", ""),
                expected_version=int(version) if version.isdigit() else None,
            )
            messages.success(request, f"{ticket.number} is reassigned to {target}.")
        except HelpdeskError as exc:
            refusal(request, exc)
    return redirect("desk:board")


urlpatterns = [
    path("board/", board, name="board"),
    path("board/agents/<int:pk>/presence/", agent_presence, name="board_presence"),
    path("board/agents/<int:pk>/limit/", agent_limit, name="board_limit"),
    path("board/reassign/", reassign, name="board_reassign"),
]

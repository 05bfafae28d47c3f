"""What every workspace view shares: who the agent is, the role's start page, and turning a domain
refusal into a message the agent can act on."""

from __future__ import annotations

from functools import wraps

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import HttpRequest

from tickets.errors import HelpdeskError
from tickets.models import Agent
from tickets.permissions import agent_of

# Each role's starting page (README, "Who may see and do what"); the first URL name that exists wins.
START_PAGES = {
    Agent.Role.FRONT_OFFICE: ("desk:my_work", "desk:queue"),
    Agent.Role.BACK_OFFICE: ("desk:queue", "desk:my_work"),
    Agent.Role.SUPERVISOR: ("desk:board", "desk:queue", "desk:my_work"),
    Agent.Role.ADMIN: ("admin:index",),
}


def agent_required(view):
    """Signed-in users with an agent profile only. Anonymous → log-in; a user who is not an agent → 403."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        agent = agent_of(request.user)
        if agent is None and not request.user.is_superuser:
            raise DjangoPermissionDenied("This page is for the help desk's agents.")
        request.agent = agent
        return view(request, *args, **kwargs)

    return wrapper


def refusal(request: HttpRequest, exc: HelpdeskError) -> None:
    """A domain refusal as a message on the next page: the reason, in the domain's own words."""
    messages.error(request, str(exc))

"""Presence by session timeout, the request side: note when each signed-in agent was last active.

``tickets.services.routing.time_out_idle_agents`` (a schedule, every minute) sets agents offline who have
not been seen for ``HELPDESK["PRESENCE_TIMEOUT_MINUTES"]``. This middleware keeps that time fresh at the
cost of one conditional UPDATE per signed-in request, which writes at most once a minute per agent.

A request that a page makes by itself (an auto-refreshing board or queue) is not activity: it sends the
header ``X-Helpdesk-Background: 1`` (htmx: ``hx-headers='{"X-Helpdesk-Background": "1"}'`` on the polling
element), and an agent who left such a page open still times out.
"""

from __future__ import annotations

from tickets.services.routing import mark_seen

BACKGROUND_HEADER = "X-Helpdesk-Background"


class LastSeenMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)  # after AuthenticationMiddleware
        if user is not None and user.is_authenticated and request.headers.get(BACKGROUND_HEADER) != "1":
            mark_seen(user)
        return self.get_response(request)

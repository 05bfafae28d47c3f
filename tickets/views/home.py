"""``/``: each role's starting page; log-in and log-out; the agent's presence switch."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, path, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from tickets.errors import HelpdeskError
from tickets.models import Agent
from tickets.services.routing import set_presence
from tickets.views.base import START_PAGES, agent_required, refusal


def start_page(agent: Agent | None) -> str | None:
    names = START_PAGES.get(agent.role if agent else Agent.Role.ADMIN, ("admin:index",))
    for name in names:
        try:
            return reverse(name)
        except NoReverseMatch:
            continue
    return None


@agent_required
def home(request):
    url = start_page(request.agent)
    # Without any of its role's pages installed, the start page is the navigation itself.
    return redirect(url) if url else render(request, "desk/home.html")


@require_POST
@agent_required
def presence(request):
    """The agent's own presence switch (the nav bar's select); supervisors use the board for others."""
    if request.agent is None:
        messages.error(request, "Only agents have a presence.")
    else:
        try:
            set_presence(agent=request.agent, presence=request.POST.get("presence", ""), actor=request.user)
            messages.success(request, f"You are {request.agent.get_presence_display().lower()}.")
        except HelpdeskError as exc:
            refusal(request, exc)
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = reverse("desk:home")
    if request.htmx:
        response = redirect(back)
        response["HX-Redirect"] = back
        return response
    return redirect(back)


urlpatterns = [
    path("", home, name="home"),
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="registration/login.html", redirect_authenticated_user=True
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("presence/", presence, name="presence"),
]

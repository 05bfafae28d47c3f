from django.conf import settings
from django.urls import NoReverseMatch, reverse

from tickets.models import Agent

# The workspace's navigation: (URL name, label, roles that see it, shortcut key). A page that is not
# installed (its URL name does not resolve) is simply left out.
NAV = [
    ("desk:my_work", "My work", {"front_office", "back_office", "supervisor"}, "m"),
    ("desk:queue", "Queue", {"front_office", "back_office", "supervisor", "admin"}, "q"),
    ("desk:board", "Board", {"supervisor", "admin"}, "b"),
    ("desk:log_call", "Log a call", {"front_office", "supervisor"}, "l"),
    ("desk:kb", "Knowledge base", {"front_office", "back_office", "supervisor", "admin"}, "k"),
    ("reporting:dashboard", "Reports", {"supervisor", "admin"}, ""),
    # Negative CSAT ratings waiting for a senior agent ("senior": agents marked senior, whatever their role).
    ("desk:follow_ups", "Follow-ups", {"senior", "supervisor", "admin"}, ""),
]


def navigation(user, agent) -> list[dict]:
    if not getattr(user, "is_authenticated", False):
        return []
    role = agent.role if agent else ("admin" if user.is_superuser else "")
    items = []
    senior = bool(agent and agent.is_senior)
    for name, label, roles, key in NAV:
        if role not in roles and not (senior and "senior" in roles):
            continue
        try:
            items.append({"url": reverse(name), "label": label, "key": key})
        except NoReverseMatch:
            continue
    return items


def helpdesk(request):
    """What every page's base layout shows: the product name, the signed-in agent, the role's navigation."""
    user = getattr(request, "user", None)
    agent = None
    if user is not None and user.is_authenticated:
        try:
            agent = user.agent
        except Agent.DoesNotExist:
            agent = None
    nav = navigation(user, agent)
    path = request.path
    for item in nav:
        item["current"] = path.startswith(item["url"]) and item["url"] != "/"
    return {
        "product_name": getattr(settings, "PRODUCT_NAME", "Help desk"),
        "current_agent": agent,
        "nav": nav,
        "presence_choices": Agent.Presence.choices,
    }

"""Which team a new ticket starts in. (Distribution to agents arrives with the routing issue.)"""

from __future__ import annotations

from django.conf import settings

from tickets.errors import IntakeError
from tickets.models import Team


def team_for_new_ticket(*, channel: str, customer, reference=None) -> tuple[Team, str]:
    """(team, why): the configured default team, else the first front-office team."""
    slug = settings.HELPDESK["DEFAULT_TEAM_SLUG"]
    team = Team.objects.filter(slug=slug).first()
    if team is not None:
        return team, f"default team {team.name}"
    team = (
        Team.objects.filter(kind=Team.Kind.FRONT).order_by("pk").first()
        or Team.objects.order_by("pk").first()
    )
    if team is None:
        raise IntakeError("no team is configured to receive tickets; create one in the admin")
    return team, f"first front-office team {team.name}"

"""Who may read reports, and which teams' numbers they see (through ``tickets.permissions``).

Supervisors and admins only: an agent asking for a report is refused (403). An admin sees every team; a
supervisor the teams they supervise (their own teams, as the board and the queue scope them).
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied

from tickets.models import Agent, Team
from tickets.permissions import agent_of, is_admin, team_ids


def may_see_reports(user) -> bool:
    agent = agent_of(user)
    return is_admin(user) or (agent is not None and agent.role == Agent.Role.SUPERVISOR)


def check_may_see_reports(user) -> None:
    if not may_see_reports(user):
        raise PermissionDenied("Reports are for supervisors and admins.")


def report_team_ids(user) -> tuple[int, ...] | None:
    """The teams whose numbers ``user`` sees: ``None`` for every team (admins), else the supervisor's."""
    check_may_see_reports(user)
    if is_admin(user):
        return None
    return tuple(sorted(team_ids(agent_of(user))))


def report_teams(user):
    ids = report_team_ids(user)
    teams = Team.objects.order_by("name")
    return teams if ids is None else teams.filter(pk__in=ids)

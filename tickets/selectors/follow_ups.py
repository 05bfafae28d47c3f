"""The CSAT follow-ups an agent sees: a senior agent their own; a supervisor those of their teams (including
the ones no senior could take); an admin all. Open ones first, newest first; bounded."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from tickets.models import CsatFollowUp
from tickets.permissions import agent_of, is_admin, team_ids

LIMIT = 200


def visible_follow_ups(user) -> QuerySet[CsatFollowUp]:
    if is_admin(user):
        return CsatFollowUp.objects.all()
    agent = agent_of(user)
    if agent is None:
        return CsatFollowUp.objects.none()
    mine = Q(assignee=agent)
    if agent.is_supervisor:
        mine |= Q(team__in=team_ids(agent))
    return CsatFollowUp.objects.filter(mine)


def follow_up_list(user, *, state: str = CsatFollowUp.State.OPEN) -> list[CsatFollowUp]:
    return list(
        visible_follow_ups(user)
        .filter(state=state)
        .select_related("ticket__customer", "team", "assignee__user", "survey", "done_by__user")
        .order_by("-created_at", "-id")[:LIMIT]
    )

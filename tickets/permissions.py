"""The one access decision: which tickets a user may see, and what a user may do to a ticket.

Every view, partial, export, download and task asks here. The lifecycle table says which *relations*
may take an action; this module works out the relations between a user and a ticket.
"""

from __future__ import annotations

import logging

from django.db.models import Q, QuerySet

from tickets import lifecycle
from tickets.models import Agent, Article, Attachment, Note, Ticket

# Every refusal is written here (user, path, reason): the log a security review or an alert reads.
security_log = logging.getLogger("helpdesk.security")


def agent_of(user) -> Agent | None:
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    try:
        return user.agent
    except Agent.DoesNotExist:
        return None


def is_admin(user) -> bool:
    agent = agent_of(user)
    return bool(getattr(user, "is_superuser", False) or (agent and agent.role == Agent.Role.ADMIN))


def team_ids(agent: Agent) -> set[int]:
    # Cached on the instance: one query per request however many tickets are checked.
    if not hasattr(agent, "_team_ids"):
        agent._team_ids = set(agent.teams.values_list("id", flat=True))
    return agent._team_ids


def relations(user, ticket: Ticket) -> frozenset[str]:
    """The lifecycle relations between ``user`` and ``ticket``; ``None`` is the system itself."""
    if user is None:
        return frozenset({lifecycle.SYSTEM})
    if is_admin(user):
        return frozenset({lifecycle.SUPERVISOR, lifecycle.TEAM})
    agent = agent_of(user)
    if agent is None:
        return frozenset()
    rel = set()
    if ticket.assignee_id == agent.pk:
        rel.add(lifecycle.OWNER)
    if ticket.team_id in team_ids(agent):
        rel.add(lifecycle.TEAM)
        if agent.role == Agent.Role.SUPERVISOR:
            rel.add(lifecycle.SUPERVISOR)
    return frozenset(rel)


def visible_tickets(user) -> QuerySet[Ticket]:
    """Tickets a user may see: admins all; agents and supervisors their teams' tickets and their own."""
    if is_admin(user):
        return Ticket.objects.all()
    agent = agent_of(user)
    if agent is None:
        return Ticket.objects.none()
    return Ticket.objects.filter(Q(team__in=team_ids(agent)) | Q(assignee=agent))


# The knowledge base (issue 7): every agent writes articles and reads the published ones; a draft is its
# author's until a supervisor or an admin publishes it; published articles are edited by them only.
ARTICLE_SOURCE_STATUSES = frozenset({lifecycle.Status.RESOLVED, lifecycle.Status.CLOSED})
# Tickets closed as these have no resolution worth an article.
NO_ARTICLE_RESOLUTIONS = frozenset({"spam", "duplicate"})


def may_write_articles(user) -> bool:
    return is_admin(user) or agent_of(user) is not None


def may_publish_articles(user) -> bool:
    agent = agent_of(user)
    return is_admin(user) or (agent is not None and agent.role == Agent.Role.SUPERVISOR)


def visible_articles(user) -> QuerySet[Article]:
    """Articles a user may read: published ones and their own drafts; reviewers (supervisors, admins) all."""
    if may_publish_articles(user):
        return Article.objects.all()
    agent = agent_of(user)
    if agent is None:
        return Article.objects.none()
    return Article.objects.filter(Q(published=True) | Q(author=agent))


def may_edit_article(user, article: Article) -> bool:
    if may_publish_articles(user):
        return True
    agent = agent_of(user)
    return agent is not None and article.author_id == agent.pk and not article.published


def may_write_article_from(user, ticket: Ticket) -> bool:
    """A resolved or closed ticket (not spam, not a duplicate) that the user may see."""
    return (
        ticket.status in ARTICLE_SOURCE_STATUSES
        and ticket.resolution_type not in NO_ARTICLE_RESOLUTIONS
        and may_write_articles(user)
        and can_view(user, ticket)
    )


def can_view(user, ticket: Ticket) -> bool:
    return is_admin(user) or bool(relations(user, ticket))


def can(user, action: str, ticket: Ticket) -> bool:
    """May ``user`` take ``action`` on ``ticket`` now (role and state)?"""
    return lifecycle.allowed_from(action, ticket.status) and lifecycle.allowed_for(
        action, relations(user, ticket)
    )


def can_see_note(user, note: Note, ticket: Ticket) -> bool:
    """Internal notes: agents never see another team's notes, unless the ticket was escalated to them.

    ``ticket`` is a ticket the user may see (the note's); a note without an author (the system's) is the
    ticket's own. Prefetch ``author__teams`` when checking many notes.
    """
    if is_admin(user) or note.author_id is None:
        return True
    agent = agent_of(user)
    if agent is None or not can_view(user, ticket):
        return False
    if note.author_id == agent.pk:
        return True
    mine = team_ids(agent)
    if ticket.escalated and ticket.team_id in mine:
        return True
    return any(t.pk in mine for t in note.author.teams.all())


def visible_attachments(user) -> QuerySet[Attachment]:
    """Files a user may download: those of the messages on the tickets they may see (nothing else)."""
    return Attachment.objects.filter(message__interaction__case__ticket__in=visible_tickets(user))


def describe_user(user) -> str:
    if user is None or not getattr(user, "is_authenticated", False):
        return "anonymous"
    return f"{user.get_username()} (id {user.pk})"


def log_denial(request, reason: str, *, status: int = 403) -> None:
    """One line per refusal: who, what, why. Called where a view refuses; the middleware
    ``helpdesk.security.DenialLogMiddleware`` writes one for every other 403."""
    if getattr(request, "_denial_logged", False):
        return
    request._denial_logged = True
    security_log.warning(
        "denied status=%s user=%s method=%s path=%s reason=%s",
        status,
        describe_user(getattr(request, "user", None)),
        request.method,
        request.get_full_path(),
        reason,
    )

"""Writing the knowledge base: an article from scratch, from a ticket's resolution, and its edits.

Who may do what is ``tickets.permissions`` (any agent writes; a draft is its author's; supervisors and
admins publish and edit published articles); each function here checks it again, so a view, a script or a
test cannot skip it. An article's body is plain text, stored as written and escaped wherever it is shown.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

from tickets.errors import PermissionDenied, ValidationFailed
from tickets.models import Article, Category, Tag, Ticket
from tickets.permissions import (
    agent_of,
    may_edit_article,
    may_publish_articles,
    may_write_article_from,
    may_write_articles,
)

TITLE_MAX = Article._meta.get_field("title").max_length
BODY_MAX = 20_000


def _clean(title: str, body: str) -> tuple[str, str]:
    title, body = (title or "").strip(), (body or "").strip()
    if not title:
        raise ValidationFailed("An article needs a title.")
    if not body:
        raise ValidationFailed("An article needs a text.")
    if len(title) > TITLE_MAX:
        raise ValidationFailed(f"A title has at most {TITLE_MAX} characters.")
    if len(body) > BODY_MAX:
        raise ValidationFailed(f"An article's text has at most {BODY_MAX:,} characters.")
    return title, body


def _check_publish(actor, published: bool) -> None:
    if published and not may_publish_articles(actor):
        raise PermissionDenied("Only supervisors and admins publish articles; save it as a draft for review.")


@transaction.atomic
def create_article(
    *,
    actor,
    title: str,
    body: str,
    category: Category | None = None,
    tags: Iterable[Tag] = (),
    published: bool = False,
    source_ticket: Ticket | None = None,
) -> Article:
    if not may_write_articles(actor):
        raise PermissionDenied("Only the help desk's agents write articles.")
    _check_publish(actor, published)
    title, body = _clean(title, body)
    article = Article.objects.create(
        title=title,
        body=body,
        category=category,
        published=published,
        source_ticket=source_ticket,
        author=agent_of(actor),
        updated_by=actor,
    )
    article.tags.set(list(tags))
    return article


@transaction.atomic
def create_article_from_ticket(*, ticket: Ticket, actor) -> Article:
    """A draft prefilled from a resolved or closed ticket: its subject as the title, its resolution notes as
    the text, its category and tags. Asked twice (a double click), the author's draft from that ticket is
    returned again rather than a second one made."""
    # The ticket's row serialises two clicks of the same agent; the ticket is read fresh under the lock.
    ticket = Ticket.objects.select_for_update(of=("self",)).select_related("category").get(pk=ticket.pk)
    if not may_write_article_from(actor, ticket):
        raise PermissionDenied(
            f"An article is written from a resolved or closed ticket you may see; {ticket.number} is not one."
        )
    author = agent_of(actor)
    existing = Article.objects.filter(source_ticket=ticket, author=author, published=False).first()
    if author is not None and existing is not None:
        return existing
    notes = ticket.resolution_notes.strip()
    return create_article(
        actor=actor,
        title=ticket.subject[:TITLE_MAX] or ticket.number,
        body=notes or f"How {ticket.number} was resolved: {ticket.get_resolution_type_display() or '…'}",
        category=ticket.category,
        tags=list(ticket.tags.all()),
        source_ticket=ticket,
    )


@transaction.atomic
def update_article(
    *,
    article: Article,
    actor,
    title: str,
    body: str,
    category: Category | None,
    tags: Iterable[Tag],
    published: bool | None = None,
) -> Article:
    """Edit an article; ``published=None`` leaves publication as it is."""
    article = Article.objects.select_for_update().get(pk=article.pk)
    if not may_edit_article(actor, article):
        raise PermissionDenied(
            "A published article is edited by supervisors and admins; a draft by its author too."
        )
    if published is not None and published != article.published:
        if not may_publish_articles(actor):
            raise PermissionDenied("Only supervisors and admins publish or withdraw articles.")
        article.published = published
    article.title, article.body = _clean(title, body)
    article.category = category
    article.updated_by = actor
    article.save()
    article.tags.set(list(tags))
    return article

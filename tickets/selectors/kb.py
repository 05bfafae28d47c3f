"""Reads of the knowledge base: the article list and its search, the reply box's search, and the
suggestions for a ticket (its category, and the words of its subject and the customer's latest message).

Search is PostgreSQL full text where the database is PostgreSQL (the GIN index of migration 0012 over
``SEARCH_VECTOR_SQL``: words are stemmed, "routers" finds "router", and the last word typed matches as a
prefix), and ``icontains`` elsewhere (SQLite: development and the quick test run). Every list is one query
with a limit, whatever the number of articles.
"""

from __future__ import annotations

import re

from django.db import connection
from django.db.models import BooleanField, Case, FloatField, IntegerField, Q, QuerySet, Value, When
from django.db.models.expressions import RawSQL

from tickets.models import Article, Message, Ticket
from tickets.models.kb import SEARCH_VECTOR_SQL
from tickets.permissions import visible_articles

LIST_LIMIT = 50
REPLY_SEARCH_LIMIT = 8
SUGGESTIONS = 5
MAX_QUERY_CHARS = 200
# A ticket's text is cut to this many distinct words for its suggestions (the first ones: a subject and a
# message's opening say what it is about).
SUGGESTION_WORDS = 12
# The customer's latest message is read up to this many characters for its words.
MESSAGE_CHARS = 1000
# Words that say nothing about what a ticket is about (the database's own stop words cover the rest).
_NOISE_WORDS = (
    "about after again also been before being could dear does from have hello help here just know like "
    "many more much need please regards since some still than thank thanks that their them then there "
    "these they this through very want were what when where which will with would your yours"
)
NOISE = frozenset(_NOISE_WORDS.split())
_WORD_RE = re.compile(r"[^\W_]+")


def terms(text: str) -> list[str]:
    """The words of a search box's text, lower case, each once, in order (only letters and digits: the
    words are what reaches the database's query syntax, never the text itself)."""
    seen: list[str] = []
    for word in _WORD_RE.findall((text or "")[:MAX_QUERY_CHARS].lower()):
        if word not in seen:
            seen.append(word)
    return seen


def topic_words(text: str) -> list[str]:
    """The words of a ticket's text worth matching articles on: four letters or more, no filler."""
    words: list[str] = []
    for word in _WORD_RE.findall((text or "").lower()):
        if len(word) >= 4 and not word.isdigit() and word not in NOISE and word not in words:
            words.append(word)
            if len(words) == SUGGESTION_WORDS:
                break
    return words


def _full_text() -> bool:
    return connection.vendor == "postgresql"


def _tsquery(words: list[str], *, any_word: bool, prefix_last: bool) -> str:
    """A ``to_tsquery`` text from plain words (letters and digits only, so nothing in it is syntax)."""
    parts = [f"{w}:*" if prefix_last and i == len(words) - 1 else w for i, w in enumerate(words)]
    return (" | " if any_word else " & ").join(parts)


def _match(
    words: list[str], *, any_word: bool, prefix_last: bool = False
) -> tuple[Q | RawSQL, RawSQL | None]:
    """The condition for articles matching ``words`` (all of them, or any), and its rank on PostgreSQL."""
    if _full_text():
        query = _tsquery(words, any_word=any_word, prefix_last=prefix_last)
        tsquery = "to_tsquery('english'::regconfig, %s)"
        condition = RawSQL(f"{SEARCH_VECTOR_SQL} @@ {tsquery}", [query], output_field=BooleanField())
        rank = RawSQL(f"ts_rank({SEARCH_VECTOR_SQL}, {tsquery})", [query], output_field=FloatField())
        return condition, rank
    condition = Q()
    for word in words:
        either = Q(title__icontains=word) | Q(body__icontains=word)
        condition = (condition | either) if any_word else (condition & either)
    return condition, None


def _listed(qs: QuerySet[Article]) -> QuerySet[Article]:
    return qs.select_related("category", "author__user").only(
        "pk",
        "title",
        "body",
        "published",
        "updated_at",
        "category__name",
        "author__user__username",
        "author__user__first_name",
        "author__user__last_name",
    )


def search(
    *,
    user,
    query: str = "",
    category_id: int | None = None,
    published_only: bool = False,
    limit: int = LIST_LIMIT,
) -> list[Article]:
    """Articles ``user`` may read matching every word of ``query`` (the last one as a prefix, for a box
    searched as the agent types), best match first; without words, the most recently updated."""
    qs = visible_articles(user)
    if published_only:
        qs = qs.filter(published=True)
    if category_id:
        qs = qs.filter(category_id=category_id)
    words = terms(query)
    order = ["-updated_at", "-id"]
    if words:
        condition, rank = _match(words, any_word=False, prefix_last=True)
        qs = qs.filter(condition)
        if rank is not None:
            qs = qs.annotate(rank=rank)
            order = ["-rank", *order]
    return list(_listed(qs).order_by(*order)[:limit])


def latest_customer_text(ticket: Ticket) -> str:
    """What the customer last wrote on the ticket (the start of it): one query."""
    body = (
        Message.objects.filter(interaction__case__ticket=ticket, direction=Message.Direction.INBOUND)
        .order_by("-sent_at", "-id")
        .values_list("body", flat=True)
        .first()
    )
    return (body or "")[:MESSAGE_CHARS]


def suggestions_for(*, ticket: Ticket, user, text: str = "", limit: int = SUGGESTIONS) -> list[Article]:
    """Published articles for ``ticket``: of its category, or sharing words with its subject and ``text``
    (its customer's latest message) — those of its category and best matching first."""
    same_category = Q(category_id=ticket.category_id) if ticket.category_id else None
    words = topic_words(f"{ticket.subject} {text}")
    if same_category is None and not words:
        return []
    qs = visible_articles(user).filter(published=True)
    rank = None
    condition = same_category
    if words:
        matched, rank = _match(words, any_word=True)
        condition = matched if condition is None else (condition | Q(matched))
    qs = qs.filter(condition).annotate(
        in_category=Case(When(same_category, then=Value(1)), default=Value(0), output_field=IntegerField())
        if same_category is not None
        else Value(0, output_field=IntegerField())
    )
    order = ["-in_category", "-updated_at", "-id"]
    if rank is not None:
        qs = qs.annotate(rank=rank)
        order.insert(1, "-rank")
    return list(_listed(qs).order_by(*order)[:limit])


def article_for(*, user, pk: int) -> Article:
    """One article with what its page shows, if ``user`` may read it (``Article.DoesNotExist`` otherwise)."""
    return (
        visible_articles(user)
        .select_related("category", "author__user", "source_ticket", "updated_by")
        .prefetch_related("tags")
        .get(pk=pk)
    )

"""The knowledge base in the agent workspace: ``kb/`` (list and search), an article's page, writing and
editing one; and, on a ticket, "create article from this ticket", the reply box's article search (which
inserts an article's text into the reply, as a canned response does) and the suggestions panel.

Reading is for every agent (drafts only for their author and the reviewers); who may write, edit and
publish is ``tickets.permissions``, checked again by ``tickets.services.kb``.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tickets.errors import HelpdeskError, PermissionDenied
from tickets.forms_kb import ArticleForm, article_initial
from tickets.models import Article, Category, Ticket
from tickets.permissions import (
    may_edit_article,
    may_publish_articles,
    may_write_article_from,
    visible_tickets,
)
from tickets.selectors import kb as kb_selectors
from tickets.services import kb as kb_services
from tickets.services.canned import fill_placeholders, placeholder_values
from tickets.views.base import agent_required

WORKSPACE = "tickets/kb/workspace.html"
REPLY_BODY = "tickets/ticket/workspace.html#reply-body"


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _article(request, pk: int) -> Article:
    try:
        return kb_selectors.article_for(user=request.user, pk=pk)
    except Article.DoesNotExist:
        raise Http404("No such article, or a draft that is not yours.") from None


def _ticket(request, pk: int) -> Ticket:
    try:
        return visible_tickets(request.user).select_related("customer", "category").get(pk=pk)
    except Ticket.DoesNotExist:
        raise Http404("No such ticket, or not one you may see.") from None


def _status(exc: HelpdeskError) -> int:
    return 403 if isinstance(exc, PermissionDenied) else 400


# The knowledge base's own pages ----------------------------------------------------------------------------


@require_GET
@agent_required
def article_list(request):
    query = request.GET.get("q", "")[: kb_selectors.MAX_QUERY_CHARS]
    category = _int(request.GET.get("category"))
    context = {
        "query": query,
        "category": category,
        "articles": kb_selectors.search(user=request.user, query=query, category_id=category),
        "limit": kb_selectors.LIST_LIMIT,
    }
    if request.htmx:
        return render(request, "tickets/kb/list.html#results", context)
    context["categories"] = list(Category.objects.order_by("name").only("pk", "name"))
    return render(request, "tickets/kb/list.html", context)


@require_GET
@agent_required
def article_detail(request, pk: int):
    article = _article(request, pk)
    return render(
        request,
        "tickets/kb/detail.html",
        {"article": article, "may_edit": may_edit_article(request.user, article)},
    )


def _form_page(request, form, *, article: Article | None = None, status: int = 200):
    return render(request, "tickets/kb/form.html", {"form": form, "article": article}, status=status)


@require_http_methods(["GET", "POST"])
@agent_required
def article_new(request):
    may_publish = may_publish_articles(request.user)
    if request.method == "GET":
        return _form_page(request, ArticleForm(may_publish=may_publish))
    form = ArticleForm(request.POST, may_publish=may_publish)
    if not form.is_valid():
        return _form_page(request, form, status=400)
    data = form.cleaned_data
    try:
        article = kb_services.create_article(
            actor=request.user,
            title=data["title"],
            body=data["body"],
            category=data["category"],
            tags=data["tags"],
            published=data.get("published", False),
        )
    except HelpdeskError as exc:
        messages.error(request, str(exc))
        return _form_page(request, form, status=_status(exc))
    messages.success(request, f"“{article.title}” saved{'' if article.published else ' as a draft'}.")
    return redirect("desk:kb_article", article.pk)


@require_http_methods(["GET", "POST"])
@agent_required
def article_edit(request, pk: int):
    article = _article(request, pk)
    if not may_edit_article(request.user, article):
        messages.error(request, "A published article is edited by supervisors and admins.")
        return render(request, "tickets/kb/detail.html", {"article": article, "may_edit": False}, status=403)
    may_publish = may_publish_articles(request.user)
    if request.method == "GET":
        form = ArticleForm(initial=article_initial(article), may_publish=may_publish)
        return _form_page(request, form, article=article)
    form = ArticleForm(request.POST, may_publish=may_publish)
    if not form.is_valid():
        return _form_page(request, form, article=article, status=400)
    data = form.cleaned_data
    try:
        kb_services.update_article(
            article=article,
            actor=request.user,
            title=data["title"],
            body=data["body"],
            category=data["category"],
            tags=data["tags"],
            published=data["published"] if may_publish else None,
        )
    except HelpdeskError as exc:
        messages.error(request, str(exc))
        return _form_page(request, form, article=article, status=_status(exc))
    messages.success(request, "Article saved.")
    return redirect("desk:kb_article", article.pk)


# On a ticket -----------------------------------------------------------------------------------------------


@require_POST
@agent_required
def from_ticket(request, pk: int):
    """ "Create article from this ticket": a draft prefilled from its resolution, opened for editing."""
    ticket = _ticket(request, pk)
    try:
        article = kb_services.create_article_from_ticket(ticket=ticket, actor=request.user)
    except HelpdeskError as exc:
        return render(
            request, "tickets/kb/refused.html", {"reason": str(exc), "t": ticket}, status=_status(exc)
        )
    messages.success(request, f"A draft article from {ticket.number}: edit it and save.")
    return redirect("desk:kb_edit", article.pk)


@require_GET
@agent_required
def ticket_panel(request, pk: int):
    """The workspace's knowledge-base panel (loaded by htmx): suggestions for the ticket's category and
    text, and the "create article" button once it is resolved or closed."""
    ticket = _ticket(request, pk)
    suggestions = kb_selectors.suggestions_for(
        ticket=ticket, user=request.user, text=kb_selectors.latest_customer_text(ticket)
    )
    context = {
        "t": ticket,
        "suggestions": suggestions,
        "may_write_from": may_write_article_from(request.user, ticket),
    }
    return render(request, f"{WORKSPACE}#panel", context)


@require_GET
@agent_required
def reply_search(request, pk: int):
    """The reply box's article search: published articles matching what the agent typed."""
    ticket = _ticket(request, pk)
    query = request.GET.get("kb_q", "")
    articles = []
    if kb_selectors.terms(query):
        articles = kb_selectors.search(
            user=request.user, query=query, published_only=True, limit=kb_selectors.REPLY_SEARCH_LIMIT
        )
    return render(request, f"{WORKSPACE}#results", {"t": ticket, "articles": articles, "query": query})


@require_GET
@agent_required
def insert(request, pk: int, article_pk: int):
    """The reply box's text with an article's added — the same swap as a canned response's."""
    ticket = _ticket(request, pk)
    body = request.GET.get("body", "")
    try:
        article = kb_selectors.article_for(user=request.user, pk=article_pk)
    except Article.DoesNotExist:
        article = None
    if article is not None and article.published:
        text = fill_placeholders(article.body, placeholder_values(ticket=ticket, agent=request.agent))
        body = f"{body.rstrip()}\n\n{text}" if body.strip() else text
    return render(request, REPLY_BODY, {"t": ticket, "reply_body": body})


urlpatterns = [
    path("kb/", article_list, name="kb"),
    path("kb/new/", article_new, name="kb_new"),
    path("kb/<int:pk>/", article_detail, name="kb_article"),
    path("kb/<int:pk>/edit/", article_edit, name="kb_edit"),
    path("tickets/<int:pk>/kb/new/", from_ticket, name="ticket_kb_new"),
    path("tickets/<int:pk>/kb/panel/", ticket_panel, name="ticket_kb_panel"),
    path("tickets/<int:pk>/kb/search/", reply_search, name="ticket_kb_search"),
    path("tickets/<int:pk>/kb/<int:article_pk>/insert/", insert, name="ticket_kb_insert"),
]

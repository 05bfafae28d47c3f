"""The knowledge base (issue 7): articles written from a ticket's resolution, searched from the reply box,
suggested for a ticket — services, selectors on both databases, and the pages per role."""

from __future__ import annotations

import io

import pytest
from django.db import connection
from django.urls import reverse

from tests.factories import AgentFactory, TicketFactory, UserFactory
from tickets.errors import PermissionDenied, ValidationFailed
from tickets.lifecycle import Status
from tickets.models import Agent, Article, Category, Tag, Ticket
from tickets.selectors import kb as kb_selectors
from tickets.services import kb as kb_services

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
XSS = '<script>alert("kb")</script><img src=x onerror=alert(1)>'


@pytest.fixture
def router(db) -> Category:
    return Category.objects.get_or_create(slug="router", defaults={"name": "Router"})[0]


@pytest.fixture
def billing(db) -> Category:
    return Category.objects.get_or_create(slug="billing", defaults={"name": "Billing"})[0]


@pytest.fixture
def admin_user(db):
    return AgentFactory(user__username="ada", role=Agent.Role.ADMIN).user


@pytest.fixture
def resolved(agent, router) -> Ticket:
    ticket = TicketFactory(
        subject="Router lights red after the storm",
        status=Status.RESOLVED,
        assignee=agent,
        category=router,
        resolution_type="fixed",
        resolution_notes="Power-cycle the router, then re-run the line test from the portal.",
    )
    ticket.tags.add(Tag.objects.create(name="router-red"))
    return ticket


def article(author: Agent | None, *, title: str, body: str, published=True, category=None) -> Article:
    return Article.objects.create(
        title=title, body=body, published=published, category=category, author=author
    )


# Writing ---------------------------------------------------------------------------------------------------


def test_an_article_from_a_resolved_ticket_is_a_draft_prefilled_from_its_resolution(resolved, agent, router):
    made = kb_services.create_article_from_ticket(ticket=resolved, actor=agent.user)

    assert made.title == "Router lights red after the storm"
    assert made.body == "Power-cycle the router, then re-run the line test from the portal."
    assert made.category == router and [t.name for t in made.tags.all()] == ["router-red"]
    assert made.source_ticket == resolved and made.author == agent and made.published is False
    # A second click is the same draft, not another one.
    assert kb_services.create_article_from_ticket(ticket=resolved, actor=agent.user) == made
    assert Article.objects.count() == 1


def test_no_article_from_an_open_a_spam_or_an_unseen_ticket(agent, back_agent, resolved):
    open_ticket = TicketFactory(status=Status.OPEN, assignee=agent)
    with pytest.raises(PermissionDenied, match="resolved or closed"):
        kb_services.create_article_from_ticket(ticket=open_ticket, actor=agent.user)
    spam = TicketFactory(status=Status.CLOSED, resolution_type="spam")
    with pytest.raises(PermissionDenied):
        kb_services.create_article_from_ticket(ticket=spam, actor=agent.user)
    # Another team's ticket: the back office cannot see the front office's.
    with pytest.raises(PermissionDenied):
        kb_services.create_article_from_ticket(ticket=resolved, actor=back_agent.user)
    assert not Article.objects.exists()


def test_agents_write_drafts_and_supervisors_publish(agent, other_agent, supervisor):
    with pytest.raises(PermissionDenied, match="supervisors and admins publish"):
        kb_services.create_article(actor=agent.user, title="T", body="B", published=True)
    with pytest.raises(ValidationFailed):
        kb_services.create_article(actor=agent.user, title="  ", body="B")
    draft = kb_services.create_article(actor=agent.user, title="Reset a router", body="Hold reset 10 s.")
    assert draft.published is False

    # A draft is its author's: another agent can neither read nor edit it; a supervisor both.
    assert draft in kb_selectors.search(user=agent.user)
    assert draft not in kb_selectors.search(user=other_agent.user)
    assert draft in kb_selectors.search(user=supervisor.user)
    with pytest.raises(PermissionDenied):
        kb_services.update_article(
            article=draft, actor=other_agent.user, title="x", body="y", category=None, tags=[]
        )
    with pytest.raises(PermissionDenied):
        kb_services.update_article(
            article=draft, actor=agent.user, title="x", body="y", category=None, tags=[], published=True
        )
    kb_services.update_article(
        article=draft,
        actor=supervisor.user,
        title="Reset a router",
        body="Hold reset 10 s.",
        category=None,
        tags=[],
        published=True,
    )
    draft.refresh_from_db()
    assert draft.published and draft.updated_by == supervisor.user
    assert draft in kb_selectors.search(user=other_agent.user)
    # Published, it is the reviewers' to change.
    with pytest.raises(PermissionDenied):
        kb_services.update_article(
            article=draft, actor=agent.user, title="x", body="y", category=None, tags=[]
        )
    with pytest.raises(PermissionDenied):
        kb_services.create_article(actor=UserFactory(username="not-an-agent"), title="T", body="B")


# Searching (SQLite: icontains; PostgreSQL: full text) --------------------------------------------------------


@pytest.fixture
def library(supervisor, router, billing):
    author = supervisor
    return {
        "router": article(author, title="Router lights red", body="Power-cycle the router.", category=router),
        "wifi": article(author, title="Slow wifi", body="Move the router away from the microwave."),
        "refund": article(
            author, title="Refund a double charge", body="Refunds take 5 days.", category=billing
        ),
        "draft": article(author, title="Router firmware (draft)", body="Not reviewed yet.", published=False),
    }


def test_search_finds_every_word_the_last_one_as_a_prefix(library, agent):
    def titles(query, **kw):
        return {a.title for a in kb_selectors.search(user=agent.user, query=query, **kw)}

    assert titles("router") == {"Router lights red", "Slow wifi"}
    assert titles("router microwave") == {"Slow wifi"}
    assert titles("power-cycle rou") == {"Router lights red"}  # typed so far: "rou"
    assert titles("refund") == {"Refund a double charge"}
    assert titles("nothing-like-this") == set()
    assert titles("") == {"Router lights red", "Slow wifi", "Refund a double charge"}  # no drafts of others
    assert titles("router", category_id=library["router"].category_id) == {"Router lights red"}
    # Syntax of the database's query language is just text.
    assert titles("router & | ! ( ' :*") == {"Router lights red", "Slow wifi"}


def test_suggestions_for_a_ticket_by_category_and_words(library, agent, router, billing):
    ticket = TicketFactory(subject="My internet keeps dropping", category=billing)
    found = kb_selectors.suggestions_for(ticket=ticket, user=agent.user, text="the router reboots at night")
    # The ticket's category first, then the articles sharing its words; never a draft.
    assert [a.title for a in found][0] == "Refund a double charge"
    assert {a.title for a in found} == {"Refund a double charge", "Router lights red", "Slow wifi"}
    nothing = TicketFactory(subject="Hello", category=None)
    assert kb_selectors.suggestions_for(ticket=nothing, user=agent.user, text="thanks") == []


@pytest.mark.postgres
def test_postgres_search_stems_words_and_uses_the_gin_index(library, agent):
    assert connection.vendor == "postgresql"
    # Stemming: "routers" and "refunded" find "router" and "Refunds".
    assert {a.title for a in kb_selectors.search(user=agent.user, query="routers power")} == {
        "Router lights red"
    }
    assert {a.title for a in kb_selectors.search(user=agent.user, query="refunded")} == {
        "Refund a double charge"
    }
    qs_sql = None
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        kb_selectors.search(user=agent.user, query="router")
    qs_sql = next(q["sql"] for q in ctx.captured_queries if "to_tsquery" in q["sql"])
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + qs_sql)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "article_search" in plan, plan


# Pages ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["agent", "back_agent", "supervisor", "admin_user"])
def test_every_role_reads_the_knowledge_base_in_a_few_queries(
    request, client, library, who, django_assert_max_num_queries
):
    user = request.getfixturevalue(who)
    user = getattr(user, "user", user)
    for n in range(30):
        article(None, title=f"Article {n} about routers", body="text " * 50)
    client.force_login(user)
    with django_assert_max_num_queries(10):
        response = client.get(reverse("desk:kb"), {"q": "router"})
    assert response.status_code == 200
    assert "Router lights red" in response.content.decode()
    with django_assert_max_num_queries(8):
        partial = client.get(reverse("desk:kb"), {"q": "refund"}, **HTMX)
    assert "Refund a double charge" in partial.content.decode() and "<html" not in partial.content.decode()


def test_strangers_and_anonymous_visitors_are_refused(client, library):
    assert client.get(reverse("desk:kb")).status_code == 302
    client.force_login(UserFactory(username="customer-user"))
    assert client.get(reverse("desk:kb")).status_code == 403
    assert client.get(reverse("desk:kb_article", args=[library["router"].pk])).status_code == 403


def test_article_page_and_drafts(client, library, agent, supervisor):
    client.force_login(agent.user)
    page = client.get(reverse("desk:kb_article", args=[library["router"].pk]))
    assert page.status_code == 200 and "Power-cycle the router." in page.content.decode()
    assert reverse("desk:kb_edit", args=[library["router"].pk]) not in page.content.decode()
    # Someone else's draft does not exist for an agent; a published article is not theirs to edit.
    assert client.get(reverse("desk:kb_article", args=[library["draft"].pk])).status_code == 404
    edit = reverse("desk:kb_edit", args=[library["router"].pk])
    assert client.get(edit).status_code == 403
    assert client.post(edit, {"title": "Hacked", "body": "x"}).status_code == 403
    assert Article.objects.get(pk=library["router"].pk).title == "Router lights red"

    client.force_login(supervisor.user)
    assert client.get(reverse("desk:kb_article", args=[library["draft"].pk])).status_code == 200
    response = client.post(
        reverse("desk:kb_edit", args=[library["draft"].pk]),
        {"title": "Router firmware", "body": "Update from the portal.", "published": "on"},
    )
    assert response.status_code == 302
    assert Article.objects.get(pk=library["draft"].pk).published


def test_an_agent_writes_a_draft_and_cannot_slip_in_publication(client, agent):
    client.force_login(agent.user)
    assert client.get(reverse("desk:kb_new")).status_code == 200
    response = client.post(
        reverse("desk:kb_new"), {"title": "Reset", "body": "Hold reset.", "published": "on"}
    )
    assert response.status_code == 302
    made = Article.objects.get()
    assert made.published is False and made.author == agent
    assert client.post(reverse("desk:kb_new"), {"title": "", "body": ""}).status_code == 400


def test_create_article_from_this_ticket(client, resolved, agent, back_agent, django_assert_max_num_queries):
    client.force_login(agent.user)
    panel = client.get(reverse("desk:ticket_kb_panel", args=[resolved.pk]), **HTMX)
    assert "Create article from this ticket" in panel.content.decode()
    with django_assert_max_num_queries(20):
        response = client.post(reverse("desk:ticket_kb_new", args=[resolved.pk]))
    made = Article.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("desk:kb_edit", args=[made.pk])
    edit = client.get(response["Location"]).content.decode()
    assert "Power-cycle the router" in edit and resolved.number in edit

    # Not on an open ticket (no button, and a refusal), not on a ticket one cannot see.
    open_ticket = TicketFactory(status=Status.OPEN, assignee=agent)
    panel = client.get(reverse("desk:ticket_kb_panel", args=[open_ticket.pk]), **HTMX)
    assert "Create article from this ticket" not in panel.content.decode()
    refused = client.post(reverse("desk:ticket_kb_new", args=[open_ticket.pk]))
    assert refused.status_code == 403 and "resolved or closed" in refused.content.decode()
    client.force_login(back_agent.user)
    assert client.post(reverse("desk:ticket_kb_new", args=[resolved.pk])).status_code == 404
    assert client.get(reverse("desk:ticket_kb_panel", args=[resolved.pk])).status_code == 404
    assert Article.objects.count() == 1


def test_the_workspace_shows_the_search_box_and_loads_the_panel(client, agent):
    ticket = TicketFactory(status=Status.OPEN, assignee=agent)
    client.force_login(agent.user)
    html = client.get(reverse("desk:ticket", args=[ticket.pk])).content.decode()
    assert 'id="id_kb_q"' in html and reverse("desk:ticket_kb_search", args=[ticket.pk]) in html
    assert reverse("desk:ticket_kb_panel", args=[ticket.pk]) in html


def test_suggestions_panel_and_reply_search_and_insert(
    client, library, agent, router, django_assert_max_num_queries
):
    ticket = TicketFactory(
        subject="Router lights are red", status=Status.OPEN, assignee=agent, category=router
    )
    client.force_login(agent.user)
    with django_assert_max_num_queries(8):
        panel = client.get(reverse("desk:ticket_kb_panel", args=[ticket.pk]), **HTMX).content.decode()
    assert "Router lights red" in panel and "Router firmware" not in panel

    search = reverse("desk:ticket_kb_search", args=[ticket.pk])
    with django_assert_max_num_queries(8):
        found = client.get(search, {"kb_q": "router"}, **HTMX).content.decode()
    assert "Router lights red" in found and "Slow wifi" in found and "Router firmware" not in found
    assert reverse("desk:ticket_kb_insert", args=[ticket.pk, library["router"].pk]) in found
    assert "No published article" in client.get(search, {"kb_q": "zzzz"}, **HTMX).content.decode()

    # Insert: the article's text after what the agent has written, placeholders filled.
    library["router"].body = "Dear {customer_name}, power-cycle the router ({ticket_number})."
    library["router"].save()
    insert = reverse("desk:ticket_kb_insert", args=[ticket.pk, library["router"].pk])
    with django_assert_max_num_queries(8):
        swapped = client.get(insert, {"body": "Hello,"}, **HTMX).content.decode()
    assert 'id="id_reply_body"' in swapped
    assert f"Hello,\n\nDear {ticket.customer.name}, power-cycle the router ({ticket.number})." in swapped
    # A draft is never inserted into a reply; another ticket's 404s.
    draft = reverse("desk:ticket_kb_insert", args=[ticket.pk, library["draft"].pk])
    assert "Not reviewed" not in client.get(draft, {"body": "Hi"}).content.decode()


def test_an_article_body_with_markup_is_shown_as_text_everywhere(client, supervisor, agent, router):
    evil = article(supervisor, title=f"Router {XSS}", body=f"Router fix {XSS}", category=router)
    ticket = TicketFactory(subject="Router broken", status=Status.OPEN, assignee=agent, category=router)
    client.force_login(agent.user)
    pages = [
        client.get(reverse("desk:kb")),
        client.get(reverse("desk:kb"), {"q": "router"}, **HTMX),
        client.get(reverse("desk:kb_article", args=[evil.pk])),
        client.get(reverse("desk:ticket_kb_panel", args=[ticket.pk]), **HTMX),
        client.get(reverse("desk:ticket_kb_search", args=[ticket.pk]), {"kb_q": "router"}, **HTMX),
        client.get(reverse("desk:ticket_kb_insert", args=[ticket.pk, evil.pk]), **HTMX),
    ]
    for response in pages:
        html = response.content.decode()
        assert response.status_code == 200
        assert "<script>alert" not in html and "<img src=x" not in html, response.request["PATH_INFO"]
        assert "&lt;script&gt;alert(&quot;kb&quot;)&lt;/script&gt;" in html or "&lt;script&gt;" in html


def test_admin_lists_articles(client, admin_user, library):
    admin_user.is_staff = True
    admin_user.is_superuser = True
    admin_user.save()
    client.force_login(admin_user)
    response = client.get(reverse("admin:tickets_article_changelist"))
    assert response.status_code == 200 and "Router lights red" in response.content.decode()


def test_the_demo_has_articles_suggested_for_its_tickets():
    from django.core.management import call_command

    call_command("seed_demo", customers=30, tickets=40, stdout=io.StringIO())
    assert Article.objects.filter(published=True).count() >= 6
    # A draft its agent wrote from a resolved ticket, waiting for review.
    draft = Article.objects.get(published=False)
    assert draft.source_ticket.status in (Status.RESOLVED, Status.CLOSED)
    assert draft.author == draft.source_ticket.assignee and draft.body == draft.source_ticket.resolution_notes
    frontoffice = Agent.objects.get(user__username="frontoffice")
    router = (
        Ticket.objects.filter(subject__startswith="Router keeps restarting").first()
        or Ticket.objects.filter(category__slug="technical").first()
    )
    titles = [a.title for a in kb_selectors.suggestions_for(ticket=router, user=frontoffice.user, text="")]
    assert "Router light red or router restarting" in titles

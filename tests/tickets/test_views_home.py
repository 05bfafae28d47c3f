"""``/``, log-in, log-out and the presence switch, through the test client."""

import pytest
from django.urls import reverse

from tests.factories import AgentFactory
from tickets.models import Agent

pytestmark = pytest.mark.django_db


def test_anonymous_visitors_are_sent_to_the_log_in(client):
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith(reverse("desk:login"))
    page = client.get(reverse("desk:login"))
    assert page.status_code == 200
    assert b'name="username"' in page.content and b"csrfmiddlewaretoken" in page.content


def test_log_in_lands_on_the_role_start_page(client, agent):
    agent.user.set_password("pw")
    agent.user.save()
    response = client.post(reverse("desk:login"), {"username": agent.user.username, "password": "pw"})
    assert response.status_code == 302 and response["Location"] == reverse("desk:home")
    landing = client.get("/")
    assert landing.status_code in (200, 302) and landing.get("Location") != reverse("admin:index")


def test_wrong_password_says_so_and_keeps_the_username(client, agent):
    response = client.post(reverse("desk:login"), {"username": agent.user.username, "password": "nope"})
    assert response.status_code == 200
    assert b"Please enter a correct username and password" in response.content
    assert agent.user.username.encode() in response.content


def test_admin_role_starts_in_the_django_admin(client):
    admin = AgentFactory(role=Agent.Role.ADMIN, user__is_staff=True, user__is_superuser=True)
    client.force_login(admin.user)
    assert client.get("/")["Location"] == reverse("admin:index")


def test_a_user_who_is_no_agent_is_refused(client, django_user_model):
    user = django_user_model.objects.create_user("visitor", password="pw")
    client.force_login(user)
    assert client.get("/").status_code == 403


def test_presence_switch_goes_through_the_routing_service(client, agent):
    Agent.objects.filter(pk=agent.pk).update(presence=Agent.Presence.OFFLINE)
    client.force_login(agent.user)
    response = client.post(reverse("desk:presence"), {"presence": "online", "next": "/elsewhere/"})
    assert response.status_code == 302 and response["Location"] == "/elsewhere/"
    agent.refresh_from_db()
    assert agent.presence == Agent.Presence.ONLINE and agent.presence_changed_at is not None


def test_presence_switch_refuses_nonsense_with_a_reason(client, agent):
    before = agent.presence
    client.force_login(agent.user)
    response = client.post(reverse("desk:presence"), {"presence": "asleep"}, follow=True)
    assert "is not a presence" in response.content.decode()
    agent.refresh_from_db()
    assert agent.presence == before


def test_presence_switch_never_redirects_off_site(client, agent):
    client.force_login(agent.user)
    response = client.post(reverse("desk:presence"), {"presence": "away", "next": "https://evil.example/"})
    assert response["Location"] == reverse("desk:home")


def test_log_out_is_a_post_and_ends_the_session(client, agent):
    client.force_login(agent.user)
    assert client.post(reverse("desk:logout")).status_code == 302
    assert client.get("/")["Location"].startswith(reverse("desk:login"))


def test_every_page_has_a_strict_csp_and_the_htmx_script_with_its_nonce(client, agent):
    response = client.get(reverse("desk:login"))
    csp = response["Content-Security-Policy"]
    assert "script-src 'self' 'nonce-" in csp and "unsafe-inline" not in csp
    nonce = csp.split("'nonce-")[1].split("'")[0]
    assert f'nonce="{nonce}"'.encode() in response.content
    assert b"js/helpdesk.js" in response.content

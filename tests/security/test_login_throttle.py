"""Log-in throttling (django-axes): wrong passwords lock one username from one address out for a while, and
the log-in page says so."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import AgentFactory


@pytest.fixture
def throttled(settings, front_office):
    settings.AXES_FAILURE_LIMIT = 3
    settings.AXES_COOLOFF_TIME = timedelta(minutes=15)
    return AgentFactory(user__username="frank", teams=[front_office])


def log_in(client, password, username="frank", ip="203.0.113.7", url=None):
    return client.post(
        url or reverse("desk:login"), {"username": username, "password": password}, REMOTE_ADDR=ip
    )


def test_the_right_password_logs_in(client, throttled):
    assert log_in(client, "pw").status_code == 302


def test_after_the_failure_limit_even_the_right_password_is_refused_with_a_clear_message(
    client, throttled, caplog
):
    for _ in range(2):
        assert log_in(client, "wrong").status_code == 200  # the form again, "enter a correct username…"
    with caplog.at_level("WARNING", logger="helpdesk.security"):
        locked = log_in(client, "wrong")
    assert locked.status_code == 429
    html = locked.content.decode()
    assert "Too many failed log-ins" in html and "15 minutes" in html
    assert 'value="frank"' in html  # the log-in page itself, ready for later
    assert any("log-in locked out" in r.getMessage() for r in caplog.records)
    again = log_in(client, "pw")
    assert again.status_code == 429 and "_auth_user_id" not in client.session


def test_the_lock_is_per_username_and_address(client, throttled):
    for _ in range(3):
        log_in(client, "wrong")
    assert log_in(client, "pw").status_code == 429
    # The same agent from another address, and another name from the locked address, are not locked.
    assert log_in(Client(), "pw", ip="198.51.100.9").status_code == 302
    AgentFactory(user__username="olga")
    assert log_in(Client(), "pw", username="olga").status_code == 302


def test_the_lock_ends_after_the_cool_off(client, throttled, settings):
    for _ in range(3):
        log_in(client, "wrong")
    assert log_in(client, "pw").status_code == 429
    from axes.models import AccessAttempt

    AccessAttempt.objects.update(
        attempt_time=AccessAttempt.objects.get().attempt_time - timedelta(minutes=16)
    )
    assert log_in(client, "pw").status_code == 302


def test_a_success_resets_the_count(client, throttled):
    for _ in range(2):
        log_in(client, "wrong")
    assert log_in(client, "pw").status_code == 302
    client.logout()
    for _ in range(2):
        assert log_in(client, "wrong").status_code == 200


def test_the_admin_log_in_is_throttled_too(client, throttled):
    url = reverse("admin:login")
    for _ in range(3):
        log_in(client, "wrong", url=url)
    response = log_in(client, "pw", url=url)
    assert response.status_code == 429 and "Too many failed log-ins" in response.content.decode()


def test_code_without_a_request_still_authenticates(throttled):
    """``authenticate()`` from a command or a test has no client to throttle; it is not refused."""
    from django.contrib.auth import authenticate

    assert authenticate(username="frank", password="pw") == throttled.user

"""The client address django-axes records a log-in under: a real one, or none at all (never a placeholder
PostgreSQL's ``inet`` column refuses, which failed every test that signs in with ``force_login`` on CI)."""

import pytest
from axes.models import AccessLog
from django.test import RequestFactory

from helpdesk.security import axes_client_ip
from tests.factories import AgentFactory

pytestmark = pytest.mark.django_db


def test_a_log_in_without_an_address_is_recorded_without_one(client, front_office):
    agent = AgentFactory(user__username="frank", teams=[front_office])
    client.force_login(agent.user)  # Django's test client signs in through a request with no REMOTE_ADDR
    assert AccessLog.objects.get(username="frank").ip_address is None


def test_a_log_in_from_an_address_is_recorded_under_it(client, front_office):
    AgentFactory(user__username="frank", teams=[front_office])
    client.post("/login/", {"username": "frank", "password": "pw"}, REMOTE_ADDR="203.0.113.7")
    assert AccessLog.objects.get(username="frank").ip_address == "203.0.113.7"


def test_the_address_is_the_one_the_rate_limits_use(settings):
    settings.HELPDESK = {**settings.HELPDESK, "TRUSTED_PROXY_HOPS": 1}
    request = RequestFactory().get(
        "/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.9, 203.0.113.7"
    )
    assert axes_client_ip(request) == "203.0.113.7"

import importlib

import pytest
from django.apps import apps
from django.db import connection

from tests.factories import AgentFactory, TeamFactory
from tickets.models import Agent, Team


def pytest_collection_modifyitems(config, items):
    """Tests marked ``postgres`` need row locks and real concurrency: skipped on SQLite, run in CI."""
    if connection.vendor != "postgresql":
        skip = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL=postgres://…)")
        for item in items:
            if "postgres" in item.keywords:
                item.add_marker(skip)


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # PBKDF2's deliberate slowness (~0.3 s per user) is for production, not for factories.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def fresh_rate_limit_counters():
    """Rate-limit counters (django-ratelimit, in the default cache) start at zero in every test: an address
    many tests use would otherwise run into the /support/ or the per-sender intake limits."""
    from django.core.cache import cache

    cache.clear()


DATA_MIGRATIONS = (
    "0002_defaults",
    "0004_default_acknowledgements",
    "0010_default_escalation_rules",
    "0016_default_priority_matrix_and_rules",
    "0018_default_web_acknowledgement",
)


@pytest.fixture(autouse=True)
def installation_defaults(request):
    """What the data migration gives every installation (team, reference kinds, SLA policies).

    Transactional tests flush every table when they end, migration data included: put it back.
    """
    if "django_db_setup" in request.fixturenames or request.node.get_closest_marker("django_db"):
        request.getfixturevalue("_django_db_helper")
        for name in DATA_MIGRATIONS:
            importlib.import_module(f"tickets.migrations.{name}").forwards(apps, None)


@pytest.fixture
def front_office(db) -> Team:
    return Team.objects.get(slug="front-office")


@pytest.fixture
def back_office(db) -> Team:
    return TeamFactory(name="Technical back office", slug="technical", kind=Team.Kind.BACK)


@pytest.fixture
def agent(front_office) -> Agent:
    return AgentFactory(user__username="frank", teams=[front_office])


@pytest.fixture
def other_agent(front_office) -> Agent:
    return AgentFactory(user__username="olga", teams=[front_office])


@pytest.fixture
def back_agent(back_office) -> Agent:
    return AgentFactory(user__username="bob", role=Agent.Role.BACK_OFFICE, teams=[back_office])


@pytest.fixture
def supervisor(front_office, back_office) -> Agent:
    return AgentFactory(user__username="sue", role=Agent.Role.SUPERVISOR, teams=[front_office, back_office])

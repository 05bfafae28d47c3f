import pytest
from django.core.management import call_command
from django_q.models import Schedule

from helpdesk.schedules import SCHEDULES


@pytest.mark.django_db
def test_healthz_reports_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json()["checks"]["database"] == {"ok": True}


@pytest.mark.django_db
def test_sync_schedules_is_idempotent_and_removes_stale_ones():
    Schedule.objects.create(name="old", func="tickets.tasks.gone", schedule_type="I", minutes=5)
    Schedule.objects.create(name="someone else's", func="other_app.tasks.keep", schedule_type="I", minutes=5)
    call_command("sync_schedules")
    call_command("sync_schedules")
    names = set(Schedule.objects.values_list("name", flat=True))
    assert names == {s["name"] for s in SCHEDULES} | {"someone else's"}


def test_every_scheduled_function_exists():
    from django.utils.module_loading import import_string

    for spec in SCHEDULES:
        assert callable(import_string(spec["func"]))


@pytest.mark.django_db
def test_no_missing_migrations():
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


def test_csp_forbids_inline_scripts(settings):
    assert "'unsafe-inline'" not in str(settings.SECURE_CSP["script-src"])


def test_bootstrap_finds_a_new_enough_python():
    from helpdesk.__main__ import MINIMUM, find_python, version_of

    assert version_of(find_python()) >= MINIMUM

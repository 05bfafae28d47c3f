"""The inbound event log: stored first, processed, kept with the reason on failure, replayable."""

import json

import pytest
from django.core.management import CommandError, call_command

from channels_intake.models import InboundEvent
from channels_intake.services import accept, process_backlog, record_event
from tickets.models import Customer, Message, Team, Ticket

pytestmark = pytest.mark.django_db


def cli_payload(**kw) -> str:
    return json.dumps({"channel": "sms", "sender": "+441632960100", "text": "Hello", **kw})


def run_intake(*args) -> dict:
    from io import StringIO

    out = StringIO()
    call_command("intake_message", *args, stdout=out)
    return json.loads(out.getvalue())


def test_accept_stores_the_raw_payload_then_processes_it():
    event = accept(source="cli", channel="sms", payload=cli_payload(provider_message_id="SM1"))
    assert event.status == InboundEvent.Status.PROCESSED
    assert json.loads(event.payload)["provider_message_id"] == "SM1"
    assert event.result["messages"][0]["ticket"].startswith("T-")
    again = accept(source="cli", channel="sms", payload=cli_payload(provider_message_id="SM1"))
    assert again.status == InboundEvent.Status.DUPLICATE
    assert Message.objects.filter(direction="in").count() == 1 and InboundEvent.objects.count() == 2


def test_a_failing_payload_is_kept_with_its_reason_and_replays_once_fixed():
    # No team can take tickets: processing fails, the payload stays.
    Team.objects.all().delete()
    event = accept(source="cli", channel="sms", payload=cli_payload())
    assert event.status == InboundEvent.Status.FAILED
    assert "no team is configured" in event.error
    assert not Ticket.objects.exists() and not Customer.objects.exists()

    Team.objects.create(name="Front office", slug="front-office")
    call_command("replay_inbound", str(event.pk))
    event.refresh_from_db()
    assert event.status == InboundEvent.Status.PROCESSED and event.attempts == 2
    assert Ticket.objects.count() == 1


def test_replay_reports_events_that_still_fail():
    event = accept(source="cli", channel="sms", payload=b"{not json")
    assert event.status == InboundEvent.Status.FAILED and "not JSON" in event.error
    with pytest.raises(CommandError, match="1 event"):
        call_command("replay_inbound")


def test_unknown_source_fails_clearly():
    event = accept(source="carrier-pigeon", channel="sms", payload="{}")
    assert event.status == InboundEvent.Status.FAILED and "no adapter" in event.error


def test_backlog_sweep_processes_stored_but_unprocessed_events():
    stored = record_event(source="cli", channel="sms", payload=cli_payload(provider_message_id="SM9"))
    assert process_backlog(older_than_seconds=0) == 1
    stored.refresh_from_db()
    assert stored.status == InboundEvent.Status.PROCESSED and stored.attempts == 1
    assert process_backlog(older_than_seconds=0) == 0  # safe to run twice


def test_intake_message_command_prints_json():
    first = run_intake(
        "--channel",
        "voice",
        "--from",
        "+441632960101",
        "--text",
        "No internet",
        "--customer-id",
        "ABC",
        "--reference",
        "ORD-1",
        "--message-id",
        "CA1",
    )
    assert first == {
        "message": first["message"],
        "duplicate": False,
        "interaction": first["interaction"],
        "case": first["case"],
        "ticket": first["ticket"],
        "link_rule": "new_ticket",
        "new_ticket": True,
    }
    follow = run_intake("--channel", "email", "--from", "abc@example.com", "--text", "ORD-1 still down")
    assert follow["ticket"] == first["ticket"] and follow["link_rule"] == "reference"
    dup = run_intake(
        "--channel", "voice", "--from", "+441632960101", "--text", "No internet", "--message-id", "CA1"
    )
    assert dup["duplicate"] is True and dup["message"] == first["message"]


@pytest.mark.parametrize(
    ("args", "cause"),
    [
        (["--channel", "sms", "--from", "", "--text", "x"], "no sender"),
        (["--channel", "email", "--from", "not-an-address", "--text", "x"], "not an e-mail address"),
    ],
)
def test_intake_message_command_refuses_bad_arguments_and_writes_nothing(args, cause):
    with pytest.raises(CommandError, match=cause):
        call_command("intake_message", *args)
    assert not InboundEvent.objects.exists() and not Message.objects.exists()


def test_intake_message_command_refuses_an_unknown_channel():
    with pytest.raises(CommandError, match="invalid choice"):
        call_command("intake_message", "--channel", "fax", "--from", "x", "--text", "y")

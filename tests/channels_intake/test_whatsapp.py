"""WhatsApp Cloud API webhooks through the Django test client, signed for real over the raw body.

Payload samples follow Meta's ``messages`` webhook reference (text, media, location, interactive, reaction,
unsupported; statuses sent/delivered/read/failed): tests/channels_intake/fixtures/whatsapp/.
"""

import hashlib
import hmac
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from channels_intake.models import InboundEvent
from channels_intake.services import PAYLOAD_ERROR_PREFIX
from tests.channels_intake.meta_signing import meta_signature, post_signed
from tickets.intake import InboundMessage, receive
from tickets.models import Customer, CustomerIdentity, Interaction, Message, Ticket

pytestmark = pytest.mark.django_db

URL = "/intake/whatsapp/"
SECRET = "wa-app-secret-0123456789"
VERIFY_TOKEN = "wa-verify-token"
FIXTURES = Path(__file__).parent / "fixtures" / "whatsapp"
WAMID = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA="


@pytest.fixture(autouse=True)
def secrets(settings):
    settings.WHATSAPP_APP_SECRET = SECRET
    settings.WHATSAPP_VERIFY_TOKEN = VERIFY_TOKEN
    settings.META_APP_SECRET = "meta-app-secret"
    settings.META_VERIFY_TOKEN = "meta-verify-token"


def sample(name: str) -> bytes:
    return (FIXTURES / f"{name}.json").read_bytes()


def sign(body: bytes, secret: str = SECRET) -> str:
    return meta_signature(body, secret)


def post(client, body, signature=None):
    """As Meta sends it: JSON, signed over the exact bytes. ``signature=False`` sends no signature header."""
    return post_signed(client, URL, body, SECRET, signature)


def text_message(wamid: str, text: str, timestamp: int, sender: str = "16505551234") -> dict:
    data = json.loads(sample("text"))
    value = data["entry"][0]["changes"][0]["value"]
    value["contacts"][0]["wa_id"] = sender
    value["messages"] = [
        {"from": sender, "id": wamid, "timestamp": str(timestamp), "type": "text", "text": {"body": text}}
    ]
    return data


def inbound():
    return Message.objects.filter(direction=Message.Direction.INBOUND)


# --- the verification handshake ---------------------------------------------------------------------------


def test_handshake_answers_the_challenge_as_plain_text(client):
    response = client.get(
        URL, {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"}
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert response.content == b"1158201444"


@pytest.mark.parametrize(
    "params",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
        {"hub.mode": "subscribe", "hub.verify_token": "meta-verify-token", "hub.challenge": "1"},
        {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"},
        {"hub.mode": "subscribe", "hub.challenge": "1"},
        {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN},
    ],
)
def test_handshake_with_a_bad_token_or_mode_is_refused(client, params):
    response = client.get(URL, params)
    assert response.status_code == 403 and response.json()["error"]


def test_handshake_is_refused_while_the_verify_token_is_unset(client, settings):
    settings.WHATSAPP_VERIFY_TOKEN = ""
    response = client.get(URL, {"hub.mode": "subscribe", "hub.verify_token": "", "hub.challenge": "1"})
    assert response.status_code == 403 and "WHATSAPP_VERIFY_TOKEN" in response.json()["error"]


def test_other_methods_are_not_allowed(client):
    assert client.put(URL, sample("text"), content_type="application/json").status_code == 405


# --- messages ----------------------------------------------------------------------------------------------


def test_a_text_message_becomes_interaction_case_and_ticket(client):
    body = sample("text")
    response = post(client, body)
    assert response.status_code == 200 and response.json()["status"] == "processed"

    message = inbound().get()
    assert message.channel == "whatsapp" and message.provider_message_id == WAMID
    assert message.sender == "+16505551234"
    assert message.body == "Does it come in another color?"
    assert message.sent_at == datetime.fromtimestamp(1749416383, tz=UTC)
    assert message.meta["phone_number_id"] == "106540352242922"
    ticket = message.interaction.case.ticket
    assert ticket.channel == "whatsapp" and ticket.subject == "Does it come in another color?"
    identity = CustomerIdentity.objects.get(channel="whatsapp", address="+16505551234")
    assert identity.display_name == "Sheena Nelson" and ticket.customer == identity.customer
    # Stored first, exactly as received, with the signature for forensics.
    event = InboundEvent.objects.get()
    assert event.source == "whatsapp" and event.channel == "whatsapp" and event.payload_bytes == body
    assert event.headers["X-Hub-Signature-256"] == sign(body)


@pytest.mark.parametrize(
    "signature",
    [
        pytest.param(False, id="missing"),
        pytest.param("sha256=" + "0" * 64, id="forged"),
        pytest.param("sha256=", id="empty"),
        pytest.param("other-secret", id="signed-with-another-secret"),
        pytest.param("sha1", id="sha1-scheme"),
        pytest.param("reserialised", id="signed-over-re-serialised-json"),
    ],
)
def test_a_bad_or_missing_signature_is_refused_and_nothing_stored(client, signature):
    body = sample("text")
    if signature == "other-secret":
        signature = sign(body, "meta-app-secret")
    elif signature == "sha1":
        signature = "sha1=" + hmac.new(SECRET.encode(), body, hashlib.sha1).hexdigest()
    elif signature == "reserialised":
        signature = sign(json.dumps(json.loads(body)).encode())
    response = post(client, body, signature=signature)
    assert response.status_code == 403 and response.json()["error"]
    assert not InboundEvent.objects.exists() and not Message.objects.exists()


def test_every_post_is_refused_while_the_app_secret_is_unset(client, settings):
    settings.WHATSAPP_APP_SECRET = ""
    body = sample("text")
    response = post(client, body, signature=sign(body, ""))
    assert response.status_code == 403 and "WHATSAPP_APP_SECRET" in response.json()["error"]
    assert not InboundEvent.objects.exists() and not Message.objects.exists()


def test_the_same_wamid_five_times_is_one_message(client):
    for _ in range(5):
        assert post(client, sample("text")).status_code == 200
    assert inbound().filter(provider_message_id=WAMID).count() == 1
    assert Ticket.objects.count() == 1
    statuses = sorted(InboundEvent.objects.values_list("status", flat=True))
    assert statuses == ["duplicate"] * 4 + ["processed"]


def test_several_messages_in_one_post_are_each_stored_in_whatsapps_order(client):
    response = post(client, sample("batch"))
    assert response.status_code == 200

    messages = list(inbound().order_by("sent_at"))
    # Taken in WhatsApp's order, not the batch's: the earliest (the image) opened the ticket.
    assert messages == list(inbound().order_by("pk"))
    assert Ticket.objects.get().subject.startswith("[image (image/jpeg), not downloaded]")
    assert [m.meta["type"] for m in messages] == [
        "image",
        "document",
        "audio",
        "location",
        "interactive",
        "unsupported",
    ]
    assert len({m.interaction_id for m in messages}) == 1 and Ticket.objects.count() == 1
    image, document, voice, location, button, unsupported = messages
    assert image.body == "[image (image/jpeg), not downloaded]\nThe router's lights after the restart"
    assert image.meta["media"] == [
        {
            "type": "image",
            "id": "1952418455536498",
            "mime_type": "image/jpeg",
            "sha256": "5u4pmzMeY6Ezb1ME4mWvZ6wSOBMyoACUDRq2yWGRJNo=",
        }
    ]
    assert document.body == (
        '[document "invoice-ORD-7731.pdf" (application/pdf), not downloaded]\nInvoice for order ORD-7731'
    )
    assert voice.body == "[voice message (audio/ogg; codecs=opus), not downloaded]"
    assert location.body == (
        "[location: Main office, 1 Hacker Way, Menlo Park, CA 94025 (37.483307, -122.148981)]"
    )
    assert button.body == "Still not working" and button.meta["interactive"]["id"] == "still-broken"
    assert "type 'unsupported: edit'" in unsupported.body and "131051" in unsupported.body
    # The reference in the document's caption reaches the ticket the image opened.
    assert Ticket.objects.get().reference.value == "ORD-7731"
    # The reaction is no message to answer: recorded on the event, with why.
    results = InboundEvent.objects.get().result["messages"]
    assert [r["ignored"] for r in results if "ignored" in r] == [
        "a reaction on WhatsApp (wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzN0M5RDBDNEE2MUU1MjdFMjA5NQA=): "
        "not a message to answer"
    ]


def test_a_follow_up_joins_the_customers_open_interaction(client):
    post(client, text_message("wamid.first", "The internet is down", 1749416383))
    post(client, text_message("wamid.second", "Still down, please help", 1749416999))

    first, second = inbound().order_by("sent_at")
    assert first.interaction_id == second.interaction_id
    assert Interaction.objects.count() == 1 and Ticket.objects.count() == 1
    latest = InboundEvent.objects.order_by("-id").first()
    assert latest.result["messages"][0]["link_rule"] == "open_interaction"


def test_a_known_phone_customer_writing_on_whatsapp_about_the_order_joins_the_calls_ticket(client):
    # Seed 000, step 2: ABC phoned about ORD-1, then sends a WhatsApp message naming it.
    call = receive(
        InboundMessage(
            channel="voice",
            sender="+16505551234",
            customer_unique_id="ABC",
            reference="ORD-1",
            text="Internet not working",
            provider_message_id="CA-call-1",
        )
    )
    post(client, text_message("wamid.abc", "Any news about ORD-1?", 1749416383))

    message = inbound().get(channel="whatsapp")
    case = message.interaction.case
    assert case.ticket.number == call.ticket and case.link_rule == "reference"
    assert message.interaction.customer == Customer.objects.get(unique_id="ABC")
    assert CustomerIdentity.objects.get(channel="whatsapp").customer.unique_id == "ABC"


def test_a_quoted_reply_links_to_the_ticket_of_the_message_it_answers(client):
    # The customer has two open tickets; quoting our reply on the older one names it.
    older = receive(InboundMessage(channel="whatsapp", sender="+16505551234", text="Router broken ORD-11"))
    ours = Message.objects.get(direction="out", interaction_id=older.interaction)
    Message.objects.filter(pk=ours.pk).update(provider_message_id="wamid.ours-1", delivery_status="sent")
    receive(InboundMessage(channel="whatsapp", sender="+16505551234", text="And a billing problem ORD-22"))
    Interaction.objects.update(status=Interaction.Status.CLOSED)

    payload = text_message("wamid.quote", "Is the engineer coming today?", 1749417000)
    payload["entry"][0]["changes"][0]["value"]["messages"][0]["context"] = {
        "from": "15550783881",
        "id": "wamid.ours-1",
    }
    post(client, payload)
    reply = inbound().get(provider_message_id="wamid.quote")
    assert reply.interaction.case.ticket.number == older.ticket
    assert reply.interaction.case.link_rule == "ticket_number"


# --- statuses of our messages ------------------------------------------------------------------------------


def test_statuses_update_our_messages_and_create_none(client):
    for number, wamid in (
        ("+16505551234", "wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI3MUE0RUQ5NTk0QjU5QUNFMjYA"),
        ("+16505550000", "wamid.HBgLMTY1MDUwNzY1MjAVAgARGBJBMEUyOTE3ODkzNDI0QjM3QjgA"),
    ):
        result = receive(InboundMessage(channel="whatsapp", sender=number, text="hello"))
        Message.objects.filter(direction="out", interaction_id=result.interaction).update(
            provider_message_id=wamid, delivery_status="sent"
        )
    before = Message.objects.count()

    assert post(client, sample("statuses")).status_code == 200

    read = Message.objects.get(provider_message_id__endswith="NTk0QjU5QUNFMjYA")
    failed = Message.objects.get(
        provider_message_id="wamid.HBgLMTY1MDUwNzY1MjAVAgARGBJBMEUyOTE3ODkzNDI0QjM3QjgA"
    )
    # "read" came first in the batch; the later "sent" and "delivered" do not move it back.
    assert read.delivery_status == "read"
    assert failed.delivery_status == "failed"
    assert "131047" in failed.error and "24 hours" in failed.error
    assert Message.objects.count() == before
    results = InboundEvent.objects.get().result["messages"]
    assert all(r["matched"] for r in results)


def test_a_status_for_a_message_we_do_not_know_is_accepted_and_changes_nothing(client):
    assert post(client, sample("statuses")).status_code == 200
    assert not Message.objects.exists()
    assert not any(r["matched"] for r in InboundEvent.objects.get().result["messages"])


# --- what cannot be read -----------------------------------------------------------------------------------


def test_malformed_json_is_400_with_the_reason_and_the_raw_event_kept_as_failed(client):
    body = b'{"object": "whatsapp_business_account", "entry": ['
    response = post(client, body)
    assert response.status_code == 400 and "not JSON" in response.json()["error"]
    event = InboundEvent.objects.get(pk=response.json()["event"])
    assert event.status == "failed" and event.error.startswith(PAYLOAD_ERROR_PREFIX)
    assert event.payload_bytes == body
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({"object": "page", "entry": []}, "whatsapp_business_account"),
        ({"object": "whatsapp_business_account", "entry": "x"}, "entry is a str"),
        ([1, 2], "not an object"),
    ],
)
def test_a_payload_of_the_wrong_shape_is_400_with_the_reason(client, payload, reason):
    body = json.dumps(payload).encode()
    response = post(client, body)
    assert response.status_code == 400 and reason in response.json()["error"]
    assert InboundEvent.objects.get().status == "failed"


def test_a_sender_known_only_by_a_business_scoped_id_is_refused_with_the_reason(client):
    payload = text_message("wamid.bsuid", "hello", 1749416383)
    message = payload["entry"][0]["changes"][0]["value"]["messages"][0]
    del message["from"]
    message["from_user_id"] = "US.13491208655302741918"
    response = post(client, payload)
    assert response.status_code == 400 and "business-scoped user ID" in response.json()["error"]
    assert not Message.objects.exists()


def test_too_large_is_413_and_nothing_stored(client, settings):
    settings.HELPDESK = {**settings.HELPDESK, "MAX_WEBHOOK_BYTES": 100}
    assert post(client, sample("text")).status_code == 413
    assert not InboundEvent.objects.exists() and not Ticket.objects.exists()

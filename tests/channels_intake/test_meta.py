"""Messenger and Instagram messaging webhooks through the Django test client, signed for real over the raw
body. Payload samples follow Meta's Messenger Platform and Instagram Messaging webhook references:
tests/channels_intake/fixtures/meta/."""

from datetime import UTC, datetime
from pathlib import Path

import pytest

from channels_intake.models import InboundEvent
from channels_intake.outbound.social import recipient
from channels_intake.services import PAYLOAD_ERROR_PREFIX
from tests.channels_intake.meta_signing import meta_signature, post_signed
from tickets.models import CustomerIdentity, Message, Ticket

pytestmark = pytest.mark.django_db

URL = "/intake/meta/"
SECRET = "meta-app-secret-abcdef"
VERIFY_TOKEN = "meta-verify-token"
FIXTURES = Path(__file__).parent / "fixtures" / "meta"
PSID = "6945287178871364"
IGSID = "1527459824126553"
MID = "m_AG5Hz2Uq7tuwNEhXfYYKj8mJEM_QPpz5jdCK48PnKAjSdjfipqxqMvK8ma6AC8fplwlqLP_5cgXIbu7I3rBN0P"


@pytest.fixture(autouse=True)
def secrets(settings):
    settings.META_APP_SECRET = SECRET
    settings.META_VERIFY_TOKEN = VERIFY_TOKEN
    settings.WHATSAPP_APP_SECRET = "whatsapp-app-secret"
    settings.WHATSAPP_VERIFY_TOKEN = "whatsapp-verify-token"


def sample(name: str) -> bytes:
    return (FIXTURES / f"{name}.json").read_bytes()


def sign(body: bytes, secret: str = SECRET) -> str:
    return meta_signature(body, secret)


def post(client, body, signature=None):
    """As Meta sends it: JSON, signed over the exact bytes. ``signature=False`` sends no signature header."""
    return post_signed(client, URL, body, SECRET, signature)


def messaging(obj: str, *events: dict, page: str = "106179391947290") -> dict:
    return {"object": obj, "entry": [{"id": page, "time": 1458692752478, "messaging": list(events)}]}


def inbound():
    return Message.objects.filter(direction=Message.Direction.INBOUND)


# --- the verification handshake ---------------------------------------------------------------------------


def test_handshake_answers_the_challenge(client):
    response = client.get(
        URL,
        {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "CHALLENGE_ACCEPTED"},
    )
    assert response.status_code == 200 and response.content == b"CHALLENGE_ACCEPTED"
    assert response["Content-Type"].startswith("text/plain")


def test_handshake_with_the_whatsapp_token_or_an_unset_token_is_refused(client, settings):
    params = {"hub.mode": "subscribe", "hub.verify_token": "whatsapp-verify-token", "hub.challenge": "1"}
    assert client.get(URL, params).status_code == 403
    settings.META_VERIFY_TOKEN = ""
    response = client.get(URL, {**params, "hub.verify_token": ""})
    assert response.status_code == 403 and "META_VERIFY_TOKEN" in response.json()["error"]


# --- Messenger and Instagram messages ----------------------------------------------------------------------


def test_a_messenger_message_becomes_interaction_case_and_ticket(client):
    response = post(client, sample("messenger_text"))
    assert response.status_code == 200 and response.json()["status"] == "processed"

    message = inbound().get()
    assert message.channel == "social" and message.provider_message_id == MID
    assert message.sender == f"messenger:{PSID}"
    assert message.body == "My internet is down since this morning, order ORD-5150"
    assert message.sent_at == datetime.fromtimestamp(1458692752.478, tz=UTC)
    assert message.meta == {
        "platform": "messenger",
        "recipient": "106179391947290",
        "quick_reply": "REPORT_OUTAGE",
    }
    ticket = message.interaction.case.ticket
    assert ticket.channel == "social" and ticket.reference.value == "ORD-5150"
    assert CustomerIdentity.objects.get(channel="social").address == f"messenger:{PSID}"
    # The acknowledgement goes to the same address, in the form the Send API sender reads.
    ack = Message.objects.get(direction="out")
    assert ack.sender == f"messenger:{PSID}"
    assert recipient(ack.sender) == ("Messenger", PSID, 2000)
    event = InboundEvent.objects.get()
    assert event.source == "meta" and event.channel == "social"


def test_several_instagram_messages_in_one_post_in_order_and_the_echo_ignored(client):
    assert post(client, sample("instagram_batch")).status_code == 200

    text, image = inbound().order_by("sent_at")
    assert text.sender == image.sender == f"instagram:{IGSID}"
    assert text.body == "Hi, my order ORD-6061 arrived broken. Photo below."
    assert image.body == (
        "[image, not downloaded: "
        "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=17953404722716421&signature=AbyEhbT5]"
    )
    assert image.meta["attachments"][0]["type"] == "image" and image.meta["platform"] == "instagram"
    assert text.interaction_id == image.interaction_id and Ticket.objects.get().reference.value == "ORD-6061"
    # Taken in Meta's timestamp order, not the batch's: the text (sent first) opened the ticket.
    assert text.pk < image.pk and Ticket.objects.get().subject.startswith("Hi, my order ORD-6061")
    # Our own acknowledgement coming back as an echo is not a customer message.
    assert not inbound().filter(body__startswith="Thanks, we have your message").exists()
    results = InboundEvent.objects.get().result["messages"]
    assert [r["ignored"] for r in results if "ignored" in r] == [
        "echo of our own Instagram message aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDA1ODIyMzA0OTE0OjM0MDI4"
        "MjM2Njg0MTcxMDMwMTI0NDI2MDAwMjU0NDc1OTkyNjc1MjozMTc3MDM0NTE5MDc5NzQ4NjU4MjM2MTI1NTk5MjE3ODk3NwZDZD"
    ]


def test_an_echo_alone_creates_nothing(client):
    response = post(client, sample("messenger_echo"))
    assert response.status_code == 200 and response.json()["status"] == "processed"
    assert not Message.objects.exists() and not Ticket.objects.exists()
    assert "echo" in InboundEvent.objects.get().result["messages"][0]["ignored"]


def test_the_same_mid_five_times_is_one_message(client):
    for _ in range(5):
        assert post(client, sample("messenger_text")).status_code == 200
    assert inbound().filter(provider_message_id=MID).count() == 1 and Ticket.objects.count() == 1


def test_a_follow_up_from_the_same_psid_joins_the_open_interaction(client):
    post(client, sample("messenger_text"))
    follow_up = {
        "sender": {"id": PSID},
        "recipient": {"id": "106179391947290"},
        "timestamp": 1458692800000,
        "message": {"mid": "m_follow_up", "text": "Any news?"},
    }
    post(client, messaging("page", follow_up))
    first, second = inbound().order_by("sent_at")
    assert first.interaction_id == second.interaction_id and Ticket.objects.count() == 1


def test_a_postback_is_the_button_the_customer_tapped(client):
    event = {
        "sender": {"id": PSID},
        "recipient": {"id": "106179391947290"},
        "timestamp": 1527459824,
        "postback": {"mid": "m_postback_1", "title": "Talk to an agent", "payload": "AGENT"},
    }
    for _ in range(2):
        assert post(client, messaging("page", event)).status_code == 200
    message = inbound().get()
    assert message.body == "[button: Talk to an agent]" and message.meta["postback"] == {"payload": "AGENT"}


def test_other_events_are_ignored_with_the_reason(client):
    event = {
        "sender": {"id": PSID},
        "recipient": {"id": "106179391947290"},
        "timestamp": 1458692752478,
        "reaction": {"mid": MID, "action": "react", "reaction": "love", "emoji": "\u2764"},
    }
    assert post(client, messaging("page", event)).status_code == 200
    assert not Message.objects.exists()
    assert InboundEvent.objects.get().result["messages"] == [
        {"ignored": "Messenger reaction event: not a message to answer"}
    ]


# --- receipts ----------------------------------------------------------------------------------------------


def test_delivery_receipts_update_our_message_and_a_watermark_read_changes_nothing(client):
    post(client, sample("messenger_text"))
    ack = Message.objects.get(direction="out")
    Message.objects.filter(pk=ack.pk).update(provider_message_id="m_outbound-ack-1", delivery_status="sent")

    assert post(client, sample("messenger_receipts")).status_code == 200
    ack.refresh_from_db()
    assert ack.delivery_status == "delivered"
    assert Message.objects.count() == 2
    results = InboundEvent.objects.order_by("-id").first().result["messages"]
    assert results == [
        {"receipt": "m_outbound-ack-1", "matched": True, "status": "delivered"},
        {"ignored": "Messenger read up to a watermark, naming no message"},
    ]


def test_an_instagram_read_receipt_names_the_message(client):
    post(client, sample("instagram_batch"))
    ack = Message.objects.get(direction="out")
    Message.objects.filter(pk=ack.pk).update(provider_message_id="ig_out_1", delivery_status="delivered")
    read = {
        "sender": {"id": IGSID},
        "recipient": {"id": "17841405822304914"},
        "timestamp": 1569262499000,
        "read": {"mid": "ig_out_1"},
    }
    assert post(client, messaging("instagram", read, page="17841405822304914")).status_code == 200
    ack.refresh_from_db()
    assert ack.delivery_status == "read"


# --- authenticity and what cannot be read ------------------------------------------------------------------


@pytest.mark.parametrize(
    "signature",
    [
        pytest.param(False, id="missing"),
        pytest.param("sha256=" + "f" * 64, id="forged"),
        pytest.param("whatsapp", id="signed-with-the-whatsapp-secret"),
        pytest.param("garbage", id="no-scheme"),
    ],
)
def test_a_bad_or_missing_signature_is_refused_and_nothing_stored(client, signature):
    body = sample("messenger_text")
    if signature == "whatsapp":
        signature = sign(body, "whatsapp-app-secret")
    response = post(client, body, signature=signature)
    assert response.status_code == 403
    assert not InboundEvent.objects.exists() and not Message.objects.exists()


def test_every_post_is_refused_while_the_app_secret_is_unset(client, settings):
    settings.META_APP_SECRET = ""
    body = sample("messenger_text")
    response = post(client, body, signature=sign(body, ""))
    assert response.status_code == 403 and "META_APP_SECRET" in response.json()["error"]
    assert not InboundEvent.objects.exists()


def test_malformed_json_is_400_with_the_reason_and_kept_as_failed(client):
    body = b'{"object": "page", "entry": [{"messaging": [}'
    response = post(client, body)
    assert response.status_code == 400 and "not JSON" in response.json()["error"]
    event = InboundEvent.objects.get()
    assert event.status == "failed" and event.error.startswith(PAYLOAD_ERROR_PREFIX)
    assert event.payload_bytes == body


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({"object": "whatsapp_business_account", "entry": []}, "'page' or 'instagram'"),
        (messaging("page", {"sender": {"id": PSID}, "message": {"text": "no mid"}}), "without a mid"),
        (messaging("page", {"recipient": {"id": "1"}, "message": {"mid": "m_1", "text": "x"}}), "no sender"),
    ],
)
def test_a_payload_of_the_wrong_shape_is_400_with_the_reason(client, payload, reason):
    response = post(client, payload)
    assert response.status_code == 400 and reason in response.json()["error"]
    assert InboundEvent.objects.get().status == "failed" and not Message.objects.exists()

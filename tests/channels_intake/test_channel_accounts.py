"""Channel accounts: provider credentials entered in the admin, used by every webhook and by the replies.

Each test empties the settings first, so what is accepted or sent can only come from what the admin holds.
Outbound requests go to the recording provider on 127.0.0.1 that the outbound tests use.
"""

import base64
import json
from pathlib import Path
from urllib.parse import urlencode

import pytest
from twilio.request_validator import RequestValidator

from channels_intake.models import ChannelAccount, InboundEvent
from channels_intake.outbound.delivery import deliver
from tests.channels_intake.meta_signing import meta_signature
from tests.channels_intake.test_outbound import PHONE_NUMBER_ID, TWILIO_SID, FakeProvider, assigned_ticket
from tickets.models import Message
from tickets.services.replies import reply

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).parent / "fixtures"
ADMIN_URL = "/admin/channels_intake/channelaccount/"
PAGE_ID = "106179391947290"
OUR_NUMBER = "+447700900999"
SECRET_SETTINGS = (
    "WHATSAPP_APP_SECRET",
    "WHATSAPP_VERIFY_TOKEN",
    "WHATSAPP_ACCESS_TOKEN",
    "WHATSAPP_PHONE_NUMBER_ID",
    "META_APP_SECRET",
    "META_VERIFY_TOKEN",
    "META_PAGE_ACCESS_TOKEN",
    "TWILIO_AUTH_TOKEN",
    "TWILIO_ACCOUNT_SID",
    "TWILIO_FROM_NUMBER",
    "INTAKE_TOKEN",
)


@pytest.fixture(autouse=True)
def no_settings(settings):
    for name in SECRET_SETTINGS:
        setattr(settings, name, "")


def account_form(**fields) -> dict:
    return {
        "name": "main",
        "kind": "whatsapp",
        "active": "on",
        "account_id": "",
        "phone_number": "",
        "verify_token": "",
        "secret": "",
        "access_token": "",
        "api_base": "",
        **fields,
    }


def enter(admin_client, **fields) -> ChannelAccount:
    """An account typed into the admin's add form."""
    response = admin_client.post(f"{ADMIN_URL}add/", account_form(**fields))
    assert response.status_code == 302, response.text
    return ChannelAccount.objects.get(name=fields.get("name", "main"))


# --- one signed request per channel --------------------------------------------------------------------


def whatsapp_body() -> bytes:
    return (FIXTURES / "whatsapp" / "text.json").read_bytes()


def twilio_request(path: str, params: dict, token: str):
    url = f"http://testserver{path}"
    signature = RequestValidator(token).compute_signature(url, params)
    return {
        "path": path,
        "data": urlencode(params),
        "content_type": "application/x-www-form-urlencoded",
        "HTTP_X_TWILIO_SIGNATURE": signature,
    }


SMS = {
    "MessageSid": "SM1f0e8ae6ade43cb3c0ce4525424e404f",
    "AccountSid": TWILIO_SID,
    "From": "+447700900111",
    "To": OUR_NUMBER,
    "Body": "Internet down again, order ORD-4242",
    "NumMedia": "0",
}
CALL = json.loads((FIXTURES / "voice" / "twilio_inbound_call.json").read_text())[-1]


def request_for(channel: str, secret: str) -> dict:
    """The provider's request for ``channel``, signed (or carrying the token) with ``secret``."""
    if channel in ("whatsapp", "meta"):
        body = (
            whatsapp_body()
            if channel == "whatsapp"
            else (FIXTURES / "meta" / "messenger_text.json").read_bytes()
        )
        return {
            "path": f"/intake/{channel}/",
            "data": body,
            "content_type": "application/json",
            "HTTP_X_HUB_SIGNATURE_256": meta_signature(body, secret),
        }
    if channel == "sms":
        return twilio_request("/intake/sms/twilio/", SMS, secret)
    if channel == "voice":
        return twilio_request("/intake/voice/twilio/", {**CALL, "AccountSid": TWILIO_SID}, secret)
    if channel == "email":
        return {
            "path": "/intake/email/raw/",
            "data": (FIXTURES / "email" / "plain.eml").read_bytes(),
            "content_type": "message/rfc822",
            "HTTP_AUTHORIZATION": f"Bearer {secret}",
        }
    assert channel == "cti"
    return {
        "path": "/intake/voice/events/",
        "data": (FIXTURES / "voice" / "cti_event.json").read_text(),
        "content_type": "application/json",
        "HTTP_AUTHORIZATION": f"Bearer {secret}",
    }


# channel → the account the admin holds for it (its secret is what the request is signed with)
ACCOUNTS = {
    "whatsapp": {"kind": "whatsapp", "account_id": "106540352242922"},
    "meta": {"kind": "meta", "account_id": PAGE_ID},
    "sms": {"kind": "twilio", "account_id": TWILIO_SID, "phone_number": OUR_NUMBER},
    "voice": {"kind": "twilio", "account_id": TWILIO_SID},
    "email": {"kind": "email_pipe"},
    "cti": {"kind": "cti"},
}


def send(client, channel: str, secret: str):
    request = request_for(channel, secret)
    return client.post(request.pop("path"), request.pop("data"), **request)


@pytest.mark.parametrize("channel", list(ACCOUNTS))
def test_a_request_signed_with_the_admins_secret_is_accepted_and_a_wrong_one_refused(
    admin_client, client, channel
):
    # Nothing in the settings and no account: refused, nothing stored.
    assert send(client, channel, "entered-in-the-admin").status_code == 403
    enter(admin_client, secret="entered-in-the-admin", **ACCOUNTS[channel])

    assert send(client, channel, "not-the-secret").status_code == 403
    assert not InboundEvent.objects.exists()

    response = send(client, channel, "entered-in-the-admin")
    assert response.status_code == 200, response.content
    event = InboundEvent.objects.get()
    assert (
        event.status == "processed"
        and Message.objects.filter(direction=Message.Direction.INBOUND).count() == 1
    )


@pytest.mark.parametrize("channel", list(ACCOUNTS))
def test_an_inactive_account_refuses_and_the_setting_still_works_beside_the_accounts(
    admin_client, client, settings, channel
):
    account = enter(admin_client, secret="entered-in-the-admin", active="", **ACCOUNTS[channel])
    assert send(client, channel, "entered-in-the-admin").status_code == 403  # inactive: not used

    account.active = True
    account.save()
    setting = {
        "whatsapp": "WHATSAPP_APP_SECRET",
        "meta": "META_APP_SECRET",
        "sms": "TWILIO_AUTH_TOKEN",
        "voice": "TWILIO_AUTH_TOKEN",
        "email": "INTAKE_TOKEN",
        "cti": "INTAKE_TOKEN",
    }[channel]
    setattr(settings, setting, "from-the-environment")
    assert send(client, channel, "from-the-environment").status_code == 200
    assert send(client, channel, "entered-in-the-admin").status_code == 200  # a redelivery: one message
    assert Message.objects.filter(direction=Message.Direction.INBOUND).count() == 1


def test_any_active_accounts_secret_is_accepted_the_named_one_or_another(admin_client, client):
    # The payload names phone number ID 106540352242922; a second number of the same business has its own app.
    enter(admin_client, name="sales", kind="whatsapp", account_id="999", secret="sales-secret")
    enter(
        admin_client, name="support", kind="whatsapp", account_id="106540352242922", secret="support-secret"
    )
    enter(admin_client, name="pbx", kind="cti", secret="pbx-token")

    assert send(client, "whatsapp", "support-secret").status_code == 200
    assert send(client, "whatsapp", "sales-secret").status_code == 200
    # A token of another kind is no secret here: the CTI's token does not sign WhatsApp, nor feed e-mail.
    assert send(client, "whatsapp", "pbx-token").status_code == 403
    assert send(client, "email", "pbx-token").status_code == 403
    assert send(client, "cti", "pbx-token").status_code == 200


@pytest.mark.parametrize(("path", "kind"), [("/intake/whatsapp/", "whatsapp"), ("/intake/meta/", "meta")])
def test_metas_handshake_takes_the_verify_token_entered_in_the_admin(admin_client, client, path, kind):
    params = {"hub.mode": "subscribe", "hub.verify_token": "typed-at-meta", "hub.challenge": "1158201444"}
    assert client.get(path, params).status_code == 403
    enter(admin_client, kind=kind, account_id="1", secret="s", verify_token="typed-at-meta")

    response = client.get(path, params)
    assert response.status_code == 200 and response.text == "1158201444"
    assert client.get(path, {**params, "hub.verify_token": "guess"}).status_code == 403


# --- the admin ------------------------------------------------------------------------------------------


def test_the_admin_never_shows_a_secret_keeps_it_when_blank_and_removes_it_when_asked(admin_client):
    secrets = {
        "verify_token": "vt-Zq8-visible?",
        "secret": "app-Zq8-secret",
        "access_token": "EAAG-Zq8-token",
    }
    account = enter(admin_client, account_id=PHONE_NUMBER_ID, **secrets)
    assert {name: getattr(account, name) for name in secrets} == secrets

    for url in (ADMIN_URL, f"{ADMIN_URL}{account.pk}/change/"):
        page = admin_client.get(url).text
        assert not [value for value in secrets.values() if value in page]
    change_page = admin_client.get(f"{ADMIN_URL}{account.pk}/change/").text
    assert change_page.count('type="password"') == 3 and "Stored; leave blank to keep it." in change_page

    # Left blank: kept, and not logged as changed.
    response = admin_client.post(
        f"{ADMIN_URL}{account.pk}/change/", account_form(account_id=PHONE_NUMBER_ID, name="renamed")
    )
    assert response.status_code == 302
    account.refresh_from_db()
    assert account.name == "renamed" and account.secret == secrets["secret"]
    history = admin_client.get(f"{ADMIN_URL}{account.pk}/history/").text
    assert "Secret" not in history and not [value for value in secrets.values() if value in history]

    # Ticking "remove" clears an optional one; the required secret cannot be removed.
    response = admin_client.post(
        f"{ADMIN_URL}{account.pk}/change/",
        account_form(name="renamed", account_id=PHONE_NUMBER_ID, clear_verify_token="on", clear_secret="on"),
    )
    assert response.status_code == 200 and "Required for WhatsApp Cloud API." in response.text
    assert secrets["secret"] not in response.text  # not even on the page that shows the error
    response = admin_client.post(
        f"{ADMIN_URL}{account.pk}/change/",
        account_form(name="renamed", account_id=PHONE_NUMBER_ID, clear_verify_token="on"),
    )
    assert response.status_code == 302
    account.refresh_from_db()
    assert (account.verify_token, account.secret) == ("", secrets["secret"])


def test_each_kind_asks_for_what_it_needs(admin_client):
    response = admin_client.post(f"{ADMIN_URL}add/", account_form(kind="twilio", secret="tok"))
    assert response.status_code == 200 and "Required for Twilio (SMS and voice)." in response.text
    response = admin_client.post(f"{ADMIN_URL}add/", account_form(kind="cti"))
    assert response.status_code == 200 and "Required for CTI / PBX call events." in response.text
    assert not ChannelAccount.objects.exists()
    enter(admin_client, kind="cti", secret="pbx-token")


# --- replies go out with the account the customer wrote to ------------------------------------------------


@pytest.fixture
def api():
    provider = FakeProvider()
    provider.thread.start()
    yield provider
    provider.server.shutdown()
    provider.server.server_close()


def answered(agent, channel: str, sender: str, meta: dict) -> Message:
    ticket = assigned_ticket(agent, channel, sender, meta=meta)
    return reply(ticket=ticket, actor=agent.user, body="Please restart it.")


def test_whatsapp_replies_use_the_accounts_number_and_token(admin_client, api, agent, settings):
    settings.WHATSAPP_API_BASE = "http://127.0.0.1:9/unused"  # the settings' would fail if used
    enter(
        admin_client,
        kind="whatsapp",
        account_id=PHONE_NUMBER_ID,
        secret="app-secret",
        access_token="account-token",
        api_base=f"{api.url}/v21.0",
    )
    message = answered(agent, "whatsapp", "447700900123", {"phone_number_id": PHONE_NUMBER_ID})

    assert deliver(message.pk) == "sent"
    [seen] = api.requests
    assert seen.route == f"/v21.0/{PHONE_NUMBER_ID}/messages"
    assert seen.headers["authorization"] == "Bearer account-token"


def test_sms_replies_come_from_the_number_the_customer_texted(admin_client, api, agent, settings):
    settings.TWILIO_API_BASE = api.url
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = TWILIO_SID, "settings-token"
    settings.TWILIO_FROM_NUMBER = "+447700900000"
    enter(
        admin_client,
        kind="twilio",
        account_id=TWILIO_SID,
        phone_number=OUR_NUMBER,
        secret="account-token",
        api_base=api.url,
    )
    to_account = answered(agent, "sms", "+447700900456", {"to": OUR_NUMBER})
    to_other_number = answered(agent, "sms", "+447700900457", {"to": "+447700900001"})

    assert deliver(to_account.pk) == "sent" and deliver(to_other_number.pk) == "sent"
    by_account, by_settings = api.requests
    assert by_account.form()["From"] == OUR_NUMBER
    assert (
        by_account.headers["authorization"]
        == "Basic " + base64.b64encode(f"{TWILIO_SID}:account-token".encode()).decode()
    )
    # A number with no account: the settings' number and token.
    assert by_settings.form()["From"] == "+447700900000"
    assert (
        by_settings.headers["authorization"]
        == "Basic " + base64.b64encode(f"{TWILIO_SID}:settings-token".encode()).decode()
    )


def test_messenger_replies_use_the_pages_token_and_an_admin_only_setup_still_sends(admin_client, api, agent):
    enter(
        admin_client,
        kind="meta",
        account_id=PAGE_ID,
        secret="app-secret",
        access_token="page-token-from-admin",
        api_base=f"{api.url}/v21.0",
    )
    named = answered(agent, "social", "messenger:6143578917483920", {"recipient": PAGE_ID})
    # Nothing names a page and no setting is filled in: the one active account is used.
    unnamed = answered(agent, "social", "messenger:6143578917483921", {})

    assert deliver(named.pk) == "sent" and deliver(unnamed.pk) == "sent"
    assert [seen.query["access_token"] for seen in api.requests] == ["page-token-from-admin"] * 2


def test_without_an_account_or_settings_a_reply_fails_naming_what_to_set(agent):
    message = answered(agent, "whatsapp", "447700900123", {"phone_number_id": PHONE_NUMBER_ID})
    assert deliver(message.pk) == "failed"
    message.refresh_from_db()
    assert "WHATSAPP_ACCESS_TOKEN" in message.error

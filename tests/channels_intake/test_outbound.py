"""Outbound delivery against real servers on 127.0.0.1: an HTTP server answering like WhatsApp's Cloud API,
Twilio and Meta's Send API (and Postmark, for an anymail ESP), and an SMTP server (aiosmtpd)."""

import base64
import email
import json
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from aiosmtpd.controller import Controller
from django.db import connection
from django.utils import timezone
from django_q.models import Schedule

from channels_intake.outbound import delivery
from channels_intake.outbound.delivery import deliver
from tests.factories import TicketFactory
from tickets.intake import InboundMessage, receive
from tickets.models import Case, Interaction, Message, Ticket
from tickets.services import transitions
from tickets.services.replies import reply

pytestmark = pytest.mark.django_db

PHONE_NUMBER_ID = "106540352242922"
TWILIO_SID = "AC" + "0123456789abcdef" * 2
TASK = "channels_intake.tasks.deliver_message"


# --- a provider on 127.0.0.1 ---------------------------------------------------------------------------


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict
    body: bytes

    @property
    def route(self) -> str:
        return urlsplit(self.path).path

    @property
    def query(self) -> dict:
        return {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}

    def json(self):
        return json.loads(self.body)

    def form(self) -> dict:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}


class FakeProvider:
    """Records every request; answers like the real API unless told to answer otherwise next."""

    def __init__(self):
        self.requests: list[Recorded] = []
        self.scripted: list[tuple[int, object]] = []
        self.delay = 0.0
        self.lock = threading.Lock()
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                seen = Recorded(
                    self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body
                )
                with provider.lock:
                    provider.requests.append(seen)
                    status, answer = provider.scripted.pop(0) if provider.scripted else provider.answer(seen)
                time.sleep(provider.delay)
                raw = json.dumps(answer).encode() if not isinstance(answer, bytes) else answer
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def answer_next(self, status: int, answer) -> None:
        self.scripted.append((status, answer))

    def answer(self, seen: Recorded) -> tuple[int, object]:
        route = seen.route
        if route == f"/v21.0/{PHONE_NUMBER_ID}/messages":
            to = seen.json()["to"]
            wamid = "wamid.HBgL" + base64.b64encode(uuid.uuid4().bytes).decode().rstrip("=")
            return 200, {
                "messaging_product": "whatsapp",
                "contacts": [{"input": to, "wa_id": to}],
                "messages": [{"id": wamid}],
            }
        if route == f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json":
            form = seen.form()
            sid = "SM" + uuid.uuid4().hex
            return 201, {
                "account_sid": TWILIO_SID,
                "api_version": "2010-04-01",
                "body": form["Body"],
                "date_created": "Wed, 25 Nov 2026 10:00:00 +0000",
                "date_sent": None,
                "date_updated": "Wed, 25 Nov 2026 10:00:00 +0000",
                "direction": "outbound-api",
                "error_code": None,
                "error_message": None,
                "from": form["From"],
                "messaging_service_sid": None,
                "num_media": "0",
                "num_segments": "1",
                "price": None,
                "price_unit": "USD",
                "sid": sid,
                "status": "queued",
                "subresource_uris": {"media": f"/2010-04-01/Accounts/{TWILIO_SID}/Messages/{sid}/Media.json"},
                "to": form["To"],
                "uri": f"/2010-04-01/Accounts/{TWILIO_SID}/Messages/{sid}.json",
            }
        if route == "/v21.0/me/messages":
            return 200, {
                "recipient_id": seen.json()["recipient"]["id"],
                "message_id": "m_" + uuid.uuid4().hex,
            }
        if route == "/postmark/email":
            return 200, {
                "To": seen.json()["To"],
                "SubmittedAt": "2026-11-25T10:00:00.0000000Z",
                "MessageID": str(uuid.uuid4()),
                "ErrorCode": 0,
                "Message": "OK",
            }
        return 404, {"error": f"no route {route}"}


def point_settings_at(provider: FakeProvider, settings) -> None:
    settings.WHATSAPP_API_BASE = f"{provider.url}/v21.0"
    settings.WHATSAPP_PHONE_NUMBER_ID = PHONE_NUMBER_ID
    settings.WHATSAPP_ACCESS_TOKEN = "wa-token"
    settings.TWILIO_API_BASE = provider.url
    settings.TWILIO_ACCOUNT_SID = TWILIO_SID
    settings.TWILIO_AUTH_TOKEN = "tw-token"
    settings.TWILIO_FROM_NUMBER = "+447700900000"
    settings.META_API_BASE = f"{provider.url}/v21.0"
    settings.META_PAGE_ACCESS_TOKEN = "page-token"


@pytest.fixture
def api(settings):
    provider = FakeProvider()
    point_settings_at(provider, settings)
    provider.thread.start()
    yield provider
    provider.server.shutdown()
    provider.server.server_close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- the customer writes, the agent answers ------------------------------------------------------------

CUSTOMERS = {
    "whatsapp": ("whatsapp", "447700900123"),
    "sms": ("sms", "+447700900456"),
    "messenger": ("social", "messenger:6143578917483920"),
    "instagram": ("social", "instagram:17841400000000001"),
}


def assigned_ticket(agent, channel: str, sender: str, **extra) -> Ticket:
    result = receive(InboundMessage(channel=channel, sender=sender, text="My router keeps dropping", **extra))
    ticket = Ticket.objects.get(pk=int(result.ticket[2:]))
    return transitions.assign(ticket=ticket, actor=None, agent=agent)


def answer(agent, case: str, body: str = "Please restart it.") -> Message:
    channel, sender = CUSTOMERS[case]
    ticket = assigned_ticket(agent, channel, sender)
    return reply(ticket=ticket, actor=agent.user, body=body)


def check_request(case: str, seen: Recorded, body: str) -> None:
    assert seen.method == "POST"
    if case == "whatsapp":
        assert seen.route == f"/v21.0/{PHONE_NUMBER_ID}/messages"
        assert seen.headers["authorization"] == "Bearer wa-token"
        assert seen.headers["content-type"] == "application/json"
        assert seen.json() == {
            "messaging_product": "whatsapp",
            "to": "447700900123",
            "type": "text",
            "text": {"body": body},
        }
    elif case == "sms":
        assert seen.route == f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"
        expected = base64.b64encode(f"{TWILIO_SID}:tw-token".encode()).decode()
        assert seen.headers["authorization"] == f"Basic {expected}"
        assert seen.headers["content-type"] == "application/x-www-form-urlencoded"
        assert seen.form() == {"To": "+447700900456", "From": "+447700900000", "Body": body}
    else:
        scoped_id = CUSTOMERS[case][1].split(":", 1)[1]
        assert seen.route == "/v21.0/me/messages"
        assert seen.query == {"access_token": "page-token"}
        assert seen.json() == {
            "recipient": {"id": scoped_id},
            "message": {"text": body},
            "messaging_type": "RESPONSE",
        }


def text_of(seen: Recorded) -> str:
    if seen.route.endswith("Messages.json"):
        return seen.form()["Body"]
    body = seen.json()
    return body["text"]["body"] if "text" in body else body["message"]["text"]


PROVIDER_ID_PREFIX = {"whatsapp": "wamid.", "sms": "SM", "messenger": "m_", "instagram": "m_"}


@pytest.mark.parametrize("case", list(CUSTOMERS))
def test_a_reply_is_delivered_once_with_the_providers_id(api, agent, case):
    message = answer(agent, case)

    assert deliver(message.pk) == "sent"
    assert deliver(message.pk) == "already handled"  # the task is at-least-once: never a second send

    assert len(api.requests) == 1
    check_request(case, api.requests[0], "Please restart it.")
    message.refresh_from_db()
    assert message.delivery_status == "sent" and message.error == ""
    assert message.provider_message_id.startswith(PROVIDER_ID_PREFIX[case])
    assert message.meta["attempts"] == 1


REFUSALS = {
    "whatsapp": {
        "error": {
            "message": "(#131030) Recipient phone number not in allowed list",
            "type": "OAuthException",
            "code": 131030,
            "error_data": {
                "messaging_product": "whatsapp",
                "details": "Recipient phone number not in allowed list: Add recipient phone number to recipient "
                "list and try again.",
            },
            "fbtrace_id": "AazkXqQ2bgXl1rG5Rz1Dv3F",
        }
    },
    "sms": {
        "code": 21211,
        "message": "The 'To' number +447700900456 is not a valid phone number.",
        "more_info": "https://www.twilio.com/docs/errors/21211",
        "status": 400,
    },
    "messenger": {
        "error": {
            "message": "(#100) No matching user found",
            "type": "OAuthException",
            "code": 100,
            "error_subcode": 2018001,
            "fbtrace_id": "H3V1M2kI5xs",
        }
    },
    "instagram": {
        "error": {
            "message": "(#10) This message is sent outside of allowed window.",
            "type": "OAuthException",
            "code": 10,
            "error_subcode": 2018278,
            "fbtrace_id": "A8bq2sLq1vT",
        }
    },
}
REASONS = {
    "whatsapp": "WhatsApp 400: code 131030: (#131030) Recipient phone number not in allowed list: Recipient",
    "sms": "Twilio 400: 21211 The 'To' number +447700900456 is not a valid phone number.",
    "messenger": "Messenger 400: code 100: (#100) No matching user found",
    "instagram": "Instagram 400: code 10: (#10) This message is sent outside of allowed window.",
}


@pytest.mark.parametrize("case", list(CUSTOMERS))
def test_a_refusal_fails_the_message_with_the_providers_reason(api, agent, case):
    message = answer(agent, case)
    api.answer_next(400, REFUSALS[case])

    assert deliver(message.pk) == "failed"
    assert deliver(message.pk) == "already handled"

    message.refresh_from_db()
    assert message.delivery_status == "failed"
    assert message.error.startswith(REASONS[case])
    assert message.provider_message_id == ""
    assert not Schedule.objects.filter(func=TASK).exists()
    assert len(api.requests) == 1


@pytest.mark.parametrize("case", list(CUSTOMERS))
def test_an_outage_keeps_the_message_queued_and_schedules_a_retry(api, agent, case):
    message = answer(agent, case)
    api.answer_next(503, b"<html><body>Service Unavailable</body></html>")

    before = timezone.now()
    assert deliver(message.pk) == "retry scheduled"

    message.refresh_from_db()
    assert message.delivery_status == "queued" and message.meta["attempts"] == 1
    assert "503" in message.error and "Service Unavailable" in message.error
    retry = Schedule.objects.get(func=TASK, args=str(message.pk))
    assert retry.schedule_type == Schedule.ONCE
    assert before + timedelta(minutes=2) <= retry.next_run <= timezone.now() + timedelta(minutes=2)

    # The retry, when it runs, sends it.
    assert deliver(message.pk) == "sent"
    message.refresh_from_db()
    assert message.delivery_status == "sent" and message.error == "" and message.meta["attempts"] == 2
    assert len(api.requests) == 2


def test_rate_limits_are_temporary_even_when_meta_answers_400(api, agent):
    sms = answer(agent, "sms")
    api.answer_next(429, {"code": 20429, "message": "Too Many Requests", "more_info": "", "status": 429})
    assert deliver(sms.pk) == "retry scheduled"

    whatsapp = answer(agent, "whatsapp")
    api.answer_next(
        400,
        {
            "error": {
                "message": "(#130429) Rate limit hit",
                "type": "OAuthException",
                "code": 130429,
                "error_data": {
                    "messaging_product": "whatsapp",
                    "details": "Cloud API message throughput reached",
                },
                "fbtrace_id": "Bq3x",
            }
        },
    )
    assert deliver(whatsapp.pk) == "retry scheduled"
    assert Message.objects.filter(pk__in=[sms.pk, whatsapp.pk], delivery_status="queued").count() == 2


def test_an_unreachable_provider_is_retried_with_backoff_then_given_up(api, agent, settings):
    message = answer(agent, "whatsapp")
    settings.WHATSAPP_API_BASE = f"http://127.0.0.1:{free_port()}/v21.0"  # nobody listens there

    results = [deliver(message.pk) for _ in range(5)]

    assert results == ["retry scheduled"] * 4 + ["failed"]
    message.refresh_from_db()
    assert message.delivery_status == "failed" and message.meta["attempts"] == 5
    assert message.error.startswith("gave up after 5 attempts: WhatsApp unreachable")
    retries = Schedule.objects.filter(func=TASK, args=str(message.pk)).order_by("next_run")
    delays = [(s.next_run - timezone.now()).total_seconds() / 60 for s in retries]
    assert [round(d) for d in delays] == [2, 4, 8, 16]


def test_missing_settings_or_a_too_long_text_fail_without_calling_the_provider(api, agent, settings):
    settings.WHATSAPP_ACCESS_TOKEN = ""
    message = answer(agent, "whatsapp")
    assert deliver(message.pk) == "failed"
    message.refresh_from_db()
    assert message.error == "no sender is configured for WhatsApp: set WHATSAPP_ACCESS_TOKEN"

    long_sms = answer(agent, "sms", body="x" * 1601)
    assert deliver(long_sms.pk) == "failed"
    long_sms.refresh_from_db()
    assert "at most 1600 characters" in long_sms.error
    assert api.requests == []


def test_an_unreadable_success_is_not_sent_again(api, agent):
    message = answer(agent, "messenger")
    api.answer_next(200, b"<html>ok</html>")
    assert deliver(message.pk) == "failed"
    message.refresh_from_db()
    assert "may have been sent" in message.error


def test_chat_replies_need_no_provider_and_inbound_messages_are_never_sent(api, agent):
    ticket = assigned_ticket(agent, "chat", "session-42")
    message = reply(ticket=ticket, actor=agent.user, body="Hello from the desk")
    inbound = Message.objects.get(direction="in", channel="chat")

    assert deliver(message.pk) == "sent"
    assert deliver(inbound.pk) == "nothing to send"
    assert deliver(10**9) == "nothing to send"
    assert api.requests == []


def test_the_outbox_task_runs_after_the_reply_commits(
    api, agent, monkeypatch, django_capture_on_commit_callbacks
):
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", True)  # async_task runs the task in-process
    channel, sender = CUSTOMERS["sms"]
    ticket = assigned_ticket(agent, channel, sender)
    with django_capture_on_commit_callbacks(execute=True):
        message = reply(ticket=ticket, actor=agent.user, body="On its way")
        assert api.requests == []  # nothing leaves before the commit

    message.refresh_from_db()
    assert message.delivery_status == "sent" and message.provider_message_id.startswith("SM")
    assert [r.form()["Body"] for r in api.requests] == ["On its way"]


# --- the outbox sweep ----------------------------------------------------------------------------------


def test_the_sweep_sends_forgotten_messages_and_fails_interrupted_ones(api, agent, monkeypatch):
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", True)
    forgotten = answer(agent, "whatsapp", body="Forgotten")
    waiting = answer(agent, "sms", body="Waiting for its retry")
    stuck = answer(agent, "messenger", body="Stuck")
    busy = answer(agent, "instagram", body="Being sent right now")
    hour_ago = timezone.now() - timedelta(hours=1)
    Message.objects.filter(direction="out").update(created_at=hour_ago)
    Message.objects.filter(pk=waiting.pk).update(
        meta={"attempts": 1, "next_attempt_at": (timezone.now() + timedelta(minutes=3)).isoformat()}
    )
    Message.objects.filter(pk=stuck.pk).update(
        delivery_status="sending", meta={"attempts": 1, "claimed_at": hour_ago.isoformat()}
    )
    Message.objects.filter(pk=busy.pk).update(
        delivery_status="sending", meta={"attempts": 1, "claimed_at": timezone.now().isoformat()}
    )

    outcome = delivery.sweep()

    assert outcome["interrupted"] == 1
    states = dict(Message.objects.filter(direction="out").values_list("pk", "delivery_status"))
    assert states[forgotten.pk] == "sent" and states[waiting.pk] == "queued"
    assert states[stuck.pk] == "failed" and states[busy.pk] == "sending"
    assert "may or may not have reached the customer" in Message.objects.get(pk=stuck.pk).error
    texts = [text_of(r) for r in api.requests]
    # The forgotten reply and the four acknowledgements (also never enqueued here) went; nothing else did.
    assert outcome["requeued"] == 5 and len(texts) == 5
    assert "Forgotten" in texts and not {"Waiting for its retry", "Stuck", "Being sent right now"} & set(
        texts
    )


# --- e-mail: a real SMTP server ------------------------------------------------------------------------


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("bounce"):
            return "550 5.1.1 No such user here"
        if address.startswith("later"):
            return "451 4.7.1 Greylisted, please try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content, policy=default_policy))
        return "250 OK"


@pytest.fixture
def smtp(settings):
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": controller.port, "timeout": 5},
        }
    }
    settings.HELPDESK_FROM_EMAIL = "support@helpdesk.test"
    yield inbox
    controller.stop()


def test_an_email_reply_answers_the_customers_thread_and_their_answer_comes_back(smtp, agent):
    first = receive(
        InboundMessage(
            channel="email",
            sender="Cust <cust@example.com>",
            subject="Router broken",
            text="It keeps dropping",
            provider_message_id="<cust-1@example.com>",
        )
    )
    ticket = transitions.assign(ticket=Ticket.objects.get(pk=int(first.ticket[2:])), actor=None, agent=agent)
    ack = Message.objects.get(direction="out", meta__kind="acknowledgement")
    answer_1 = reply(ticket=ticket, actor=agent.user, body="Please restart it.")
    assert deliver(ack.pk) == "sent" and deliver(answer_1.pk) == "sent"

    mail = smtp.messages[-1]
    answer_1.refresh_from_db()
    ack.refresh_from_db()
    assert mail["In-Reply-To"] == "<cust-1@example.com>"
    assert ticket.number in mail["Subject"] and f"[{ticket.number}]" in mail["Subject"]
    assert mail["To"] == "cust@example.com" and mail["From"] == "support@helpdesk.test"
    assert mail["Message-ID"] == answer_1.provider_message_id
    assert answer_1.provider_message_id.endswith("@helpdesk.test>")
    assert mail["References"].split() == ["<cust-1@example.com>", ack.provider_message_id]
    assert mail.get_content().strip() == "Please restart it."

    # The customer answers our mail later, from a new interaction, naming no ticket, while another of their
    # tickets is open too: only the thread (our Message-ID) can link it.
    Interaction.objects.filter(case__ticket=ticket).update(status="closed")
    TicketFactory(customer=ticket.customer)
    back = receive(
        InboundMessage(
            channel="email",
            sender="cust@example.com",
            subject="Re: still broken",
            text="Restarted, still broken",
            provider_message_id="<cust-2@example.com>",
            thread_ids=[answer_1.provider_message_id],
        )
    )
    assert back.ticket == ticket.number and back.link_rule == Case.LinkRule.TICKET_NUMBER

    # The next answer replies to that mail, and References carries the whole thread in order.
    answer_2 = reply(ticket=ticket, actor=agent.user, body="We'll send an engineer.")
    assert deliver(answer_2.pk) == "sent"
    mail = smtp.messages[-1]
    assert mail["In-Reply-To"] == "<cust-2@example.com>"
    assert mail["References"].split() == [
        "<cust-1@example.com>",
        ack.provider_message_id,
        answer_1.provider_message_id,
        "<cust-2@example.com>",
    ]
    assert len(smtp.messages) == 3


def test_a_web_form_is_answered_by_email(smtp, agent):
    ticket = assigned_ticket(agent, "web", "webby@example.com", subject="Contact form")
    message = reply(ticket=ticket, actor=agent.user, body="Thanks for writing.")
    assert message.channel == "web"

    assert deliver(message.pk) == "sent"
    (mail,) = smtp.messages
    assert mail["To"] == "webby@example.com" and ticket.number in mail["Subject"]
    assert mail["In-Reply-To"] is None
    message.refresh_from_db()
    assert message.provider_message_id == mail["Message-ID"]


def test_smtp_refusals_fail_and_deferrals_retry(smtp, agent):
    bounced = reply(
        ticket=assigned_ticket(agent, "email", "bounce@example.com"), actor=agent.user, body="Hello"
    )
    deferred = reply(ticket=assigned_ticket(agent, "email", "later@example.com"), actor=agent.user, body="Hi")

    assert deliver(bounced.pk) == "failed"
    assert deliver(deferred.pk) == "retry scheduled"

    bounced.refresh_from_db()
    deferred.refresh_from_db()
    assert bounced.error == "recipient refused: bounce@example.com: 550 5.1.1 No such user here"
    assert deferred.delivery_status == "queued" and deferred.meta["attempts"] == 1
    assert "451" in deferred.error
    assert smtp.messages == []


def test_an_anymail_esp_backend_sends_our_headers_and_its_errors_are_sorted(api, agent, settings):
    settings.MAILERS = {"default": {"BACKEND": "anymail.backends.postmark.EmailBackend"}}
    settings.ANYMAIL = {"POSTMARK_SERVER_TOKEN": "pm-token", "POSTMARK_API_URL": f"{api.url}/postmark/"}
    settings.HELPDESK_FROM_EMAIL = "support@helpdesk.test"
    ticket = assigned_ticket(
        agent, "email", "esp@example.com", subject="Bill", provider_message_id="<esp-1@example.com>"
    )
    ok = reply(ticket=ticket, actor=agent.user, body="Refunded.")
    outage = reply(ticket=ticket, actor=agent.user, body="Second")
    refused = reply(ticket=ticket, actor=agent.user, body="Third")

    assert deliver(ok.pk) == "sent"
    api.answer_next(500, {"ErrorCode": 100, "Message": "Maintenance"})
    assert deliver(outage.pk) == "retry scheduled"
    api.answer_next(422, {"ErrorCode": 300, "Message": "Invalid email request"})
    assert deliver(refused.pk) == "failed"

    sent = api.requests[0]
    assert sent.headers["x-postmark-server-token"] == "pm-token"
    payload = sent.json()
    headers = {h["Name"]: h["Value"] for h in payload["Headers"]}
    ok.refresh_from_db()
    assert payload["To"] == "esp@example.com" and ticket.number in payload["Subject"]
    assert headers["In-Reply-To"] == "<esp-1@example.com>" and headers["Message-ID"] == ok.provider_message_id
    assert ok.meta["esp_message_id"]  # Postmark's own ID, kept for its tracking webhooks
    refused.refresh_from_db()
    assert "Invalid email request" in refused.error


# --- concurrency and the real cluster ------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_workers_delivering_the_same_message_at_once_send_it_once(api, agent):
    message = answer(agent, "sms")
    api.delay = 0.3
    results = []

    def run():
        try:
            results.append(deliver(message.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(results) == ["already handled"] * 3 + ["sent"]
    assert [r.form()["Body"] for r in api.requests].count("Please restart it.") == 1


@pytest.mark.cluster
@pytest.mark.django_db(transaction=True)
def test_a_real_cluster_delivers_the_acknowledgement(settings):
    from django_q.brokers import get_broker
    from django_q.cluster import Cluster

    api = FakeProvider()
    point_settings_at(api, settings)  # before the fork: the workers inherit the settings
    cluster = Cluster(get_broker())
    cluster.start()
    # The server's thread starts after the fork, so no worker inherits its locks.
    api.thread.start()
    try:
        receive(InboundMessage(channel="whatsapp", sender="447700900777", text="Hello?"))
        ack = Message.objects.get(direction="out", meta__kind="acknowledgement")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not Message.objects.filter(pk=ack.pk, delivery_status="sent"):
            time.sleep(0.1)
    finally:
        cluster.stop()
        api.server.shutdown()
        api.server.server_close()
    ack.refresh_from_db()
    assert ack.delivery_status == "sent" and ack.provider_message_id.startswith("wamid.")
    (request,) = api.requests
    assert (
        request.json()["to"] == "447700900777" and "Your ticket number is" in request.json()["text"]["body"]
    )

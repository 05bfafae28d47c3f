"""The customer of DOMAIN.md's worked example writing in while the agents work in the browser.

Customer ``ABC`` (Ana B. Cole: phone and WhatsApp +447700900100, ana@example.com, orders ORD-1 and ORD-2)
comes from the CRM import. Every message of theirs is posted over HTTP to the live server the browser uses,
signed the way its provider signs (Meta's X-Hub-Signature-256 for WhatsApp, the MTA pipe's bearer token for
raw e-mail), so it goes through the edge (inbound event log, adapter) and the intake pipeline as in
production.
"""

from __future__ import annotations

import io
import itertools
import json
import time
from email.utils import format_datetime

from django.utils import timezone
from playwright.sync_api import APIRequestContext

from tests.channels_intake.meta_signing import meta_signature
from tickets.models import Customer
from tickets.services.imports import import_customers

INTAKE_TOKEN = "browser-intake-token"
WHATSAPP_SECRET = "browser-wa-secret"
PHONE = "+447700900100"
EMAIL = "ana@example.com"
CRM = (
    "unique_id,name,tier,email,phone,whatsapp,references\n"
    f"ABC,Ana B. Cole,standard,{EMAIL},{PHONE},{PHONE},ORD-1;ORD-2\n"
)


class CustomerABC:
    def __init__(self, http: APIRequestContext):
        self.http = http
        self._ids = itertools.count(1)
        report = import_customers(file=io.StringIO(CRM))
        assert not report.errors, report.errors
        self.customer = Customer.objects.get(unique_id="ABC")

    def whatsapp(self, text: str) -> None:
        """A WhatsApp text message, as Meta's Cloud API delivers it."""
        message = {
            "from": PHONE[1:],
            "id": f"wamid.browser-{next(self._ids)}",
            "timestamp": str(int(time.time())),
            "type": "text",
            "text": {"body": text},
        }
        value = {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": "1065"},
            "contacts": [{"profile": {"name": "Ana"}, "wa_id": PHONE[1:]}],
            "messages": [message],
        }
        body = json.dumps(
            {
                "object": "whatsapp_business_account",
                "entry": [{"id": "1022", "changes": [{"field": "messages", "value": value}]}],
            }
        ).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Hub-Signature-256": meta_signature(body, WHATSAPP_SECRET),
        }
        self._accepted(self.http.post("/intake/whatsapp/", data=body, headers=headers))

    def email(self, subject: str, text: str) -> None:
        """An e-mail, as the mail server's pipe hands it over (raw RFC 5322)."""
        raw = (
            f"From: Ana Cole <{EMAIL}>\r\n"
            "To: support@helpdesk.test\r\n"
            f"Subject: {subject}\r\n"
            f"Date: {format_datetime(timezone.now())}\r\n"
            f"Message-ID: <browser-{next(self._ids)}@example.com>\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "\r\n"
            f"{text}\r\n"
        ).encode()
        headers = {"Content-Type": "message/rfc822", "Authorization": f"Bearer {INTAKE_TOKEN}"}
        self._accepted(self.http.post("/intake/email/raw/", data=raw, headers=headers))

    @staticmethod
    def _accepted(response) -> None:
        assert response.status == 200, f"{response.status} {response.text()}"
        assert response.json()["status"] == "processed", response.text()

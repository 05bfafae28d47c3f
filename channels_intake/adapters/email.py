"""Inbound e-mail: a raw RFC 5322 message (the MTA pipe at ``/intake/email/raw/``, anymail's ESP webhooks
through ``channels_intake.anymail_inbound``) read into one ``InboundMessage``.

Mail is read with the standard library's parser and never trusted to be well formed: broken MIME, an
unknown charset or an undecodable header yields what can be decoded (``errors="replace"``), and the raw
bytes stay in the ``InboundEvent`` for anyone who needs more. HTML is kept only sanitised (``nh3``).

Automatic mail creates no ticket. ``parse`` returns:

- ``[]`` for an auto-reply (RFC 3834 ``Auto-Submitted``, ``Precedence: bulk/junk/list``, ``X-Autoreply``,
  ``X-Autorespond``, ``X-Auto-Response-Suppress: All/OOF``, a read receipt, or mail from our own address);
  the event is marked processed with ``{"messages": []}`` and the reason is logged;
- for a bounce (a ``multipart/report`` delivery-status notification, or mail from MAILER-DAEMON): a
  ``DeliveryReceipt`` for the outbound message it reports on when the report names it (its ``Message-ID``
  in the returned headers), so our failed reply is marked failed and the event's result shows the receipt;
  ``[]`` when it names nothing.
``read_message`` gives the full reading (``meta["auto_reply"]`` = the reason, ``meta["bounce"]`` = True).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import mimetypes
import re
from datetime import UTC, timedelta
from email import message_from_bytes
from email.errors import InvalidBase64LengthDefect
from email.message import Message
from email.parser import HeaderParser
from email.policy import default as default_policy
from email.utils import parseaddr
from html.parser import HTMLParser

import nh3
from django.conf import settings
from django.utils import timezone

from tickets.errors import IntakeError
from tickets.intake import DeliveryReceipt, Ignored, InboundAttachment, InboundMessage
from tickets.models.tickets import format_number
from tickets.services.attachments import safe_filename
from tickets.services.customers import normalise_address
from tickets.services.linking import TICKET_NUMBER_RE

log = logging.getLogger(__name__)

SOURCE = "email_raw"
DEFAULT_MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
# A References header can list a whole thread's history; the newest ones are the ones that matter.
MAX_THREAD_IDS = 50
MAX_MIME_DEPTH = 30
AUTO_PRECEDENCE = {"bulk", "junk", "list"}
DSN_ACTIONS = {"failed": "failed", "delivered": "delivered", "relayed": "delivered", "expanded": "delivered"}
MESSAGE_ID_RE = re.compile(r"<[^<>\s]+>")
# Elements dropped with their content from the kept HTML (and from the text read out of HTML).
HIDDEN_HTML = {"script", "style", "title", "template"}


def parse(event) -> list[InboundMessage | DeliveryReceipt | Ignored]:
    """An ``email_raw`` event: one message, a delivery receipt for a bounce, or nothing (auto-reply)."""
    from channels_intake.adapters import PayloadError

    raw = event.payload_bytes
    if not raw.strip():
        raise PayloadError("the payload is empty: expected a raw e-mail message (message/rfc822)")
    msg = read_message(raw)
    if msg.meta.get("bounce"):
        receipt = _bounce_receipt(msg.meta)
        of = f" of {receipt.provider_message_id}" if receipt else " naming no message of ours"
        log.info("e-mail event %s is a bounce%s", getattr(event, "pk", None), of)
        return [receipt] if receipt else [Ignored(f"a bounce{of}")]
    if msg.meta.get("auto_reply"):
        log.info("e-mail event %s is an auto-reply: %s", getattr(event, "pk", None), msg.meta["auto_reply"])
        return [Ignored(f"auto-reply ({msg.meta['auto_reply']})")]
    if not msg.sender:
        raise PayloadError("the message has no From address")
    try:
        normalise_address(msg.channel, msg.sender)
    except IntakeError as exc:
        raise PayloadError(f"the From address cannot be read: {exc}") from None
    return [msg]


def read_message(raw: bytes) -> InboundMessage:
    """Read a raw message into an ``InboundMessage`` (never raises on malformed mail)."""
    email = message_from_bytes(raw, policy=default_policy)
    meta: dict = {}
    sender, sender_name = _sender(email)
    subject = " ".join(_header(email, "Subject").split())

    message_id = " ".join(_raw_header(email, "Message-ID").split())
    if not message_id or len(message_id) > 255:
        # Stable, so a redelivery of the same bytes is still recognised as a duplicate.
        message_id = f"sha256:{hashlib.sha256(raw).hexdigest()}"
        meta["message_id_generated"] = True

    body = _Body(max_attachment_bytes=_max_attachment_bytes())
    body.read(email)
    text = "\n\n".join(t for t in body.plain if t.strip())
    html = "\n".join(h for h in body.html if h.strip())
    if not text.strip() and html:
        text = html_to_text(html)
        meta["text_from_html"] = True
    limit = settings.HELPDESK["MAX_MESSAGE_CHARS"]
    if len(text) > limit:
        meta["text_truncated_from"] = len(text)
        text = text[:limit]
    if html:
        meta["html"] = sanitise_html(html, limit)

    for name in ("To", "Cc"):
        if addresses := _addresses(email, name):
            meta[name.lower()] = addresses
    if reply_to := _addresses(email, "Reply-To"):
        meta["reply_to"] = reply_to[0]
    if body.skipped:
        meta["skipped_attachments"] = body.skipped
    if body.charsets_replaced:
        meta["unknown_charsets"] = sorted(body.charsets_replaced)
    defects = sorted({type(d).__name__ for part in email.walk() for d in getattr(part, "defects", ())})
    if defects or body.defects:
        meta["mime_defects"] = (defects + body.defects)[:20]

    sent_at = _sent_at(email, meta)
    if reason := _auto_reply_reason(email, sender):
        meta["auto_reply"] = reason
    if _is_bounce(email, sender):
        meta["bounce"] = True
        meta.update(_delivery_report(email))

    return InboundMessage(
        channel="email",
        sender=sender,
        sender_name=sender_name,
        subject=subject,
        text=_clean(text),
        provider_message_id=_clean(message_id),
        sent_at=sent_at,
        thread_ids=_thread_ids(email),
        ticket_hints=_ticket_hints(subject),
        attachments=body.attachments,
        meta=meta,
    )


# Headers --------------------------------------------------------------------------------------------------


def _clean(text: str) -> str:
    """Storable text: undecodable bytes (surrogate escapes) become U+FFFD; no NUL (PostgreSQL refuses it)."""
    if not text:
        return ""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        try:
            text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        except UnicodeEncodeError:
            text = text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return text.replace("\x00", "")


def _raw_header(email: Message, name: str) -> str:
    """A header's value as sent (unfolded), without the parser's interpretation."""
    for key, value in email.raw_items():
        if key.lower() == name.lower():
            return _clean(re.sub(r"\r?\n", "", str(value))).strip()
    return ""


def _header(email: Message, name: str) -> str:
    """A header decoded (encoded words), or its raw form when the parser cannot read it."""
    try:
        value = email.get(name)
    except Exception:  # noqa: BLE001 - a header the parser chokes on is read raw
        return _raw_header(email, name)
    return _clean(str(value)).strip() if value is not None else ""


def _sender(email: Message) -> tuple[str, str]:
    try:
        header = email.get("From")
        addresses = header.addresses if header is not None else ()
    except Exception:  # noqa: BLE001
        addresses = ()
    for address in addresses:
        if address.addr_spec and "@" in address.addr_spec:
            return _clean(address.addr_spec).strip(), _clean(address.display_name or "").strip()
    name, address = parseaddr(_raw_header(email, "From"))
    return address.strip(), name.strip()


def _addresses(email: Message, name: str) -> list[str]:
    try:
        header = email.get(name)
        found = [a.addr_spec for a in header.addresses] if header is not None else []
    except Exception:  # noqa: BLE001
        found = [parseaddr(_raw_header(email, name))[1]]
    return [_clean(a).lower() for a in found if a and "@" in a][:50]


def _thread_ids(email: Message) -> list[str]:
    """Message-IDs this one replies to: In-Reply-To first, then References newest first."""
    found: list[str] = []
    for name, newest_first in (("In-Reply-To", False), ("References", True)):
        value = _raw_header(email, name)
        ids = MESSAGE_ID_RE.findall(value) or ([value] if value and " " not in value else [])
        for message_id in reversed(ids) if newest_first else ids:
            if message_id not in found and len(message_id) <= 255:
                found.append(message_id)
    return found[:MAX_THREAD_IDS]


def _ticket_hints(subject: str) -> list[str]:
    hints: list[str] = []
    for match in TICKET_NUMBER_RE.finditer(subject):
        number = int(match.group(1))
        if number and format_number(number) not in hints:
            hints.append(format_number(number))
    return hints


def _sent_at(email: Message, meta: dict):
    now = timezone.now()
    try:
        header = email.get("Date")
        sent_at = header.datetime if header is not None else None
    except Exception:  # noqa: BLE001
        sent_at = None
    if sent_at is None:
        if email.get("Date") is not None:
            meta["unreadable_date"] = _raw_header(email, "Date")[:100]
        return now
    if sent_at.tzinfo is None:  # "-0000": the sender's zone is unknown; RFC 5322 says read it as UTC
        sent_at = sent_at.replace(tzinfo=UTC)
    if sent_at > now + timedelta(days=1):
        meta["future_date"] = sent_at.isoformat()
        return now
    return sent_at


# Automatic mail -------------------------------------------------------------------------------------------


def _own_address() -> str:
    return parseaddr(getattr(settings, "HELPDESK_FROM_EMAIL", "") or "")[1].strip().lower()


def _auto_reply_reason(email: Message, sender: str) -> str:
    auto_submitted = _header(email, "Auto-Submitted").lower()
    if auto_submitted and auto_submitted.split(";")[0].strip() != "no":
        return f"Auto-Submitted: {auto_submitted}"
    precedence = _header(email, "Precedence").lower()
    if precedence in AUTO_PRECEDENCE:
        return f"Precedence: {precedence}"
    for name in ("X-Autoreply", "X-Autorespond"):
        value = _header(email, name)
        if value and value.lower() not in ("no", "false", "0"):
            return f"{name}: {value}"
    suppress = _header(email, "X-Auto-Response-Suppress")
    if {t.lower() for t in re.split(r"[\s,;]+", suppress) if t} & {"all", "oof"}:
        return f"X-Auto-Response-Suppress: {suppress}"
    if email.get_content_type() == "multipart/report" and _report_type(email) == "disposition-notification":
        return "read receipt (disposition notification)"
    own = _own_address()
    if own and sender.lower() == own:
        return f"sent from the help desk's own address {own} (a mail loop)"
    return ""


def _report_type(email: Message) -> str:
    try:
        return str(email.get_param("report-type", "") or "").strip().lower()
    except Exception:  # noqa: BLE001
        return ""


def _is_bounce(email: Message, sender: str) -> bool:
    if email.get_content_type() == "multipart/report" and _report_type(email) == "delivery-status":
        return True
    return sender.lower().split("@")[0] == "mailer-daemon"


def _delivery_report(email: Message) -> dict:
    """What a delivery-status notification says: the action, status, diagnostic and the original's ID."""
    report: dict = {}
    parts = email.get_payload() if email.is_multipart() else []
    for part in parts if isinstance(parts, list) else []:
        try:
            ctype = part.get_content_type()
            if ctype in ("message/delivery-status", "message/global-delivery-status"):
                blocks = part.get_payload()
                for block in (blocks[1:] or blocks) if isinstance(blocks, list) else []:
                    action = str(block.get("Action", "")).strip().lower()
                    if action and ("bounce_action" not in report or action == "failed"):
                        report["bounce_action"] = action
                        report["bounce_status"] = _clean(str(block.get("Status", "")).strip())[:20]
                        report["bounce_recipient"] = _clean(str(block.get("Final-Recipient", "")).strip())[
                            :320
                        ]
                        diagnostic = " ".join(str(block.get("Diagnostic-Code", "")).split())
                        report["bounce_diagnostic"] = _clean(diagnostic)[:1000]
            elif ctype in (
                "message/rfc822",
                "message/global",
                "text/rfc822-headers",
                "message/global-headers",
            ):
                inner = part.get_payload()
                if isinstance(inner, list):  # parsed as a message
                    original = inner[0] if inner else None
                else:
                    headers = (part.get_payload(decode=True) or b"").decode("utf-8", "replace")
                    original = HeaderParser(policy=default_policy).parsestr(headers)
                message_id = " ".join(_raw_header(original, "Message-ID").split()) if original else ""
                if message_id and "bounce_of" not in report:
                    report["bounce_of"] = message_id[:255]
        except Exception:  # noqa: BLE001 - a report we cannot read is still a bounce
            report.setdefault("bounce_unreadable", True)
    return report


def _bounce_receipt(meta: dict) -> DeliveryReceipt | None:
    status = DSN_ACTIONS.get(meta.get("bounce_action", ""))
    if not meta.get("bounce_of") or status is None:
        return None
    error = " ".join(filter(None, [meta.get("bounce_status", ""), meta.get("bounce_diagnostic", "")]))
    return DeliveryReceipt(
        channel="email", provider_message_id=meta["bounce_of"], status=status, error=error[:2000]
    )


# Body and attachments -------------------------------------------------------------------------------------


def _max_attachment_bytes() -> int:
    return int(settings.HELPDESK.get("MAX_ATTACHMENT_BYTES", DEFAULT_MAX_ATTACHMENT_BYTES))


def decode_text(payload: bytes, charset: str | None) -> tuple[str, bool]:
    """(text, whether the charset was unknown). Unknown or missing charsets are read as UTF-8."""
    name = (charset or "").strip().strip('"').lower()
    if name:
        try:
            return payload.decode(name, errors="replace"), False
        except (LookupError, ValueError, TypeError):  # unknown, or not a text encoding ("base64")
            pass
    # US-ASCII declared over 8-bit bytes is common: UTF-8 is its superset.
    return payload.decode("utf-8", errors="replace"), bool(name)


class _Body:
    """Walk the MIME tree once: text and HTML bodies, attachments (within the size limit), defects."""

    def __init__(self, *, max_attachment_bytes: int):
        self.max_attachment_bytes = max_attachment_bytes
        self.plain: list[str] = []
        self.html: list[str] = []
        self.attachments: list[InboundAttachment] = []
        self.skipped: list[dict] = []
        self.charsets_replaced: set[str] = set()
        self.defects: list[str] = []

    def read(self, part: Message, depth: int = 0) -> None:
        if part.get_content_maintype() == "multipart" and part.is_multipart():
            if depth >= MAX_MIME_DEPTH:
                self.defects.append(f"MIME nested deeper than {MAX_MIME_DEPTH}: the rest is not read")
                return
            for sub in part.get_payload():
                self.read(sub, depth + 1)
            return
        try:
            self._leaf(part)
        except Exception as exc:  # noqa: BLE001 - one unreadable part must not lose the others
            self.defects.append(f"unreadable {part.get_content_type()} part: {type(exc).__name__}")

    def _leaf(self, part: Message) -> None:
        ctype = part.get_content_type()
        filename = _filename(part)
        disposition = part.get_content_disposition()
        if ctype in ("text/plain", "text/html") and not filename and disposition != "attachment":
            (self.plain if ctype == "text/plain" else self.html).append(self._text(part))
        elif part.get_content_maintype() == "multipart":
            # A multipart whose boundary never appears: its body is kept as text.
            self.plain.append(self._text(part))
        else:
            self._attachment(part, ctype, filename)

    def _text(self, part: Message) -> str:
        payload = _payload(part)
        if payload is None:
            payload = str(part.get_payload() or "").encode("utf-8", "surrogateescape")
        try:
            charset = part.get_content_charset()
        except Exception:  # noqa: BLE001
            charset = None
        text, unknown = decode_text(payload, charset)
        if unknown and charset:
            self.charsets_replaced.add(_clean(charset)[:40])
        return _clean(text.replace("\r\n", "\n").replace("\r", "\n"))

    def _attachment(self, part: Message, ctype: str, filename: str) -> None:
        if part.get_content_maintype() == "message":
            inner = part.get_payload()
            try:
                content = inner[0].as_bytes() if isinstance(inner, list) and inner else part.as_bytes()
            except Exception:  # noqa: BLE001 - re-serialising a broken message can fail: keep its text
                content = str(inner[0] if isinstance(inner, list) and inner else "").encode(
                    "utf-8", "replace"
                )
        else:
            content = _payload(part) or b""
        if not filename:
            extension = ".eml" if ctype == "message/rfc822" else mimetypes.guess_extension(ctype) or ".bin"
            filename = f"attachment-{len(self.attachments) + len(self.skipped) + 1}{extension}"
        filename = safe_filename(filename)
        if len(content) > self.max_attachment_bytes:
            self.skipped.append(
                {
                    "filename": filename,
                    "content_type": ctype,
                    "size": len(content),
                    "reason": f"larger than {self.max_attachment_bytes} bytes",
                }
            )
            return
        self.attachments.append(InboundAttachment(filename=filename, content=content, content_type=ctype))


def _payload(part: Message) -> bytes | None:
    """The part's decoded bytes; base64 the parser gives up on is decoded as far as it is valid."""
    payload = part.get_payload(decode=True)
    if payload and any(isinstance(d, InvalidBase64LengthDefect) for d in part.defects):
        valid = re.sub(rb"\s", b"", re.match(rb"[A-Za-z0-9+/\s]*", payload).group(0))
        payload = base64.b64decode(valid[: len(valid) // 4 * 4])  # whole quanta of valid characters
    return payload


def _filename(part: Message) -> str:
    try:
        return _clean(part.get_filename() or "").strip()
    except Exception:  # noqa: BLE001
        return ""


# HTML -----------------------------------------------------------------------------------------------------


def sanitise_html(html: str, limit: int) -> str:
    """Only safe markup: no scripts, no event-handler attributes, no ``javascript:`` links (nh3)."""
    clean = nh3.clean(_clean(html), clean_content_tags=HIDDEN_HTML)
    if len(clean) > limit:
        clean = nh3.clean(clean[:limit], clean_content_tags=HIDDEN_HTML)  # cut, then closed again
    return clean.strip()


class _TextExtractor(HTMLParser):
    BLOCK = {
        "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "footer", "h1", "h2",
        "h3", "h4", "h5", "h6", "header", "hr", "li", "ol", "p", "pre", "section", "table", "tr", "ul",
    }  # fmt: skip
    HIDDEN = HIDDEN_HTML | {"head", "noscript"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.HIDDEN:
            self.hidden += 1
        elif tag in self.BLOCK:
            self.out.append("\n- " if tag == "li" else "\n")
        elif tag in ("td", "th"):
            self.out.append(" ")

    def handle_startendtag(self, tag, attrs):
        if tag in self.BLOCK:
            self.out.append("\n")

    def handle_endtag(self, tag):
        if tag in self.HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag in self.BLOCK:
            self.out.append("\n")

    def handle_data(self, data):
        if not self.hidden:
            self.out.append(re.sub(r"\s+", " ", data))


def html_to_text(html: str) -> str:
    """Readable plain text from HTML: blocks on their own lines, no markup, scripts or styles."""
    parser = _TextExtractor()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # noqa: BLE001 - HTMLParser is lenient; this is belt and braces
        return nh3.clean(html, tags=set())
    lines = [" ".join(line.split()) for line in "".join(parser.out).split("\n")]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    return _clean(text)


PARSERS = {SOURCE: parse}

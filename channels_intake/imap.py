"""IMAP polling of the support mailboxes (``Mailbox`` rows, edited in the admin), with imap-tools.

For each active mailbox, one poll: connect (SSL/TLS or STARTTLS with the certificate verified, or plain on
loopback), log in, search the folder for unseen, undeleted messages and take the oldest ``IMAP_BATCH_SIZE``
(50) of them, one at a time:

1. fetch its exact bytes with ``BODY.PEEK[]`` (the fetch itself marks nothing seen);
2. store them in the inbound event log and run them through the e-mail adapter, as the raw pipe does
   (source ``email_raw``: the same parser, so auto-replies, bounces and threading behave the same);
3. only then mark it seen and move it to the processed folder, or mark it seen, or delete it (per mailbox).

A crash before 3 leaves the message unseen on the server: the next poll fetches it again and the pipeline
drops it as a duplicate by its ``Message-ID``. Nothing is lost between the two.

A poll never raises: a connection, TLS, login or folder error is written to ``Mailbox.last_error`` (and
logged), and the other mailboxes are polled as usual. Messages larger than ``MAX_WEBHOOK_BYTES`` are not
fetched: they stay unseen on the server and ``last_error`` says how many there are.
"""

from __future__ import annotations

import contextlib
import email.message
import imaplib
import logging
import ssl
from dataclasses import asdict, dataclass
from datetime import timedelta
from functools import cached_property

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from imap_tools import AND, MailBox, MailBoxStartTls, MailBoxUnencrypted, MailMessage
from imap_tools.errors import (
    MailboxFolderSelectError,
    MailboxLoginError,
    UnexpectedCommandStatusError,
)
from imap_tools.utils import check_command_status

from channels_intake.adapters.email import SOURCE
from channels_intake.models import Mailbox
from channels_intake.services import accept

log = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 50
DEFAULT_TIMEOUT_SECONDS = 30
# How long one poll holds its mailbox; a poll killed by its task's timeout frees it when this runs out.
LEASE = timedelta(minutes=2)


@dataclass
class PollResult:
    mailbox: str
    fetched: int = 0
    error: str = ""
    skipped: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


class RawMailMessage(MailMessage):
    """imap-tools' message that keeps the bytes exactly as the server sent them (parsed only on demand)."""

    def __init__(self, fetch_data: list) -> None:
        self.raw, self._raw_uid_data, self._raw_flag_data = self._get_message_data_parts(fetch_data)

    @cached_property
    def obj(self) -> email.message.Message:
        return email.message_from_bytes(self.raw)


def _setting(name: str, default: int) -> int:
    return int(settings.HELPDESK.get(name, default))


def poll_all(*, batch_size: int | None = None) -> list[PollResult]:
    """Poll every active mailbox; one failing never stops the others."""
    results = []
    for mailbox in Mailbox.objects.filter(active=True).order_by("name"):
        try:
            results.append(poll_mailbox(mailbox, batch_size=batch_size))
        except Exception as exc:  # noqa: BLE001 - e.g. the database went away while recording the error
            log.exception("polling mailbox %s failed", mailbox.name)
            results.append(PollResult(mailbox.name, error=f"{type(exc).__name__}: {exc}"))
    return results


def poll_mailbox(mailbox: Mailbox, *, batch_size: int | None = None) -> PollResult:
    """One poll of one mailbox (also an inactive one, when an operator asks). Never raises IMAP errors."""
    now = timezone.now()
    claimed = (
        Mailbox.objects.filter(pk=mailbox.pk)
        .filter(Q(polling_until__isnull=True) | Q(polling_until__lt=now))
        .update(polling_until=now + LEASE)
    )
    if not claimed:
        return PollResult(mailbox.name, skipped="another poll of this mailbox is running")

    result = PollResult(mailbox.name)
    note = ""
    try:
        note = _poll(mailbox, result, batch_size or _setting("IMAP_BATCH_SIZE", DEFAULT_BATCH_SIZE))
    except Exception as exc:  # noqa: BLE001 - recorded on the mailbox: a poll never crashes the schedule
        result.error = describe_error(exc, mailbox)
        log.warning("mailbox %s: %s", mailbox.name, result.error)
    finally:
        mailbox.last_polled_at = timezone.now()
        mailbox.last_fetched = result.fetched
        mailbox.last_error = result.error or note
        mailbox.polling_until = None
        Mailbox.objects.filter(pk=mailbox.pk).update(
            last_polled_at=mailbox.last_polled_at,
            last_fetched=mailbox.last_fetched,
            last_error=mailbox.last_error,
            polling_until=None,
        )
    return result


def _poll(mailbox: Mailbox, result: PollResult, batch_size: int) -> str:
    """Take in up to ``batch_size`` unseen messages; returns a note for the operator (or "")."""
    limit = settings.HELPDESK["MAX_WEBHOOK_BYTES"]
    box = connect(mailbox)
    try:
        box.login(mailbox.username, mailbox.password, initial_folder=mailbox.folder)
        # SMALLER n: strictly smaller, so a message of exactly the limit is still taken. No CHARSET
        # (some servers refuse one; the criteria are ASCII). UIDs ascend: the oldest mail comes first.
        uids = box.uids(AND(seen=False, deleted=False, size_lt=limit + 1), charset=None)[:batch_size]
        too_large = len(box.uids(AND(seen=False, deleted=False, size_gt=limit), charset=None))
        move_to = ""
        if uids and mailbox.after_processing == Mailbox.AfterProcessing.MOVE and mailbox.processed_folder:
            move_to = mailbox.processed_folder if box.folder.exists(mailbox.processed_folder) else ""
        for uid in uids:
            message = next(box.fetch(uid_list=[uid], mark_seen=False, bulk=False), None)
            if message is None:  # expunged by another client since the search
                continue
            event = accept(
                source=SOURCE,
                channel="email",
                payload=message.raw,
                content_type="message/rfc822",
                headers={"IMAP-Mailbox": mailbox.name, "IMAP-Folder": mailbox.folder, "IMAP-UID": uid},
            )
            # Stored (and processed, or kept failed for a replay): only now is the server told.
            _done_with(box, mailbox, uid, move_to)
            result.fetched += 1
            log.info(
                "mailbox %s: message uid %s stored as event %s (%s)",
                mailbox.name,
                uid,
                event.pk,
                event.status,
            )
    finally:
        with contextlib.suppress(Exception):  # the connection may already be gone; that is not news
            box.logout()
    if too_large:
        return (
            f"{too_large} unseen message(s) larger than {limit} bytes (MAX_WEBHOOK_BYTES) are left "
            f"in {mailbox.folder!r}, not fetched"
        )
    return ""


def connect(mailbox: Mailbox):
    """An imap-tools mailbox, connected (not logged in). TLS certificates are verified."""
    timeout = _setting("IMAP_TIMEOUT_SECONDS", DEFAULT_TIMEOUT_SECONDS)
    if mailbox.security == Mailbox.Security.SSL:
        box = MailBox(mailbox.host, mailbox.port, timeout=timeout, ssl_context=ssl.create_default_context())
    elif mailbox.security == Mailbox.Security.STARTTLS:
        box = MailBoxStartTls(
            mailbox.host, mailbox.port, timeout=timeout, ssl_context=ssl.create_default_context()
        )
    else:
        box = MailBoxUnencrypted(mailbox.host, mailbox.port, timeout=timeout)
    box.email_message_class = RawMailMessage
    return box


def _done_with(box, mailbox: Mailbox, uid: str, move_to: str) -> None:
    if mailbox.after_processing == Mailbox.AfterProcessing.DELETE:
        box.delete([uid])
        return
    # A plain STORE: imap-tools' flag() also expunges the folder, which is not ours to do.
    check_command_status(box.client.uid("STORE", uid, "+FLAGS", r"(\Seen)"), UnexpectedCommandStatusError)
    if move_to:
        box.move([uid], move_to)


def _server_text(exc: UnexpectedCommandStatusError) -> str:
    data = exc.command_result[1] if len(exc.command_result) > 1 else []
    parts = [d.decode("utf-8", "replace") if isinstance(d, bytes) else str(d) for d in data or [] if d]
    return " ".join(parts) or str(exc.command_result[0])


def describe_error(exc: Exception, mailbox: Mailbox) -> str:
    """What went wrong, for an operator (never the password)."""
    where = f"{mailbox.host}:{mailbox.port}"
    if isinstance(exc, MailboxLoginError):
        text = f"login refused for {mailbox.username!r} on {where}: {_server_text(exc)}"
    elif isinstance(exc, MailboxFolderSelectError):
        text = f"cannot open folder {mailbox.folder!r} on {where}: {_server_text(exc)}"
    elif isinstance(exc, UnexpectedCommandStatusError):
        text = f"the IMAP server {where} refused a command: {_server_text(exc)}"
    elif isinstance(exc, ssl.SSLError):
        text = f"TLS with {where} failed: {exc}"
    elif isinstance(exc, TimeoutError):
        text = f"{where} did not answer in time"
    elif isinstance(exc, OSError):
        text = f"cannot connect to {where}: {exc.strerror or exc}"
    elif isinstance(exc, imaplib.IMAP4.error):
        text = f"IMAP error with {where}: {exc}"
    else:
        text = f"{type(exc).__name__}: {exc}"
    if mailbox.password:
        text = text.replace(mailbox.password, "********")
    return text[:2000]

"""IMAP polling against a real IMAP server: a private dovecot on 127.0.0.1, started for each test.

Mail is put on the server with IMAP APPEND (imap-tools), polled with ``channels_intake.imap``, and the
server's folders and flags are read back over IMAP. Without dovecot (Debian's ``dovecot-imapd``) these
tests skip locally and fail under CI, which installs it (``.ci/run``).
"""

from __future__ import annotations

import contextlib
import imaplib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError
from django.utils import timezone
from imap_tools import MailBoxUnencrypted

from channels_intake import imap
from channels_intake.models import InboundEvent, Mailbox
from tests.factories import TicketFactory
from tickets.models import Message, Ticket

pytestmark = pytest.mark.django_db

EMAIL_FIXTURES = Path(__file__).parent / "fixtures" / "email"
USERS = {"support": "support-imap-pw", "sales": "sales-imap-pw"}
SEEN = "\\Seen"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def dovecot_binary() -> str | None:
    return shutil.which("dovecot") or next(
        (p for p in ("/usr/sbin/dovecot", "/usr/local/sbin/dovecot") if os.access(p, os.X_OK)), None
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Dovecot:
    host: str
    port: int  # plain IMAP, offering STARTTLS
    tls_port: int  # IMAPS
    certificate: Path  # self-signed for 127.0.0.1 and localhost: trusted only where a test says so
    log: Path

    def login(self, user: str) -> MailBoxUnencrypted:
        return MailBoxUnencrypted(self.host, self.port, timeout=10).login(user, USERS[user])

    def append(self, user: str, raw: bytes, folder: str = "INBOX") -> None:
        with self.login(user) as box:
            box.append(raw, folder)

    def create_folder(self, user: str, name: str) -> None:
        with self.login(user) as box:
            box.folder.create(name)

    def state(self, user: str) -> dict[str, list[tuple[str, bool]]]:
        """Every folder's messages as (Message-ID, seen), read without changing a flag."""
        found = {}
        with self.login(user) as box:
            for folder in box.folder.list():
                box.folder.set(folder.name, readonly=True)
                found[folder.name] = [
                    ((m.headers.get("message-id") or ("",))[0], SEEN in m.flags)
                    for m in box.fetch(mark_seen=False, headers_only=True)
                ]
        return found

    def mailbox(self, user: str = "support", **fields) -> Mailbox:
        defaults = {
            "name": user,
            "host": self.host,
            "port": self.port,
            "security": Mailbox.Security.NONE,
            "username": user,
            "password": USERS[user],
        }
        return Mailbox.objects.create(**{**defaults, **fields})


def dovecot_config(root: Path, port: int, tls_port: int) -> str:
    if os.geteuid() == 0:
        # Dovecot refuses to run its login processes as root: its own system users (from dovecot-core).
        internal, login, mail = "dovecot", "dovenull", pwd.getpwnam("dovecot")
    else:
        me = pwd.getpwuid(os.geteuid())
        internal = login = me.pw_name
        mail = me
    return f"""
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <{root}/cert.pem
ssl_key = <{root}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
default_internal_user = {internal}
default_login_user = {login}
first_valid_uid = 0
first_valid_gid = 0
mail_location = maildir:~/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={mail.pw_uid} gid={mail.pw_gid} home={root}/home/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
  }}
}}
service anvil {{
  chroot =
}}
"""


@pytest.fixture
def dovecot():
    binary, openssl = dovecot_binary(), shutil.which("openssl")
    if binary is None or openssl is None:
        reason = "needs dovecot and openssl (Debian's dovecot-imapd) for a real IMAP server on 127.0.0.1"
        if in_ci():
            pytest.fail(f"{reason}: .ci/run installs it, and CI must not skip the IMAP tests")
        pytest.skip(f"{reason}: apt-get install dovecot-imapd")
    # Not pytest's tmp_path: its folders are private to us, and dovecot's own users must get in.
    root = Path(tempfile.mkdtemp(prefix="helpdesk-dovecot-"))
    root.chmod(0o755)
    (root / "home").mkdir()
    if os.geteuid() == 0:
        entry = pwd.getpwnam("dovecot")
        os.chown(root / "home", entry.pw_uid, entry.pw_gid)
    (root / "passwd").write_text("".join(f"{user}:{{PLAIN}}{pw}::::::\n" for user, pw in USERS.items()))
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-keyout", str(root / "key.pem"), "-out", str(root / "cert.pem")],
        check=True, capture_output=True,
    )  # fmt: skip
    port, tls_port = free_port(), free_port()
    conf = root / "dovecot.conf"
    conf.write_text(dovecot_config(root, port, tls_port))
    server = Dovecot("127.0.0.1", port, tls_port, root / "cert.pem", root / "dovecot.log")
    with open(root / "stderr.log", "wb") as stderr:
        process = subprocess.Popen([binary, "-F", "-c", str(conf)], stdout=stderr, stderr=stderr)
    try:
        deadline = time.monotonic() + 20
        while True:
            if process.poll() is not None:
                pytest.fail(f"dovecot exited ({process.returncode}): {_logs(root)}")
            with contextlib.suppress(OSError, imaplib.IMAP4.error):
                server.login("support").logout()
                break
            if time.monotonic() > deadline:
                pytest.fail(f"dovecot did not answer on 127.0.0.1:{port}: {_logs(root)}")
            time.sleep(0.1)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(root, ignore_errors=True)


def _logs(root: Path) -> str:
    return " | ".join(
        (root / name).read_text(errors="replace")[-2000:]
        for name in ("stderr.log", "dovecot.log")
        if (root / name).exists()
    )


def mail(
    message_id: str = "<zoe-1@example.com>", body: str = "Hello, my internet is down.", **headers
) -> bytes:
    headers = {
        "From": "Zoe <zoe@example.com>",
        "To": "support@helpdesk.localhost",
        "Subject": "Help",
        "Date": "Tue, 03 Mar 2026 09:00:00 +0000",
        "Message-ID": message_id,
        **{k.replace("_", "-"): v for k, v in headers.items()},
    }
    return ("".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n" + body + "\r\n").encode()


def inbound():
    return Message.objects.filter(direction=Message.Direction.INBOUND)


@pytest.fixture(autouse=True)
def own_address(settings):
    settings.HELPDESK_FROM_EMAIL = "Help desk <support@helpdesk.localhost>"


# Taking mail in -------------------------------------------------------------------------------------------


def test_new_mail_becomes_a_ticket_and_is_then_moved_to_processed(dovecot):
    dovecot.create_folder("support", "Processed")
    raw = mail()
    dovecot.append("support", raw)
    mailbox = dovecot.mailbox()

    results = imap.poll_all()

    assert [(r.mailbox, r.fetched, r.error) for r in results] == [("support", 1, "")]
    message = inbound().get()
    assert (message.channel, message.sender, message.provider_message_id) == (
        "email",
        "zoe@example.com",
        "<zoe-1@example.com>",
    )
    assert "internet is down" in message.body
    assert Ticket.objects.count() == 1
    event = InboundEvent.objects.get()
    assert (event.source, event.channel, event.status) == ("email_raw", "email", "processed")
    assert event.payload_bytes == raw  # the bytes as the server holds them, not re-serialised
    assert event.headers["IMAP-Mailbox"] == "support"
    assert dovecot.state("support") == {"INBOX": [], "Processed": [("<zoe-1@example.com>", True)]}
    mailbox.refresh_from_db()
    assert mailbox.last_polled_at is not None
    assert (mailbox.last_fetched, mailbox.last_error, mailbox.polling_until) == (1, "", None)


def test_polling_twice_takes_a_message_in_once(dovecot):
    dovecot.append("support", mail())
    dovecot.mailbox(after_processing=Mailbox.AfterProcessing.SEEN)

    first, second = imap.poll_all(), imap.poll_all()

    assert (first[0].fetched, second[0].fetched) == (1, 0)
    assert inbound().count() == 1 and InboundEvent.objects.count() == 1
    assert dovecot.state("support") == {"INBOX": [("<zoe-1@example.com>", True)]}


def test_the_message_is_still_unseen_in_its_folder_while_it_is_stored(dovecot, monkeypatch):
    dovecot.create_folder("support", "Processed")
    dovecot.append("support", mail())
    dovecot.mailbox()
    seen_while_storing = []
    real_accept = imap.accept

    def accept_and_look(**kwargs):
        seen_while_storing.append(dovecot.state("support"))
        return real_accept(**kwargs)

    monkeypatch.setattr(imap, "accept", accept_and_look)
    imap.poll_all()

    assert seen_while_storing == [{"INBOX": [("<zoe-1@example.com>", False)], "Processed": []}]
    assert dovecot.state("support") == {"INBOX": [], "Processed": [("<zoe-1@example.com>", True)]}


def test_a_crash_while_storing_leaves_the_mail_unseen_on_the_server_for_the_next_poll(dovecot, monkeypatch):
    dovecot.create_folder("support", "Processed")
    dovecot.append("support", mail())
    mailbox = dovecot.mailbox()

    def database_gone(**kwargs):
        raise DatabaseError("server closed the connection unexpectedly")

    monkeypatch.setattr(imap, "accept", database_gone)
    [result] = imap.poll_all()

    assert result.fetched == 0 and "server closed the connection" in result.error
    mailbox.refresh_from_db()
    assert "DatabaseError: server closed the connection" in mailbox.last_error
    assert dovecot.state("support") == {"INBOX": [("<zoe-1@example.com>", False)], "Processed": []}
    assert not InboundEvent.objects.exists()

    monkeypatch.undo()
    [result] = imap.poll_all()

    assert (result.fetched, result.error) == (1, "")
    assert inbound().count() == 1
    mailbox.refresh_from_db()
    assert mailbox.last_error == ""
    assert dovecot.state("support") == {"INBOX": [], "Processed": [("<zoe-1@example.com>", True)]}


def test_a_crash_after_storing_fetches_the_mail_again_as_a_duplicate(dovecot, monkeypatch):
    dovecot.create_folder("support", "Processed")
    dovecot.append("support", mail())
    mailbox = dovecot.mailbox()

    def connection_lost(*args):
        raise imaplib.IMAP4.abort("socket error: EOF")

    monkeypatch.setattr(imap, "_done_with", connection_lost)
    [result] = imap.poll_all()

    assert "socket error: EOF" in result.error
    assert inbound().count() == 1  # stored and processed before the server was to be told
    assert dovecot.state("support")["INBOX"] == [("<zoe-1@example.com>", False)]

    monkeypatch.undo()
    [result] = imap.poll_all()

    assert (result.fetched, result.error) == (1, "")
    assert inbound().count() == 1 and Ticket.objects.count() == 1
    assert list(InboundEvent.objects.order_by("id").values_list("status", flat=True)) == [
        "processed",
        "duplicate",
    ]
    mailbox.refresh_from_db()
    assert mailbox.last_error == ""
    assert dovecot.state("support") == {"INBOX": [], "Processed": [("<zoe-1@example.com>", True)]}


@pytest.mark.parametrize(
    ("after", "processed_folder_exists", "expected"),
    [
        ("move", True, {"INBOX": [], "Processed": [("<zoe-1@example.com>", True)]}),
        ("move", False, {"INBOX": [("<zoe-1@example.com>", True)]}),
        ("seen", True, {"INBOX": [("<zoe-1@example.com>", True)], "Processed": []}),
        ("delete", True, {"INBOX": [], "Processed": []}),
    ],
)
def test_processed_mail_is_handled_as_the_mailbox_says(dovecot, after, processed_folder_exists, expected):
    if processed_folder_exists:
        dovecot.create_folder("support", "Processed")
    dovecot.append("support", mail())
    dovecot.mailbox(after_processing=after)

    [result] = imap.poll_all()

    assert (result.fetched, result.error) == (1, "")
    assert inbound().count() == 1
    assert dovecot.state("support") == expected


def test_a_poll_takes_at_most_a_batch_oldest_first(dovecot, settings):
    settings.HELPDESK = {**settings.HELPDESK, "IMAP_BATCH_SIZE": 2}
    for n in (1, 2, 3):
        dovecot.append("support", mail(f"<m{n}@example.com>", body=f"Message {n} about ORD-{n}"))
    dovecot.mailbox()

    assert imap.poll_all()[0].fetched == 2
    assert set(inbound().values_list("provider_message_id", flat=True)) == {
        "<m1@example.com>",
        "<m2@example.com>",
    }
    assert imap.poll_all()[0].fetched == 1
    assert inbound().count() == 3


def test_mail_over_the_size_limit_stays_on_the_server_and_is_reported(dovecot, settings):
    settings.HELPDESK = {**settings.HELPDESK, "MAX_WEBHOOK_BYTES": 3000}
    dovecot.append("support", mail("<big@example.com>", body="x" * 5000))
    dovecot.append("support", mail("<small@example.com>"))
    mailbox = dovecot.mailbox(after_processing=Mailbox.AfterProcessing.SEEN)

    [result] = imap.poll_all()

    assert (result.fetched, result.error) == (1, "")
    assert list(inbound().values_list("provider_message_id", flat=True)) == ["<small@example.com>"]
    mailbox.refresh_from_db()
    assert "1 unseen message(s) larger than 3000 bytes" in mailbox.last_error
    assert dovecot.state("support") == {
        "INBOX": [("<big@example.com>", False), ("<small@example.com>", True)]
    }


# Automatic mail -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["outlook_oof.eml", "dsn_bounce.eml"])
def test_auto_replies_and_bounces_open_no_ticket_and_are_taken_off_the_folder(dovecot, name):
    dovecot.create_folder("support", "Processed")
    raw = (EMAIL_FIXTURES / name).read_bytes()
    dovecot.append("support", raw)
    dovecot.mailbox()

    [result] = imap.poll_all()

    assert (result.fetched, result.error) == (1, "")
    event = InboundEvent.objects.get()
    assert event.status == "processed"
    assert not Ticket.objects.exists() and not Message.objects.exists()  # no ticket, no acknowledgement
    state = dovecot.state("support")
    assert state["INBOX"] == [] and len(state["Processed"]) == 1


def test_a_bounce_marks_our_outbound_reply_failed(dovecot):
    ticket = TicketFactory()
    reply = Message.objects.create(
        interaction=ticket.cases.get().interaction,
        channel="email",
        direction=Message.Direction.OUTBOUND,
        sender="support@helpdesk.localhost",
        body="We are on it.",
        provider_message_id="<outbound-1@helpdesk.localhost>",
        delivery_status=Message.DeliveryStatus.SENT,
        sent_at=timezone.now(),
    )
    dovecot.append("support", (EMAIL_FIXTURES / "dsn_bounce.eml").read_bytes())
    dovecot.mailbox()

    imap.poll_all()

    reply.refresh_from_db()
    assert reply.delivery_status == "failed" and "5.1.1" in reply.error
    assert Ticket.objects.count() == 1 and Message.objects.count() == 2


# Failures -------------------------------------------------------------------------------------------------


def test_a_wrong_password_is_recorded_and_the_other_mailboxes_are_still_polled(dovecot):
    dovecot.append("sales", mail("<to-sales@example.com>"))
    dovecot.append("support", mail("<to-support@example.com>"))
    sales = dovecot.mailbox("sales", name="a sales", password="not-the-password")
    dovecot.mailbox("support", name="b support")

    results = imap.poll_all()

    assert [(r.mailbox, r.fetched) for r in results] == [("a sales", 0), ("b support", 1)]
    assert "login refused for 'sales'" in results[0].error and results[1].error == ""
    sales.refresh_from_db()
    assert "login refused for 'sales' on 127.0.0.1" in sales.last_error
    assert "AUTHENTICATIONFAILED" in sales.last_error
    assert "not-the-password" not in sales.last_error
    assert sales.last_polled_at is not None and sales.polling_until is None
    assert list(inbound().values_list("provider_message_id", flat=True)) == ["<to-support@example.com>"]
    assert dovecot.state("sales") == {"INBOX": [("<to-sales@example.com>", False)]}


def test_an_unreachable_server_and_a_missing_folder_are_recorded(dovecot):
    closed = dovecot.mailbox(name="closed port", port=free_port())
    missing = dovecot.mailbox(name="missing folder", folder="Nowhere")

    results = imap.poll_all()

    assert all(r.error for r in results)
    closed.refresh_from_db()
    missing.refresh_from_db()
    assert closed.last_error.startswith(f"cannot connect to 127.0.0.1:{closed.port}")
    assert missing.last_error.startswith("cannot open folder 'Nowhere'")


def test_only_active_mailboxes_are_polled_and_a_running_poll_is_not_doubled(dovecot):
    dovecot.append("support", mail())
    dovecot.append("sales", mail("<to-sales@example.com>"))
    dovecot.mailbox("sales", active=False)
    support = dovecot.mailbox("support", polling_until=timezone.now() + timedelta(minutes=1))

    [result] = imap.poll_all()

    assert result.mailbox == "support" and result.skipped and result.fetched == 0
    assert not InboundEvent.objects.exists()

    # A lease left by a killed poll runs out.
    Mailbox.objects.filter(pk=support.pk).update(polling_until=timezone.now() - timedelta(seconds=1))
    [result] = imap.poll_all()
    assert result.fetched == 1


@pytest.mark.parametrize("security", ["ssl", "starttls"])
def test_tls_verifies_the_servers_certificate(dovecot, monkeypatch, security):
    port = dovecot.tls_port if security == "ssl" else dovecot.port
    dovecot.append("support", mail())
    mailbox = dovecot.mailbox(security=security, port=port)

    [result] = imap.poll_all()  # a self-signed certificate nobody trusts: no password is sent

    assert result.fetched == 0
    mailbox.refresh_from_db()
    assert mailbox.last_error.startswith(f"TLS with 127.0.0.1:{port} failed")
    assert "CERTIFICATE_VERIFY_FAILED" in mailbox.last_error
    assert not InboundEvent.objects.exists()

    monkeypatch.setenv("SSL_CERT_FILE", str(dovecot.certificate))  # now the system trusts it
    [result] = imap.poll_all()

    assert (result.fetched, result.error) == (1, "")
    assert inbound().count() == 1


# Operators: command, admin, schedule ----------------------------------------------------------------------


def test_the_poll_mailboxes_command_reports_each_mailbox_and_fails_if_one_failed(dovecot, capsys):
    dovecot.append("support", mail())
    dovecot.mailbox()

    call_command("poll_mailboxes")
    assert "support: 1 message(s) taken in; ok" in capsys.readouterr().out
    assert inbound().count() == 1

    dovecot.mailbox("sales", password="wrong", active=False)
    with pytest.raises(CommandError, match="1 mailbox\\(es\\) failed: sales"):
        call_command("poll_mailboxes", "sales", "support")
    out = capsys.readouterr().out
    assert "sales: 0 message(s) taken in; error: login refused" in out
    with pytest.raises(CommandError, match="no mailboxes named nope"):
        call_command("poll_mailboxes", "nope")


ADMIN_URL = "/admin/channels_intake/mailbox/"
PASSWORD = "Zq8-very-secret-imap-password"


def admin_form(**fields) -> dict:
    return {
        "name": "support",
        "active": "on",
        "host": "imap.example.com",
        "port": "993",
        "security": "ssl",
        "username": "support@example.com",
        "password": "",
        "folder": "INBOX",
        "after_processing": "move",
        "processed_folder": "Processed",
        **fields,
    }


def test_the_admin_never_shows_the_password_and_keeps_it_when_left_blank(admin_client):
    response = admin_client.post(f"{ADMIN_URL}add/", admin_form())
    assert response.status_code == 200 and "A password is required" in response.text
    assert not Mailbox.objects.exists()

    response = admin_client.post(f"{ADMIN_URL}add/", admin_form(password=PASSWORD))
    assert response.status_code == 302
    mailbox = Mailbox.objects.get()
    assert mailbox.password == PASSWORD

    for url in (ADMIN_URL, f"{ADMIN_URL}{mailbox.pk}/change/"):
        response = admin_client.get(url)
        assert response.status_code == 200 and PASSWORD not in response.text
    assert 'type="password"' in admin_client.get(f"{ADMIN_URL}{mailbox.pk}/change/").text

    # Left blank: the stored password stays (and is not logged as changed).
    response = admin_client.post(f"{ADMIN_URL}{mailbox.pk}/change/", admin_form(folder="Support"))
    assert response.status_code == 302
    mailbox.refresh_from_db()
    assert (mailbox.folder, mailbox.password) == ("Support", PASSWORD)
    history = admin_client.get(f"{ADMIN_URL}{mailbox.pk}/history/").text
    assert "Changed Folder." in history and "Password" not in history and PASSWORD not in history

    response = admin_client.post(f"{ADMIN_URL}{mailbox.pk}/change/", admin_form(password="a-new-one"))
    assert response.status_code == 302
    mailbox.refresh_from_db()
    assert mailbox.password == "a-new-one"


def test_poll_now_in_the_admin_polls_and_says_what_happened(admin_client, dovecot):
    dovecot.append("support", mail())
    good = dovecot.mailbox()
    bad = dovecot.mailbox("sales", password="wrong")

    response = admin_client.post(
        ADMIN_URL, {"action": "poll_now", "_selected_action": [good.pk, bad.pk]}, follow=True
    )

    assert response.status_code == 200
    said = [(m.level_tag, str(m)) for m in response.context["messages"]]
    assert said[0][0] == "error" and said[0][1].startswith("sales: login refused for 'sales'")
    assert said[1] == ("success", "support: 1 message(s) taken in")
    assert inbound().count() == 1


@pytest.mark.cluster
@pytest.mark.django_db(transaction=True)
def test_the_schedule_polls_through_a_real_cluster(dovecot):
    from django_q.brokers import get_broker
    from django_q.cluster import Cluster
    from django_q.tasks import async_task, result

    from helpdesk.schedules import SCHEDULES

    assert "channels_intake.tasks.poll_mailboxes" in {s["func"] for s in SCHEDULES}
    dovecot.append("support", mail())
    dovecot.mailbox()
    dovecot.mailbox("sales", active=False)
    broker = get_broker()
    cluster = Cluster(broker)
    cluster.start()
    try:
        task_id = async_task("channels_intake.tasks.poll_mailboxes", broker=broker)
        [poll_id] = result(task_id, wait=30_000)
        assert result(poll_id, wait=30_000) == {
            "mailbox": "support",
            "fetched": 1,
            "error": "",
            "skipped": "",
        }
    finally:
        cluster.stop()
    assert inbound().count() == 1 and Ticket.objects.count() == 1

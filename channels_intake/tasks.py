"""django-q2 entry points for the edge: thin, id-based, safe to run twice."""

from channels_intake.services import process_backlog as _process_backlog


def process_backlog(limit: int = 500) -> int:
    """Finish inbound events stored but never processed (a worker died between store and process), and
    release held ones whose sender's window has passed (``channels_intake.sender_limits``)."""
    return _process_backlog(limit=limit)


def deliver_message(message_id: int) -> str:
    """Send one outbound message from the outbox (safe to run twice: it claims the message first)."""
    from channels_intake.outbound.delivery import deliver

    return deliver(int(message_id))


def sweep_outbox() -> dict:
    """Enqueue outbox messages whose task was lost; fail those a killed worker left ``sending``.

    Meant for a schedule every few minutes (``helpdesk``'s schedule list).
    """
    from channels_intake.outbound.delivery import sweep

    return sweep()


def poll_mailboxes() -> list[str]:
    """Every minute (``helpdesk``'s schedule list): one ``poll_mailbox`` task per active IMAP mailbox,
    so a slow or hanging server never uses up the time of the others. Returns the task ids."""
    from django_q.tasks import async_task

    from channels_intake.models import Mailbox

    return [
        async_task("channels_intake.tasks.poll_mailbox", pk, group="imap")
        for pk in Mailbox.objects.filter(active=True).order_by("name").values_list("pk", flat=True)
    ]


def poll_mailbox(mailbox_id: int) -> dict:
    """Poll one IMAP mailbox (safe to run twice: a second poll at the same time skips it)."""
    from channels_intake.imap import poll_mailbox as _poll_mailbox
    from channels_intake.models import Mailbox

    mailbox = Mailbox.objects.filter(pk=int(mailbox_id), active=True).first()
    if mailbox is None:
        return {"mailbox": mailbox_id, "skipped": "no such active mailbox"}
    return _poll_mailbox(mailbox).as_dict()

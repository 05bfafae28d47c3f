"""django-q2 entry points for the edge: thin, id-based, safe to run twice."""

from channels_intake.services import process_backlog as _process_backlog


def process_backlog(limit: int = 500) -> int:
    """Finish inbound events stored but never processed (a worker died between store and process)."""
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

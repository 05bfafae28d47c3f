"""django-q2 entry points for the edge: thin, id-based, safe to run twice."""

from channels_intake.services import process_backlog as _process_backlog


def process_backlog(limit: int = 500) -> int:
    """Finish inbound events stored but never processed (a worker died between store and process)."""
    return _process_backlog(limit=limit)

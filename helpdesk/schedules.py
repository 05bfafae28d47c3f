"""Every django-q2 schedule the help desk runs, in one list. ``manage.py sync_schedules`` makes the
database match it (created, updated, and ours that are no longer listed removed)."""

SCHEDULES = [
    {
        "name": "intake: process stored inbound events left unprocessed",
        "func": "channels_intake.tasks.process_backlog",
        "schedule_type": "I",  # minutes
        "minutes": 1,
    },
]

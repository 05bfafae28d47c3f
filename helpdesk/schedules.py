"""Every django-q2 schedule the help desk runs, in one list. ``manage.py sync_schedules`` makes the
database match it (created, updated, and ours that are no longer listed removed)."""

SCHEDULES = [
    {
        "name": "intake: process stored inbound events left unprocessed",
        "func": "channels_intake.tasks.process_backlog",
        "schedule_type": "I",  # minutes
        "minutes": 1,
    },
    {
        "name": "routing: distribute every team's queue (safety net for missed triggers)",
        "func": "tickets.tasks.distribute_all",
        "schedule_type": "I",
        "minutes": 1,
    },
    {
        "name": "routing: overflow tickets nobody could take to the team's fallback team",
        "func": "tickets.tasks.overflow_queues",
        "schedule_type": "I",
        "minutes": 1,
    },
    {
        "name": "outbox: re-enqueue queued messages whose task was lost; fail ones stuck sending",
        "func": "channels_intake.tasks.sweep_outbox",
        "schedule_type": "I",
        "minutes": 5,
    },
    {
        "name": "e-mail: poll the active IMAP mailboxes for unseen mail",
        "func": "channels_intake.tasks.poll_mailboxes",
        "schedule_type": "I",
        "minutes": 1,
    },
    {
        "name": "presence: set agents offline after HELPDESK_PRESENCE_TIMEOUT_MINUTES without a request",
        "func": "tickets.services.routing.time_out_idle_agents",
        "schedule_type": "I",
        "minutes": 1,
    },
    {
        "name": "SLA: record breaches and apply the escalation rules (at risk, breached, follow-ups, P1)",
        "func": "tickets.tasks.sla_scan",
        "schedule_type": "I",
        "minutes": 1,
    },
    {
        "name": "auto-close: resolved tickets with no customer answer within HELPDESK_AUTO_CLOSE_HOURS",
        "func": "tickets.tasks.auto_close",
        "schedule_type": "I",
        "minutes": 5,
    },
    {
        "name": "rules: apply the triage rules ticked for the periodic sweep",
        "func": "tickets.tasks.rules_sweep",
        "schedule_type": "I",
        "minutes": 5,
    },
    {
        "name": "CSAT: send surveys whose own one-off schedule was lost (safety net)",
        "func": "tickets.tasks.send_due_csat_surveys",
        "schedule_type": "I",
        "minutes": 5,
    },
    {
        "name": "reports: roll up the facts of the tickets changed since the last run",
        "func": "reporting.tasks.refresh_facts",
        "schedule_type": "I",
        "minutes": 1,
    },
]

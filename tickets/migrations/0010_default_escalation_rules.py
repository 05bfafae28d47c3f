"""A new installation escalates breached P1 and P2 tickets to the team's supervisors (an admin edits it)."""

from django.db import migrations

DEFAULT_RULES = [
    {
        "name": "Breached P1/P2: escalate to the supervisors",
        "trigger": "breached",
        "target": "",
        "priority_at_most": 2,
        "action": "notify_supervisor",
        "order": 10,
    },
]


def forwards(apps, schema_editor):
    EscalationRule = apps.get_model("tickets", "EscalationRule")
    for rule in DEFAULT_RULES:
        EscalationRule.objects.get_or_create(name=rule["name"], defaults=rule)


class Migration(migrations.Migration):
    dependencies = [("tickets", "0009_sla_clocks_and_escalation")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]

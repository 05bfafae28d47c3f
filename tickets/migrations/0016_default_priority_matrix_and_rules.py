"""A new installation's priority matrix (impact × urgency, DOMAIN.md) and triage rules: premium and VIP
customers' tickets are high priority from the first moment, and a likely duplicate is offered for merging.
An admin edits all of it."""

from django.db import migrations

# impact (1 high … 3 low) × urgency (1 high … 3 low) → priority (1 = P1 … 4 = P4)
MATRIX = {
    (1, 1): 1,
    (1, 2): 2,
    (1, 3): 3,
    (2, 1): 2,
    (2, 2): 3,
    (2, 3): 4,
    (3, 1): 3,
    (3, 2): 4,
    (3, 3): 4,
}

DEFAULT_RULES = [
    {
        "name": "VIP customers: P1",
        "order": 10,
        "on_created": True,
        "on_changed": True,
        "customer_tier": "vip",
        "action": "raise_priority",
        "new_priority": 1,
    },
    {
        "name": "Premium customers: at least P2",
        "order": 20,
        "on_created": True,
        "on_changed": True,
        "customer_tier": "premium",
        "action": "raise_priority",
        "new_priority": 2,
    },
    {
        "name": "Likely duplicate: offer the merge",
        "order": 50,
        "on_created": True,
        "action": "offer_merge",
        "duplicate_window_hours": 24,
    },
]


def forwards(apps, schema_editor):
    Cell = apps.get_model("tickets", "PriorityMatrixCell")
    Rule = apps.get_model("tickets", "Rule")
    for (impact, urgency), priority in MATRIX.items():
        Cell.objects.get_or_create(impact=impact, urgency=urgency, defaults={"priority": priority})
    for rule in DEFAULT_RULES:
        Rule.objects.get_or_create(name=rule["name"], defaults=rule)


class Migration(migrations.Migration):
    dependencies = [("tickets", "0015_triage_rules_and_next_response")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]

"""The admin of the triage rules and the priority matrix (issue 6); imported by ``tickets.admin``."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Count

from tickets.models import PriorityMatrixCell, Rule, RuleFiring


@admin.register(PriorityMatrixCell)
class PriorityMatrixCellAdmin(admin.ModelAdmin):
    list_display = ["__str__", "impact", "urgency", "priority"]
    list_editable = ["priority"]
    list_filter = ["impact", "urgency"]


@admin.register(Rule)
class RuleAdmin(admin.ModelAdmin):
    list_display = [
        "order",
        "name",
        "triggers",
        "conditions",
        "action",
        "active",
        "firing_count",
    ]
    list_display_links = ["name"]
    list_editable = ["order", "active"]
    list_filter = ["active", "action", "on_created", "on_customer_message", "on_changed", "on_sweep"]
    search_fields = ["name", "keywords"]
    autocomplete_fields = ["tag", "category"]
    fieldsets = [
        (None, {"fields": ["name", "active", "order"]}),
        ("When", {"fields": ["on_created", "on_customer_message", "on_changed", "on_sweep"]}),
        (
            "If (every condition filled in must hold)",
            {
                "fields": [
                    "customer_tier",
                    "channel",
                    "keywords",
                    "reference_kind",
                    "team",
                    "priority",
                    "status",
                    "idle_hours",
                ]
            },
        ),
        (
            "Then",
            {"fields": ["action", "new_priority", "tag", "category", "to_team", "duplicate_window_hours"]},
        ),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_firings=Count("firings"))

    @admin.display(description="fired", ordering="_firings")
    def firing_count(self, obj):
        return obj._firings

    @admin.display(description="when")
    def triggers(self, obj):
        names = [
            ("created", obj.on_created),
            ("customer message", obj.on_customer_message),
            ("changed", obj.on_changed),
            ("sweep", obj.on_sweep),
        ]
        return ", ".join(n for n, on in names if on) or "never"

    @admin.display(description="if")
    def conditions(self, obj):
        parts = [
            obj.get_customer_tier_display() if obj.customer_tier else "",
            obj.get_channel_display() if obj.channel else "",
            f"“{obj.keywords}”" if obj.keywords else "",
            f"P{obj.priority}" if obj.priority else "",
            obj.get_status_display() if obj.status else "",
            f"idle {obj.idle_hours} h" if obj.idle_hours is not None else "",
        ]
        return ", ".join(p for p in parts if p) or "any ticket"


@admin.register(RuleFiring)
class RuleFiringAdmin(admin.ModelAdmin):
    """What the rules did: read-only, the history's own record."""

    list_display = ["fired_at", "rule", "ticket", "trigger", "duplicate_of"]
    list_filter = ["rule", "trigger"]
    list_select_related = ["rule", "ticket", "duplicate_of"]
    raw_id_fields = ["ticket", "duplicate_of"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

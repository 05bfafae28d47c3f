from django.contrib import admin, messages

from channels_intake.models import InboundEvent
from channels_intake.services import process_event


@admin.register(InboundEvent)
class InboundEventAdmin(admin.ModelAdmin):
    list_display = ["id", "source", "channel", "status", "attempts", "received_at", "error"]
    list_filter = ["status", "source", "channel"]
    search_fields = ["error"]
    readonly_fields = [
        "source",
        "channel",
        "payload_text",
        "content_type",
        "headers",
        "status",
        "error",
        "result",
        "attempts",
        "received_at",
        "processed_at",
    ]
    exclude = ["payload"]
    actions = ["replay"]
    show_full_result_count = False

    @admin.display(description="payload")
    def payload_text(self, obj):
        return obj.payload_text[:100_000]  # shown escaped by the admin

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.action(description="Replay selected events through the intake pipeline")
    def replay(self, request, queryset):
        outcome = {}
        for event in queryset.order_by("received_at", "id"):
            event = process_event(event)
            outcome[event.status] = outcome.get(event.status, 0) + 1
        level = messages.WARNING if outcome.get("failed") else messages.SUCCESS
        self.message_user(request, ", ".join(f"{n} {s}" for s, n in sorted(outcome.items())), level)

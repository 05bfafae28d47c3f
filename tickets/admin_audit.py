"""The admin's side of the audit trail: the read-only audit log, and the mixin that audits what the admin itself
shows and deletes (imported by ``tickets/admin.py``).

Every add, change and single delete in the admin writes a ``LogEntry``, which ``tickets.signals`` turns into an
audit entry; the mixin adds what LogEntry's signal does not see: opening a ticket's or customer's admin page
(a view), and "delete selected" over several rows (Django writes those log entries with ``bulk_create``, which
sends no signal).
"""

from __future__ import annotations

from django.contrib import admin

from tickets.models import AuditEntry, Customer, Ticket
from tickets.services import audit


class AuditedAdminMixin:
    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        if request.method == "GET" and response.status_code == 200 and self.model in (Ticket, Customer):
            obj = response.context_data.get("original") if hasattr(response, "context_data") else None
            if obj is not None:
                if self.model is Ticket:
                    audit.record_view(actor=request.user, ticket=obj, details={"admin": True})
                else:
                    audit.record_view(actor=request.user, customer=obj, details={"admin": True})
        return response

    def log_deletions(self, request, queryset):
        entries = super().log_deletions(request, queryset)
        if len(entries) > 1:  # one entry is saved (and audited through the signal); several are bulk-created
            for entry in entries:
                audit.record_admin_entry(entry)
        return entries


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """Read only, for everyone: the trail is append-only (the model and PostgreSQL refuse changes anyway)."""

    list_display = [
        "at",
        "actor_label",
        "action",
        "object_type",
        "object_id",
        "ticket_id",
        "customer_id",
        "path",
    ]
    list_filter = ["action", "object_type", ("at", admin.DateFieldListFilter)]
    # One ticket's or customer's trail: ?ticket__id__exact=ID or ?customer__id__exact=ID (linked from their pages).
    search_fields = ["=actor_label", "=object_id", "path"]
    date_hierarchy = "at"
    show_full_result_count = False
    readonly_fields = [
        "at",
        "actor_id",
        "actor_label",
        "action",
        "object_type",
        "object_id",
        "ticket_id",
        "customer_id",
        "event_id",
        "path",
        "ip",
        "details",
    ]
    fields = readonly_fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

"""The admin's side of the audit trail: the read-only audit log, and the mixin that audits what the admin itself
shows and deletes (imported by ``tickets/admin.py``).

Every add, change and single delete in the admin writes a ``LogEntry``, which ``tickets.signals`` turns into an
audit entry; the mixin adds what LogEntry's signal does not see: opening a ticket's or customer's admin page
(a view), and "delete selected" over several rows (Django writes those log entries with ``bulk_create``, which
sends no signal).
"""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpResponse
from django.template.response import TemplateResponse

from tickets.models import AuditEntry, Customer, Ticket
from tickets.services import audit, privacy


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


# --- data protection: actions of the Customer admin --------------------------------------------------------


@admin.action(description="Export selected customers' data (JSON)", permissions=["change"])
def export_customers(modeladmin, request, queryset):
    """One JSON file: a list with everything about each selected customer (each export audited)."""
    data = [privacy.export_customer(customer=c, actor=request.user) for c in queryset.order_by("unique_id")]
    response = HttpResponse(
        json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2),
        content_type="application/json; charset=utf-8",
    )
    name = data[0]["customer"]["unique_id"] if len(data) == 1 else "customers"
    response["Content-Disposition"] = f'attachment; filename="export-{name}.json"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


@admin.action(description="Erase selected customers (anonymise; keeps statistics)", permissions=["delete"])
def erase_customers(modeladmin, request, queryset):
    """Asks first (like Django's delete), then erases each customer (``services.privacy.erase_customer``)."""
    if request.POST.get("post") != "yes":
        context = {
            **modeladmin.admin_site.each_context(request),
            "title": "Erase customers",
            "opts": modeladmin.model._meta,
            "customers": list(queryset.order_by("unique_id")),
        }
        return TemplateResponse(request, "admin/tickets/customer/erase_confirm.html", context)
    for customer in queryset.order_by("unique_id"):
        report = privacy.erase_customer(customer=customer, actor=request.user)
        modeladmin.message_user(request, report.summary(), messages.SUCCESS)
    return None


class ObjectTypeFilter(admin.SimpleListFilter):
    title = "object"
    parameter_name = "object_type"
    TYPES = [
        ("tickets.ticket", "Tickets"),
        ("tickets.customer", "Customers"),
        ("tickets.customeridentity", "Customer identities"),
        ("tickets.reference", "References"),
    ]

    def lookups(self, request, model_admin):
        return self.TYPES

    def queryset(self, request, queryset):
        return queryset.filter(object_type=self.value()) if self.value() else queryset


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
    # Filters that need no query of their own: the trail grows by a row per page view, and a filter listing its
    # distinct values (or a date hierarchy) would scan it on every visit.
    list_filter = ["action", ObjectTypeFilter, ("at", admin.DateFieldListFilter)]
    # One ticket's or customer's trail: ?ticket__id__exact=ID or ?customer__id__exact=ID (linked from their pages).
    search_fields = ["=actor_label", "=object_id", "path"]
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

"""The Django admin: where admins configure the help desk. Tickets' status and owner are read-only here —
the lifecycle services are the only way to change them."""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from tickets.models import (
    Acknowledgement,
    Agent,
    BusinessCalendar,
    CannedResponse,
    Case,
    Category,
    Customer,
    CustomerConflict,
    CustomerIdentity,
    Interaction,
    Message,
    Note,
    Reference,
    ReferenceKind,
    RoutingRule,
    SlaPolicy,
    Tag,
    Team,
    Ticket,
    TicketEvent,
)
from tickets.models.tickets import parse_number


class ReadOnlyMixin:
    """History is append-only: visible, never edited or deleted through the admin."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(admin.ModelAdmin):
    list_display = ["name", "timezone", "holiday_country", "always_open"]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "fallback_team", "overflow_after_minutes", "calendar"]
    list_filter = ["kind"]
    list_select_related = ["fallback_team", "calendar"]
    prepopulated_fields = {"slug": ["name"]}
    search_fields = ["name", "slug"]


class AgentInline(admin.StackedInline):
    model = Agent
    can_delete = False
    filter_horizontal = ["teams"]
    fields = ["role", "teams", "max_active_assignments", "presence", "is_senior"]


@admin.register(Agent)
class AgentAdmin(admin.ModelAdmin):
    list_display = ["__str__", "role", "presence", "max_active_assignments", "is_senior", "last_assigned_at"]
    list_filter = ["role", "presence", "is_senior", "teams"]
    list_editable = ["max_active_assignments", "presence"]
    list_select_related = ["user"]
    search_fields = ["user__username", "user__first_name", "user__last_name"]
    filter_horizontal = ["teams"]
    autocomplete_fields = ["user"]


User = get_user_model()
if admin.site.is_registered(User):
    admin.site.unregister(User)


@admin.register(User)
class HelpdeskUserAdmin(UserAdmin):
    inlines = [AgentInline]


@admin.register(RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin):
    list_display = [
        "position",
        "name",
        "channel",
        "category",
        "customer_tier",
        "reference_kind",
        "keywords",
        "team",
        "active",
    ]
    list_display_links = ["name"]
    list_editable = ["position", "active"]
    list_select_related = ["category", "reference_kind", "team"]


@admin.register(SlaPolicy)
class SlaPolicyAdmin(admin.ModelAdmin):
    list_display = ["priority", "team", "first_response_minutes", "resolution_minutes"]
    list_filter = ["priority", "team"]
    list_select_related = ["team"]


@admin.register(ReferenceKind)
class ReferenceKindAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "pattern", "active"]


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    search_fields = ["name"]


@admin.register(CannedResponse)
class CannedResponseAdmin(admin.ModelAdmin):
    list_display = ["title", "team", "active"]
    list_filter = ["active", "team"]
    list_select_related = ["team"]
    search_fields = ["title", "body"]


@admin.register(Acknowledgement)
class AcknowledgementAdmin(admin.ModelAdmin):
    list_display = ["channel", "active"]


class IdentityInline(admin.TabularInline):
    model = CustomerIdentity
    extra = 0
    fields = ["channel", "address", "display_name", "created_at"]
    readonly_fields = ["created_at"]


class ReferenceInline(admin.TabularInline):
    model = Reference
    extra = 0
    fields = ["kind", "value", "created_at"]
    readonly_fields = ["created_at"]


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    change_list_template = "admin/tickets/customer/change_list.html"
    list_display = ["unique_id", "name", "tier", "created_at"]
    list_filter = ["tier"]
    search_fields = ["unique_id", "name", "identities__address", "references__value"]
    inlines = [IdentityInline, ReferenceInline]
    show_full_result_count = False

    def get_urls(self):
        from django.urls import path

        from tickets.views.imports import import_customers_view

        return [
            path(
                "import/", self.admin_site.admin_view(import_customers_view), name="tickets_customer_import"
            ),
            *super().get_urls(),
        ]


@admin.register(CustomerIdentity)
class CustomerIdentityAdmin(admin.ModelAdmin):
    list_display = ["address", "channel", "customer", "created_at"]
    list_filter = ["channel"]
    list_select_related = ["customer"]
    search_fields = ["address", "customer__unique_id"]
    autocomplete_fields = ["customer"]
    show_full_result_count = False


@admin.register(Reference)
class ReferenceAdmin(admin.ModelAdmin):
    list_display = ["value", "kind", "customer", "created_at"]
    list_filter = ["kind"]
    list_select_related = ["kind", "customer"]
    search_fields = ["value", "customer__unique_id"]
    autocomplete_fields = ["customer"]
    show_full_result_count = False


@admin.register(CustomerConflict)
class CustomerConflictAdmin(admin.ModelAdmin):
    list_display = ["identity", "claimed_customer", "reference", "resolved", "created_at"]
    list_filter = ["resolved"]
    list_select_related = ["identity", "claimed_customer", "reference"]
    readonly_fields = ["identity", "claimed_customer", "reference", "message", "detail", "created_at"]
    fields = [*readonly_fields, "resolved"]

    def has_add_permission(self, request):
        return False


class EventInline(ReadOnlyMixin, admin.TabularInline):
    model = TicketEvent
    extra = 0
    fields = ["created_at", "actor", "kind", "from_value", "to_value", "reason"]
    readonly_fields = fields


class CaseInline(ReadOnlyMixin, admin.TabularInline):
    model = Case
    fk_name = "ticket"
    extra = 0
    fields = ["interaction", "link_rule", "link_detail", "status", "created_at"]
    readonly_fields = fields


class NoteInline(admin.TabularInline):
    model = Note
    extra = 0
    fields = ["author", "body", "created_at"]
    readonly_fields = ["author", "created_at"]


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    list_display = [
        "number",
        "subject",
        "customer",
        "status",
        "priority",
        "team",
        "assignee",
        "channel",
        "created_at",
    ]
    list_filter = ["status", "priority", "team", "channel", "escalated"]
    list_select_related = ["customer", "team", "assignee__user"]
    search_fields = ["subject", "customer__unique_id", "customer__name", "reference__value"]
    show_full_result_count = False
    date_hierarchy = "created_at"
    autocomplete_fields = ["customer", "reference", "tags"]
    inlines = [CaseInline, NoteInline, EventInline]
    readonly_fields = [
        "number",
        "status",
        "assignee",
        "team",
        "team_rule",
        "escalated",
        "escalation_level",
        "merged_into",
        "follows",
        "reopen_count",
        "version",
        "created_at",
        "updated_at",
        "assigned_at",
        "resolved_at",
        "closed_at",
        "first_responded_at",
        "last_customer_message_at",
        "resolution_type",
        "resolution_notes",
    ]
    fieldsets = [
        (None, {"fields": ["number", "subject", "customer", "reference", "channel", "category", "tags"]}),
        (
            "Lifecycle (changed through the workspace's actions only)",
            {
                "fields": [
                    "status",
                    "team",
                    "team_rule",
                    "assignee",
                    "escalated",
                    "escalation_level",
                    "merged_into",
                    "follows",
                    "reopen_count",
                    "version",
                ]
            },
        ),
        (
            "Priority and SLA",
            {
                "fields": [
                    "impact",
                    "urgency",
                    "priority",
                    "first_response_due",
                    "resolution_due",
                    "first_responded_at",
                    "sla_breached",
                ]
            },
        ),
        ("Resolution", {"fields": ["resolution_type", "resolution_notes"]}),
        (
            "Times",
            {
                "fields": [
                    "created_at",
                    "updated_at",
                    "assigned_at",
                    "resolved_at",
                    "closed_at",
                    "last_customer_message_at",
                ]
            },
        ),
    ]

    def has_add_permission(self, request):
        return False  # tickets are opened by intake, never by hand in the admin

    def get_search_results(self, request, queryset, search_term):
        pk = parse_number(search_term)
        if pk is not None:
            return queryset.filter(pk=pk), False
        return super().get_search_results(request, queryset, search_term)


@admin.register(TicketEvent)
class TicketEventAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["created_at", "ticket", "actor", "kind", "from_value", "to_value", "reason"]
    list_filter = ["kind"]
    list_select_related = ["ticket", "actor"]
    show_full_result_count = False


class MessageInline(ReadOnlyMixin, admin.StackedInline):
    model = Message
    extra = 0
    fields = [
        "direction",
        "sender",
        "subject",
        "body",
        "provider_message_id",
        "delivery_status",
        "sent_at",
        "error",
    ]
    readonly_fields = fields


@admin.register(Interaction)
class InteractionAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["id", "customer", "channel", "status", "started_at", "last_message_at"]
    list_filter = ["channel", "status"]
    list_select_related = ["customer"]
    search_fields = ["customer__unique_id", "identity__address"]
    inlines = [MessageInline]
    show_full_result_count = False


@admin.register(Case)
class CaseAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["id", "ticket", "interaction", "link_rule", "status", "created_at"]
    list_filter = ["link_rule", "status"]
    list_select_related = ["ticket", "interaction"]
    show_full_result_count = False


@admin.register(Message)
class MessageAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["id", "channel", "direction", "sender", "subject", "delivery_status", "sent_at"]
    list_filter = ["channel", "direction", "delivery_status"]
    search_fields = ["provider_message_id", "sender"]
    show_full_result_count = False

"""The Django admin: where admins configure the help desk (teams, agents, calendars, SLAs, references,
categories, tags, canned answers, customers) and look things up.

A ticket's status, team and owner are read-only here: the lifecycle services (``tickets.services``) are the
only way to move them, so every move is checked and recorded. History (events, cases, conversations) is
shown, never edited. List pages select their related rows in the same query and skip the full count, so
they stay fast on big tables.
"""

from __future__ import annotations

import zoneinfo

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

import tickets.admin_feedback  # noqa: F401  (registers CSAT surveys, follow-ups, verifications, reply keywords)
from tickets import admin_rules  # noqa: F401  (registers the triage rules and priority matrix)
from tickets.admin_audit import AuditedAdminMixin, erase_customers, export_customers
from tickets.channels import AddressKind, Channel
from tickets.errors import HelpdeskError
from tickets.lifecycle import ACTIVE_STATUSES
from tickets.models import (
    Acknowledgement,
    Agent,
    Article,
    BusinessCalendar,
    CannedResponse,
    Case,
    Category,
    Customer,
    CustomerConflict,
    CustomerIdentity,
    EscalationRule,
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
from tickets.models.teams import AgentEvent
from tickets.models.tickets import parse_number
from tickets.services.customers import normalise_address
from tickets.services.events import record_event
from tickets.services.imports import COLUMNS, REFERENCE_SEPARATOR, import_customers
from tickets.services.routing import set_limit, set_presence
from tickets.sla import CalendarError, parse_weekly_hours, public_holidays


class ReadOnlyMixin:
    """History is append-only: visible, never added, edited or deleted through the admin."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def search_by_ticket_number(queryset, search_term: str, field: str = "pk"):
    """``T-000123`` names one ticket: the queryset narrowed to it, or None when the term is no number."""
    pk = parse_number(search_term)
    return None if pk is None else queryset.filter(**{field: pk})


# --- configuration -----------------------------------------------------------------------------------


class BusinessCalendarForm(forms.ModelForm):
    class Meta:
        model = BusinessCalendar
        fields = ["name", "timezone", "weekly_hours", "holiday_country", "always_open"]

    def clean_timezone(self):
        name = self.cleaned_data["timezone"].strip()
        try:
            zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValidationError(f"{name!r} is not a time zone (e.g. Europe/London, UTC).") from None
        return name

    def clean_weekly_hours(self):
        weekly = self.cleaned_data["weekly_hours"]
        if not isinstance(weekly, dict):
            raise ValidationError('Write the hours as {"mon": [["09:00", "17:00"]], …}.')
        try:
            parse_weekly_hours(weekly)
        except CalendarError as exc:
            raise ValidationError(str(exc)) from None
        return weekly

    def clean_holiday_country(self):
        country = self.cleaned_data["holiday_country"].strip().upper()
        if country:
            try:
                public_holidays(country, timezone.now().year)
            except CalendarError as exc:
                raise ValidationError(f"{exc} (use an ISO code such as GB, DE or GB-SCT).") from None
        return country


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(admin.ModelAdmin):
    form = BusinessCalendarForm
    list_display = ["name", "timezone", "holiday_country", "always_open"]
    search_fields = ["name"]


class TeamForm(forms.ModelForm):
    class Meta:
        model = Team
        fields = [
            "name",
            "slug",
            "kind",
            "fallback_team",
            "overflow_after_minutes",
            "offline_policy",
            "calendar",
            "reopen_policy",
            "reopen_after_days",
        ]

    def clean_fallback_team(self):
        fallback = self.cleaned_data.get("fallback_team")
        if fallback is not None and self.instance.pk == fallback.pk:
            raise ValidationError("A team cannot overflow to itself; pick another team or none.")
        return fallback


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    form = TeamForm
    list_display = [
        "name",
        "slug",
        "kind",
        "fallback_team",
        "overflow_after_minutes",
        "offline_policy",
        "calendar",
        "agent_count",
    ]
    list_filter = ["kind"]
    list_select_related = ["fallback_team", "calendar"]
    prepopulated_fields = {"slug": ["name"]}
    search_fields = ["name", "slug"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_agents=Count("agents", distinct=True))

    @admin.display(description="agents", ordering="_agents")
    def agent_count(self, obj):
        return obj._agents


class AgentInline(admin.StackedInline):
    """The agent side of a user, on the user's page."""

    model = Agent
    can_delete = False
    filter_horizontal = ["teams"]
    fields = ["role", "teams", "max_active_assignments", "presence", "is_senior"]


@admin.register(Agent)
class AgentAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "username",
        "role",
        "team_names",
        "presence",
        "active_assignments",
        "max_active_assignments",
        "is_senior",
        "last_assigned_at",
    ]
    list_filter = ["role", "presence", "is_senior", "teams"]
    list_editable = ["max_active_assignments", "presence"]
    list_select_related = ["user"]
    search_fields = ["user__username", "user__first_name", "user__last_name"]
    filter_horizontal = ["teams"]
    autocomplete_fields = ["user"]
    readonly_fields = ["last_assigned_at", "presence_changed_at"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .prefetch_related("teams")
            .annotate(_load=Count("tickets", filter=Q(tickets__status__in=ACTIVE_STATUSES), distinct=True))
        )

    @admin.display(ordering="user__username")
    def username(self, obj):
        return obj.user.get_username()

    @admin.display(description="teams")
    def team_names(self, obj):
        return ", ".join(t.name for t in obj.teams.all())

    @admin.display(description="active", ordering="_load")
    def active_assignments(self, obj):
        return obj._load

    def save_model(self, request, obj, form, change):
        """Presence and the maximum go through the routing service: permission-checked and recorded; coming
        online or a higher maximum hands out work, going offline applies the teams' offline policies."""
        wanted = {}
        for field in ("presence", "max_active_assignments"):
            if change and field in form.changed_data:
                wanted[field] = getattr(obj, field)
                setattr(obj, field, form.initial[field])
        super().save_model(request, obj, form, change)
        for field, value in wanted.items():
            try:
                if field == "presence":
                    set_presence(agent=obj, presence=value, actor=request.user)
                else:
                    set_limit(agent=obj, maximum=value, actor=request.user)
            except HelpdeskError as exc:
                label = obj._meta.get_field(field).verbose_name
                self.message_user(request, f"{obj}: {label} not changed: {exc}", messages.ERROR)


User = get_user_model()
if admin.site.is_registered(User):
    admin.site.unregister(User)


@admin.register(User)
class HelpdeskUserAdmin(UserAdmin):
    inlines = [AgentInline]
    list_display = [*UserAdmin.list_display, "agent_role"]
    list_select_related = ["agent"]

    @admin.display(description="agent role", ordering="agent__role")
    def agent_role(self, obj):
        try:
            return obj.agent.get_role_display()
        except Agent.DoesNotExist:
            return "-"


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
    list_filter = ["active", "team"]
    list_select_related = ["category", "reference_kind", "team"]
    search_fields = ["name", "keywords"]


@admin.register(SlaPolicy)
class SlaPolicyAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "priority",
        "team",
        "first_response_minutes",
        "resolution_minutes",
        "next_response_minutes",
    ]
    list_filter = ["priority", "team"]
    list_select_related = ["team"]


@admin.register(ReferenceKind)
class ReferenceKindAdmin(admin.ModelAdmin):
    """The pattern is checked by the model's ``clean`` (a broken regular expression is refused)."""

    list_display = ["code", "name", "pattern", "active"]
    list_filter = ["active"]
    search_fields = ["code", "name"]


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    search_fields = ["name"]


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    search_fields = ["name"]


@admin.register(CannedResponse)
class CannedResponseAdmin(admin.ModelAdmin):
    list_display = ["title", "team", "active"]
    list_filter = ["active", "team"]
    list_select_related = ["team"]
    search_fields = ["title", "body"]


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    """Knowledge-base articles (agents write them in the workspace: ``/kb/``). The body is plain text."""

    list_display = ["title", "category", "published", "author", "source_ticket", "updated_at"]
    list_filter = ["published", "category"]
    list_select_related = ["category", "author__user", "source_ticket"]
    search_fields = ["title", "body"]
    autocomplete_fields = ["tags"]
    raw_id_fields = ["source_ticket", "author"]
    readonly_fields = ["created_at", "updated_at", "updated_by"]
    show_full_result_count = False

    def save_model(self, request, obj, form, change):
        obj.updated_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(Acknowledgement)
class AcknowledgementAdmin(admin.ModelAdmin):
    list_display = ["channel", "active", "body"]
    list_filter = ["active"]


# --- customers ---------------------------------------------------------------------------------------

# The channel whose address rules an identity kind follows (voice and SMS share the phone number).
KIND_CHANNEL = {
    AddressKind.PHONE: Channel.VOICE,
    AddressKind.EMAIL: Channel.EMAIL,
    AddressKind.WHATSAPP: Channel.WHATSAPP,
    AddressKind.SOCIAL: Channel.SOCIAL,
    AddressKind.CHAT: Channel.CHAT,
}


class IdentityForm(forms.ModelForm):
    """Addresses are stored as intake finds them: E.164 phone numbers, lower-cased e-mail."""

    class Meta:
        model = CustomerIdentity
        fields = ["customer", "channel", "address", "display_name"]

    def clean(self):
        data = super().clean()
        kind, address = data.get("channel"), data.get("address")
        if kind and address:
            try:
                _, data["address"] = normalise_address(KIND_CHANNEL[kind], address)
            except HelpdeskError as exc:
                self.add_error("address", str(exc))
            else:
                self.instance.address = data["address"]
                if (
                    CustomerIdentity.objects.filter(channel=kind, address=data["address"])
                    .exclude(pk=self.instance.pk)
                    .exists()
                ):
                    self.add_error("address", f"{data['address']} already belongs to a customer.")
        return data


class ReferenceForm(forms.ModelForm):
    class Meta:
        model = Reference
        fields = ["customer", "kind", "value"]

    def clean_value(self):
        return self.cleaned_data["value"].strip().upper()  # as intake records and matches references


class IdentityInline(admin.TabularInline):
    model = CustomerIdentity
    form = IdentityForm
    extra = 0
    fields = ["channel", "address", "display_name", "created_at"]
    readonly_fields = ["created_at"]


class ReferenceInline(admin.TabularInline):
    model = Reference
    form = ReferenceForm
    extra = 0
    fields = ["kind", "value", "created_at"]
    readonly_fields = ["created_at"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("kind")


class CustomerImportForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        help_text=f"UTF-8, columns exactly {','.join(COLUMNS)}; references separated by {REFERENCE_SEPARATOR}",
    )


@admin.register(Customer)
class CustomerAdmin(AuditedAdminMixin, admin.ModelAdmin):
    change_list_template = "admin/tickets/customer/change_list.html"
    actions = [export_customers, erase_customers]
    list_display = ["unique_id", "name", "tier", "created_at"]
    list_filter = ["tier"]
    search_fields = ["unique_id", "name", "identities__address", "references__value"]
    readonly_fields = ["ticket_list", "created_at", "updated_at"]
    fields = ["unique_id", "name", "tier", "ticket_list", "created_at", "updated_at"]
    inlines = [IdentityInline, ReferenceInline]
    show_full_result_count = False

    @admin.display(description="tickets")
    def ticket_list(self, obj):
        if obj.pk is None:
            return "-"
        url = reverse("admin:tickets_ticket_changelist") + f"?customer__id__exact={obj.pk}"
        return format_html('<a href="{}">{} ticket(s)</a>', url, obj.tickets.count())

    def get_search_results(self, request, queryset, search_term):
        filtered = queryset
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        # A phone number however it is typed (+44 7700 900100, 07700900100) finds its E.164 identity.
        term = search_term.strip()
        if term and sum(ch.isdigit() for ch in term) >= 6:
            try:
                _, phone = normalise_address(Channel.VOICE, term)
            except HelpdeskError:
                pass
            else:
                queryset |= filtered.filter(identities__address=phone)
                may_have_duplicates = True
        return queryset, may_have_duplicates

    def get_urls(self):
        return [
            path("import/", self.admin_site.admin_view(self.import_view), name="tickets_customer_import"),
            *super().get_urls(),
        ]

    def import_view(self, request):
        """ "Import customers from CSV": the same import as ``manage.py import_customers``."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = CustomerImportForm(request.POST or None, request.FILES or None)
        report = None
        if request.method == "POST" and form.is_valid():
            report = import_customers(file=form.cleaned_data["file"], actor=request.user)
            if report.ok:
                self.message_user(request, report.summary(), messages.SUCCESS)
                return redirect("admin:tickets_customer_changelist")
        context = {
            **self.admin_site.each_context(request),
            "title": "Import customers from CSV",
            "opts": self.opts,
            "has_view_permission": self.has_view_permission(request),
            "form": form,
            "report": report,
            "columns": COLUMNS,
            "separator": REFERENCE_SEPARATOR,
        }
        return TemplateResponse(request, "admin/tickets/customer/import.html", context)


@admin.register(CustomerIdentity)
class CustomerIdentityAdmin(AuditedAdminMixin, admin.ModelAdmin):
    form = IdentityForm
    list_display = ["address", "channel", "customer", "display_name", "created_at"]
    list_filter = ["channel"]
    list_select_related = ["customer"]
    search_fields = ["address", "customer__unique_id"]
    autocomplete_fields = ["customer"]
    show_full_result_count = False


@admin.register(Reference)
class ReferenceAdmin(AuditedAdminMixin, admin.ModelAdmin):
    form = ReferenceForm
    list_display = ["value", "kind", "customer", "created_at"]
    list_filter = ["kind"]
    list_select_related = ["kind", "customer"]
    search_fields = ["value", "customer__unique_id"]
    autocomplete_fields = ["customer"]
    show_full_result_count = False


@admin.register(CustomerConflict)
class CustomerConflictAdmin(admin.ModelAdmin):
    """A message whose sender and reference name different customers: a person decides, then ticks it."""

    list_display = ["created_at", "identity", "claimed_customer", "reference", "resolved"]
    list_filter = ["resolved"]
    list_select_related = ["identity", "claimed_customer", "reference"]
    readonly_fields = ["identity", "claimed_customer", "reference", "message", "detail", "created_at"]
    fields = [*readonly_fields, "resolved"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False


# --- tickets -----------------------------------------------------------------------------------------


class EventInline(ReadOnlyMixin, admin.TabularInline):
    model = TicketEvent
    extra = 0
    fields = ["created_at", "actor", "kind", "from_value", "to_value", "reason"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")


class CaseInline(ReadOnlyMixin, admin.TabularInline):
    model = Case
    fk_name = "ticket"
    extra = 0
    fields = ["interaction", "link_rule", "link_detail", "status", "created_at"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("interaction")


class NoteInline(ReadOnlyMixin, admin.TabularInline):
    """Notes are written in the workspace (``services.replies.add_note``), which records them."""

    model = Note
    extra = 0
    fields = ["created_at", "author", "body"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("author__user")


# What an admin may correct on a ticket: its wording and classification. Everything else moves through
# the lifecycle and SLA services.
TICKET_EDITABLE = ["subject", "category", "tags"]


@admin.register(Ticket)
class TicketAdmin(AuditedAdminMixin, admin.ModelAdmin):
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
    list_display_links = ["number", "subject"]
    list_filter = ["status", "priority", "team", "channel", "escalated", "sla_breached", "customer__tier"]
    list_select_related = ["customer", "team", "assignee__user"]
    search_fields = ["subject", "customer__unique_id", "customer__name", "reference__value"]
    show_full_result_count = False
    date_hierarchy = "created_at"
    autocomplete_fields = ["tags"]
    inlines = [CaseInline, NoteInline, EventInline]
    fieldsets = [
        (None, {"fields": ["number", "subject", "customer", "reference", "channel", "category", "tags"]}),
        (
            "Lifecycle (changed through the lifecycle actions only)",
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
                    "queued_at",
                    "resolved_at",
                    "closed_at",
                    "last_customer_message_at",
                ]
            },
        ),
    ]

    def get_readonly_fields(self, request, obj=None):
        return [f for group in self.fieldsets for f in group[1]["fields"] if f not in TICKET_EDITABLE]

    @admin.display(description="number", ordering="pk")
    def number(self, obj):
        return obj.number

    def has_add_permission(self, request):
        return False  # tickets are opened by intake, never by hand in the admin

    def has_delete_permission(self, request, obj=None):
        return False  # a ticket is closed, merged or marked as spam; its history stays

    def get_search_results(self, request, queryset, search_term):
        found = search_by_ticket_number(queryset, search_term)
        if found is not None:
            return found, False
        return super().get_search_results(request, queryset, search_term)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        changed = [f for f in form.changed_data if f != "tags"]
        if change and changed:
            record_event(
                ticket=obj, actor=request.user, kind="edited", reason="in the admin", data={"fields": changed}
            )

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if change and "tags" in form.changed_data:
            record_event(
                ticket=form.instance,
                actor=request.user,
                kind="tagged",
                to_value=", ".join(t.name for t in form.instance.tags.all())[:200],
                reason="in the admin",
            )


@admin.register(TicketEvent)
class TicketEventAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["created_at", "ticket", "actor", "kind", "from_value", "to_value", "reason"]
    list_filter = ["kind"]
    list_select_related = ["ticket", "actor"]
    search_fields = ["reason"]
    show_full_result_count = False

    def get_search_results(self, request, queryset, search_term):
        found = search_by_ticket_number(queryset, search_term, "ticket_id")
        if found is not None:
            return found, False
        return super().get_search_results(request, queryset, search_term)


@admin.register(AgentEvent)
class AgentEventAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """Presence and limit changes (the routing service records them), including session timeouts."""

    list_display = ["created_at", "agent", "actor", "kind", "from_value", "to_value", "reason"]
    list_filter = ["kind"]
    list_select_related = ["agent__user", "actor"]
    search_fields = ["agent__user__username", "reason"]
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
        "author",
        "error",
    ]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("author__user")


@admin.register(Interaction)
class InteractionAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["id", "customer", "channel", "ticket", "status", "started_at", "last_message_at"]
    list_filter = ["channel", "status"]
    list_select_related = ["customer", "case__ticket"]
    search_fields = ["customer__unique_id", "identity__address"]
    inlines = [MessageInline]
    show_full_result_count = False

    @admin.display(description="ticket")
    def ticket(self, obj):
        case = getattr(obj, "case", None)
        return case.ticket.number if case else "-"


@admin.register(Case)
class CaseAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["id", "ticket", "interaction", "link_rule", "status", "created_at"]
    list_filter = ["link_rule", "status"]
    list_select_related = ["ticket", "interaction"]
    search_fields = ["link_detail"]
    show_full_result_count = False

    def get_search_results(self, request, queryset, search_term):
        found = search_by_ticket_number(queryset, search_term, "ticket_id")
        if found is not None:
            return found, False
        return super().get_search_results(request, queryset, search_term)


@admin.register(Message)
class MessageAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["id", "channel", "direction", "sender", "subject", "delivery_status", "sent_at"]
    list_filter = ["channel", "direction", "delivery_status"]
    search_fields = ["provider_message_id", "sender"]
    show_full_result_count = False


# SLA escalation rules (tickets.services.escalation applies them, each once per ticket) --------------------


@admin.register(EscalationRule)
class EscalationRuleAdmin(admin.ModelAdmin):
    list_display = [
        "order",
        "name",
        "trigger",
        "target",
        "priority_at_most",
        "follow_ups",
        "action",
        "escalation_team",
        "active",
    ]
    list_display_links = ["name"]
    list_editable = ["order", "active"]
    list_filter = ["active", "trigger", "action"]
    list_select_related = ["escalation_team"]

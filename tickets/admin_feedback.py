"""Admin for closure and feedback (imported by ``tickets.admin``): CSAT surveys and verifications are
read-only records (the services write them, with the ticket's history); follow-ups are looked up and may be
handed to another senior agent; the verification reply keywords are configuration."""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from tickets.models import CsatFollowUp, CsatSurvey, Verification, VerificationKeyword
from tickets.models.tickets import parse_number


class _ReadOnly:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def _ticket_link(obj):
    url = reverse("admin:tickets_ticket_change", args=[obj.ticket_id])
    return format_html('<a href="{}">{}</a>', url, obj.ticket.number)


class _ByTicketNumber:
    def get_search_results(self, request, queryset, search_term):
        pk = parse_number(search_term)
        if pk is not None:
            return queryset.filter(ticket_id=pk), False
        return super().get_search_results(request, queryset, search_term)


@admin.register(CsatSurvey)
class CsatSurveyAdmin(_ReadOnly, _ByTicketNumber, admin.ModelAdmin):
    list_display = [
        "id",
        "ticket_number",
        "state",
        "channel",
        "rating",
        "team",
        "agent",
        "sent_at",
        "answered_at",
    ]
    list_filter = ["state", "rating", "channel", "team"]
    search_fields = ["comment"]
    date_hierarchy = "created_at"
    list_select_related = ["ticket", "team", "agent__user"]
    show_full_result_count = False
    fields = [
        "ticket_number",
        "state",
        "channel",
        "team",
        "agent",
        "scheduled_for",
        "sent_at",
        "expires_at",
        "answered_at",
        "rating",
        "comment",
        "note",
        "message",
        "created_at",
    ]
    readonly_fields = fields

    @admin.display(description="ticket", ordering="ticket_id")
    def ticket_number(self, obj):
        return _ticket_link(obj)


@admin.register(CsatFollowUp)
class CsatFollowUpAdmin(_ByTicketNumber, admin.ModelAdmin):
    """Open follow-ups of negative ratings: an admin may hand one to another senior agent."""

    list_display = ["id", "ticket_number", "rating", "team", "assignee", "state", "created_at", "done_at"]
    list_filter = ["state", "team"]
    list_select_related = ["ticket", "team", "assignee__user", "survey"]
    search_fields = ["outcome", "survey__comment"]
    fields = [
        "ticket_number",
        "rating",
        "comment",
        "team",
        "assignee",
        "routing_reason",
        "state",
        "done_by",
        "done_at",
        "outcome",
    ]
    readonly_fields = [
        "ticket_number",
        "rating",
        "comment",
        "team",
        "routing_reason",
        "state",
        "done_by",
        "done_at",
        "outcome",
    ]

    def has_add_permission(self, request, obj=None):
        return False  # only a negative rating opens one

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="ticket", ordering="ticket_id")
    def ticket_number(self, obj):
        return _ticket_link(obj)

    @admin.display(description="rating")
    def rating(self, obj):
        return obj.survey.rating

    @admin.display(description="customer's comment")
    def comment(self, obj):
        return obj.survey.comment

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "assignee":
            from tickets.models import Agent

            kwargs["queryset"] = Agent.objects.filter(is_senior=True, user__is_active=True).select_related(
                "user"
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(Verification)
class VerificationAdmin(_ReadOnly, _ByTicketNumber, admin.ModelAdmin):
    list_display = ["id", "ticket_number", "state", "channel", "answered_via", "asked_at", "answered_at"]
    list_filter = ["state", "answered_via", "channel"]
    list_select_related = ["ticket"]
    search_fields = ["answer_text"]
    show_full_result_count = False
    fields = [
        "ticket_number",
        "state",
        "channel",
        "asked_at",
        "answered_at",
        "answered_via",
        "answer_text",
        "message",
    ]
    readonly_fields = fields

    @admin.display(description="ticket", ordering="ticket_id")
    def ticket_number(self, obj):
        return _ticket_link(obj)


@admin.register(VerificationKeyword)
class VerificationKeywordAdmin(admin.ModelAdmin):
    """Replies that answer "is it fixed?" on messaging channels. While there is no active row, the defaults in
    ``HELPDESK["VERIFICATION_KEYWORDS"]`` apply; once there is one, only the rows do."""

    list_display = ["word", "answer", "active"]
    list_editable = ["answer", "active"]
    list_filter = ["answer", "active"]
    search_fields = ["word"]

"""The inbound event log in the admin: every provider request as it arrived, read-only, and replayable."""

import json

from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html

from channels_intake.models import ChannelAccount, InboundEvent, Mailbox
from channels_intake.services import process_event, release

# Shown on the page at most (a raw e-mail with attachments can be megabytes).
PAYLOAD_PREVIEW_CHARS = 100_000
# Already through the pipeline: replaying them again could take a message in twice.
DONE = (InboundEvent.Status.PROCESSED, InboundEvent.Status.DUPLICATE)


@admin.register(InboundEvent)
class InboundEventAdmin(admin.ModelAdmin):
    list_display = ["id", "received_at", "source", "channel", "status", "attempts", "short_error"]
    # "Held" under status lists what the per-sender intake limit holds back; search finds one sender's.
    list_filter = ["status", "source", "channel"]
    search_fields = ["error", "sender"]
    fields = [
        "source",
        "channel",
        "status",
        "sender",
        "held_until",
        "attempts",
        "received_at",
        "processed_at",
        "error",
        "result_json",
        "content_type",
        "headers",
        "payload_preview",
    ]
    readonly_fields = fields
    actions = ["replay", "release_held"]
    show_full_result_count = False

    def get_queryset(self, request):
        # The list never needs the payload bytes; the change page reads them.
        qs = super().get_queryset(request)
        return (
            qs
            if request.resolver_match and "object_id" in request.resolver_match.kwargs
            else qs.defer("payload")
        )

    @admin.display(description="error")
    def short_error(self, obj):
        return obj.error[:120]

    @admin.display(description="result")
    def result_json(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(obj.result, indent=2, ensure_ascii=False))

    @admin.display(description="payload")
    def payload_preview(self, obj):
        text = obj.payload_text
        more = (
            f"\n… ({len(text) - PAYLOAD_PREVIEW_CHARS} more characters)"
            if len(text) > PAYLOAD_PREVIEW_CHARS
            else ""
        )
        # format_html escapes the payload: it is whatever a provider (or an attacker) sent.
        return format_html(
            '<pre style="white-space: pre-wrap">{}{}</pre>', text[:PAYLOAD_PREVIEW_CHARS], more
        )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # the log is what makes intake lossless

    def has_replay_permission(self, request):
        return request.user.has_perm("channels_intake.change_inboundevent")

    @admin.action(description="Replay selected events through the intake pipeline", permissions=["replay"])
    def replay(self, request, queryset):
        """Run failed or unprocessed events again (like ``manage.py replay_inbound``); processed ones are skipped."""
        outcome: dict[str, int] = {}
        failures = []
        skipped = 0
        for event in queryset.order_by("received_at", "id"):
            if event.status in DONE:
                skipped += 1
                continue
            event = process_event(event)
            outcome[event.status] = outcome.get(event.status, 0) + 1
            if event.status == InboundEvent.Status.FAILED:
                failures.append(f"event {event.pk}: {event.error}")
        parts = [f"{n} {status}" for status, n in sorted(outcome.items())]
        if skipped:
            parts.append(f"{skipped} skipped (already processed)")
        summary = "Replayed: " + (", ".join(parts) or "nothing")
        self.message_user(request, summary, messages.WARNING if failures else messages.SUCCESS)
        for line in failures[:10]:
            self.message_user(request, line, messages.ERROR)
        if len(failures) > 10:
            self.message_user(request, f"… and {len(failures) - 10} more failures", messages.ERROR)

    @admin.action(
        description="Release selected held events now (past the per-sender limit)", permissions=["replay"]
    )
    def release_held(self, request, queryset):
        """Process held events at once, oldest first, whatever their senders' limits; others are skipped."""
        selected = queryset.count()
        done = release(queryset)
        failed = [e for e in done if e.status == InboundEvent.Status.FAILED]
        skipped = selected - len(done)
        self.message_user(
            request,
            f"Released {len(done)} held event(s)"
            + (f", {len(failed)} failed" if failed else "")
            + (f"; {skipped} not held, skipped" if skipped else ""),
            messages.WARNING if failed else messages.SUCCESS,
        )
        for event in failed[:10]:
            self.message_user(request, f"event {event.pk}: {event.error}", messages.ERROR)


# IMAP mailboxes ------------------------------------------------------------------------------------------


class MailboxForm(forms.ModelForm):
    """The password is write-only: never rendered back, and left as it is when the field is left blank."""

    password = forms.CharField(
        required=False,
        strip=False,
        max_length=255,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Leave blank to keep the current password.",
    )

    class Meta:
        model = Mailbox
        fields = [
            "name",
            "active",
            "host",
            "port",
            "security",
            "username",
            "password",
            "folder",
            "after_processing",
            "processed_folder",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Never an initial value: not in the page, and a blank field does not count as a change.
        self.initial["password"] = ""

    def clean_password(self):
        password = self.cleaned_data.get("password", "")
        if password:
            return password
        if self.instance.pk and self.instance.password:  # the stored one (the form has not touched it yet)
            return self.instance.password
        raise forms.ValidationError("A password is required to log in to the mailbox.")


@admin.register(Mailbox)
class MailboxAdmin(admin.ModelAdmin):
    form = MailboxForm
    list_display = [
        "name",
        "username",
        "host",
        "folder",
        "active",
        "last_polled_at",
        "last_fetched",
        "short_error",
    ]
    list_filter = ["active"]
    search_fields = ["name", "username", "host"]
    readonly_fields = ["last_polled_at", "last_fetched", "last_error"]
    fieldsets = [
        (None, {"fields": ["name", "active"]}),
        ("Server", {"fields": ["host", "port", "security", "username", "password"]}),
        ("Mail", {"fields": ["folder", "after_processing", "processed_folder"]}),
        ("Last poll", {"fields": ["last_polled_at", "last_fetched", "last_error"]}),
    ]
    actions = ["poll_now"]

    @admin.display(description="last error")
    def short_error(self, obj):
        return obj.last_error[:120]

    def has_poll_permission(self, request):
        return request.user.has_perm("channels_intake.change_mailbox")

    @admin.action(description="Poll selected mailboxes now", permissions=["poll"])
    def poll_now(self, request, queryset):
        from channels_intake.imap import poll_mailbox

        for mailbox in queryset.order_by("name"):
            result = poll_mailbox(mailbox)
            if result.error:
                self.message_user(request, f"{mailbox.name}: {result.error}", messages.ERROR)
            elif result.skipped:
                self.message_user(request, f"{mailbox.name}: skipped, {result.skipped}", messages.WARNING)
            else:
                self.message_user(
                    request, f"{mailbox.name}: {result.fetched} message(s) taken in", messages.SUCCESS
                )


# Provider accounts ---------------------------------------------------------------------------------------

SECRET_FIELDS = ("verify_token", "secret", "access_token")


class ChannelAccountForm(forms.ModelForm):
    """The verify token, secret and access token are write-only: never rendered back, kept when left blank,
    and removed only by ticking the box next to them."""

    clear_verify_token = forms.BooleanField(label="Remove the stored verify token", required=False)
    clear_secret = forms.BooleanField(label="Remove the stored secret", required=False)
    clear_access_token = forms.BooleanField(label="Remove the stored access token", required=False)

    class Meta:
        model = ChannelAccount
        fields = ["name", "kind", "active", "account_id", "phone_number", *SECRET_FIELDS, "api_base"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in SECRET_FIELDS:
            model_field = ChannelAccount._meta.get_field(name)
            stored = bool(self.instance.pk and getattr(self.instance, name))
            self.fields[name] = forms.CharField(
                label=model_field.verbose_name.capitalize(),
                required=False,
                strip=True,
                max_length=model_field.max_length,
                widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
                help_text=f"{model_field.help_text} "
                + ("Stored; leave blank to keep it." if stored else "Not set."),
            )
            # Never an initial value: not in the page, and a blank field does not count as a change.
            self.initial[name] = ""

    def _clean_secret(self, name: str) -> str:
        value = self.cleaned_data.get(name, "")
        return value or (getattr(self.instance, name) if self.instance.pk else "")

    def clean_verify_token(self):
        return self._clean_secret("verify_token")

    def clean_secret(self):
        return self._clean_secret("secret")

    def clean_access_token(self):
        return self._clean_secret("access_token")

    def clean(self):
        data = super().clean()
        for name in SECRET_FIELDS:
            if data.get(f"clear_{name}") and not self.data.get(self.add_prefix(name)):
                data[name] = ""  # ticked, and nothing new typed
        return data


@admin.register(ChannelAccount)
class ChannelAccountAdmin(admin.ModelAdmin):
    form = ChannelAccountForm
    list_display = ["name", "kind", "account_id", "phone_number", "active", "secrets_stored"]
    list_filter = ["kind", "active"]
    search_fields = ["name", "account_id", "phone_number"]

    def get_fieldsets(self, request, obj=None):
        clears = [f"clear_{n}" for n in SECRET_FIELDS if obj is not None and getattr(obj, n)]
        return [
            (None, {"fields": ["name", "kind", "active"]}),
            ("Which account", {"fields": ["account_id", "phone_number"]}),
            ("Secrets (write-only)", {"fields": [*SECRET_FIELDS, *clears]}),
            ("Outbound", {"fields": ["api_base"]}),
        ]

    @admin.display(description="secrets stored")
    def secrets_stored(self, obj):
        names = [ChannelAccount._meta.get_field(n).verbose_name for n in SECRET_FIELDS if getattr(obj, n)]
        return ", ".join(names) or "none"

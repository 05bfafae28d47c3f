"""The customer-facing forms. Every form carries a one-time ID (signed, so only IDs we issued are taken):
it becomes the provider message ID of what is submitted, which makes a double submit a duplicate."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import filetype
from django import forms
from django.conf import settings
from django.core import signing
from django.core.validators import RegexValidator
from django.template.defaultfilters import filesizeformat

TOKEN_SALT = "helpdesk.support.form-id"
MESSAGE_MAX_CHARS = 20_000
CHAT_MAX_CHARS = 5_000


def new_token() -> str:
    return signing.Signer(salt=TOKEN_SALT).sign(uuid.uuid4().hex)


def read_token(value: str) -> str | None:
    """The UUID a token we issued carries, or None for anything else."""
    try:
        return str(uuid.UUID(signing.Signer(salt=TOKEN_SALT).unsign(value or "")))
    except (signing.BadSignature, ValueError):
        return None


class OneTimeForm(forms.Form):
    token = forms.CharField(widget=forms.HiddenInput)

    def __init__(self, data=None, *args, **kwargs):
        super().__init__(data, *args, **kwargs)
        self.form_id: str | None = None
        if self.is_bound:
            self.form_id = read_token(self.data.get("token", ""))
            if self.form_id is None:
                # Shown again with a fresh ID, so sending it again works.
                self.data = self.data.copy()
                self.data["token"] = new_token()
        else:
            self.initial.setdefault("token", new_token())

    def clean_token(self):
        if self.form_id is None:
            raise forms.ValidationError(
                "This form could not be read (it may be from an old page). Please send it again."
            )
        return self.form_id


@dataclass(frozen=True)
class Upload:
    filename: str
    content_type: str
    content: bytes


class MultipleFileInput(forms.FileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    widget = MultipleFileInput

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(d, initial) for d in data if d]
        return [single(data, initial)] if data else []


def sniff(content: bytes) -> str | None:
    """The content type the bytes themselves show (never the name or the browser's claim)."""
    kind = filetype.guess_mime(content)
    if kind:
        return kind
    if b"\x00" in content:
        return None
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return "text/plain"


def check_uploads(files) -> list[Upload]:
    """Refuse too many, too big or not allowed files, naming the file and the limit."""
    limits = settings.HELPDESK
    most, biggest = limits["SUPPORT_MAX_ATTACHMENTS"], limits["SUPPORT_MAX_ATTACHMENT_BYTES"]
    if len(files) > most:
        raise forms.ValidationError(f"You attached {len(files)} files; at most {most} can be sent.")
    uploads, errors = [], []
    for f in files:
        if f.size > biggest:
            errors.append(
                f"“{f.name}” is {filesizeformat(f.size)}; each file may be at most {filesizeformat(biggest)}."
            )
            continue
        content = f.read()
        kind = sniff(content)
        if kind not in limits["SUPPORT_ATTACHMENT_TYPES"]:
            errors.append(
                f"“{f.name}” is not a kind of file we accept; send pictures (PNG, JPEG, GIF, WebP), PDF, "
                "plain text or office documents."
            )
            continue
        uploads.append(Upload(filename=f.name, content_type=kind, content=content))
    if errors:
        raise forms.ValidationError(errors)
    return uploads


class ContactForm(OneTimeForm):
    name = forms.CharField(
        label="Your name", max_length=200, widget=forms.TextInput(attrs={"autocomplete": "name"})
    )
    email = forms.EmailField(
        label="Your e-mail address",
        max_length=254,
        help_text="We answer by e-mail.",
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    reference = forms.CharField(
        label="Reference (optional)",
        required=False,
        max_length=100,
        help_text="An order, contract or account number, or a ticket number, if your message is about one.",
        validators=[
            RegexValidator(
                r"^[\w\-/.#]+$", "A reference is letters, digits and - / . # only, with no spaces."
            )
        ],
    )
    message = forms.CharField(
        label="Your message",
        max_length=MESSAGE_MAX_CHARS,
        widget=forms.Textarea(attrs={"rows": 8}),
    )
    attachments = MultipleFileField(label="Attachments (optional)", required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        limits = settings.HELPDESK
        self.fields["attachments"].help_text = (
            f"Up to {limits['SUPPORT_MAX_ATTACHMENTS']} files of at most "
            f"{filesizeformat(limits['SUPPORT_MAX_ATTACHMENT_BYTES'])} each: pictures, PDF, plain text or "
            "office documents."
        )
        self.fields["attachments"].widget.attrs["accept"] = ",".join(limits["SUPPORT_ATTACHMENT_TYPES"])

    def clean_name(self):
        return " ".join(self.cleaned_data["name"].split())

    def clean_attachments(self):
        return check_uploads(self.cleaned_data.get("attachments") or [])


class ChatStartForm(OneTimeForm):
    name = forms.CharField(
        label="Your name", max_length=200, widget=forms.TextInput(attrs={"autocomplete": "name"})
    )
    email = forms.EmailField(
        label="Your e-mail address",
        max_length=254,
        help_text="So we can recognise you and follow up if the chat is interrupted.",
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    text = forms.CharField(
        label="How can we help?", max_length=CHAT_MAX_CHARS, widget=forms.Textarea(attrs={"rows": 4})
    )

    def clean_name(self):
        return " ".join(self.cleaned_data["name"].split())


class ChatMessageForm(OneTimeForm):
    text = forms.CharField(
        label="Your message", max_length=CHAT_MAX_CHARS, widget=forms.Textarea(attrs={"rows": 3})
    )

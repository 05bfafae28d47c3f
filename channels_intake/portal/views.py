"""The customer-facing pages: parse the request, call a service or selector, render.

Over a rate limit the page is shown again with status 429, what was typed kept, and how long to wait.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import filesizeformat
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect, HttpResponseStopPolling

from channels_intake.portal import services
from channels_intake.portal.forms import ChatMessageForm, ChatStartForm, ContactForm
from channels_intake.portal.limits import client_ip, hit
from tickets.models.tickets import parse_number
from tickets.selectors.chat import transcript_version
from tickets.services.links import STATUS, make_token

CONTACT = "support/contact.html"
THANKS = "support/contact_thanks.html"
CHAT_START = "support/chat_start.html"
CHAT = "support/chat.html"
THANKS_SESSION_KEY = "support_contact_done"
# Room for the form's text fields and the multipart framing on top of the attachments themselves.
FORM_OVERHEAD_BYTES = 1024 * 1024


def _client(request) -> dict:
    """Kept with the inbound event, for abuse investigations."""
    return {"remote_addr": client_ip(request), "user_agent": request.META.get("HTTP_USER_AGENT", "")[:300]}


def _contact_body_limit() -> int:
    limits = settings.HELPDESK
    return limits["SUPPORT_MAX_ATTACHMENTS"] * limits["SUPPORT_MAX_ATTACHMENT_BYTES"] + FORM_OVERHEAD_BYTES


@csrf_exempt
@require_http_methods(["GET", "POST"])
def contact(request):
    """The contact form. A body larger than all attachments together could be is refused before it is read
    (so an upload is never spooled to disk just to be refused); CSRF is then checked as usual."""
    if request.method == "POST":
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > _contact_body_limit():
            context = {"form": ContactForm(), "too_large": filesizeformat(_contact_body_limit())}
            return render(request, CONTACT, context, status=413)
    return _contact(request)


@csrf_protect
def _contact(request):
    if request.method != "POST":
        return render(request, CONTACT, {"form": ContactForm()})
    form = ContactForm(request.POST, request.FILES)
    if not form.is_valid():
        return render(request, CONTACT, {"form": form})
    data = form.cleaned_data
    limited = hit(
        request, action="contact", rate=settings.HELPDESK["SUPPORT_CONTACT_RATE"], email=data["email"]
    )
    if limited:
        return render(request, CONTACT, {"form": form, "limited": limited}, status=429)
    submitted = services.submit_contact(
        form_id=data["token"],
        name=data["name"],
        email=data["email"],
        reference=data["reference"],
        message=data["message"],
        uploads=data["attachments"],
        client=_client(request),
    )
    request.session[THANKS_SESSION_KEY] = {"ticket": submitted.ticket, "email": data["email"]}
    return redirect("support:contact_thanks")


@require_GET
def contact_thanks(request):
    done = request.session.get(THANKS_SESSION_KEY)
    if not done:
        return redirect("support:contact")
    ticket = done.get("ticket")
    # The page gives the link to the ticket's status page at once (the e-mailed acknowledgement carries it too).
    pk = parse_number(ticket) if ticket else None
    status_link = reverse("support:ticket_status", args=[make_token(STATUS, pk)]) if pk else None
    context = {"ticket": ticket, "email": done.get("email", ""), "status_link": status_link}
    return render(request, THANKS, context)


def _chat_page(request, chat, *, form=None, limited=None, status=200):
    context = {
        "chat": chat,
        "transcript": services.show_chat(chat),
        "form": form or ChatMessageForm(),
        "limited": limited,
        "poll_seconds": settings.HELPDESK["SUPPORT_CHAT_POLL_SECONDS"],
    }
    return render(request, CHAT, context, status=status)


@require_GET
def chat(request):
    current = services.current_chat(request.session)
    if current is None:
        return render(request, CHAT_START, {"form": ChatStartForm()})
    return _chat_page(request, current)


@require_POST
def chat_start(request):
    form = ChatStartForm(request.POST)
    if not form.is_valid():
        return render(request, CHAT_START, {"form": form})
    data = form.cleaned_data
    limits = settings.HELPDESK
    # A start is also a chat message: both limits count it.
    starts = hit(request, action="chat-start", rate=limits["SUPPORT_CHAT_START_RATE"], email=data["email"])
    sends = hit(request, action="chat", rate=limits["SUPPORT_CHAT_RATE"], email=data["email"])
    if starts or sends:
        limited = max((x for x in (starts, sends) if x), key=lambda x: x.seconds)
        return render(request, CHAT_START, {"form": form, "limited": limited}, status=429)
    submitted = services.start_chat(
        session=request.session,
        form_id=data["token"],
        name=data["name"],
        email=data["email"],
        text=data["text"],
        client=_client(request),
    )
    if submitted.failed:
        messages.warning(request, "We have your message, but it is taking longer than usual to reach us.")
    return redirect("support:chat")


@require_POST
def chat_send(request):
    current = services.current_chat(request.session)
    if current is None:
        messages.info(request, "That chat has ended. Start a new one below.")
        if request.htmx:
            return HttpResponseClientRedirect(reverse("support:chat"))
        return redirect("support:chat")
    form = ChatMessageForm(request.POST)
    if not form.is_valid():
        return _compose(request, current, form=form, status=422)
    limited = hit(request, action="chat", rate=settings.HELPDESK["SUPPORT_CHAT_RATE"], email=current.email)
    if limited:
        return _compose(request, current, form=form, limited=limited, status=429)
    services.send_chat_message(
        current,
        message_id=form.cleaned_data["token"],
        text=form.cleaned_data["text"],
        client=_client(request),
    )
    if request.htmx:
        return _compose(request, current, form=ChatMessageForm())
    return redirect("support:chat")


def _compose(request, current, *, form, limited=None, status=200):
    """HTMX: the message form again (fresh, or with its errors) and the transcript swapped out of band."""
    if not request.htmx:
        return _chat_page(request, current, form=form, limited=limited, status=status)
    context = {
        "chat": current,
        "form": form,
        "limited": limited,
        "transcript": services.show_chat(current),
        "poll_seconds": settings.HELPDESK["SUPPORT_CHAT_POLL_SECONDS"],
        "oob": True,
    }
    return render(request, "support/chat_sent.html", context, status=status)


@require_GET
def chat_messages(request):
    """The poll: the transcript when something changed, 204 when not, and 286 (stop polling) with a notice
    once this browser has no chat any more."""
    current = services.current_chat(request.session)
    if current is None:
        return HttpResponseStopPolling(render_to_string(f"{CHAT}#ended", request=request))
    if request.GET.get("v") == transcript_version(current.id):
        return HttpResponse(status=204)
    context = {
        "transcript": services.show_chat(current),
        "poll_seconds": settings.HELPDESK["SUPPORT_CHAT_POLL_SECONDS"],
    }
    return render(request, f"{CHAT}#transcript", context)


@require_POST
def chat_end(request):
    services.end_chat(request.session)
    messages.success(request, "The chat has ended. Thank you for contacting us.")
    return redirect("support:chat")

"""The ticket workspace: ``tickets/<pk>/`` and the routes of its actions and partials.

Every view: the ticket must be visible to the user (else 404); a POST carries the ticket's ``version`` the
agent saw and hands it to the service as ``expected_version``. An HTMX request gets the workspace partial
back (always 200, so htmx swaps it, with the outcome as a message inside); a plain request is redirected
after a success and gets the fresh page with the refusal after a failure — 400 (something missing),
403 (not theirs to do), 409 (someone else changed the ticket meanwhile, or its state no longer allows it).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_GET, require_POST

from tickets import lifecycle
from tickets.channels import Channel
from tickets.errors import ConflictError, HelpdeskError, InvalidTransition, PermissionDenied, ValidationFailed
from tickets.forms import (
    ACTION_FORMS,
    EDIT_FORMS,
    CategoryForm,
    ImpactUrgencyForm,
    NoteForm,
    PriorityForm,
    RelinkForm,
    ReplyForm,
    SplitForm,
    TagsForm,
    TicketForm,
)
from tickets.lifecycle import Status
from tickets.models import Attachment, CannedResponse, Case, Ticket
from tickets.permissions import log_denial, relations, team_ids, visible_attachments
from tickets.selectors import triage
from tickets.selectors import workspace as ws_selectors
from tickets.services import audit, editing, priority, transitions
from tickets.services.canned import canned_responses_for, fill_canned
from tickets.services.replies import add_note
from tickets.views.base import agent_required

TEMPLATE = "tickets/ticket/workspace.html"
WRITTEN_CHANNELS = [(c.value, c.label) for c in Channel if c != Channel.VOICE]

# The boxes an agent writes in; what they hold survives an htmx swap of the workspace.
DRAFTS = frozenset({"reply", "note"})
# Keyboard shortcuts on the action buttons (r and n focus the reply and note boxes).
SHORTCUTS = {"open": "o", "pend": "p", "resolve": "s", "close": "c", "escalate": "e", "assign": "t"}
# Actions that need nothing but a click (and a confirmation where they cannot be undone in one step).
CONFIRM = {"mark_spam": "Close this ticket as spam?"}
LABELS = {"assign": "Take it", "mark_spam": "Mark as spam"}
DONE = {
    "assign": "is yours",
    "open": "is open",
    "pend": "is pending",
    "resolve": "is resolved",
    "close": "is closed",
    "reopen": "is reopened",
    "escalate": "is escalated",
    "transfer": "is transferred",
    "reassign": "is reassigned",
    "merge": "is merged",
    "mark_spam": "is closed as spam",
}


# Reading ---------------------------------------------------------------------------------------------------


def _ticket(request, pk: int) -> Ticket:
    try:
        return ws_selectors.ticket_for_workspace(user=request.user, pk=pk)
    except Ticket.DoesNotExist:
        # Another team's ticket answers like a missing one (numbers are guessable), but is logged as a denial.
        if Ticket.objects.filter(pk=pk).exists():
            log_denial(request, f"ticket {pk} is not one this user may see", status=404)
        raise Http404("No such ticket, or not one you may see.") from None


@dataclass
class ActionPanel:
    action: str
    label: str
    form: TicketForm
    shortcut: str = ""
    confirm: str = ""

    @property
    def simple(self) -> bool:
        """Only the version to send: a plain button, no form to fill in."""
        return list(self.form.fields) == ["version"]


@dataclass
class InteractionPanel:
    row: ws_selectors.InteractionRow
    relink: RelinkForm | None
    split: SplitForm | None
    relink_open: bool = False
    split_open: bool = False


def _fresh(form: TicketForm, ticket: Ticket, **kwargs) -> TicketForm:
    """The agent's input again, against the ticket's current version (after a conflict they resubmit)."""
    data = form.data.copy()
    if "version" in form.fields:
        data["version"] = str(ticket.version)
    return type(form)(data, ticket=ticket, user=form.user, auto_id=form.auto_id, **kwargs)


def _reply_channels(ws, submitted: str = "") -> list[tuple[str, str]]:
    """The customer's channels; after a refusal, also the one the agent picked (so the choice stays)."""
    choices = list(ws.reply_channels)
    if submitted and submitted not in dict(choices) and submitted in dict(WRITTEN_CHANNELS):
        choices.append((submitted, dict(WRITTEN_CHANNELS)[submitted]))
    return choices


def _context(request, ticket: Ticket, *, bound: dict | None = None, open_form: str = "", sent: str = ""):
    # "?timeline=all": every entry of the timeline, not only the latest (the workspace's "show earlier" link).
    ws = ws_selectors.workspace(
        ticket=ticket, user=request.user, full_timeline=request.GET.get("timeline") == "all"
    )
    bound = dict(bound or {})
    for key, form in bound.items():
        extra = {}
        if isinstance(form, ReplyForm):
            extra = {"channels": _reply_channels(ws, form.data.get("channel", ""))}
        elif isinstance(form, TagsForm):
            extra = {"current_tags": ws.tags}
        bound[key] = _fresh(form, ticket, **extra)
    user = request.user
    actions = []
    for action in ws.actions:
        if action == "assign" and (request.agent is None or ticket.team_id not in team_ids(request.agent)):
            continue  # only an agent of the ticket's team can take it for themselves (the service says so)
        form = bound.get(action) or ACTION_FORMS[action](ticket=ticket, user=user, auto_id=f"id_{action}_%s")
        label = LABELS.get(action, lifecycle.TRANSITIONS[action].label)
        actions.append(ActionPanel(action, label, form, SHORTCUTS.get(action, ""), CONFIRM.get(action, "")))
    reply = note = None
    if ws.can_reply:
        reply = bound.get("reply") or ReplyForm(
            ticket=ticket,
            user=user,
            channels=ws.reply_channels,
            default_channel=ws.default_channel,
            auto_id="id_reply_%s",
        )
    if ws.can_note:
        note = bound.get("note") or NoteForm(ticket=ticket, user=user, auto_id="id_note_%s")
    edits = {}
    if ws.can_edit:
        edits = {
            "priority": bound.get("priority")
            or PriorityForm(ticket=ticket, user=user, auto_id="id_priority_%s"),
            "impact": bound.get("impact")
            or ImpactUrgencyForm(ticket=ticket, user=user, auto_id="id_impact_%s"),
            "category": bound.get("category")
            or CategoryForm(ticket=ticket, user=user, auto_id="id_category_%s"),
            "tags": bound.get("tags")
            or TagsForm(ticket=ticket, user=user, current_tags=ws.tags, auto_id="id_tags_%s"),
        }
    movable = ws.can_edit and len(ws.interactions) > 1
    interactions = []
    for row in ws.interactions:
        key = row.case.pk
        relink = split = None
        if movable:
            relink = bound.get(f"relink-{key}") or RelinkForm(
                ticket=ticket, user=user, auto_id=f"id_relink{key}_%s"
            )
            split = bound.get(f"split-{key}") or SplitForm(
                ticket=ticket, user=user, auto_id=f"id_split{key}_%s"
            )
        interactions.append(
            InteractionPanel(row, relink, split, open_form == f"relink-{key}", open_form == f"split-{key}")
        )
    return {
        "ws": ws,
        "t": ticket,
        "duplicate_of": triage.duplicate_offer(ticket=ticket, user=user),
        "clocks": ws.clocks,
        "seen_version": ticket.version,
        "actions": actions,
        "reply_form": reply,
        "note_form": note,
        "edit_forms": edits,
        "interactions": interactions,
        "open_form": open_form,
        # Drafts the browser keeps across an htmx swap of the workspace (hx-preserve): all of them, except
        # the one this answer carries itself (re-shown after a refusal) and the one just sent (cleared).
        "keep": DRAFTS - set(bound) - {sent},
    }


def _page(request, ticket: Ticket, *, status: int = 200, **kwargs) -> HttpResponse:
    context = _context(request, ticket, **kwargs)
    if request.htmx:
        # htmx swaps only 2xx answers: the outcome is in the partial's message area instead.
        return render(request, f"{TEMPLATE}#workspace", context)
    return render(request, TEMPLATE, context, status=status)


@require_GET
@agent_required
def ticket_page(request, pk: int):
    ticket = _ticket(request, pk)
    agent = request.agent
    if ticket.status == Status.ASSIGNED and agent is not None and ticket.assignee_id == agent.pk:
        # The owner looking at an assigned ticket is what "open" means (DOMAIN.md).
        try:
            opened = transitions.open_ticket(
                ticket=ticket, actor=request.user, expected_version=ticket.version
            )
            ticket.status, ticket.version, ticket.updated_at = (
                opened.status,
                opened.version,
                opened.updated_at,
            )
        except HelpdeskError:
            ticket = _ticket(request, pk)  # someone moved it meanwhile: show it as it is
    audit.record_view(actor=request.user, ticket=ticket)
    return _page(request, ticket)


@require_GET
@agent_required
def ticket_header(request, pk: int):
    """The header on its own, for the 30-second poll: status, owner and the SLA clocks' remaining time."""
    ticket = _ticket(request, pk)
    try:
        seen = int(request.GET.get("seen", ticket.version))
    except ValueError:
        seen = ticket.version
    changed = ws_selectors.last_change(ticket) if seen != ticket.version else ""
    context = {
        "t": ticket,
        "clocks": ws_selectors.sla_clocks(ticket),
        "seen_version": seen,
        "changed": changed,
    }
    return render(request, f"{TEMPLATE}#header", context)


def _with_canned(request, ticket: Ticket, body: str) -> str:
    try:
        canned = canned_responses_for(ticket).get(pk=int(request.GET.get("canned", "")))
    except (ValueError, CannedResponse.DoesNotExist):
        return body
    text = fill_canned(canned=canned, ticket=ticket, agent=request.agent)
    return f"{body.rstrip()}\n\n{text}" if body.strip() else text


@require_GET
@agent_required
def canned(request, pk: int):
    """The reply box's text with a canned response added (htmx swaps the textarea)."""
    ticket = _ticket(request, pk)
    body = _with_canned(request, ticket, request.GET.get("body", ""))
    return render(request, f"{TEMPLATE}#reply-body", {"t": ticket, "reply_body": body})


@require_GET
@agent_required
def attachment(request, pk: int, attachment_pk: int):
    """A file of a message on this ticket, always as a download (never rendered by the browser)."""
    ticket = _ticket(request, pk)
    try:
        found = visible_attachments(request.user).get(
            pk=attachment_pk, message__interaction__case__ticket=ticket
        )
    except Attachment.DoesNotExist:
        raise Http404("No such attachment on this ticket.") from None
    audit.record_view(actor=request.user, ticket=ticket, details={"attachment": found.pk})
    response = FileResponse(
        found.file.open("rb"),
        as_attachment=True,  # Content-Disposition: attachment, whatever the type
        filename=found.filename,
        content_type=found.content_type or "application/octet-stream",
    )
    # The stored type (checked by content at intake), and no sniffing a different one out of the bytes.
    response["X-Content-Type-Options"] = "nosniff"
    return response


# Acting ----------------------------------------------------------------------------------------------------


def _status_of(exc: HelpdeskError) -> int:
    if isinstance(exc, PermissionDenied):
        return 403
    if isinstance(exc, ConflictError | InvalidTransition):
        return 409
    return 400


def _after(request, pk: int) -> Ticket | None:
    """The ticket as it is now, if the user may still see it."""
    try:
        return _ticket(request, pk)
    except Http404:
        return None


def _away(request) -> HttpResponse:
    """The ticket left the user's sight (transferred, escalated to another team): back to their start page."""
    url = reverse("desk:home")
    response = redirect(url)
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
    return response


def _refused(request, pk: int, exc: HelpdeskError, **kwargs) -> HttpResponse:
    ticket = _after(request, pk)
    if ticket is None:
        messages.error(request, str(exc))
        return _away(request)
    text = str(exc)
    if isinstance(exc, ConflictError):
        seen = next((f.data.get("version") for f in kwargs.get("bound", {}).values()), None)
        if seen is not None and str(seen) != str(ticket.version):
            # Changed since the agent looked: say who changed what, when.
            text = ws_selectors.conflict_message(ticket)
        else:
            text = f"{exc} {ws_selectors.last_change(ticket)}."
    messages.error(request, text)
    return _page(request, ticket, status=_status_of(exc), **kwargs)


def _invalid(request, ticket: Ticket, key: str, form: TicketForm) -> HttpResponse:
    if "version" in form.errors:
        return _refused(
            request,
            ticket.pk,
            ValidationFailed("The form did not say which version of the ticket you saw; reload."),
        )
    messages.error(request, "Please fill in what is missing below.")
    return _page(request, ticket, status=400, bound={key: form}, open_form=key)


def _done(request, pk: int, text: str, *, sent: str = "") -> HttpResponse:
    messages.success(request, text)
    ticket = _after(request, pk)
    if ticket is None:
        return _away(request)
    if request.htmx:
        return _page(request, ticket, sent=sent)
    return redirect("desk:ticket", pk)


def _perform(action: str, ticket: Ticket, request, data: dict) -> None:
    user, v = request.user, data["version"]
    common = {"ticket": ticket, "actor": user, "expected_version": v}
    match action:
        case "assign":
            transitions.assign(agent=request.agent, **common)
        case "open":
            transitions.open_ticket(**common)
        case "pend":
            transitions.pend(reason=data["reason"], **common)
        case "resolve":
            transitions.resolve(resolution_type=data["resolution_type"], notes=data["notes"], **common)
        case "close":
            transitions.close(
                resolution_type=data["resolution_type"] or None, notes=data["notes"] or None, **common
            )
        case "reopen":
            transitions.reopen(reason=data["reason"], **common)
        case "escalate":
            transitions.escalate(reason=data["reason"], to_team=data["to_team"], **common)
        case "transfer":
            transitions.transfer(team=data["team"], reason=data["reason"], **common)
        case "reassign":
            transitions.reassign(agent=data["agent"], reason=data["reason"], **common)
        case "merge":
            transitions.merge(into=data["into"], reason=data["reason"], **common)
        case "mark_spam":
            transitions.mark_spam(reason=data["reason"], **common)
        case _:
            raise Http404(f"No action {action!r}.")


@require_POST
@agent_required
def act(request, pk: int, action: str):
    """One lifecycle action from the workspace's buttons."""
    if action not in ACTION_FORMS:
        raise Http404(f"No action {action!r}.")
    ticket = _ticket(request, pk)
    label = LABELS.get(action, lifecycle.TRANSITIONS[action].label).lower()
    # Who may act is the lifecycle table's say (the service checks again, with the row locked); a state
    # that no longer allows it is the service's to report, as a conflict.
    if not lifecycle.allowed_for(action, relations(request.user, ticket)) or (
        action == "assign" and request.agent is None
    ):
        return _refused(request, pk, PermissionDenied(f"You may not {label} {ticket.number}."))
    form = ACTION_FORMS[action](request.POST, ticket=ticket, user=request.user, auto_id=f"id_{action}_%s")
    if not form.is_valid():
        return _invalid(request, ticket, action, form)
    try:
        _perform(action, ticket, request, form.cleaned_data)
    except HelpdeskError as exc:
        return _refused(request, pk, exc, bound={action: form}, open_form=action)
    return _done(request, pk, f"{ticket.number} {DONE[action]}.")


@require_POST
@agent_required
def reply(request, pk: int):
    ticket = _ticket(request, pk)
    form = ReplyForm(
        request.POST,
        request.FILES,
        ticket=ticket,
        user=request.user,
        channels=WRITTEN_CHANNELS,
        auto_id="id_reply_%s",
    )
    if not form.is_valid():
        return _invalid(request, ticket, "reply", form)
    data = form.cleaned_data
    try:
        message = editing.reply_with_attachments(
            ticket=ticket,
            actor=request.user,
            body=data["body"],
            channel=data["channel"],
            files=data["attachments"],
            expected_version=data["version"],
        )
    except HelpdeskError as exc:
        return _refused(request, pk, exc, bound={"reply": form}, open_form="reply")
    return _done(request, pk, f"Reply queued for sending by {message.get_channel_display()}.", sent="reply")


@require_POST
@agent_required
def note(request, pk: int):
    ticket = _ticket(request, pk)
    form = NoteForm(request.POST, ticket=ticket, user=request.user, auto_id="id_note_%s")
    if not form.is_valid():
        return _invalid(request, ticket, "note", form)
    try:
        add_note(ticket=ticket, actor=request.user, body=form.cleaned_data["body"])
    except HelpdeskError as exc:
        return _refused(request, pk, exc, bound={"note": form}, open_form="note")
    return _done(request, pk, "Note added.", sent="note")


@require_POST
@agent_required
def edit(request, pk: int, field: str):
    """Priority (or impact × urgency, through the matrix), category or tags, edited in place."""
    if field not in EDIT_FORMS:
        raise Http404(f"No field {field!r}.")
    ticket = _ticket(request, pk)
    try:
        editing.check_may_edit(request.user, ticket, what=f"change the {field} of")
    except HelpdeskError as exc:
        return _refused(request, pk, exc)
    kwargs = {"current_tags": list(ticket.tags.all())} if field == "tags" else {}
    form = EDIT_FORMS[field](
        request.POST, ticket=ticket, user=request.user, auto_id=f"id_{field}_%s", **kwargs
    )
    if not form.is_valid():
        return _invalid(request, ticket, field, form)
    data, user, v = form.cleaned_data, request.user, form.cleaned_data["version"]
    try:
        if field == "priority":
            editing.set_priority(ticket=ticket, actor=user, priority=data["priority"], expected_version=v)
        elif field == "impact":
            priority.set_impact_urgency(
                ticket=ticket, actor=user, impact=data["impact"], urgency=data["urgency"], expected_version=v
            )
        elif field == "category":
            editing.set_category(ticket=ticket, actor=user, category=data["category"], expected_version=v)
        else:
            editing.set_tags(ticket=ticket, actor=user, tags=data["tags"], expected_version=v)
    except HelpdeskError as exc:
        return _refused(request, pk, exc, bound={field: form})
    return _done(request, pk, f"{field.capitalize()} saved.")


def _case(ticket: Ticket, case_pk: int) -> Case:
    case = Case.objects.filter(pk=case_pk).select_related("interaction").first()
    if case is None or case.ticket_id != ticket.pk:
        raise ConflictError(f"That interaction is no longer on {ticket.number}.")
    return case


@require_POST
@agent_required
def relink(request, pk: int, case_pk: int):
    """Move one interaction to another ticket of the same customer."""
    ticket = _ticket(request, pk)
    key = f"relink-{case_pk}"
    try:
        editing.check_may_edit(request.user, ticket, what="relink an interaction of")
    except HelpdeskError as exc:
        return _refused(request, pk, exc)
    form = RelinkForm(request.POST, ticket=ticket, user=request.user, auto_id=f"id_relink{case_pk}_%s")
    if not form.is_valid():
        return _invalid(request, ticket, key, form)
    data = form.cleaned_data
    try:
        editing.relink(
            case=_case(ticket, case_pk),
            actor=request.user,
            to_ticket=data["to_ticket"],
            reason=data["reason"],
            expected_version=data["version"],
        )
    except HelpdeskError as exc:
        return _refused(request, pk, exc, bound={key: form}, open_form=key)
    return _done(request, pk, f"The interaction now belongs to {data['to_ticket'].number}.")


@require_POST
@agent_required
def split(request, pk: int, case_pk: int):
    """Take one interaction off into a new ticket of its own."""
    ticket = _ticket(request, pk)
    key = f"split-{case_pk}"
    try:
        editing.check_may_edit(request.user, ticket, what="split an interaction off")
    except HelpdeskError as exc:
        return _refused(request, pk, exc)
    form = SplitForm(request.POST, ticket=ticket, user=request.user, auto_id=f"id_split{case_pk}_%s")
    if not form.is_valid():
        return _invalid(request, ticket, key, form)
    data = form.cleaned_data
    try:
        new = editing.split(
            case=_case(ticket, case_pk),
            actor=request.user,
            subject=data["subject"],
            reason=data["reason"],
            expected_version=data["version"],
        )
    except HelpdeskError as exc:
        return _refused(request, pk, exc, bound={key: form}, open_form=key)
    return _done(request, pk, f"The interaction is now {new.number}, in {new.team}'s queue.")


urlpatterns = [
    path("tickets/<int:pk>/", ticket_page, name="ticket"),
    path("tickets/<int:pk>/header/", ticket_header, name="ticket_header"),
    path("tickets/<int:pk>/canned/", canned, name="ticket_canned"),
    path("tickets/<int:pk>/attachments/<int:attachment_pk>/", attachment, name="ticket_attachment"),
    path("tickets/<int:pk>/act/<slug:action>/", act, name="ticket_act"),
    path("tickets/<int:pk>/reply/", reply, name="ticket_reply"),
    path("tickets/<int:pk>/note/", note, name="ticket_note"),
    path("tickets/<int:pk>/edit/<slug:field>/", edit, name="ticket_edit"),
    path("tickets/<int:pk>/interactions/<int:case_pk>/relink/", relink, name="ticket_relink"),
    path("tickets/<int:pk>/interactions/<int:case_pk>/split/", split, name="ticket_split"),
]

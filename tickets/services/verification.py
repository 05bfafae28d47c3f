"""Verification: resolving asks the customer "is it fixed?" (DOMAIN.md, "Ticket lifecycle" and "Closure and
feedback").

The question goes out on the channel the customer last used (``notifications``): on a messaging channel
the customer answers with a reply keyword (``VerificationKeyword`` rows, else ``HELPDESK
["VERIFICATION_KEYWORDS"]``), recognised by the intake pipeline while the ticket is resolved; on e-mail and
the web form with a signed link to a page with two buttons (a GET never answers: mail scanners open links).

"Fixed" closes the ticket; "not fixed" reopens it to the same owner with the customer's words as a message
on the ticket — both through the lifecycle transitions, as the system acting on the customer's word.
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from tickets.errors import InvalidTransition
from tickets.lifecycle import Status
from tickets.models import Message, Ticket, Verification, VerificationKeyword
from tickets.services import links
from tickets.services.notifications import customer_route, notify

FIXED, NOT_FIXED = VerificationKeyword.Answer.FIXED, VerificationKeyword.Answer.NOT_FIXED
NOTICE = "verification"


def _normalise(text: str) -> str:
    return " ".join((text or "").lower().replace("’", "'").strip(" \t\r\n.!").split())


def keywords() -> dict[str, list[str]]:
    """{"fixed": [...], "not_fixed": [...]}: the admin's active rows, or the settings' defaults when none."""
    rows = list(VerificationKeyword.objects.filter(active=True).values_list("word", "answer"))
    if rows:
        found = {FIXED: [], NOT_FIXED: []}
        for word, answer in rows:
            found[answer].append(word)
        return found
    defaults = settings.HELPDESK["VERIFICATION_KEYWORDS"]
    return {
        FIXED: [_normalise(w) for w in defaults[FIXED]],
        NOT_FIXED: [_normalise(w) for w in defaults[NOT_FIXED]],
    }


def answer_in(text: str) -> str | None:
    """The verification answer a whole reply is (``fixed`` / ``not_fixed``), or None for anything else."""
    said = _normalise(text)
    if not said:
        return None
    words = keywords()
    if said in words[FIXED]:
        return FIXED
    if said in words[NOT_FIXED]:
        return NOT_FIXED
    return None


def _question(ticket: Ticket, verification: Verification, messaging: bool) -> str:
    intro = (
        f"We believe your request {ticket.number} ({ticket.subject}) is resolved:\n\n"
        f"{ticket.resolution_notes}\n\n"
    )
    if messaging:
        words = keywords()
        yes = words[FIXED][0] if words[FIXED] else "fixed"
        no = words[NOT_FIXED][0] if words[NOT_FIXED] else "not fixed"
        return intro + f'Is it fixed? Reply "{yes}" if it is, or "{no}" if it is not.'
    return (
        intro
        + f"Is it fixed? Tell us with one click: {links.verify_url(verification.pk)}\n\n"
        + f"Follow your request: {links.status_url(ticket.pk)}"
    )


def ask(*, ticket: Ticket) -> dict:
    """Called by ``transitions.resolve`` inside its transaction: record the question and queue it. Returns
    what the resolve event records about it."""
    supersede(ticket=ticket)
    route = customer_route(ticket)
    verification = Verification.objects.create(
        ticket=ticket, channel=route.channel if route else "", asked_at=timezone.now()
    )
    message = None
    if route is not None:
        body = _question(ticket, verification, route.is_messaging)
        message = notify(ticket=ticket, kind=NOTICE, body=body, route=route)
    if message is None:
        return {"verification": verification.pk, "customer_not_asked": "no written channel to reach them on"}
    Verification.objects.filter(pk=verification.pk).update(message=message)
    return {"verification": verification.pk, "asked_on": message.channel, "message": message.pk}


def supersede(*, ticket: Ticket) -> int:
    """The ticket left ``resolved`` another way (or is asked again): an unanswered question no longer acts."""
    return Verification.objects.filter(ticket=ticket, state=Verification.State.ASKED).update(
        state=Verification.State.SUPERSEDED
    )


def _apply(*, verification: Verification, answer: str, words: str, via: str) -> Ticket:
    """Close or reopen through the lifecycle. The caller holds the transaction; the ticket is re-checked under
    the transition's own lock, so a question the ticket has moved past fails with ``InvalidTransition``."""
    from tickets.services import transitions  # transitions calls ask() from resolve()

    ticket = verification.ticket
    how = "by reply" if via == Verification.Via.KEYWORD else "from the link"
    n = Verification.objects.filter(pk=verification.pk, state=Verification.State.ASKED).update(
        state=answer, answered_at=timezone.now(), answered_via=via, answer_text=words[:5000]
    )
    if n == 0:
        raise links.LinkProblem("used")
    if answer == FIXED:
        return transitions.close(
            ticket=ticket, actor=None, reason=f"The customer confirmed it is fixed ({how})."
        )
    quoted = f": “{words.strip()[:300]}”" if words.strip() else ""
    return transitions.reopen(
        ticket=ticket, actor=None, reason=f"The customer says it is not fixed ({how}){quoted}"
    )


def answer_by_keyword(*, ticket: Ticket, message: Message) -> Ticket | None:
    """The intake pipeline's hook: a reply on a resolved ticket that is just a keyword answers the question.
    Returns the moved ticket, or None when the reply is not an answer (it is then an ordinary follow-up)."""
    if ticket.status != Status.RESOLVED:
        return None
    answer = answer_in(message.body)
    if answer is None:
        return None
    verification = (
        Verification.objects.select_related("ticket")
        .filter(ticket=ticket, state=Verification.State.ASKED)
        .first()
    )
    if verification is None:
        return None
    # The customer's words are the message itself, already on the ticket. A ticket that moved on meanwhile
    # (a savepoint, so the intake's transaction keeps the message): an ordinary follow-up after all.
    try:
        with transaction.atomic():
            return _apply(
                verification=verification, answer=answer, words=message.body, via=Verification.Via.KEYWORD
            )
    except (InvalidTransition, links.LinkProblem):
        return None


def verification_from_link(token: str) -> Verification:
    """The question a link names, if it can still be answered; ``LinkProblem`` otherwise."""
    pk = links.read_token(links.VERIFY, token)
    verification = Verification.objects.select_related("ticket").filter(pk=pk).first()
    if verification is None:
        raise links.LinkProblem("forged")
    if verification.state in (FIXED, NOT_FIXED):
        raise links.LinkProblem("used")
    if verification.state != Verification.State.ASKED or verification.ticket.status != Status.RESOLVED:
        raise links.LinkProblem("closed")
    return verification


@transaction.atomic
def answer_by_link(*, token: str, fixed: bool, words: str = "") -> Ticket:
    """The customer pressed "fixed" or "not fixed" on the link's page. "Not fixed" puts their words on the
    ticket as an inbound message in the conversation the question went out in."""
    verification = verification_from_link(token)
    words = (words or "").strip()
    if not fixed and verification.message_id:
        question = verification.message
        interaction = question.interaction
        Message.objects.create(
            interaction=interaction,
            channel=interaction.channel,
            direction=Message.Direction.INBOUND,
            sender=interaction.identity.address,
            subject=f"Not fixed: {verification.ticket.number}"[:300],
            body=words or "(The customer answered “not fixed” from the link, without a comment.)",
            provider_message_id=f"verification-{verification.pk}",
            delivery_status=Message.DeliveryStatus.RECEIVED,
            sent_at=timezone.now(),
            meta={"kind": "verification_answer"},
        )
    return _apply(
        verification=verification,
        answer=FIXED if fixed else NOT_FIXED,
        words=words,
        via=Verification.Via.LINK,
    )

"""Signed links a customer opens without an account (``django.core.signing``): the ticket's status page,
the "fixed / not fixed" answer, the CSAT survey.

A token names one row and nothing else (the salt keeps one kind of token from being used as another); it
cannot be forged without ``SECRET_KEY`` and expires after its kind's lifetime. Single use, where it applies
(the survey, the verification answer), is the row's state, checked by the service that acts on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.urls import reverse

STATUS = "helpdesk.status-page"
VERIFY = "helpdesk.verify"
SURVEY = "helpdesk.csat-survey"


@dataclass(frozen=True)
class LinkProblem(Exception):
    """Why a link cannot be used: ``forged``, ``expired``, ``used`` or ``closed`` (no longer open)."""

    kind: str
    detail: str = ""

    def __str__(self):
        return self.detail or self.kind


def lifetime(kind: str) -> timedelta:
    conf = settings.HELPDESK
    days = {
        STATUS: conf["STATUS_LINK_DAYS"],
        VERIFY: conf["VERIFY_LINK_DAYS"],
        SURVEY: conf["CSAT_LINK_DAYS"],
    }[kind]
    return timedelta(days=days)


def make_token(kind: str, pk: int) -> str:
    return signing.dumps(pk, salt=kind, compress=False)


def read_token(kind: str, token: str) -> int:
    """The row id a token names; ``LinkProblem`` when it is forged, damaged or past its lifetime."""
    try:
        value = signing.loads(token, salt=kind, max_age=lifetime(kind))
    except signing.SignatureExpired:
        raise LinkProblem("expired") from None
    except signing.BadSignature:
        raise LinkProblem("forged") from None
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise LinkProblem("forged")
    return value


def absolute(name: str, token: str) -> str:
    # The public site's URLs (helpdesk.urls), whatever the current request's urlconf is.
    path = reverse(name, args=[token], urlconf="helpdesk.urls")
    return settings.HELPDESK["PUBLIC_URL"].rstrip("/") + path


def status_url(ticket_id: int) -> str:
    return absolute("support:ticket_status", make_token(STATUS, ticket_id))


def verify_url(verification_id: int) -> str:
    return absolute("support:verify", make_token(VERIFY, verification_id))


def survey_url(survey_id: int) -> str:
    return absolute("support:survey", make_token(SURVEY, survey_id))

"""Project-wide security plumbing: every 403 logged, log-in throttling's answer, and its authentication backend.

The access *decisions* live in ``tickets/permissions.py``; this module only records refusals and wires
django-axes (README, "Security").
"""

from __future__ import annotations

import math
from functools import wraps

from axes.backends import AxesStandaloneBackend
from axes.helpers import get_cool_off
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseForbidden
from django.shortcuts import render
from django.urls import URLPattern

from tickets.permissions import log_denial


class DenialLogMiddleware:
    """Logs every 403 the site answers (a view's refusal, a bad webhook signature, a failed CSRF check) to
    ``helpdesk.security`` with the user, the path and the reason, unless the view already logged it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code == 403:
            reason = getattr(request, "_denial_reason", "") or getattr(response, "reason_phrase", "Forbidden")
            if getattr(request, "csrf_failure_reason", ""):
                reason = f"CSRF: {request.csrf_failure_reason}"
            log_denial(request, reason)
        return response

    def process_exception(self, request, exception):
        if isinstance(exception, PermissionDenied):
            request._denial_reason = str(exception) or "permission denied"
        return None


def csrf_failure(request, reason: str = ""):
    """Django's CSRF failure page, with the reason kept for the denial log."""
    from django.views.csrf import csrf_failure as default

    request.csrf_failure_reason = reason
    return default(request, reason=reason)


class LoginThrottleBackend(AxesStandaloneBackend):
    """django-axes' backend, but only for log-ins from a request (the log-in pages). ``authenticate()``
    called from code without a request (a management command, a test) has no client to throttle, and
    axes' own backend refuses such calls outright."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def axes_client_ip(request) -> str | None:
    """The client address django-axes records and counts by: the same as /support/'s rate limits, or None
    for a log-in that has none (``force_login`` in tests, a request without ``REMOTE_ADDR``). axes stores it in
    a GenericIPAddressField, and PostgreSQL's ``inet`` refuses the rate limits' "unknown" placeholder."""
    from channels_intake.portal.limits import client_ip

    address = client_ip(request)
    return None if address == "unknown" else address


def wait_text(seconds: float) -> str:
    minutes = math.ceil(seconds / 60)
    return (
        f"{minutes} minute{'s' if minutes != 1 else ''}"
        if seconds >= 60
        else f"{max(int(seconds), 1)} seconds"
    )


def locked_out(request, original_response=None, credentials=None):
    """django-axes' answer to a locked-out log-in: the log-in page again, saying why and for how long (429)."""
    cool_off = get_cool_off(request)
    wait = wait_text(cool_off.total_seconds()) if cool_off else "a while"
    username = (credentials or {}).get(settings.AXES_USERNAME_FORM_FIELD) or request.POST.get("username", "")
    form = AuthenticationForm(request, initial={"username": username})
    log_denial(request, f"log-in locked out after {settings.AXES_FAILURE_LIMIT} failures", status=429)
    context = {
        "form": form,
        "next": request.POST.get("next", request.GET.get("next", "")),
        "locked_out": (
            f"Too many failed log-ins for this account from your address. "
            f"Log-in is locked for {wait}; try again after that, or ask an administrator to unlock it."
        ),
    }
    return render(request, "registration/login.html", context, status=429)


def require_anymail_secret(view):
    """django-anymail accepts unauthenticated webhook posts when ``ANYMAIL["WEBHOOK_SECRET"]`` is unset (it
    only warns). Here, as on every other webhook, an unset secret refuses every request (403)."""

    @wraps(view)
    def guarded(request, *args, **kwargs):
        if not (getattr(settings, "ANYMAIL", {}) or {}).get("WEBHOOK_SECRET"):
            request._denial_reason = "webhook secret not configured (ANYMAIL_WEBHOOK_SECRET)"
            return HttpResponseForbidden("This webhook is not configured.")
        return view(request, *args, **kwargs)

    return guarded


def guarded_anymail_urls():
    """anymail's URL patterns, each behind ``require_anymail_secret``; ``include()`` it as ``anymail``."""
    from anymail import urls

    patterns = [
        URLPattern(p.pattern, require_anymail_secret(p.callback), p.default_args, p.name)
        for p in urls.urlpatterns
    ]
    return patterns, urls.app_name

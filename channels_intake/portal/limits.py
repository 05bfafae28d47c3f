"""Rate limits of the customer-facing pages, per client address and per e-mail address (django-ratelimit).

The counters live in the default cache (``CACHES``): Redis in production with several processes, else each
process's memory. The rates are ``HELPDESK["SUPPORT_*_RATE"]`` settings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from django.conf import settings
from django_ratelimit.core import get_usage


def client_ip(request) -> str:
    """The client's address: ``REMOTE_ADDR``, or behind N trusted proxies the Nth address from the right of
    ``X-Forwarded-For`` (the ones further left were written by the client and cannot be trusted)."""
    hops = settings.HELPDESK.get("TRUSTED_PROXY_HOPS", 0)
    if hops > 0:
        forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
        if len(forwarded) >= hops:
            return forwarded[-hops]
    return request.META.get("REMOTE_ADDR", "") or "unknown"


@dataclass(frozen=True)
class Limited:
    """Over the limit: how long until the customer may try again."""

    seconds: int

    @property
    def wait(self) -> str:
        if self.seconds < 90:
            return f"{max(self.seconds, 1)} seconds"
        return f"{math.ceil(self.seconds / 60)} minutes"


def hit(request, *, action: str, rate: str, email: str = "") -> Limited | None:
    """Count one attempt at ``action`` for this client and this e-mail address; ``Limited`` if either is over.

    Both counters always count (an attempt over one limit still counts against the other).
    """
    keys = {"ip": client_ip(request)}
    if email:
        keys["email"] = email.strip().lower()
    waits = []
    for kind, value in keys.items():
        usage = get_usage(
            request,
            group=f"support:{action}:{kind}",
            key=lambda _group, _request, value=value: value,
            rate=rate,
            increment=True,
        )
        if usage is not None and usage["should_limit"]:
            waits.append(max(usage["time_left"], 1))
    return Limited(max(waits)) if waits else None

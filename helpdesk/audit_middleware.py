"""Binds each request's path and client address for the audit trail (``tickets.services.audit``).

Audit entries are written deep inside services (a ticket change records its history event, which records the
audit entry); rather than thread the request through every call, this middleware makes the path and address
available for the length of the request. The client address is the one the rate limits and log-in throttling
use (``HELPDESK["TRUSTED_PROXY_HOPS"]``).
"""

from __future__ import annotations

from channels_intake.portal.limits import client_ip
from tickets.services.audit import bound_request


class AuditRequestMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with bound_request(path=request.path, ip=client_ip(request)):
            return self.get_response(request)

"""``customers/<unique ID>/``: everything about one customer — identities, references, the tickets the agent
may see, and the per-unique-ID interaction table of DOMAIN.md."""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import render
from django.urls import path

from tickets.models import Customer
from tickets.permissions import log_denial
from tickets.selectors.customers import customer_for, customer_page
from tickets.services import audit
from tickets.views.base import agent_required


@agent_required
def customer(request, unique_id: str):
    found = customer_for(request.user, unique_id)
    if found is None:
        # Unknown, or nobody the agent may look at: the same answer, so the page leaks no unique IDs.
        if Customer.objects.filter(unique_id=unique_id).exists():
            log_denial(request, f"customer {unique_id!r} is not one this user may see", status=404)
        raise Http404("No such customer.")
    audit.record_view(actor=request.user, customer=found)
    return render(request, "tickets/customers/page.html", {"page": customer_page(request.user, found)})


urlpatterns = [path("customers/<str:unique_id>/", customer, name="customer")]

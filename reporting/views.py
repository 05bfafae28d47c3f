"""``/reports/``: the supervisors' dashboard, its CSV exports, and the per-unique-ID report.

Supervisors and admins only (``reporting.access``: 403 for anyone else); a supervisor's numbers are their own
teams'. Thin: parse the filter form, call ``reporting.dashboard`` / ``reporting.exports``, render. The
dashboard's live part refreshes itself through htmx (``hx-trigger="every …"``, sent as a background request
so an open report does not keep a supervisor online).
"""

from __future__ import annotations

from itertools import islice

from django.http import Http404, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from tickets.models.audit import AuditEntry
from tickets.selectors.customers import customer_for
from tickets.services import audit
from tickets.views.base import agent_required

from . import exports
from .access import check_may_see_reports
from .dashboard import dashboard as build_dashboard
from .forms import ReportFilterForm
from .metrics import METRICS

TEMPLATE = "reporting/dashboard.html"
POLL_SECONDS = 10
# The page shows this many rows of a customer's table; the CSV has all of them.
UNIQUE_ID_ROWS_SHOWN = 1000


def _filter_form(request) -> ReportFilterForm:
    return ReportFilterForm(request.GET or None, user=request.user)


@agent_required
def dashboard(request):
    check_may_see_reports(request.user)
    form = _filter_form(request)
    board = build_dashboard(form.report_filter())
    context = {
        "form": form,
        "d": board,
        "metrics": METRICS,
        "query": request.GET.urlencode(),
        "tables": exports.TABLES,
        "poll_seconds": POLL_SECONDS,
    }
    template = TEMPLATE
    if request.htmx and request.htmx.target == "report-live":
        template = f"{TEMPLATE}#live"
    return render(request, template, context)


def _csv(name: str, rows) -> StreamingHttpResponse:
    response = StreamingHttpResponse(exports.csv_lines(rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    return response


@agent_required
def export(request, table: str):
    check_may_see_reports(request.user)
    if table not in exports.TABLES:
        raise Http404("No such report table.")
    f = _filter_form(request).report_filter()
    _, rows = exports.TABLES[table]
    stamp = timezone.localtime(f.start).strftime("%Y%m%d")
    return _csv(f"{table}-{stamp}", rows(f))


def _customer(request, unique_id: str):
    check_may_see_reports(request.user)
    customer = customer_for(request.user, unique_id)
    if customer is None:
        raise Http404("No customer with this unique ID.")
    return customer


@agent_required
def unique_id_report(request, unique_id: str | None = None):
    check_may_see_reports(request.user)
    if unique_id is None:
        wanted = request.GET.get("unique_id", "").strip()
        if wanted:
            return redirect(reverse("reporting:unique_id", args=[wanted]))
        return render(request, "reporting/unique_id.html", {"customer": None})
    customer = _customer(request, unique_id)
    # Looking at a customer's contacts is audited like their page in the workspace (ids only).
    audit.record_view(actor=request.user, customer=customer, details={"report": "unique_id"})
    rows = exports.unique_id_table(customer)
    header = next(rows)
    shown = list(islice(rows, UNIQUE_ID_ROWS_SHOWN))
    return render(
        request,
        "reporting/unique_id.html",
        {
            "customer": customer,
            "header": header,
            "rows": shown,
            "more": next(rows, None) is not None,
            "rows_shown": UNIQUE_ID_ROWS_SHOWN,
        },
    )


@agent_required
def unique_id_csv(request, unique_id: str):
    customer = _customer(request, unique_id)
    audit.record(
        actor=request.user,
        action=AuditEntry.Action.EXPORT,
        object_type="tickets.customer",
        object_id=customer.pk,
        customer_id=customer.pk,
        details={"report": "unique_id_csv"},
    )
    return _csv(f"unique-id-{customer.unique_id}", exports.unique_id_table(customer))

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse

from tickets.models import Customer
from tickets.services.imports import COLUMNS, import_customers


class ImportForm(forms.Form):
    file = forms.FileField(
        label="CSV file", help_text=f"Columns: {','.join(COLUMNS)}; references separated by ;"
    )


def import_customers_view(request):
    """The admin's "Import customers" page: the same import as ``manage.py import_customers``."""
    if not request.user.has_perm("tickets.add_customer"):
        raise PermissionDenied
    form = ImportForm(request.POST or None, request.FILES or None)
    report = None
    if request.method == "POST" and form.is_valid():
        report = import_customers(file=form.cleaned_data["file"])
        if report.ok:
            messages.success(request, report.summary())
            return redirect("admin:tickets_customer_changelist")
    context = {
        **admin.site.each_context(request),
        "title": "Import customers from CSV",
        "opts": Customer._meta,
        "form": form,
        "report": report,
    }
    return TemplateResponse(request, "admin/tickets/customer/import.html", context)

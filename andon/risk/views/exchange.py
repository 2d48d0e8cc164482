"""Risk pages: the register's export to CSV/XLSX and its import back, with a report by row, field and reason."""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import path

from andon.platform.permissions import requires

from .. import exchange as service
from ..models import RiskStatus

STATUSES = {"open": RiskStatus.OPEN, "closed": RiskStatus.CLOSED, "all": ""}
EXPORTS = [("open", "Open risks"), ("all", "All risks, open and closed")]
SHOWN = 10  # references named in the message after an import


class ImportForm(forms.Form):
    file = forms.FileField(label="Spreadsheet (CSV or XLSX)",
                           help_text="An export of the register, edited; or new risks in its columns, with the "
                                     "reference left empty.")


@requires("risk.manage")
def exchange_page(request):
    form = ImportForm(request.POST or None, request.FILES or None)
    result = None
    if request.method == "POST" and form.is_valid():
        try:
            result = service.import_register(request.user, form.cleaned_data["file"])
        except ValidationError as error:
            form.add_error("file", error.message_dict.get("file", error.messages))
        else:
            if not result.problems:
                messages.success(request, _imported(result))
                return redirect("risk:exchange")
    status = 400 if form.errors or (result and result.problems) else 200
    return render(request, "risk/exchange.html", {"form": form, "result": result, "exports": EXPORTS,
                                                  "columns": service.EXPORT_COLUMNS}, status=status)


def _imported(result) -> str:
    parts = []
    for count, verb, references in ((len(result.raised), "raised", result.raised),
                                    (len(result.updated), "updated", result.updated)):
        named = ", ".join(references[:SHOWN]) + (", …" if count > SHOWN else "")
        parts.append(f"{count} risk{'s' if count != 1 else ''} {verb}" + (f" ({named})" if count else ""))
    return f"Imported: {'; '.join(parts)}; {result.unchanged} unchanged."


@requires("risk.manage")
def export(request):
    kind, status = request.GET.get("format", "csv"), request.GET.get("status", "open")
    if status not in STATUSES:
        return HttpResponseBadRequest(f"{status!r} is not a status to export: choose open, closed or all.")
    try:
        return service.download(request.user, kind, STATUSES[status])
    except ValidationError as error:
        return HttpResponseBadRequest(" ".join(error.messages))


urlpatterns = [
    path("risk/exchange/", exchange_page, name="exchange"),
    path("risk/exchange/export/", export, name="export"),
]

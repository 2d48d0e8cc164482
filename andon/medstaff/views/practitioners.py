"""Practitioner and credential pages: the list, a practitioner's file (identity, appointment cycle,
credentials, and the sections other subjects add), creating and editing it (with the clinical
data's practitioner found by name or NPI), the import from the clinical data, "My file", the
credentials' forms and the expiring credentials. Thin: parse, call one service, render."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone

from andon.platform import concurrency, history, notifications, permissions
from andon.platform.permissions import requires

from .. import services as service
from .practitioner_forms import (
    CredentialForm, ImportForm, PractitionerFilterForm, PractitionerForm, RenewalForm, add_errors, credential_initial,
    practitioner_initial,
)

STORE_MATCHES = 20
# The import page lists at most this many of the store's practitioners; "Find" narrows them.
IMPORT_ROWS = 200


def _saved(request, form, record, act, done: str, again, to):
    """Run `act(cleaned values)` for a valid form: a message and a redirect to `to(result)`; else
    the page again with the refusal on the form (409 when the record moved on)."""
    if not form.is_valid():
        return again(form, 400)
    try:
        result = act(form.values())
    except ValidationError as error:
        status = concurrency.refused_on_page(request, form, error, record, add_errors) if record else 400
        if not record:
            add_errors(form, error)
        return again(form, status)
    messages.success(request, done)
    return redirect(to(result))


# --- the list ---------------------------------------------------------------------------------

@requires("medstaff.view_practitioners")
def practitioners(request):
    departments = service.department_choices(request.user, "medstaff.view_practitioners")
    filters = PractitionerFilterForm(request.GET or None, departments=departments)
    page = Paginator(service.find_practitioners(request.user, **filters.filters()), 50).get_page(request.GET.get("page"))
    return render(request, "medstaff/practitioners.html", {
        "filters": filters, "page": page, "today": timezone.localdate(),
        "may_manage": permissions.can(request.user, "medstaff.manage_practitioners"),
    })


# --- creating and editing ---------------------------------------------------------------------

def _store_matches(request):
    """The clinical data's practitioners matching the page's "find" words (name or NPI)."""
    words = (request.GET.get("find") or "").strip()[:100]
    if not words:
        return words, [], ""
    try:
        return words, service.store_practitioners(words, limit=STORE_MATCHES), ""
    except LookupError as problem:
        return words, [], str(problem)


def _picked(request) -> dict:
    """The form's fields filled from the clinical data's practitioner chosen with ?use=<id>."""
    chosen = (request.GET.get("use") or "").strip()
    found = next((p for p in service.store_practitioners() if p.id == chosen), None) if chosen else None
    if found is None:
        return {}
    return {"given_name": found.given, "family_name": found.family, "degree": found.suffix[:20], "npi": found.npi,
            "fhir_id": found.id, "specialty": found.specialty[:100]}


def _form_page(request, form, practitioner, status=200):
    words, matches, problem = _store_matches(request)
    return render(request, "medstaff/practitioner_form.html", {
        "form": form, "practitioner": practitioner, "find": words, "matches": matches, "store_problem": problem,
    }, status=status)


@requires("medstaff.manage_practitioners")
def practitioner_new(request):
    departments = service.department_choices(request.user)
    form = PractitionerForm(request.POST or None, departments=departments, initial=_picked(request))
    if request.method != "POST":
        return _form_page(request, form, None)
    return _saved(request, form, None, lambda data: service.create_practitioner(request.user, **data),
                  "The practitioner's file is made.", lambda form, code: _form_page(request, form, None, code),
                  lambda made: reverse("medstaff:practitioner", args=[made.pk]))


@requires("medstaff.manage_practitioners")
def practitioner_edit(request, pk):
    practitioner = service.access_practitioner(request.user, pk, "medstaff.manage_practitioners")
    departments = service.department_choices(request.user)
    initial = {**practitioner_initial(practitioner), **_picked(request)}
    form = PractitionerForm(request.POST or None, departments=departments, initial=initial)
    if request.method != "POST":
        return _form_page(request, form, practitioner)
    return _saved(request, form, practitioner, lambda data: service.edit_practitioner(
        request.user, practitioner, ver=form.cleaned_data["version"], **data), "The file is changed.",
        lambda form, code: _form_page(request, form, practitioner, code),
        lambda changed: reverse("medstaff:practitioner", args=[changed.pk]))


# --- the file ---------------------------------------------------------------------------------

@requires("platform.view_home")  # the file's own rule decides: the department's readers, or the practitioner
def practitioner(request, pk):
    practitioner = service.access_practitioner(request.user, pk)
    today = timezone.localdate()
    notifications.mark_read(request.user, request.path)
    credentials = [(credential, service.credential_status(credential, today))
                   for credential in service.credentials_of(practitioner)]
    return render(request, "medstaff/practitioner.html", {
        "practitioner": practitioner, "appointment": service.appointment_words(practitioner, today),
        "overdue": bool(practitioner.reappointment_due and practitioner.reappointment_due < today),
        "in_force": [row for row in credentials if row[1].code != "replaced"],
        "replaced": [row for row in credentials if row[1].code == "replaced"],
        "may_manage": permissions.can(request.user, "medstaff.manage_practitioners", practitioner),
        "sections": service.sections_for(request.user, practitioner),
        "history": history.history_of(practitioner) if permissions.can(
            request.user, "medstaff.view_practitioners", practitioner) else None,
    })


@requires("medstaff.view_own_file")
def my_file(request):
    own = service.own_practitioner(request.user)
    if own is not None:
        return redirect("medstaff:practitioner", pk=own.pk)
    return render(request, "medstaff/practitioner_none.html")


# --- the import from the clinical data ----------------------------------------------------------

@requires("medstaff.manage_practitioners")
def practitioner_import(request):
    words = (request.GET.get("find") or "").strip()[:100]
    try:
        offered, problem = service.unlinked_store_practitioners(request.user, words, IMPORT_ROWS + 1), ""
    except LookupError as error:
        offered, problem = [], str(error)
    more, offered = len(offered) > IMPORT_ROWS, offered[:IMPORT_ROWS]
    form = ImportForm(request.POST or None, offered=offered, departments=service.department_choices(request.user))

    def again(form, status):
        return render(request, "medstaff/practitioner_import.html", {
            "form": form, "offered": offered, "more": more, "find": words, "store_problem": problem}, status=status)

    if request.method != "POST":
        return again(form, 200)
    if form.is_valid():
        try:
            made = service.import_from_store(request.user, form.cleaned_data["chosen"], form.cleaned_data["department"])
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, f"{len(made)} practitioner{'s' if len(made) != 1 else ''} imported into "
                                      f"{form.cleaned_data['department']}.")
            return redirect(reverse("medstaff:practitioners") + f"?department={form.cleaned_data['department'].pk}")
    return again(form, 400)


# --- credentials ------------------------------------------------------------------------------

def _credential_page(request, form, practitioner, credential=None, renewal=False, status=200):
    return render(request, "medstaff/credential_form.html", {
        "form": form, "practitioner": practitioner, "credential": credential, "renewal": renewal}, status=status)


def _to_file(credential):
    return reverse("medstaff:practitioner", args=[credential.practitioner_id]) + "#credentials"


@requires("medstaff.manage_practitioners")
def credential_new(request, pk):
    practitioner = service.access_practitioner(request.user, pk, "medstaff.manage_practitioners")
    form = CredentialForm(request.POST or None)
    if request.method != "POST":
        return _credential_page(request, form, practitioner)
    return _saved(request, form, None, lambda data: service.add_credential(request.user, practitioner, **data),
                  "The credential is recorded.",
                  lambda form, code: _credential_page(request, form, practitioner, status=code), _to_file)


@requires("medstaff.manage_practitioners")
def credential_edit(request, pk):
    credential = service.access_credential(request.user, pk, "medstaff.manage_practitioners")
    form = CredentialForm(request.POST or None, initial=credential_initial(credential))
    if request.method != "POST":
        return _credential_page(request, form, credential.practitioner, credential)
    return _saved(request, form, credential, lambda data: service.edit_credential(
        request.user, credential, ver=form.cleaned_data["version"], **data), "The credential is changed.",
        lambda form, code: _credential_page(request, form, credential.practitioner, credential, status=code), _to_file)


@requires("medstaff.manage_practitioners")
def credential_renew(request, pk):
    credential = service.access_credential(request.user, pk, "medstaff.manage_practitioners")
    form = RenewalForm(request.POST or None, initial={"version": credential.version})
    if request.method != "POST":
        return _credential_page(request, form, credential.practitioner, credential, renewal=True)
    return _saved(request, form, credential, lambda data: service.renew_credential(
        request.user, credential, ver=form.cleaned_data["version"], **data), "The renewal is recorded.",
        lambda form, code: _credential_page(request, form, credential.practitioner, credential, True, code), _to_file)


@requires("medstaff.view_practitioners")
def expiring(request):
    today = timezone.localdate()
    rows = [(credential, service.credential_status(credential, today))
            for credential in service.expiring_credentials(request.user, today)]
    return render(request, "medstaff/credentials_expiring.html", {
        "rows": rows, "days": service.EXPIRING_WINDOW_DAYS, "today": today})


urlpatterns = [
    path("medstaff/practitioners/", practitioners, name="practitioners"),
    path("medstaff/practitioners/new/", practitioner_new, name="practitioner_new"),
    path("medstaff/practitioners/import/", practitioner_import, name="practitioner_import"),
    path("medstaff/practitioners/<int:pk>/", practitioner, name="practitioner"),
    path("medstaff/practitioners/<int:pk>/edit/", practitioner_edit, name="practitioner_edit"),
    path("medstaff/practitioners/<int:pk>/credentials/new/", credential_new, name="credential_new"),
    path("medstaff/credentials/<int:pk>/edit/", credential_edit, name="credential_edit"),
    path("medstaff/credentials/<int:pk>/renew/", credential_renew, name="credential_renew"),
    path("medstaff/credentials/expiring/", expiring, name="expiring"),
    path("medstaff/my-file/", my_file, name="my_file"),
]

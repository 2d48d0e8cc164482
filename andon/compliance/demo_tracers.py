"""The demo hospital's tracers: one completed system tracer (medication management on 4 West) with
its answers, an observation and a finding, and one patient tracer planned for a unit manager.
Drawn from the CMS Conditions of Participation by URN when that framework is loaded; without it
there is nothing to trace, and the loader leaves quietly."""

from datetime import timedelta

from django.utils import timezone

from andon.platform.models import RoleGrant, Unit, User

from . import findings, tracers
from .models import FrameworkVersion, Requirement, Tracer

COP = "urn:andon:framework:cms-cop-482"
MEDICATION = [f"{COP}:482.25(a)", f"{COP}:482.25(b)", f"{COP}:482.23(c)"]
PATIENT_PATH = [f"{COP}:482.23(b)", f"{COP}:482.24(c)", f"{COP}:482.43"]
MEDICATION_TITLE = "Medication management, 4 West"


def _cop_version():
    return FrameworkVersion.objects.filter(framework__urn=COP, is_current=True).first()


def _present(version, urns) -> list[str]:
    found = set(Requirement.objects.filter(version=version, urn__in=urns).values_list("urn", flat=True))
    return [urn for urn in urns if urn in found]


def load_demo_tracers() -> None:
    version = _cop_version()
    lee = User.objects.filter(username="compliance.lee").first()
    if version is None or lee is None or Tracer.objects.filter(title=MEDICATION_TITLE).exists():
        return
    ward = Unit.objects.get(facility__code="rgh", code="4w")
    medication = _present(version, MEDICATION)
    if medication:
        _completed_medication_tracer(lee, version, ward, medication)
    path = _present(version, PATIENT_PATH)
    manager = User.objects.filter(username="mgr.fatima").first()
    if path and manager:
        tracers.plan_tracer(
            lee, title="Patient tracer: ED to 4 West to discharge", kind="patient", topic="Care transitions",
            unit=ward, surveyor=manager, planned_on=timezone.localdate() + timedelta(days=7),
            patient_path="Admitted via ED to 4 West, transferred to ICU, back to 4 West, discharged home",
            requirements=path, version=version,
            extra_questions=["Can the patient (or family) say what their medicines are for?"])


def _completed_medication_tracer(lee, version, ward, urns) -> None:
    pharmacist = User.objects.filter(username="pharm.dev").first() or lee
    tracer = tracers.plan_tracer(
        lee, title=MEDICATION_TITLE, kind="system", topic="Medication management", unit=ward, surveyor=pharmacist,
        planned_on=timezone.localdate() - timedelta(days=3), requirements=urns, version=version,
        extra_questions=["Is the medication room locked, with access limited to authorised staff?"])
    items = list(tracer.items.order_by("position"))
    for item in items[1:]:
        tracers.answer_item(pharmacist, item, None, "yes", "Checked with the charge nurse.")
    first = items[0]
    tracers.answer_item(pharmacist, first, None, "no",
                        "Two multi-dose insulin pens in the ward fridge had no opened-on date.")
    finding = tracers.raise_tracer_finding(pharmacist, first, "Opened insulin pens not dated", "moderate",
                                           "Two pens without an opened-on date; expiry after opening cannot be told.")
    manager = User.objects.filter(username="mgr.fatima").first()
    if manager and RoleGrant.objects.filter(user=manager).exists():
        findings.open_action_for_finding(
            lee, finding, owner=manager, title="Date every multi-dose pen and vial when opened",
            due_date=timezone.localdate() + timedelta(days=30), strength="intermediate",
            measure="Weekly fridge check: share of opened multi-dose items dated, target 100%")
    tracers.complete_tracer(pharmacist, tracer,
                            "Medication storage and administration mostly as required; one finding on dating "
                            "opened insulin pens, with an action for the ward.")

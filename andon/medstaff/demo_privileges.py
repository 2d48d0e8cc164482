"""The demo hospital's privileges: a catalogue for Medicine and Surgery at Riverside General; the
Medicine practitioners hold its core privileges; a new appointee, Amara Nwosu, MD, asks for central
line insertion (waiting at the chair's step, so the browser journey takes it to the board and sees
its FPPE start); and one FPPE in progress, proctored by Dr Demir, with a few cases recorded.

Runs after the practitioners' loader when the lead orders the loaders; on its own it makes the
practitioners it needs (through the practitioners' service) when they are not there."""

from datetime import timedelta

from django.utils import timezone

from andon.platform.models import Unit, User

from . import fppe as fppes
from . import privileges
from .models import GrantedPrivilege, Practitioner, Privilege, PrivilegeKind, RequestStage, StepOutcome
from .practitioners import REAPPOINTMENT_YEARS, add_years, create_practitioner

CATALOGUE = {
    "medicine": [
        ("Core privileges in internal medicine", PrivilegeKind.CORE,
         "Admit, evaluate, diagnose and treat adults with illnesses of the internal organs; order and interpret tests.",
         "MD or DO; completed residency in internal medicine", "", "At least 50 inpatients in the last two years",
         "Board certified (or eligible) in internal medicine", ["chart_review"], 10, None),
        ("Central venous catheter insertion", PrivilegeKind.SPECIAL,
         "Ultrasound-guided insertion of central venous catheters (internal jugular, subclavian, femoral).",
         "Core privileges in internal medicine", "Simulation training in central line insertion",
         "At least 10 insertions in the last two years", "", ["proctoring", "direct_observation"], 5, None),
        ("Bronchoscopy", PrivilegeKind.SPECIAL, "Flexible bronchoscopy with lavage and biopsy.",
         "Fellowship in pulmonary medicine", "", "At least 25 procedures in the last two years",
         "Board certified in pulmonary disease", ["chart_review", "proctoring"], 6, 90),
    ],
    "surgery": [
        ("Core privileges in general surgery", PrivilegeKind.CORE,
         "Admit, evaluate and operate on adults with surgical conditions of the abdomen, skin and soft tissue.",
         "MD or DO; completed residency in general surgery", "", "At least 100 operations in the last two years",
         "Board certified (or eligible) in surgery", ["chart_review", "outcome_data"], 10, None),
        ("Robotic-assisted surgery", PrivilegeKind.SPECIAL, "Robotic-assisted abdominal operations.",
         "Core privileges in general surgery", "The manufacturer's course and 10 proctored cases",
         "At least 20 cases in the last two years", "", ["proctoring"], 10, None),
    ],
}


def load_demo_privileges() -> None:
    people = {u.username: u for u in User.objects.filter(is_demo=True, username__in=[
        "mso.quinn", "chair.victor", "cred.wanda", "dr.yusuf"])}
    medicine = Unit.objects.filter(facility__code="rgh", code="medicine").select_related("facility").first()
    if len(people) < 4 or medicine is None or Privilege.objects.filter(department=medicine).exists():
        return
    office = people["mso.quinn"]
    catalogue = _catalogue(office)
    today = timezone.localdate()
    yusuf = _practitioner(office, medicine, "Demir", "Yusuf", account=people["dr.yusuf"], days_ago=900)
    helen = _practitioner(office, medicine, "Park", "Helen", days_ago=400)
    amara = _practitioner(office, medicine, "Nwosu", "Amara", days_ago=20)
    core = catalogue["Core privileges in internal medicine"]
    for practitioner in Practitioner.objects.filter(department=medicine).exclude(pk=amara.pk):
        _held_before_andon(practitioner, core, today)
    _fppe_in_progress(people, helen, yusuf, catalogue["Bronchoscopy"], today)
    privileges.request_privileges(office, amara, [catalogue["Central venous catheter insertion"]],
                                  note="New appointee: central lines on the medical wards and in the ICU.")


def _catalogue(office) -> dict:
    made = {}
    for code, rows in CATALOGUE.items():
        department = Unit.objects.get(facility__code="rgh", code=code)
        for name, kind, description, education, training, volume, certification, methods, cases, days in rows:
            made[name] = privileges.create_privilege(
                office, department, name=name, kind=kind, description=description, education=education,
                training=training, volume=volume, certification=certification, fppe_methods=methods,
                fppe_cases=cases, fppe_days=days)
    return made


def _practitioner(office, department, family, given, *, account=None, days_ago: int):
    """The practitioner of that name (or account) if the practitioners' loader made them, else made here."""
    found = Practitioner.objects.filter(user=account).first() if account else None
    found = found or Practitioner.objects.filter(family_name=family, given_name=given).first()
    if found:
        return found
    return create_practitioner(office, department=department, family_name=family, given_name=given, degree="MD",
                               specialty="Internal medicine",
                               appointed_on=timezone.localdate() - timedelta(days=days_ago), account=account)


def _held_before_andon(practitioner, core, today) -> None:
    """Core privileges granted before Andon was used, recorded as they stand: taking them through
    the steps would start FPPEs that ended long ago."""
    if practitioner.granted_privileges.filter(privilege=core).exists():
        return
    since = practitioner.appointed_on or today - timedelta(days=365)
    until = practitioner.reappointment_due or add_years(since, REAPPOINTMENT_YEARS)
    while until <= today:  # reappointed since: the grant runs to the end of the current cycle
        until = add_years(until, REAPPOINTMENT_YEARS)
    GrantedPrivilege.objects.create(practitioner=practitioner, privilege=core, granted_from=since, granted_until=until)


def _fppe_in_progress(people, helen, yusuf, bronchoscopy, today) -> None:
    """Dr Park's bronchoscopy, taken through the four steps six weeks ago; its FPPE, proctored by Dr
    Demir, has three cases recorded."""
    office, chair, committee = people["mso.quinn"], people["chair.victor"], people["cred.wanda"]
    asked = privileges.request_privileges(office, helen, [bronchoscopy], note="Joined the pulmonary service.")
    asked.requested_on = today - timedelta(days=70)
    asked.save(update_fields=["requested_on"])
    steps = [(RequestStage.CHAIR, chair, StepOutcome.RECOMMEND, 63),
             (RequestStage.CREDENTIALS, committee, StepOutcome.RECOMMEND, 56),
             (RequestStage.MEC, office, StepOutcome.RECOMMEND, 49),
             (RequestStage.BOARD, office, StepOutcome.APPROVE, 42)]
    for step, who, outcome, days_ago in steps:
        privileges.record_step(who, asked, step, outcome=outcome, met_on=today - timedelta(days=days_ago),
                               note="Criteria met: fellowship and volume verified.")
    fppe = helen.fppes.get(source_privilege__privilege=bronchoscopy)
    fppes.plan_fppe(office, fppe, methods=fppe.methods, cases_required=fppe.cases_required,
                    duration_days=fppe.duration_days, proctor=yusuf)
    fppes.begin_fppe(office, fppe)
    for number, (days_ago, result, notes) in enumerate([
            (30, "met", "Indication documented; lavage and biopsy without complication."),
            (21, "met", "Good airway survey; sedation within the protocol."),
            (9, "concerns", "Biopsy taken without the consent form naming it: discussed with Dr Park.")], 1):
        fppes.record_fppe_case(yusuf.user, fppe, case_date=today - timedelta(days=days_ago),
                               case_reference=f"ENC-DEMO-BR{number:02d}", result=result, notes=notes)

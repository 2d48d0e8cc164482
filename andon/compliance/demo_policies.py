"""The demo hospital's policies (made up): one published that 4 West's nurses are asked to read and
sign (nurse.ana sees it on her home page), one in review awaiting the CQO's decision, one whose
review is overdue, a draft, and a retired one. Made through the services, as people would."""

from datetime import timedelta

from django.utils import timezone

from andon.platform import content
from andon.platform.models import User
from andon.platform.roles import Role

from . import policies
from .models import Policy

FALLS = """Purpose. Reduce falls and injury from falls among adult inpatients.

Scope. All adult inpatient wards of Riverside General Hospital.

1. Assess every patient's fall risk on admission, after a fall, on transfer and when their condition changes, with the ward's falls risk tool.
2. For patients at risk: bed in the lowest position, call bell and walking aid within reach, non-slip footwear, a lit path to the bathroom.
3. Review medicines that raise the risk of falling (sedatives, antihypertensives) with the pharmacist within 24 hours.
4. Use bed and chair alarms only as part of an individual plan; they do not replace observation.
5. After a fall: check for injury before moving the patient, call the doctor, report the event in Andon the same shift, and hold a post-fall huddle.
"""
HAND_HYGIENE = """Purpose. Prevent healthcare-associated infections through hand hygiene at the five moments (WHO).

1. Clean hands before touching a patient, before a clean or aseptic procedure, after body fluid exposure risk, after touching a patient and after touching a patient's surroundings.
2. Use alcohol-based hand rub unless hands are visibly soiled or after caring for a patient with C. difficile, when soap and water are used.
3. Keep nails short and free of artificial nails; no wrist jewellery in clinical areas.
4. Each ward observes hand hygiene monthly and its results are reported as a measure.
"""
MED_REC = """Purpose. Make sure every patient's medicines are reconciled at admission, transfer and discharge.

1. A best possible medication history is taken within 24 hours of admission from at least two sources.
2. Differences between the history and the admission orders are resolved by the prescriber and documented.
3. The discharge list is reconciled with the pharmacist and explained to the patient.
"""
RESTRAINT = """Purpose. Use physical restraint only when less restrictive measures have failed, for the shortest time, under an order.

1. A physician's order is required within one hour of starting restraint; orders are renewed as the regulations require.
2. The patient is checked at least every 15 minutes and the checks are documented.
"""
PATIENT_ID = """Two identifiers (name and date of birth) before every medicine, test and procedure."""


def _person(username):
    return User.objects.get(username=username)


def load() -> None:
    if Policy.objects.filter(code="PC-101").exists():
        return  # the demo's policies are there already
    organisation = content.resolve_scope("")
    ward, medicine = content.resolve_scope("rgh/4w"), content.resolve_scope("rgh/medicine")
    lee, olivia, fatima = _person("compliance.lee"), _person("cqo.olivia"), _person("mgr.fatima")
    today = timezone.localdate()

    falls = policies.create_policy(lee, organisation=organisation, unit=medicine, code="PC-101",
                                   title="Falls prevention and management", owner=fatima, review_every_months=24,
                                   text=FALLS, requirement_urns=())
    _publish(lee, olivia, falls, today - timedelta(days=3),
             [policies.RuleSpec(role=Role.STAFF_REPORTER, unit=ward, due_in_days=14)])

    hygiene = policies.create_policy(lee, organisation=organisation, code="IC-201", title="Hand hygiene",
                                     owner=lee, review_every_months=6, text=HAND_HYGIENE)
    _publish(lee, olivia, hygiene, today - timedelta(days=300), [])  # its review is overdue

    reconciliation = policies.create_policy(lee, organisation=organisation, code="PH-310",
                                            title="Medication reconciliation", owner=lee, text=MED_REC)
    policies.submit_for_review(lee, reconciliation.versions.get(), [olivia])

    policies.create_policy(lee, organisation=organisation, code="PC-120", title="Restraint use", owner=lee,
                           text=RESTRAINT)

    identification = policies.create_policy(lee, organisation=organisation, code="PC-090",
                                            title="Patient identification (old procedure)", owner=lee, text=PATIENT_ID)
    _publish(lee, olivia, identification, today - timedelta(days=200), [])
    policies.retire(lee, identification, "Replaced by the hospital's new identification standard.")


def _publish(author, approver, policy, effective_on, rules):
    version = policy.versions.get()
    policies.submit_for_review(author, version, [approver])
    policies.decide(approver, version, True, "Approved for publication.")
    policies.publish(author, version, effective_on, rules)

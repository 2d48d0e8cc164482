"""QI-Core 4.1.1 profiles a retrieve names (`templateId`) that select among resources of one
FHIR type: the "not done" and "not requested" profiles, and the positive ones beside them.

`[MedicationRequest: "Warfarin"]` and `[MedicationNotRequested: "Warfarin"]` both read
MedicationRequests; QI-Core tells them apart by `doNotPerform` (a request *not* to give the
drug), and what was not done by `status = not-done`. A retrieve of the positive profile must
not count a documented refusal as the act, nor the negation profile an act as a refusal.
A resource that claims one of these profiles is taken at its word; one that claims none (most
EHR exports) is judged by the profile's own constraint. The FHIR vital signs profiles
(`["observation-bmi"]`) select Observations by the LOINC code each profile fixes.
"""

from __future__ import annotations

from .fhir_model import Node

QICORE = "http://hl7.org/fhir/us/qicore/StructureDefinition/"
NOT_DONE_REASON = QICORE + "qicore-notDoneReason"
DO_NOT_PERFORM = QICORE + "qicore-doNotPerform"


def _do_not_perform(resource: dict) -> bool:
    if resource.get("doNotPerform") is True:
        return True
    return any(e.get("url") == DO_NOT_PERFORM and e.get("valueBoolean") is True
               for e in resource.get("modifierExtension", []) or [])


def _status_not_done(resource: dict) -> bool:
    return resource.get("status") == "not-done"


def _observation_not_done(resource: dict) -> bool:
    return resource.get("status") == "cancelled" and any(
        e.get("url") == NOT_DONE_REASON for e in resource.get("extension", []) or [])


# profile -> (is this a negation profile, the test that a resource is a negation)
_RULES = {
    "qicore-medicationrequest": (False, _do_not_perform),
    "qicore-mednotrequested": (True, _do_not_perform),
    "qicore-servicerequest": (False, _do_not_perform),
    "qicore-servicenotrequested": (True, _do_not_perform),
    "qicore-devicerequest": (False, _do_not_perform),
    "qicore-devicenotrequested": (True, _do_not_perform),
    "qicore-procedure": (False, _status_not_done),
    "qicore-procedurenotdone": (True, _status_not_done),
    "qicore-medicationadministration": (False, _status_not_done),
    "qicore-mednotadministered": (True, _status_not_done),
    "qicore-medicationdispense": (False, _status_not_done),
    "qicore-mednotdispensed": (True, _status_not_done),
    "qicore-immunization": (False, _status_not_done),
    "qicore-immunizationnotdone": (True, _status_not_done),
    "qicore-communication": (False, _status_not_done),
    "qicore-communicationnotdone": (True, _status_not_done),
    "qicore-observation": (False, _observation_not_done),
    "qicore-observationnotdone": (True, _observation_not_done),
}


# FHIR R4 vital signs profiles (http://hl7.org/fhir/StructureDefinition/<name>): each fixes the
# Observation's LOINC code (FHIR R4, Observation vital signs)
VITALS = "http://hl7.org/fhir/StructureDefinition/"
LOINC = "http://loinc.org"
_VITAL_CODES = {
    "bmi": "39156-5", "bodyheight": "8302-2", "bodyweight": "29463-7", "heartrate": "8867-4", "bp": "85354-9",
    "bodytemp": "8310-5", "resprate": "9279-1", "oxygensat": "2708-6", "headcircum": "9843-4",
}


def _vital(template_id: str, resource: Node) -> bool:
    name = template_id[len(VITALS):]
    claimed = (resource.value.get("meta") or {}).get("profile", []) or []
    if any(isinstance(p, str) and p.split("|")[0] == template_id for p in claimed):
        return True
    codings = ((resource.value.get("code") or {}).get("coding") or [])
    return any(c.get("system") == LOINC and c.get("code") == _VITAL_CODES[name] for c in codings if isinstance(c, dict))


def selects(template_id: str | None, resource: Node) -> bool:
    """Whether a resource belongs to the retrieve's profile (True for profiles without a rule).

    A resource that claims one of these profiles in `meta.profile` is taken at its word (the
    test data has positive orders marked doNotPerform, which the reference engines count as
    orders); one that claims none is judged by the profile's constraint."""
    if template_id and template_id.startswith(VITALS) and template_id[len(VITALS):] in _VITAL_CODES:
        return _vital(template_id, resource)
    if not template_id or not template_id.startswith(QICORE):
        return True
    wanted = template_id[len(QICORE):]
    rule = _RULES.get(wanted)
    if rule is None:
        return True
    claimed = [p[len(QICORE):] for p in (resource.value.get("meta") or {}).get("profile", []) or []
               if isinstance(p, str) and p.startswith(QICORE) and p[len(QICORE):].split("|")[0] in _RULES]
    if claimed:
        return any(p.split("|")[0] == wanted for p in claimed)
    negation, test = rule
    return test(resource.value) == negation

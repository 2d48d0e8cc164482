"""QI-Core negation profiles in retrieves: by the resource's claim, else by the constraint."""

import pytest

from andon.analytics.cql.fhir_model import resource
from andon.analytics.cql.profiles import QICORE, selects

ORDER, NOT_ORDERED = QICORE + "qicore-servicerequest", QICORE + "qicore-servicenotrequested"


@pytest.mark.parametrize("data, as_order, as_refusal", [
    ({"resourceType": "ServiceRequest", "status": "active"}, True, False),
    ({"resourceType": "ServiceRequest", "doNotPerform": True}, False, True),
    ({"resourceType": "ServiceRequest", "modifierExtension": [{"url": QICORE + "qicore-doNotPerform", "valueBoolean": True}]}, False, True),
    # a claimed profile is taken at its word, even where the constraint would say otherwise
    ({"resourceType": "ServiceRequest", "doNotPerform": True, "meta": {"profile": [ORDER]}}, True, False),
    ({"resourceType": "ServiceRequest", "meta": {"profile": [NOT_ORDERED + "|4.1.1"]}}, False, True),
    # a claim of another kind (US Core) says nothing here: the constraint decides
    ({"resourceType": "ServiceRequest", "doNotPerform": True,
      "meta": {"profile": ["http://hl7.org/fhir/us/core/StructureDefinition/us-core-servicerequest"]}}, False, True),
])
def test_orders_and_refusals(data, as_order, as_refusal):
    node = resource(data)
    assert selects(ORDER, node) is as_order and selects(NOT_ORDERED, node) is as_refusal


def test_not_done_events_and_profiles_without_a_rule():
    done = resource({"resourceType": "Procedure", "status": "completed"})
    not_done = resource({"resourceType": "Procedure", "status": "not-done"})
    assert selects(QICORE + "qicore-procedure", done) and not selects(QICORE + "qicore-procedure", not_done)
    assert selects(QICORE + "qicore-procedurenotdone", not_done) and not selects(QICORE + "qicore-procedurenotdone", done)
    observation = resource({"resourceType": "Observation", "status": "cancelled",
                            "extension": [{"url": QICORE + "qicore-notDoneReason"}]})
    assert selects(QICORE + "qicore-observationnotdone", observation) and not selects(QICORE + "qicore-observation", observation)
    assert selects(QICORE + "qicore-encounter", not_done) and selects("http://hl7.org/fhir/StructureDefinition/vitalsigns", not_done)
    assert selects(None, not_done)


def test_vital_signs_profiles_select_by_their_loinc_code():
    bmi = "http://hl7.org/fhir/StructureDefinition/bmi"
    measured = resource({"resourceType": "Observation", "code": {"coding": [{"system": "http://loinc.org", "code": "39156-5"}]}})
    height = resource({"resourceType": "Observation", "code": {"coding": [{"system": "http://loinc.org", "code": "8302-2"}]}})
    claimed = resource({"resourceType": "Observation", "meta": {"profile": [bmi]}, "code": {"text": "BMI"}})
    assert selects(bmi, measured) and not selects(bmi, height) and selects(bmi, claimed)
    assert selects("http://hl7.org/fhir/StructureDefinition/bodyheight", height)

"""FHIR values typed by the R4 model: what the ELM engine's property access rests on."""

import pytest

from andon.analytics.cql.fhir_model import Node, element_type, member, resource

ENCOUNTER = {
    "resourceType": "Encounter", "id": "e1", "status": "finished",
    "period": {"start": "2024-01-01T08:00:00-05:00", "end": "2024-01-03"},
    "type": [{"coding": [{"system": "http://snomed.info/sct", "code": "32485007"}]}],
    "hospitalization": {"dischargeDisposition": {"coding": [{"code": "home"}]}},
    "location": [{"location": {"reference": "Location/l1"}, "period": {"start": "2024-01-01"}}],
    "_status": {"extension": [{"url": "http://x.org/reason", "valueString": "audit"}]},
    "contained": [{"resourceType": "Medication", "id": "m1"}],
}


def test_members_carry_their_fhir_types():
    e = resource(ENCOUNTER)
    assert e.fhir_type == "Encounter" and member(e, "id") == Node("e1", "string", "string")
    period = member(e, "period")
    assert period.fhir_type == "Period" and member(period, "start") == Node("2024-01-01T08:00:00-05:00", "dateTime", "dateTime")
    [kind] = member(e, "type")
    assert kind.fhir_type == "CodeableConcept" and member(member(kind, "coding")[0], "code").fhir_type == "code"
    discharge = member(member(e, "hospitalization"), "dischargeDisposition")
    assert member(e, "hospitalization").path == "Encounter.hospitalization" and discharge.fhir_type == "CodeableConcept"
    [place] = member(e, "location")
    assert member(place, "location").fhir_type == "Reference" and member(place, "period").fhir_type == "Period"
    assert member(e, "contained")[0].fhir_type == "Medication"
    assert member(e, "serviceProvider") is None and member(e, "nonsense") is None


def test_primitive_extensions_and_choice_elements():
    status = member(resource(ENCOUNTER), "status")
    assert status.value == "finished" and member(status, "extension")[0].value["valueString"] == "audit"
    observation = resource({"resourceType": "Observation", "id": "o", "valueQuantity": {"value": 5, "unit": "mg"},
                            "effectivePeriod": {"start": "2024"}, "_issued": {"extension": []}})
    assert member(observation, "value").fhir_type == "Quantity"
    assert member(observation, "effective").fhir_type == "Period"
    assert member(resource({"resourceType": "Observation", "valueString": "x"}), "value") == Node("x", "string", "string")
    request = resource({"resourceType": "MedicationRequest", "medicationCodeableConcept": {"text": "x"}})
    assert member(request, "medication").fhir_type == "CodeableConcept"
    assert member(observation, "issued") is None  # an extension-less, value-less primitive is absent
    only_extension = resource({"resourceType": "Patient", "_birthDate": {"extension": [{"url": "u"}]}})
    assert member(only_extension, "birthDate") == Node(None, "date", "date", {"extension": [{"url": "u"}]})


def test_backbone_elements_defined_elsewhere():
    assert element_type("Questionnaire.item", "item") == ("BackboneElement", "Questionnaire.item")
    assert element_type("Questionnaire.item", "linkId")[0] == "string"
    assert element_type("Medication.ingredient", "strength")[0] == "Ratio"


def test_lists_keep_nulls_out_and_not_a_resource_is_refused():
    patient = resource({"resourceType": "Patient", "name": [{"given": ["A", None, "B"]}]})
    assert [n.value for n in member(member(patient, "name")[0], "given")] == ["A", "B"]
    with pytest.raises(ValueError, match="no resourceType"):
        resource({"id": "x"})

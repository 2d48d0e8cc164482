"""Hand-written content for the measure-shape tests (test_measure_shapes.py): one ELM library,
six made-up patients, and Measures in the population structures the CQFM and DEQM guides allow.

The library `Shapes` (FHIR 4.0.1, no FHIRHelpers: primitives are read through `.value`, as
FHIRHelpers does) so that cql-execution can run it unchanged:

    define "Encounters": [Encounter] E where E.status.value = 'finished'
    define "Emergency Encounters": "Encounters" E where E.class.code.value = 'EMER'
    define "Long Encounters": "Encounters" E where E.length.value.value > 4.5
    define "Has Encounter" / "Has Emergency Encounter" / "Has Long Encounter": Exists(...)
    define "Sex": Patient.gender.value
    define "Procedures": [Procedure]
    define "Lengths": "Encounters" E return "Length"(E)
    define function "Length"(E Encounter): E.length.value.value
    define function "Encounter Count"(): Count("Encounters")

The patients' finished encounters (id, class, length in days), each patient's sex:

    p1 female  a1 AMB 2, a2 EMER 5 (a3 cancelled, AMB 10: in no population)
    p2 male    b1 AMB 4, b2 AMB 7
    p3 female  c1 EMER 1
    p4 male    none (procedure x2)             p1 also has procedure x1
    p5 unknown d1 IMP 6
    p6 male    e1 AMB 3
"""

from __future__ import annotations

from tests.analytics.cql.elm_builders import FHIR, SYS, agg, d, op, prop, query, s

CQFM = "http://hl7.org/fhir/us/cqfmeasures/StructureDefinition/"
LIBRARY_URL = "http://example.org/fhir/Library/Shapes"
POPULATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/measure-population"


# -- the library --------------------------------------------------------------------------------

def _retrieve(resource: str) -> dict:
    return {"type": "Retrieve", "dataType": FHIR + resource}


def _value(path: str, alias_: str) -> dict:
    """`alias.path.value`: a FHIR primitive's CQL value, as FHIRHelpers reads it."""
    node = None
    for step in path.split("."):
        node = prop(step, scope=alias_) if node is None else prop(step, node)
    return prop("value", node)


def _ref(name: str) -> dict:
    return {"type": "ExpressionRef", "name": name}


def _define(name: str, expression: dict) -> dict:
    return {"name": name, "context": "Patient", "accessLevel": "Public", "expression": expression}


def _function(name: str, expression: dict, operands: dict[str, str]) -> dict:
    return {"type": "FunctionDef", "name": name, "context": "Patient", "accessLevel": "Public", "expression": expression,
            "operand": [{"name": n, "operandTypeSpecifier": {"type": "NamedTypeSpecifier", "name": FHIR + t}}
                        for n, t in operands.items()]}


def _where(source: str, condition: dict) -> dict:
    return query({"E": _ref(source)}, where=condition)


def library() -> dict:
    """The `Shapes` library as ELM JSON (see the module docstring for its CQL)."""
    length_of_e = prop("value", prop("value", {"type": "Property", "path": "length", "source": {"type": "OperandRef", "name": "E"}}))
    statements = [
        _define("Patient", op("SingletonFrom", _retrieve("Patient"))),
        _define("Encounters", query({"E": _retrieve("Encounter")}, where=op("Equal", _value("status", "E"), s("finished")))),
        _define("Emergency Encounters", _where("Encounters", op("Equal", _value("class.code", "E"), s("EMER")))),
        _define("Long Encounters", _where("Encounters", op("Greater", _value("length.value", "E"), d("4.5")))),
        _define("Has Encounter", op("Exists", _ref("Encounters"))),
        _define("Has Emergency Encounter", op("Exists", _ref("Emergency Encounters"))),
        _define("Has Long Encounter", op("Exists", _ref("Long Encounters"))),
        _define("Sex", prop("value", prop("gender", _ref("Patient")))),
        _define("Procedures", _retrieve("Procedure")),
        _define("Lengths", query({"E": _ref("Encounters")}, ret={"type": "FunctionRef", "name": "Length", "operand": [
            {"type": "AliasRef", "name": "E"}]})),
        _define("Encounter Count Value", {"type": "FunctionRef", "name": "Encounter Count", "operand": []}),
        _function("Length", length_of_e, {"E": "Encounter"}),
        _function("Encounter Count", agg("Count", _ref("Encounters")), {}),
    ]
    usings = [{"localIdentifier": "System", "uri": "urn:hl7-org:elm-types:r1"},
              {"localIdentifier": "FHIR", "uri": "http://hl7.org/fhir", "version": "4.0.1"}]
    return {"library": {"identifier": {"id": "Shapes", "version": "1.0.0"},
                        "schemaIdentifier": {"id": "urn:hl7-org:elm", "version": "r1"},
                        "usings": {"def": usings}, "statements": {"def": statements}}}


DECIMAL = SYS + "Decimal"


# -- the patients -------------------------------------------------------------------------------

def _encounter(id_: str, patient: str, klass: str, days: float, status: str = "finished") -> dict:
    return {"resourceType": "Encounter", "id": id_, "status": status, "subject": {"reference": f"Patient/{patient}"},
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": klass},
            "length": {"value": days, "unit": "days", "system": "http://unitsofmeasure.org", "code": "d"}}


def _procedure(id_: str, patient: str) -> dict:
    return {"resourceType": "Procedure", "id": id_, "status": "completed", "subject": {"reference": f"Patient/{patient}"}}


def patients() -> dict[str, list[dict]]:
    """Each patient's resources, by patient id (see the module docstring)."""
    sexes = {"p1": "female", "p2": "male", "p3": "female", "p4": "male", "p5": "unknown", "p6": "male"}
    records = {
        "p1": [_encounter("a1", "p1", "AMB", 2), _encounter("a2", "p1", "EMER", 5),
               _encounter("a3", "p1", "AMB", 10, status="cancelled"), _procedure("x1", "p1")],
        "p2": [_encounter("b1", "p2", "AMB", 4), _encounter("b2", "p2", "AMB", 7)],
        "p3": [_encounter("c1", "p3", "EMER", 1)],
        "p4": [_procedure("x2", "p4")],
        "p5": [_encounter("d1", "p5", "IMP", 6)],
        "p6": [_encounter("e1", "p6", "AMB", 3)],
    }
    return {pid: [{"resourceType": "Patient", "id": pid, "gender": sex}] + records[pid] for pid, sex in sexes.items()}


# -- measures -----------------------------------------------------------------------------------

def population(code: str, expression: str, id_: str | None = None, observes: str | None = None,
               method: str | None = None, method_as: str = "valueString") -> dict:
    """A Measure.group.population; `observes` and `method` give a measure observation its
    cqfm-criteriaReference and cqfm-aggregateMethod (`method_as`: valueString as MADiE writes
    it, or valueCode as the guide's extension defines it)."""
    entry = {"id": id_ or f"{code}-{expression}".replace(" ", "-"),
             "code": {"coding": [{"system": POPULATION_SYSTEM, "code": code}]},
             "criteria": {"language": "text/cql-identifier", "expression": expression}}
    extensions = []
    if observes:
        extensions.append({"url": CQFM + "cqfm-criteriaReference", "valueString": observes})
    if method:
        extensions.append({"url": CQFM + "cqfm-aggregateMethod", method_as: method})
    if extensions:
        entry["extension"] = extensions
    return entry


def group(id_: str, scoring: str | None, basis: str | None, populations: list[dict], stratifiers=()) -> dict:
    extensions = []
    if scoring:
        extensions.append({"url": CQFM + "cqfm-scoring", "valueCodeableConcept": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/measure-scoring", "code": scoring}]}})
    if basis:
        extensions.append({"url": CQFM + "cqfm-populationBasis", "valueCode": basis})
    return {"id": id_, "extension": extensions, "population": populations, "stratifier": list(stratifiers)}


def stratifier(id_: str, *expressions: str) -> dict:
    """One expression: a criteria stratifier; more: a stratifier of components."""
    def criteria(expression: str) -> dict:
        return {"language": "text/cql-identifier", "expression": expression}
    if len(expressions) == 1:
        return {"id": id_, "code": {"text": expressions[0]}, "criteria": criteria(expressions[0])}
    return {"id": id_, "code": {"text": id_},
            "component": [{"code": {"text": e}, "criteria": criteria(e)} for e in expressions]}


def measure(name: str, groups: list[dict], scoring: str | None = None, basis: str | None = None) -> dict:
    resource = {"resourceType": "Measure", "id": name, "name": name, "url": f"http://example.org/fhir/Measure/{name}",
                "status": "active", "library": [LIBRARY_URL], "group": groups}
    if scoring:
        resource["scoring"] = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/measure-scoring", "code": scoring}]}
    if basis:
        resource["extension"] = [{"url": CQFM + "cqfm-populationBasis", "valueCode": basis}]
    return resource


def proportion_group(stratifiers=()) -> dict:
    """Patient-based proportion: has an encounter; excluded if one was an emergency; met if
    one lasted over 4.5 days."""
    return group("proportion", "proportion", "boolean", [
        population("initial-population", "Has Encounter", "ip"),
        population("denominator", "Has Encounter", "den"),
        population("denominator-exclusion", "Has Emergency Encounter", "denex"),
        population("numerator", "Has Long Encounter", "num")], stratifiers)


def continuous_group(method: str = "Median", method_as: str = "valueString", stratifiers=()) -> dict:
    """Encounter-based continuous variable: each finished encounter's length, emergencies excluded.
    The observation comes first and names the measure population by its id, not by position."""
    return group("continuous", "continuous-variable", "Encounter", [
        population("measure-observation", "Length", "obs-length", observes="9c1f-mp", method=method, method_as=method_as),
        population("initial-population", "Encounters", "9c1f-ip"),
        population("measure-population", "Encounters", "9c1f-mp"),
        population("measure-population-exclusion", "Emergency Encounters", "9c1f-mpex")], stratifiers)


def ratio_group(numerator_method: str = "Count", denominator_method: str = "Sum", observations_first: bool = False) -> dict:
    """Encounter-based ratio with an observation on each side, each naming its population by id."""
    observations = [population("measure-observation", "Length", "obs-num", observes="r-num", method=numerator_method),
                    population("measure-observation", "Length", "obs-den", observes="r-den", method=denominator_method)]
    criteria = [population("initial-population", "Encounters", "r-ip"),
                population("denominator", "Encounters", "r-den"),
                population("denominator-exclusion", "Emergency Encounters", "r-denex"),
                population("numerator", "Long Encounters", "r-num")]
    return group("ratio", "ratio", "Encounter", observations + criteria if observations_first else criteria + observations)


def cohort_group() -> dict:
    """Procedure-based cohort."""
    return group("cohort", "cohort", "Procedure", [population("initial-population", "Procedures", "c-ip")])

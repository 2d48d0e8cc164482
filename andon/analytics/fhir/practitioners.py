"""The practitioners of the FHIR store: each Practitioner resource with its name and NPI, and the
specialty and location of its PractitionerRole, for linking the medical staff's records to the
clinical data. Plain Python over a store connection (no Django).

A PractitionerRole names its practitioner by a literal reference ("Practitioner/<id>") or, as
Synthea writes it, by identifier (the NPI); both are matched."""

import json
from dataclasses import dataclass

NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"


@dataclass(frozen=True)
class StorePractitioner:
    id: str
    family: str
    given: str
    suffix: str  # "MD", "DO", … when the name carries one
    npi: str
    specialty: str
    # The role's location as the encounter views key it ("Location/<id>", or the conditional
    # reference "Location?identifier=<system>|<value>"), and its display name.
    location: str
    location_display: str
    role_id: str = ""  # the PractitionerRole read ("" when it has none)

    @property
    def name(self) -> str:
        return " ".join(part for part in (self.given, self.family) if part)


def _official_name(resource: dict) -> dict:
    names = resource.get("name") or [{}]
    return next((n for n in names if n.get("use") == "official"), names[0])


def _npi(identifiers) -> str:
    for identifier in identifiers or []:
        if identifier.get("system") == NPI_SYSTEM and identifier.get("value"):
            return str(identifier["value"]).strip()
    return ""


def _text(concepts) -> str:
    for concept in concepts or []:
        if concept.get("text"):
            return concept["text"]
        for coding in concept.get("coding") or []:
            if coding.get("display"):
                return coding["display"]
    return ""


def _location(role: dict) -> tuple[str, str]:
    for location in role.get("location") or []:
        if location.get("reference"):
            return location["reference"], location.get("display", "")
        identifier = location.get("identifier") or {}
        if identifier.get("value"):
            return f"Location?identifier={identifier.get('system', '')}|{identifier['value']}", location.get("display", "")
    return "", ""


def _roles(connection) -> tuple[dict, dict]:
    """The first PractitionerRole of each practitioner, by Practitioner id and by NPI."""
    by_id, by_npi = {}, {}
    rows = connection.execute("SELECT resource FROM resources WHERE type = 'PractitionerRole' ORDER BY id").fetchall()
    for (text,) in rows:
        role = json.loads(text)
        whom = role.get("practitioner") or {}
        reference = whom.get("reference") or ""
        if reference.startswith("Practitioner/"):
            by_id.setdefault(reference.split("/", 1)[1], role)
        npi = _npi([whom.get("identifier") or {}])
        if npi:
            by_npi.setdefault(npi, role)
    return by_id, by_npi


def practitioners(connection, *, search: str = "", exclude_ids=frozenset(), limit: int | None = None):
    """The store's practitioners, by family then given name: those whose name or NPI contains every
    word of `search` (any case), leaving out the ids in `exclude_ids`."""
    words = search.lower().split()
    by_id, by_npi = _roles(connection)
    found = []
    for resource_id, text in connection.execute(
            "SELECT id, resource FROM resources WHERE type = 'Practitioner' ORDER BY id").fetchall():
        if resource_id in exclude_ids:
            continue
        resource = json.loads(text)
        name, npi = _official_name(resource), _npi(resource.get("identifier"))
        family, given = name.get("family") or "", " ".join(name.get("given") or [])
        haystack = f"{given} {family} {npi}".lower()
        if not all(word in haystack for word in words):
            continue
        role = by_id.get(resource_id) or by_npi.get(npi) or {}
        location, display = _location(role)
        found.append(StorePractitioner(resource_id, family, given, " ".join(name.get("suffix") or []), npi,
                                       _text(role.get("specialty")), location, display, role.get("id", "")))
    found.sort(key=lambda p: (p.family.lower(), p.given.lower(), p.id))
    return found[:limit] if limit else found

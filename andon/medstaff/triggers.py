"""Peer review triggers: rules over the clinical views that find cases worth a peer's look (a
return to theatre, an unexpected death, a readmission within 72 hours), each a content file
content/peer-review-triggers/<key>.yaml holding ONE SELECT over the views, run as a measure's SQL
is (andon.analytics.kpi: one SELECT, the views only, no files, no network).

A rule returns `encounter_id`, `patient_id`, `practitioner_id` (the FHIR Practitioner as the
view gives it: "Practitioner/<id>", a bare id, or a conditional reference
"Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|<NPI>") and `occurred_at`. It may use the
parameters `$since` and `$until` (the days searched) and any it declares under `parameters`
(the threshold age of the unexpected death rule): the configurable part, edited in the file.

The daily sweep runs every rule over the last LOOKBACK_DAYS and refers each case found once
(the case's unique trigger_rule + encounter + practitioner); a case whose practitioner matches no
Practitioner record (by fhir_id, else NPI) is kept as a TriggerMiss for the office, not lost."""

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction

from andon.analytics import kpi
from andon.platform import audit, content, sweeps
from andon.platform.models import User

from .models import PeerReviewCase, PeerReviewSource, Practitioner, TriggerMiss

KIND = "peer-review-triggers"
LOOKBACK_DAYS = 7
REQUIRED_COLUMNS = ("encounter_id", "patient_id", "practitioner_id", "occurred_at")
KEY = re.compile(r"[a-z0-9][a-z0-9-]{0,59}")
PARAMETER = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
TRIGGER_ACCOUNT = "peer-review-triggers"
NPI_REFERENCE = "Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|"


class TriggerError(ValueError):
    """A rule that cannot be used or run: the message names the rule and what is wrong."""


@dataclass(frozen=True)
class Found:
    rule: str
    encounter_id: str
    patient_id: str
    practitioner_reference: str
    occurred_on: date | None


def _views() -> dict:
    return kpi.load_view_definitions(Path(settings.ANDON_CONTENT_DIR) / "views")


def check_rule(data, source: str) -> dict:
    """The rule of a content file, checked: TriggerError naming the file and the field."""
    if not isinstance(data, dict):
        raise TriggerError(f"{source}: a trigger rule is a mapping of key, version, title, description and sql")
    for field in ("key", "version", "title", "description", "sql"):
        if not isinstance(data.get(field), str | int) or not str(data.get(field)).strip():
            raise TriggerError(f"{source}: {field}: write the rule's {field}")
    unknown = set(data) - {"key", "version", "title", "description", "sql", "parameters"}
    if unknown:
        raise TriggerError(f"{source}: {', '.join(sorted(unknown))}: not a field of a trigger rule")
    if not KEY.fullmatch(str(data["key"])):
        raise TriggerError(f"{source}: key: {data['key']!r} is not lowercase letters, digits and hyphens")
    parameters = data.get("parameters") or {}
    if not isinstance(parameters, dict) or not all(
            isinstance(name, str) and name.isidentifier() and isinstance(value, int | float | str)
            and not isinstance(value, bool) for name, value in parameters.items()):
        raise TriggerError(f"{source}: parameters: a mapping of names to numbers or words")
    if {"since", "until"} & set(parameters):
        raise TriggerError(f"{source}: parameters: since and until are given by the sweep")
    try:
        # DuckDB names the tables of a statement only without its parameters: NULL stands in.
        kpi.referenced_views(PARAMETER.sub("NULL", data["sql"]), _views())
    except kpi.KpiError as error:
        raise TriggerError(f"{source}: sql: {error}") from None
    missing = set(PARAMETER.findall(data["sql"])) - set(parameters) - {"since", "until"}
    if missing:
        raise TriggerError(f"{source}: sql: ${', $'.join(sorted(missing))} is not a declared parameter")
    return {"key": str(data["key"]), "version": str(data["version"]), "title": str(data["title"]).strip(),
            "description": str(data["description"]).strip(), "sql": data["sql"], "parameters": parameters}


def load_rule_file(data, source: str) -> None:
    """The content loader of content/peer-review-triggers/ (`andon load-content`)."""
    try:
        rule = check_rule(data, source)
    except TriggerError as error:
        raise content.ContentError(str(error)) from None
    content.store_document(KIND, rule["key"], rule["version"], rule["title"], rule)


def current_rules() -> list[dict]:
    """The newest version of each rule loaded."""
    from andon.platform.models import ContentDocument

    keys = ContentDocument.objects.filter(kind=KIND).values_list("key", flat=True).distinct()
    return [content.current_document(KIND, key).document for key in sorted(set(keys))]


def open_workspace(rules: list[dict], store=None):
    """A workspace holding the views the rules read, loaded once from the FHIR store (the
    session's unless one is given): None when no clinical data is loaded."""
    from andon.measures import services as measures

    own = store is None
    store = measures.open_store() if own else store
    if store is None:
        return None
    try:
        return kpi.Workspace.for_sql(store, _views(), [PARAMETER.sub("NULL", rule["sql"]) for rule in rules])
    except kpi.KpiError as error:
        raise TriggerError(f"{', '.join(rule['key'] for rule in rules)}: {error}") from None
    finally:
        if own:
            store.close()


def run_rule(rule: dict, since: date, until: date, store=None, workspace=None) -> list[Found]:
    """The cases a rule finds from `since` to `until` (in `workspace`, else in one of its own):
    TriggerError naming the rule when its SQL fails or misses a column."""
    own = workspace is None
    workspace = open_workspace([rule], store) if own else workspace
    if workspace is None:
        return []
    values = {**rule.get("parameters", {}), "since": since, "until": until}
    used = set(PARAMETER.findall(rule["sql"]))
    try:
        result = workspace.connection.execute(rule["sql"], {name: values[name] for name in used})
        columns = [column[0] for column in result.description]
        missing = [name for name in REQUIRED_COLUMNS if name not in columns]
        if missing:
            raise TriggerError(f"{rule['key']}: the SQL returns no column {', '.join(missing)} "
                               f"(a rule returns {', '.join(REQUIRED_COLUMNS)})")
        rows = [dict(zip(columns, row, strict=True)) for row in result.fetchall()]
    except Exception as error:  # duckdb's errors: the rule's SQL, named by the rule
        if isinstance(error, TriggerError):
            raise
        raise TriggerError(f"{rule['key']}: the SQL fails: {str(error).strip().splitlines()[0]}") from None
    finally:
        if own:
            workspace.close()
    # The views give resource keys ("Encounter/12"); a case keeps the ids, as a safety event does.
    return [Found(rule["key"], _id(row["encounter_id"], "Encounter/"), _id(row["patient_id"], "Patient/"),
                  str(row["practitioner_id"] or ""), _day(row["occurred_at"]))
            for row in rows if row["encounter_id"] and row["practitioner_id"]]


def _id(value, prefix: str) -> str:
    return str(value or "").removeprefix(prefix)


def _day(value) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def practitioner_for(reference: str, organisation=None) -> Practitioner | None:
    """The Practitioner record a reference of the clinical data names: by the FHIR id, or by the
    NPI of a conditional reference (or a bare ten-digit value)."""
    found = Practitioner.objects.all() if organisation is None else Practitioner.objects.filter(
        organisation=organisation)
    reference = reference.strip()
    if reference.startswith(NPI_REFERENCE):
        npi = reference[len(NPI_REFERENCE):]
        return found.filter(npi=npi).first() if npi else None
    bare = reference.removeprefix("Practitioner/")
    return found.filter(fhir_id=bare).first() or (found.filter(npi=bare).first() if bare.isdigit() else None)


def _bare(reference: str) -> str:
    return reference.removeprefix("Practitioner/")[:64]


def refer_found(found: Found, referrer, today: date) -> str:
    """Refer one case found ("referred"), keep it for the office when the practitioner is not
    known ("missed"), or nothing when it was found before ("known")."""
    from .peer_review import refer_case

    practitioner = practitioner_for(found.practitioner_reference)
    if practitioner is None:
        _, made = TriggerMiss.objects.get_or_create(
            trigger_rule=found.rule, encounter_id=found.encounter_id[:64],
            practitioner_reference=found.practitioner_reference[:200],
            defaults={"patient_id": found.patient_id[:64], "occurred_on": found.occurred_on, "found_on": today})
        return "missed" if made else "known"
    if PeerReviewCase.objects.filter(trigger_rule=found.rule, encounter_id=found.encounter_id,
                                     practitioner=practitioner).exists():
        return "known"
    try:
        with transaction.atomic():
            refer_case(referrer, practitioner=practitioner, source=PeerReviewSource.TRIGGER, trigger_rule=found.rule,
                       encounter_id=found.encounter_id, patient_id=found.patient_id, occurred_on=found.occurred_on,
                       summary=f"Found by the trigger rule {found.rule} on encounter {found.encounter_id}"
                               f"{f' ({found.occurred_on})' if found.occurred_on else ''}.")
    except IntegrityError:  # another run referred it between the look and the insert
        return "known"
    return "referred"


def trigger_account():
    """Who refers what the rules find, as the audit trail and the case name it: an account of its
    own that cannot sign in (inactive, no password), made the first time a rule refers a case."""
    account, made = User.objects.get_or_create(username=TRIGGER_ACCOUNT, defaults={
        "is_active": False, "first_name": "Peer review", "last_name": "trigger rules"})
    if made:
        account.set_unusable_password()
        account.save(update_fields=["password"])
    return account


def run_triggers(today: date, *, days: int = LOOKBACK_DAYS, store=None) -> dict[str, int]:
    """Every rule over the last `days` days up to `today`: counts of cases referred, missed (no
    Practitioner record) and known already; a rule that fails is counted and the others run."""
    counts = {"referred": 0, "missed": 0, "known": 0, "failed rules": 0}
    rules = current_rules()
    try:  # the store is read once for every rule; a rule whose views are gone runs on its own
        shared = open_workspace(rules, store) if rules else None
    except TriggerError:
        shared = False
    if shared is None:
        return counts
    referrer = trigger_account()
    try:
        for rule in rules:
            try:
                found = run_rule(rule, today - timedelta(days=days), today, store=store, workspace=shared or None)
            except TriggerError:
                counts["failed rules"] += 1
                continue
            with audit.acting_as(referrer):
                for case in found:
                    counts[refer_found(case, referrer, today)] += 1
    finally:
        if shared:
            shared.close()
    return counts


def sweep(today: date) -> int:
    """The daily sweep: how many cases it referred or kept for the office."""
    counts = run_triggers(today)
    return counts["referred"] + counts["missed"]


def connect() -> None:
    content.register_loader(KIND, load_rule_file)
    sweeps.register_sweep("medstaff", "peer review triggers", sweep)

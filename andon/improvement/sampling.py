"""Clinical audits: the cohort, the random draw of the sample, cases entered by hand, and the start
of collection (auditors and the double-audit cases given out).

The draw is reproducible: a random 63-bit seed is stored on the audit with the cohort's size and
a fingerprint of its sorted references; the cases are `random.Random(seed).sample(cohort, n)`
over the cohort read in a stable order (sorted references) as it is on the day, without
replacement, and all of them when n ≥ N. `choose` makes the same draw again from the same
cohort and seed, and `check_draw` shows that a stored sample is that draw. Cases name patients:
reading them needs improvement.read_audit_cases and is recorded in the audit trail."""

import hashlib
import random
import secrets
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from andon.measures import services as measures
from andon.platform import audit, concurrency, permissions

from .audits import audit_is_planning, ceil_share, sample_working
from .models import Audit, AuditCase, AuditStage, CohortKind

__all__ = [
    "CohortCase", "add_case", "check_draw", "choose", "cohort_digest", "draw_sample", "parse_list", "read_cases",
    "read_cohort", "start_collection",
]

REFERENCE_MAX = 200
LIST_MAX = 100_000
SEED_BITS = 63


@dataclass(frozen=True)
class CohortCase:
    reference: str
    label: str = ""


# --- the cohort ---------------------------------------------------------------------------------

def parse_list(text) -> list[CohortCase]:
    """A pasted or uploaded list: one reference per line (blank lines skipped; a tab may separate a
    label the auditor sees). A reference repeated, too long or a list too long is refused with
    its line numbers, on `cohort`."""
    if not isinstance(text, str):
        raise ValidationError({"cohort": "Give the list as text, one reference a line."})
    lines = text.splitlines()
    if len(lines) > LIST_MAX:
        raise ValidationError({"cohort": f"The list has {len(lines):,} lines; a cohort takes at most {LIST_MAX:,}."})
    found, first_seen, problems = [], {}, []
    for number, line in enumerate(lines, 1):
        reference, _, label = line.partition("\t")
        reference, label = " ".join(reference.split()), " ".join(label.split())
        if not reference:
            continue
        if len(reference) > REFERENCE_MAX or len(label) > REFERENCE_MAX:
            problems.append(f"line {number} is longer than {REFERENCE_MAX} characters")
        elif reference in first_seen:
            problems.append(f"line {number} repeats {reference!r} of line {first_seen[reference]}")
        else:
            first_seen[reference] = number
            found.append(CohortCase(reference, label))
        if len(problems) >= 20:
            break
    if problems:
        raise ValidationError({"cohort": "The list is refused: " + "; ".join(problems) + "."})
    if not found:
        raise ValidationError({"cohort": "The list holds no reference: paste one a line."})
    return sorted(found, key=lambda case: case.reference)


def _unit_keys(found: Audit) -> list[str] | None:
    """The units whose cases belong to the audit's place (a unit and those below it, a facility's
    units); None for the whole organisation."""
    from andon.platform.models import Unit

    if found.unit_id:
        return [str(pk) for pk in Unit.objects.filter(path__startswith=found.unit.path).values_list("pk", flat=True)]
    if found.facility_id:
        return [str(pk) for pk in Unit.objects.filter(facility_id=found.facility_id).values_list("pk", flat=True)]
    return None


def read_cohort(found: Audit, text=None) -> list[CohortCase]:
    """The audit's cohort as it is now, sorted by reference: the list given (a list cohort), the
    encounters of the clinical view in the audit's period and place (view), or the denominator
    cases of the eCQM named in `cohort_source` over the period and place (ecqm)."""
    kind = found.cohort_kind
    if kind == CohortKind.LIST:
        return parse_list(text)
    if kind == CohortKind.MANUAL:
        raise ValidationError({"cohort": "This audit's cases are entered by hand: there is no cohort to draw from."})
    if kind == CohortKind.VIEW:
        rows = measures.encounters_in(found.period_start, found.period_end, _unit_keys(found))
        cases = [CohortCase(row["encounter_id"], f"Encounter of {row['at']}") for row in rows]
    else:
        try:
            rows = measures.population_cases(found.cohort_source, found.period_start, found.period_end,
                                             _unit_keys(found))
        except LookupError as problem:
            raise ValidationError({"cohort_source": f"{problem}: name an eCQM of the library."}) from None
        cases = [CohortCase(str(row["encounter_id"] or row["case_id"]), f"Patient {row['patient_id']}") for row in rows]
    unique = {case.reference: case for case in cases}
    return [unique[reference] for reference in sorted(unique)]


def cohort_digest(cohort: list[CohortCase]) -> str:
    """SHA-256 of the cohort's sorted references, one a line."""
    return hashlib.sha256("\n".join(sorted(case.reference for case in cohort)).encode()).hexdigest()


def choose(cohort: list[CohortCase], n: int, seed: int) -> list[CohortCase]:
    """The draw: n cases of the cohort (sorted by reference) without replacement, in the order
    drawn; every case (in drawn order) when n ≥ N."""
    ordered = sorted(cohort, key=lambda case: case.reference)
    return random.Random(seed).sample(ordered, min(n, len(ordered)))


def check_draw(found: Audit, cohort: list[CohortCase]) -> bool:
    """Whether the audit's drawn cases are the draw its seed makes from `cohort` (the same cohort
    as on the day: same fingerprint)."""
    if found.seed is None or cohort_digest(cohort) != found.cohort_digest:
        return False
    drawn = list(found.cases.filter(drawn=True).order_by("position").values_list("case_ref", flat=True))
    return drawn == [case.reference for case in choose(cohort, found.sample_size, found.seed)]


# --- the draw and the cases ---------------------------------------------------------------------

def _drawn_already(found: Audit) -> None:
    if found.drawn_at is not None:
        who = found.drawn_by.get_full_name() or found.drawn_by.username if found.drawn_by else "someone"
        raise ValidationError({"cohort": f"The sample of {found.reference} was drawn on "
                                         f"{timezone.localtime(found.drawn_at):%Y-%m-%d %H:%M} by {who}: "
                                         "a sample is drawn once."})


@audit.changes_by_user
@transaction.atomic
def draw_sample(user, found: Audit, *, text=None, seed: int | None = None) -> list[AuditCase]:
    """Draw the audit's sample from its cohort (for a list cohort, `text`): the sample size is
    worked again with the cohort's size (finite population correction); the seed (random unless
    given), the cohort's size and fingerprint and each drawn case with its place in the draw are
    stored. Drawing twice is refused."""
    permissions.check(user, "improvement.run_audit", found)
    concurrency.lock(found)
    audit_is_planning(found, "cohort")
    _drawn_already(found)
    if found.cases.exists():
        raise ValidationError({"cohort": "Cases were already entered by hand: a sample is drawn before any."})
    cohort = read_cohort(found, text)
    if not cohort:
        raise ValidationError({"cohort": f"The cohort is empty: no case from {found.period_start} to "
                                         f"{found.period_end} in the audit's place."})
    if seed is None:
        seed = secrets.randbits(SEED_BITS)
    elif isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2 ** SEED_BITS:
        raise ValidationError({"seed": f"A seed is a whole number from 0 to 2^{SEED_BITS} − 1."})
    n = sample_working(found.expected, found.margin, found.confidence, len(cohort)).n
    chosen = choose(cohort, n, seed)
    now = timezone.now()
    # One by one, not bulk_create: each drawn case enters the audit trail.
    cases = [AuditCase.objects.create(audit=found, case_ref=case.reference, label=case.label, position=position,
                                      drawn=True, added_by=user, added_at=now)
             for position, case in enumerate(chosen, 1)]
    found.seed, found.cohort_size, found.sample_size = seed, len(cohort), n
    found.cohort_digest, found.drawn_at, found.drawn_by = cohort_digest(cohort), now, user
    found.save()
    return cases


def _checked_reference(reference) -> str:
    text = " ".join(str(reference or "").split()) if isinstance(reference, str) else None
    if not text:
        raise ValidationError({"case_ref": "Give the case's reference (the encounter or record the auditor opens)."})
    if len(text) > REFERENCE_MAX:
        raise ValidationError({"case_ref": f"A reference is at most {REFERENCE_MAX} characters."})
    return text


@audit.changes_by_user
@transaction.atomic
def add_case(user, found: Audit, *, case_ref: str, label: str = "") -> AuditCase:
    """A case entered by hand, after the sample's: refused when it is already in the audit."""
    permissions.check(user, "improvement.run_audit", found)
    concurrency.lock(found)
    if found.stage not in (AuditStage.PLAN, AuditStage.COLLECT):
        raise ValidationError({"case_ref": f"{found.reference} no longer collects cases."})
    reference = _checked_reference(case_ref)
    label = " ".join(str(label or "").split())
    if len(label) > REFERENCE_MAX:
        raise ValidationError({"label": f"A label is at most {REFERENCE_MAX} characters."})
    there = found.cases.filter(case_ref=reference).first()
    if there is not None:
        raise ValidationError({"case_ref": f"Case {reference} is already case {there.position} of this audit."})
    position = (found.cases.aggregate(last=Max("position"))["last"] or 0) + 1
    case = AuditCase(audit=found, case_ref=reference, label=label, position=position, added_by=user)
    if found.stage == AuditStage.COLLECT:
        auditors = _auditors(found)
        case.auditor = auditors[(position - 1) % len(auditors)]
    case.save()
    return case


def read_cases(user, found: Audit, *, reason: str = "case list"):
    """The audit's cases in order (they name patients): improvement.read_audit_cases, and the
    reading is recorded in the audit trail."""
    permissions.check(user, "improvement.read_audit_cases", found)
    audit.record_read(found, actor=user, reason=f"{found.reference} {reason}")
    return found.cases.select_related("auditor", "second_auditor").order_by("position")


# --- collection ---------------------------------------------------------------------------------

def _auditors(found: Audit) -> list:
    return list(found.auditors.filter(is_active=True).order_by("pk"))


@audit.changes_by_user
@transaction.atomic
def start_collection(user, found: Audit) -> Audit:
    """Plan → collect: the sample must be there. Each case is given an auditor in turn; the
    double-audit share of the cases (rounded up, at least one when the share is over 0), chosen
    with the audit's seed, is given a second auditor, the next named auditor after the first."""
    permissions.check(user, "improvement.run_audit", found)
    concurrency.lock(found)
    audit_is_planning(found)
    cases = list(found.cases.order_by("position"))
    auditors = _auditors(found)
    errors: dict = {}
    if not cases:
        errors["cohort"] = "There is no sample yet: draw it or enter the cases first."
    if not auditors:
        errors["auditors"] = "Name at least one active auditor."
    doubles = ceil_share(found.double_share, len(cases))
    if doubles and len(auditors) < 2:
        errors["auditors"] = (f"{doubles} case{'s are' if doubles != 1 else ' is'} to be audited twice, which needs a "
                              "second auditor: name another auditor, or set the double-audit share to 0 %.")
    if not found.tool.criteria.filter(active=True).exists():
        errors["tool"] = f"{found.tool.reference} has no active criteria."
    if errors:
        raise ValidationError(errors)
    if found.seed is None:  # cases entered by hand: the double-audit cases still come from a kept seed
        found.seed = secrets.randbits(SEED_BITS)
    for index, case in enumerate(cases):
        case.auditor = auditors[index % len(auditors)]
    for case in random.Random(found.seed).sample(cases, doubles):
        case.second_auditor = auditors[(auditors.index(case.auditor) + 1) % len(auditors)]
    for case in cases:
        case.save()  # one by one: each assignment goes into the audit trail
    found.stage, found.collect_from = AuditStage.COLLECT, timezone.localdate()
    found.save()
    return found

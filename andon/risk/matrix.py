"""Risk: the organisation's matrix. Read it with `matrix_of(organisation)`; change it with
`change_matrix`, which keeps the revision and re-bands every risk of the organisation, writing a
ScoreRecord for each risk whose band moved (so its history says when and why)."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from andon.platform import audit, permissions
from andon.platform.concurrency import lock

from .models import MatrixRevision, Risk, RiskMatrix, ScoreReason, ScoreRecord
from .scoring import Matrix, ScoringError

__all__ = ["change_matrix", "matrix_of", "matrix_row", "record_scores", "scored", "scoring_error"]

SCORES = ("inherent", "current", "target")
_REBAND_BATCH = 2000


def matrix_row(organisation) -> RiskMatrix:
    """The organisation's matrix row, made with the NPSA default the first time it is asked for."""
    row = RiskMatrix.objects.filter(organisation=organisation).first()
    if row is None:
        with transaction.atomic():
            row, created = RiskMatrix.objects.get_or_create(organisation=organisation,
                                                            defaults={"config": Matrix().to_config()})
            if created:
                MatrixRevision.objects.create(matrix=row, number=1, config=row.config, reason="The NPSA 5×5 default")
    return row


def matrix_of(organisation) -> Matrix:
    return Matrix.from_config(matrix_row(organisation).config)


def scoring_error(error: ScoringError) -> ValidationError:
    return ValidationError({error.field: error.message})


def scored(matrix: Matrix, scores: dict) -> dict:
    """The model fields of the three scores (consequence, likelihood, score, band) from
    {"inherent": (c, l), "current": (c, l), "target": (c, l)}, checked against the matrix;
    a ValidationError names each score at fault."""
    errors, fields = {}, {}
    for name in SCORES:
        pair = scores.get(name)
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            errors[f"{name}_consequence"] = f"Give the {name} score as a consequence and a likelihood."
            continue
        try:
            product = matrix.score(pair[0], pair[1], name)
        except ScoringError as error:
            errors[error.field] = error.message
            continue
        fields.update({f"{name}_consequence": int(pair[0]), f"{name}_likelihood": int(pair[1]),
                       f"{name}_score": product, f"{name}_band": matrix.band(product).name})
    if not errors:
        _check_order(fields, errors)
    if errors:
        raise ValidationError(errors)
    return fields


def _check_order(fields: dict, errors: dict) -> None:
    # Controls lower a risk and the target is what the actions aim at: neither may be above the
    # score before it (a target above the current score would be a plan to make things worse).
    if fields["current_score"] > fields["inherent_score"]:
        errors["current_consequence"] = (f"The current score ({fields['current_score']}) is above the inherent score "
                                         f"({fields['inherent_score']}): controls do not raise a risk.")
    if fields["target_score"] > fields["current_score"]:
        errors["target_consequence"] = (f"The target score ({fields['target_score']}) is above the current score "
                                        f"({fields['current_score']}).")


@audit.changes_by_user
@transaction.atomic
def change_matrix(user, organisation, config: dict, reason: str, ver: int | None = None) -> MatrixRevision:
    """A new revision of the matrix (risk.configure over the organisation). Scales may not shrink
    below a score already given; every risk is re-banded, and those whose band moved get a
    ScoreRecord of the re-banding."""
    permissions.check(user, "risk.configure", organisation)
    row = lock(matrix_row(organisation), ver)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the matrix changes: it re-bands every risk."})
    try:
        matrix = Matrix.from_config(config)
    except ScoringError as error:
        raise scoring_error(error) from None
    _check_scores_fit(organisation, matrix)
    row.config, row.revision = matrix.to_config(), row.revision + 1
    row.updated_by, row.updated_at = user, timezone.now()
    row.save()
    moved = reband(organisation, matrix, row.revision, user)
    return MatrixRevision.objects.create(matrix=row, number=row.revision, config=row.config, reason=reason[:2000],
                                         changed_by=user, rebanded=moved)


def _check_scores_fit(organisation, matrix: Matrix) -> None:
    consequences, likelihoods = matrix.size
    risks = Risk.objects.filter(organisation=organisation)
    for name in SCORES:
        over = risks.filter(**{f"{name}_consequence__gt": consequences}).count()
        if over:
            raise ValidationError({"consequences": f"{over} risk{'s are' if over != 1 else ' is'} scored above "
                                                   f"consequence {consequences} ({name}); re-score them first."})
        over = risks.filter(**{f"{name}_likelihood__gt": likelihoods}).count()
        if over:
            raise ValidationError({"likelihoods": f"{over} risk{'s are' if over != 1 else ' is'} scored above "
                                                  f"likelihood {likelihoods} ({name}); re-score them first."})


def reband(organisation, matrix: Matrix, revision: int, user) -> int:
    """Give every risk of the organisation the bands of `matrix`; returns how many moved. Written
    in batches (a register holds tens of thousands of risks); each moved risk's ScoreRecord is
    its history of the change."""
    moved = 0
    fields = [f"{name}_band" for name in SCORES]
    now = timezone.now()
    risks = Risk.objects.filter(organisation=organisation).order_by("pk")
    for start in range(0, risks.count(), _REBAND_BATCH):
        changed = [risk for risk in risks[start:start + _REBAND_BATCH] if _rebanded(risk, matrix)]
        Risk.objects.bulk_update(changed, fields)
        ScoreRecord.objects.bulk_create(
            [record_scores(risk, ScoreReason.REBANDED, revision, user, at=now) for risk in changed])
        moved += len(changed)
    return moved


def _rebanded(risk: Risk, matrix: Matrix) -> bool:
    changed = False
    for name in SCORES:
        band = matrix.band(getattr(risk, f"{name}_score")).name
        if getattr(risk, f"{name}_band") != band:
            setattr(risk, f"{name}_band", band)
            changed = True
    return changed


def record_scores(risk: Risk, reason: str, revision: int, user, note: str = "", at=None) -> ScoreRecord:
    values = {f"{name}_{part}": getattr(risk, f"{name}_{part}")
              for name in SCORES for part in ("consequence", "likelihood", "score", "band")}
    return ScoreRecord(risk=risk, reason=reason, matrix_revision=revision, by=user, note=note,
                       at=at or timezone.now(), **values)



"""Risk and FMEA scoring as plain Python (no database): the risk matrix and its bands, the
escalation tolerances, the FMEA's RPN with its action thresholds, the AIAG-VDA Action Priority
lookup and the VA HFMEA hazard score with its decision tree. DOMAIN.md sections 4, 5 and 10.

Every table here is configuration an organisation may change (the NPSA 5×5 and its bands are
the default, not a standard: trusts adapt them), so each is checked when it is set, with a
message that names the entry at fault, and the services store what was in force with each score.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# --- the risk matrix ----------------------------------------------------------------------------

# Escalation levels, lowest first. A risk is managed at one level; the board assurance framework
# (BAF) holds the strategic risks the board itself watches.
LEVELS = ("unit", "department", "facility", "board")
LEVEL_LABELS = {"unit": "Unit", "department": "Department", "facility": "Facility",
                "board": "Board assurance framework"}

NPSA_CONSEQUENCES = (
    {"value": 1, "label": "Negligible",
     "descriptor": "Minimal injury needing no or minimal intervention; no time off work."},
    {"value": 2, "label": "Minor",
     "descriptor": "Minor injury or illness needing minor intervention; under 3 days off work."},
    {"value": 3, "label": "Moderate",
     "descriptor": "Moderate injury needing professional intervention; an extra stay of 4 to 15 days."},
    {"value": 4, "label": "Major",
     "descriptor": "Major injury leading to long-term incapacity or disability; an extra stay over 15 days."},
    {"value": 5, "label": "Catastrophic",
     "descriptor": "Incident leading to death, or multiple permanent injuries or irreversible effects."},
)
NPSA_LIKELIHOODS = (
    {"value": 1, "label": "Rare", "descriptor": "Not expected to occur for years; may happen only in exceptional circumstances."},
    {"value": 2, "label": "Unlikely", "descriptor": "Expected to occur at least annually; could happen at some time."},
    {"value": 3, "label": "Possible", "descriptor": "Expected to occur at least monthly; might happen occasionally."},
    {"value": 4, "label": "Likely", "descriptor": "Expected to occur at least weekly; will probably happen."},
    {"value": 5, "label": "Almost certain", "descriptor": "Expected to occur at least daily; will undoubtedly happen."},
)
NPSA_BANDS = (
    {"name": "Low", "low": 1, "high": 3, "colour": "#2e7d32"},
    {"name": "Moderate", "low": 4, "high": 6, "colour": "#f9a825"},
    {"name": "High", "low": 8, "high": 12, "colour": "#ef6c00"},
    {"name": "Extreme", "low": 15, "high": 25, "colour": "#c62828"},
)
# ⚠︎ The highest current score each level keeps before it asks to be escalated: an organisation's
# risk appetite, not a standard (DOMAIN.md §5 names the levels only). Board: no ceiling.
DEFAULT_TOLERANCES = {"unit": 6, "department": 12, "facility": 20}


class ScoringError(ValueError):
    """A score or a table that cannot be used; `field` names where (for forms, the API and
    importers), the message says what and why."""

    def __init__(self, field_name: str, message: str):
        super().__init__(message)
        self.field = field_name
        self.message = message


@dataclass(frozen=True)
class Band:
    name: str
    low: int
    high: int
    colour: str = "#757575"


@dataclass(frozen=True)
class Matrix:
    """Consequence × likelihood, each scored 1..n, with named bands over the products and the
    tolerance of each escalation level."""

    consequences: tuple[dict, ...] = NPSA_CONSEQUENCES
    likelihoods: tuple[dict, ...] = NPSA_LIKELIHOODS
    bands: tuple[Band, ...] = tuple(Band(**band) for band in NPSA_BANDS)
    tolerances: dict = field(default_factory=lambda: dict(DEFAULT_TOLERANCES))

    @classmethod
    def from_config(cls, config: dict) -> "Matrix":
        """A matrix from stored or submitted configuration, checked (ScoringError names the entry)."""
        unknown = set(config) - {"consequences", "likelihoods", "bands", "tolerances"}
        if unknown:
            raise ScoringError(sorted(unknown)[0], f"'{sorted(unknown)[0]}' is not part of a risk matrix "
                                                    "(consequences, likelihoods, bands, tolerances).")
        consequences = _levels(config.get("consequences", NPSA_CONSEQUENCES), "consequences")
        likelihoods = _levels(config.get("likelihoods", NPSA_LIKELIHOODS), "likelihoods")
        bands = _bands(config.get("bands", NPSA_BANDS))
        matrix = cls(consequences, likelihoods, bands, _tolerances(config.get("tolerances", DEFAULT_TOLERANCES)))
        matrix.check_covers_every_product()
        return matrix

    def to_config(self) -> dict:
        return {"consequences": [dict(level) for level in self.consequences],
                "likelihoods": [dict(level) for level in self.likelihoods],
                "bands": [{"name": b.name, "low": b.low, "high": b.high, "colour": b.colour} for b in self.bands],
                "tolerances": dict(self.tolerances)}

    @property
    def size(self) -> tuple[int, int]:
        return len(self.consequences), len(self.likelihoods)

    def products(self) -> list[int]:
        return sorted({c * lk for c in range(1, len(self.consequences) + 1)
                       for lk in range(1, len(self.likelihoods) + 1)})

    def check_covers_every_product(self) -> None:
        for product in self.products():
            if self.band_or_none(product) is None:
                raise ScoringError("bands", f"No band covers a score of {product}: every product of "
                                            f"consequence and likelihood needs one.")
        top = max(self.products())
        for band in self.bands:
            if band.low > top:
                raise ScoringError("bands", f"Band {band.name} starts at {band.low}, above the highest score "
                                            f"the matrix can give ({top}).")

    def score(self, consequence, likelihood, what: str = "score") -> int:
        """consequence × likelihood, both checked against the matrix's scales."""
        c = _level_value(consequence, len(self.consequences), f"{what}_consequence", "Consequence")
        lk = _level_value(likelihood, len(self.likelihoods), f"{what}_likelihood", "Likelihood")
        return c * lk

    def band_or_none(self, score: int) -> Band | None:
        for band in self.bands:
            if band.low <= score <= band.high:
                return band
        return None

    def band(self, score: int) -> Band:
        found = self.band_or_none(score)
        if found is None:
            raise ScoringError("score", f"No band covers a score of {score}.")
        return found

    def band_named(self, name: str) -> Band:
        for band in self.bands:
            if band.name.casefold() == str(name).strip().casefold():
                return band
        raise ScoringError("band", f"'{name}' is not a band of this matrix (bands: "
                                   f"{', '.join(b.name for b in self.bands)}).")

    def scores_in_band(self, name: str) -> list[int]:
        band = self.band_named(name)
        return [product for product in self.products() if band.low <= product <= band.high]

    def consequence_label(self, value: int) -> str:
        return self.consequences[value - 1]["label"]

    def likelihood_label(self, value: int) -> str:
        return self.likelihoods[value - 1]["label"]

    def tolerance(self, level: str) -> int | None:
        """The highest current score a level keeps; None: no ceiling (the board)."""
        if level not in LEVELS:
            raise ScoringError("level", f"'{level}' is not an escalation level ({', '.join(LEVELS)}).")
        return self.tolerances.get(level)

    def asks_escalation(self, level: str, current_score: int) -> bool:
        """A risk whose current score is above its level's tolerance asks to go up a level."""
        ceiling = self.tolerance(level)
        return ceiling is not None and current_score > ceiling

    def lowest_level_for(self, current_score: int) -> str:
        """The lowest level whose tolerance holds the score (where a risk belongs)."""
        for level in LEVELS:
            if not self.asks_escalation(level, current_score):
                return level
        return LEVELS[-1]


def _levels(levels, name: str) -> tuple[dict, ...]:
    if not isinstance(levels, (list, tuple)) or not 2 <= len(levels) <= 10:
        raise ScoringError(name, f"{name.capitalize()} must be a list of 2 to 10 levels.")
    checked = []
    for index, level in enumerate(levels, start=1):
        where = f"{name}[{index}]"
        if not isinstance(level, dict):
            raise ScoringError(where, f"{where} must have a label and may have a descriptor.")
        unknown = set(level) - {"value", "label", "descriptor"}
        if unknown:
            raise ScoringError(where, f"{where}: '{sorted(unknown)[0]}' is not a field of a level "
                                      "(value, label, descriptor).")
        if level.get("value", index) != index:
            raise ScoringError(where, f"{where} has the value {level.get('value')!r}; levels are numbered "
                                      f"1 to {len(levels)} in order.")
        label = str(level.get("label", "")).strip()
        if not label or len(label) > 40:
            raise ScoringError(where, f"{where} needs a label of 1 to 40 characters.")
        descriptor = str(level.get("descriptor", "")).strip()
        if len(descriptor) > 500:
            raise ScoringError(where, f"{where}'s descriptor is longer than 500 characters.")
        checked.append({"value": index, "label": label, "descriptor": descriptor})
    return tuple(checked)


def _bands(bands) -> tuple[Band, ...]:
    if not isinstance(bands, (list, tuple)) or not bands:
        raise ScoringError("bands", "A matrix needs at least one band.")
    checked = []
    for index, band in enumerate(bands, start=1):
        where = f"bands[{index}]"
        if not isinstance(band, dict) or set(band) - {"name", "low", "high", "colour"}:
            raise ScoringError(where, f"{where} must have a name, low, high and may have a colour.")
        name = str(band.get("name", "")).strip()
        low, high = band.get("low"), band.get("high")
        if not name or len(name) > 30:
            raise ScoringError(where, f"{where} needs a name of 1 to 30 characters.")
        if not all(isinstance(x, int) and not isinstance(x, bool) for x in (low, high)) or not 1 <= low <= high:
            raise ScoringError(where, f"Band {name}: low and high must be whole numbers with 1 ≤ low ≤ high.")
        colour = str(band.get("colour", "#757575"))
        if len(colour) != 7 or colour[0] != "#" or any(ch not in "0123456789abcdefABCDEF" for ch in colour[1:]):
            raise ScoringError(where, f"Band {name}: colour must be written like #c62828.")
        checked.append(Band(name, low, high, colour))
    checked.sort(key=lambda b: b.low)
    for before, after in zip(checked, checked[1:]):
        if after.low <= before.high:
            raise ScoringError("bands", f"Bands {before.name} ({before.low}–{before.high}) and {after.name} "
                                        f"({after.low}–{after.high}) overlap.")
    names = [b.name.casefold() for b in checked]
    if len(set(names)) != len(names):
        raise ScoringError("bands", "Two bands have the same name.")
    return tuple(checked)


def _tolerances(tolerances) -> dict:
    if not isinstance(tolerances, dict):
        raise ScoringError("tolerances", "Tolerances map a level (unit, department, facility) to a score.")
    checked = {}
    for level, ceiling in tolerances.items():
        if level not in LEVELS[:-1]:
            raise ScoringError("tolerances", f"'{level}' has no tolerance to set (levels: {', '.join(LEVELS[:-1])}; "
                                             "the board has no ceiling).")
        if ceiling is None:
            continue
        if not isinstance(ceiling, int) or isinstance(ceiling, bool) or ceiling < 1:
            raise ScoringError("tolerances", f"The {level} tolerance must be a whole score of 1 or more.")
        checked[level] = ceiling
    ordered = [checked[level] for level in LEVELS[:-1] if level in checked]
    if ordered != sorted(ordered):
        raise ScoringError("tolerances", "A higher level must tolerate at least what the level below it does.")
    return checked


def _level_value(value, top: int, field_name: str, label: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            value = int(str(value).strip())
        except (TypeError, ValueError):
            raise ScoringError(field_name, f"{label} must be a whole number from 1 to {top}, not {value!r}.") from None
    if not 1 <= value <= top:
        raise ScoringError(field_name, f"{label} {value} is out of range: the scale runs from 1 to {top}.")
    return value


# --- FMEA: RPN, thresholds and Action Priority ----------------------------------------------------

FMEA_SCALE = 10
# ⚠︎ Organisation-defined (DOMAIN.md §4.1): RPN ≥ 100, or any severity ≥ 9 whatever the RPN.
DEFAULT_RPN_THRESHOLD = 100
DEFAULT_SEVERITY_OVERRIDE = 9
PRIORITIES = ("H", "M", "L")
PRIORITY_LABELS = {"H": "High", "M": "Medium", "L": "Low"}


def fmea_value(value, field_name: str, label: str) -> int:
    return _level_value(value, FMEA_SCALE, field_name, label)


def rpn(severity, occurrence, detection) -> int:
    """Risk priority number S × O × D, each 1–10 (detection scored inversely: 10 = unlikely caught)."""
    return (fmea_value(severity, "severity", "Severity") * fmea_value(occurrence, "occurrence", "Occurrence")
            * fmea_value(detection, "detection", "Detection"))


@dataclass(frozen=True)
class Thresholds:
    """When an FMEA row is acted on. Either test may be switched off (None), not both."""

    rpn: int | None = DEFAULT_RPN_THRESHOLD
    severity: int | None = DEFAULT_SEVERITY_OVERRIDE

    def __post_init__(self):
        if self.rpn is None and self.severity is None:
            raise ScoringError("thresholds", "Set an RPN threshold, a severity override, or both.")
        if self.rpn is not None and not 1 <= self.rpn <= FMEA_SCALE ** 3:
            raise ScoringError("rpn_threshold", f"The RPN threshold must be from 1 to {FMEA_SCALE ** 3}.")
        if self.severity is not None and not 1 <= self.severity <= FMEA_SCALE:
            raise ScoringError("severity_threshold", f"The severity override must be from 1 to {FMEA_SCALE}.")

    def reasons(self, severity: int, occurrence: int, detection: int) -> list[str]:
        """Why a row is acted on, in words; empty when it is not."""
        found = []
        value = rpn(severity, occurrence, detection)
        if self.rpn is not None and value >= self.rpn:
            found.append(f"RPN {value} ≥ {self.rpn}")
        if self.severity is not None and severity >= self.severity:
            found.append(f"severity {severity} ≥ {self.severity}, whatever the RPN")
        return found


@dataclass(frozen=True)
class PriorityRule:
    """One row of an Action Priority table: inclusive S, O and D ranges and the priority."""

    severity: tuple[int, int]
    occurrence: tuple[int, int]
    detection: tuple[int, int]
    priority: str


def action_priority_table(rows) -> tuple[PriorityRule, ...]:
    """An organisation's AIAG-VDA Action Priority table (filled from its licensed handbook:
    DOMAIN.md §10), checked so that every S, O, D combination has exactly one priority."""
    if not isinstance(rows, (list, tuple)) or not rows:
        raise ScoringError("action_priority", "The Action Priority table is empty.")
    rules = []
    for index, row in enumerate(rows, start=1):
        where = f"action_priority[{index}]"
        if not isinstance(row, dict) or set(row) != {"severity", "occurrence", "detection", "priority"}:
            raise ScoringError(where, f"{where} needs severity, occurrence and detection ranges and a priority.")
        ranges = []
        for key in ("severity", "occurrence", "detection"):
            span = row[key]
            if (not isinstance(span, (list, tuple)) or len(span) != 2
                    or not all(isinstance(x, int) and not isinstance(x, bool) and 1 <= x <= FMEA_SCALE for x in span)
                    or span[0] > span[1]):
                raise ScoringError(where, f"{where}: {key} must be a range [low, high] within 1–{FMEA_SCALE}.")
            ranges.append((span[0], span[1]))
        if row["priority"] not in PRIORITIES:
            raise ScoringError(where, f"{where}: priority must be H, M or L, not {row['priority']!r}.")
        rules.append(PriorityRule(*ranges, row["priority"]))
    _check_every_combination_once(rules)
    return tuple(rules)


def _check_every_combination_once(rules) -> None:
    for s in range(1, FMEA_SCALE + 1):
        for o in range(1, FMEA_SCALE + 1):
            for d in range(1, FMEA_SCALE + 1):
                hits = [r for r in rules if _within(s, r.severity) and _within(o, r.occurrence)
                        and _within(d, r.detection)]
                if len(hits) != 1:
                    problem = "no row covers" if not hits else f"{len(hits)} rows cover"
                    raise ScoringError("action_priority", f"The Action Priority table: {problem} "
                                                          f"S={s}, O={o}, D={d}; each combination needs exactly one.")


def _within(value: int, span: tuple[int, int]) -> bool:
    return span[0] <= value <= span[1]


def action_priority(rules, severity, occurrence, detection) -> str:
    s = fmea_value(severity, "severity", "Severity")
    o = fmea_value(occurrence, "occurrence", "Occurrence")
    d = fmea_value(detection, "detection", "Detection")
    for rule in rules:
        if _within(s, rule.severity) and _within(o, rule.occurrence) and _within(d, rule.detection):
            return rule.priority
    raise ScoringError("action_priority", f"The Action Priority table has no row for S={s}, O={o}, D={d}.")


# --- HFMEA: hazard score and decision tree ---------------------------------------------------------

HFMEA_SEVERITIES = {4: "Catastrophic", 3: "Major", 2: "Moderate", 1: "Minor"}
HFMEA_PROBABILITIES = {4: "Frequent", 3: "Occasional", 2: "Uncommon", 1: "Remote"}
HAZARD_SCORE_THRESHOLD = 8


def hazard_score(severity, probability) -> int:
    """Severity (1–4) × probability (1–4), the VA's hazard scoring matrix."""
    return (_level_value(severity, 4, "hazard_severity", "Severity")
            * _level_value(probability, 4, "hazard_probability", "Probability"))


@dataclass(frozen=True)
class TreeAnswer:
    """The decision tree run for one failure mode or cause: each question asked with its answer,
    in order, and the outcome."""

    questions: tuple[tuple[str, bool], ...]
    proceed: bool

    @property
    def outcome(self) -> str:
        return "Proceed" if self.proceed else "Stop"


Q1 = "Is the hazard score 8 or more?"
Q1A = "Is it a single-point weakness (its failure alone causes the system to fail or an adverse event)?"
Q2 = "Does an effective control measure already exist for this hazard?"
Q3 = "Is the hazard so obvious and readily detectable that a control measure is not needed?"


def decision_tree(score: int, single_point_weakness: bool | None, effective_control: bool | None,
                  obvious: bool | None) -> TreeAnswer:
    """The VA HFMEA decision tree (DOMAIN.md §4.2). Questions the path does not reach may be
    None; a question it reaches must be answered (ScoringError names it)."""
    asked = [(Q1, score >= HAZARD_SCORE_THRESHOLD)]
    # The criticality question is asked on both branches; only "score < 8 and not critical" stops there.
    asked.append((Q1A, _answered(single_point_weakness, "single_point_weakness", Q1A)))
    if not asked[0][1] and not asked[1][1]:
        return TreeAnswer(tuple(asked), proceed=False)
    asked.append((Q2, _answered(effective_control, "effective_control", Q2)))
    if asked[-1][1]:
        return TreeAnswer(tuple(asked), proceed=False)
    asked.append((Q3, _answered(obvious, "obvious", Q3)))
    return TreeAnswer(tuple(asked), proceed=not asked[-1][1])


def _answered(answer, field_name: str, question: str) -> bool:
    if not isinstance(answer, bool):
        raise ScoringError(field_name, f"Answer yes or no: {question}")
    return answer

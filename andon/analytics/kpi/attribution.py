"""Attribution: the ONE practitioner responsible for a measure's case (OPPE, DOMAIN.md §8).

The rule, in order:
1. the measure's own `practitioner_id` column, when its SQL gives one (a procedure measure
   gives the procedure's primary performer: the procedure view's `performer_reference`);
2. else the case's encounter's attending (participant type ATND): of several, the one whose
   participant period covers the encounter's end — the discharging attending, who signs the
   discharge and answers for the stay's outcome (its length, its readmission, its death) — else
   the last one (latest period start, then the later one listed);
3. else its primary performer (PPRF, what Synthea writes for every encounter), by the same rule;
4. else nobody: the case is counted as unattributed (`UNATTRIBUTED`), never dropped, so that a
   department's total equals the sum of its practitioners' and the unattributed.

A practitioner is keyed by the FHIR Practitioner resource's id. A literal reference
(`Practitioner/123`) gives it. A conditional reference by identifier (Synthea:
`Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|9999974493`) or a logical
Reference.identifier is resolved through the store's Practitioner resources by their NPI; when no
resource has that NPI the key is `npi:<value>` (another identifier: `<system>|<value>`), so that
the case keeps its practitioner even before the Practitioner resources are loaded.
"""

from __future__ import annotations

NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"
VIEWS = ("encounter", "encounter_participant", "practitioner")
UNATTRIBUTED = "(unattributed)"  # parentheses: never a FHIR id (A-Z a-z 0-9 - .)
ROLES = ("ATND", "PPRF")  # in the order they are looked for

_CONDITIONAL = r"^(?:.*/)?Practitioner\?identifier=([^|]*)(?:\||%7C|%7c)(.+)$"
_LITERAL = r"^(?:.*/)?Practitioner/([A-Za-z0-9.\-]+)(?:/_history/.*)?$"


def conditional(system_sql: str, value_sql: str) -> str:
    """A logical reference's identifier written as the conditional reference it stands for."""
    return f"CASE WHEN nullif({value_sql}, '') IS NOT NULL THEN 'Practitioner?identifier=' || coalesce({system_sql}, '') || '|' || {value_sql} END"


def key_sql(reference: str, ids_alias: str) -> str:
    """The practitioner key of a reference expression, `ids_alias` being the practitioner_ids
    row joined on the reference's identifier (`ids_join`)."""
    return f"""CASE
        WHEN nullif(trim({reference}), '') IS NULL THEN NULL
        WHEN regexp_full_match({reference}, '{_LITERAL}') THEN regexp_extract({reference}, '{_LITERAL}', 1)
        WHEN regexp_full_match({reference}, '{_CONDITIONAL}') THEN coalesce({ids_alias}.id,
            CASE WHEN regexp_extract({reference}, '{_CONDITIONAL}', 1) = '{NPI_SYSTEM}'
                 THEN 'npi:' || regexp_extract({reference}, '{_CONDITIONAL}', 2)
                 ELSE regexp_extract({reference}, '{_CONDITIONAL}', 1) || '|' || regexp_extract({reference}, '{_CONDITIONAL}', 2) END)
        ELSE {reference} END"""


def ids_join(reference: str, ids_alias: str) -> str:
    """The LEFT JOIN of practitioner_ids on a conditional reference's NPI."""
    return (f"LEFT JOIN practitioner_ids {ids_alias} ON regexp_full_match({reference}, '{_CONDITIONAL}') "
            f"AND regexp_extract({reference}, '{_CONDITIONAL}', 1) = '{NPI_SYSTEM}' "
            f"AND {ids_alias}.npi = regexp_extract({reference}, '{_CONDITIONAL}', 2)")


# practitioner_ids: each NPI's Practitioner id (the first by id should a store hold two).
PRACTITIONER_IDS = f"""
    SELECT npi, min(regexp_extract(id, '{_LITERAL}', 1)) AS id FROM practitioner
    WHERE nullif(npi, '') IS NOT NULL GROUP BY npi"""


def encounter_attribution_sql() -> str:
    """encounter_attribution(encounter_id, practitioner_key, role_code): each encounter's
    responsible practitioner by the rule above (encounters with nobody have no row)."""
    reference = f"coalesce(nullif(p.practitioner_reference, ''), {conditional('p.identifier_system', 'p.identifier_value')})"
    roles = ", ".join(f"'{role}'" for role in ROLES)
    order = " ".join(f"WHEN '{role}' THEN {rank}" for rank, role in enumerate(ROLES))
    return f"""
    WITH parts AS (
        SELECT p.encounter_id, p.role_code, p.participant_index,
               TRY_CAST(p.period_start AS TIMESTAMPTZ) AS starts, TRY_CAST(p.period_end AS TIMESTAMPTZ) AS ends,
               {key_sql(reference, 'ids')} AS practitioner_key
        FROM encounter_participant p {ids_join(reference, 'ids')}
        WHERE p.role_code IN ({roles})
    ), ranked AS (
        SELECT parts.encounter_id, parts.practitioner_key, parts.role_code,
               row_number() OVER (PARTITION BY parts.encounter_id ORDER BY
                   CASE parts.role_code {order} END,
                   coalesce(parts.starts <= e.ends AND (parts.ends IS NULL OR parts.ends >= e.ends), false) DESC,
                   parts.starts DESC NULLS LAST, parts.participant_index DESC) AS position
        FROM parts
        LEFT JOIN (SELECT id, TRY_CAST(period_end AS TIMESTAMPTZ) AS ends FROM encounter) e ON e.id = parts.encounter_id
        WHERE parts.practitioner_key IS NOT NULL
    )
    SELECT encounter_id, practitioner_key, role_code FROM ranked WHERE position = 1"""


def prepare(workspace) -> None:
    """Make the attribution tables (practitioner_ids, encounter_attribution) in a workspace holding VIEWS."""
    workspace.create_table("practitioner_ids", PRACTITIONER_IDS)
    workspace.create_table("encounter_attribution", encounter_attribution_sql())


def case_key_sql(own: str, ids_alias: str, attributed_alias: str) -> str:
    """A case's practitioner: its own column's key, else its encounter's, else UNATTRIBUTED."""
    return f"coalesce({key_sql(own, ids_alias)}, {attributed_alias}.practitioner_key, '{UNATTRIBUTED}')"

"""Full-text search of policies: titles, codes and the text of each policy's current version (the
published one, else the latest draft).

One function, `search_policies(user, text, limit)`, hides the two engines:

- PostgreSQL: a stored, weighted tsvector column `search_vector` (code and title A, text D)
  under a GIN index (migration `policies_search`; not a model field: the database computes it
  from `search_text`), matched with `plainto_tsquery`, ranked with `ts_rank_cd` and shown with
  `ts_headline` for the page of hits only.
- SQLite (the default install): an FTS5 table `compliance_policy_fts` (rowid = the policy's id),
  ranked by `bm25` with `snippet`.

What the person typed is never passed as query syntax: it is cut into words and each word is
quoted (FTS5) or handed to `plainto_tsquery` (which reads any text as plain words), so `"`,
`NEAR(`, `*` or `OR` are plain words. The index is kept by the services (`index_policy`), in the
same transaction as the change it follows; only policies the user may see are returned.
"""

import re
from dataclasses import dataclass

from django.db import connection
from django.utils.html import escape

from .models import Policy, PolicyStatus

FTS_TABLE = "compliance_policy_fts"
MAX_WORDS = 12
# Marks around a matched word in a snippet; replaced by <mark> after the snippet is escaped, so a
# policy's own text can never put markup on the page.
_START, _END = "\x02", "\x03"
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class Hit:
    policy: Policy
    rank: float
    snippet_html: str  # escaped text with <mark> around the matched words


def current_text(policy) -> str:
    """The text search reads: the published version's, else the newest version's."""
    versions = list(policy.versions.exclude(status=PolicyStatus.RETIRED).order_by("-number")[:5])
    published = [v for v in versions if v.status == PolicyStatus.PUBLISHED]
    current = published[0] if published else (versions[0] if versions else None)
    return current.text if current else ""


def index_policy(policy) -> None:
    """Bring the policy's search text (and, on SQLite, its FTS5 row) up to date."""
    body = current_text(policy)
    policy.search_text = f"{policy.code}\n{policy.title}\n{body}"
    Policy.objects.filter(pk=policy.pk).update(search_text=policy.search_text)
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {FTS_TABLE} WHERE rowid = %s", [policy.pk])
            cursor.execute(f"INSERT INTO {FTS_TABLE} (rowid, code, title, body) VALUES (%s, %s, %s, %s)",
                           [policy.pk, policy.code, policy.title, body])


def words_of(text: str) -> list[str]:
    """The words of what was typed (letters and digits only), at most MAX_WORDS of them."""
    return _WORD.findall(text or "")[:MAX_WORDS]


def search_policies(user, text: str, limit: int = 20, *, policies=None) -> list[Hit]:
    """Policies the user may see that match every word of `text`, best first. `policies` narrows
    the candidates further (a page's filters); it defaults to what the user may see."""
    from .policies import visible_policies

    words = words_of(text)
    if not words:
        return []
    limit = max(1, min(int(limit), 100))
    allowed = (policies if policies is not None else visible_policies(user)).order_by()
    if connection.vendor == "postgresql":
        # plainto_tsquery reads any text as plain words (no operators) and parses "IC-201" as the
        # index did; only NUL, which PostgreSQL refuses in text, is taken out.
        ranked = _postgres(" ".join(text.replace("\x00", " ").split())[:400], allowed, limit)
    else:
        ranked = _sqlite(words, allowed, limit)
    found = Policy.objects.select_related("unit", "owner").in_bulk([pk for pk, _, _ in ranked])
    return [Hit(found[pk], rank, _marked(snippet)) for pk, rank, snippet in ranked if pk in found]


def _allowed_sql(allowed):
    sql, params = allowed.values("pk").query.sql_with_params()
    return sql, list(params)


def _sqlite(words, allowed, limit):
    # Each word quoted (a quote inside doubled) and given a prefix star: "hand" finds "hands".
    match = " ".join('"{}"*'.format(word.replace('"', '""')) for word in words)
    allowed_sql, allowed_params = _allowed_sql(allowed)
    sql = (f"SELECT rowid, bm25({FTS_TABLE}, 10.0, 5.0, 1.0), "
           f"snippet({FTS_TABLE}, 2, %s, %s, '…', 24) FROM {FTS_TABLE} "
           f"WHERE {FTS_TABLE} MATCH %s AND rowid IN ({allowed_sql}) ORDER BY bm25({FTS_TABLE}, 10.0, 5.0, 1.0) "
           f"LIMIT %s")
    with connection.cursor() as cursor:
        cursor.execute(sql, [_START, _END, match, *allowed_params, limit])
        # bm25 is lower for better matches: turn it round so a higher rank is better on both engines.
        return [(pk, -score, snippet) for pk, score, snippet in cursor.fetchall()]


def _postgres(query, allowed, limit):
    allowed_sql, allowed_params = _allowed_sql(allowed)
    headline = f"StartSel={_START}, StopSel={_END}, MaxWords=30, MinWords=12"
    # The GIN index matches; the rank reads the stored vector (code and title weigh A, the text D:
    # migration policies_search); the text is read, and its headline made, for the page of hits
    # only: carried through the ranking of every match, it cost a quarter of the query when two
    # common words matched nearly every policy (issue 16's benchmark).
    sql = ("SELECT hits.id, hits.rank, ts_headline('english', p.search_text, hits.q, %s) FROM ("
           "SELECT p.id, q, ts_rank_cd(p.search_vector, q) AS rank, p.code "
           "FROM compliance_policy p, plainto_tsquery('english', %s) q "
           f"WHERE p.search_vector @@ q AND p.id IN ({allowed_sql}) "
           "ORDER BY rank DESC, p.code LIMIT %s) hits JOIN compliance_policy p ON p.id = hits.id "
           "ORDER BY hits.rank DESC, hits.code")
    with connection.cursor() as cursor:
        cursor.execute(sql, [headline, query, *allowed_params, limit])
        return [(pk, float(rank), snippet) for pk, rank, snippet in cursor.fetchall()]


def _marked(snippet: str) -> str:
    return escape(snippet or "").replace(_START, "<mark>").replace(_END, "</mark>")

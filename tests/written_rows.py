"""The rows a loader wrote, kept to be written again in later tests instead of loading again.

The content loader validates and saves the organisation's facilities and units one at a time,
each with its audit entry: 45 ms on SQLite and 75 ms on PostgreSQL, in some 1,000 tests of each
run (the `hospital` fixture). The first test of a process and database loads it for real and
keeps what that load inserted; each later test gets the same rows back in one insert per table.

The organisation, facilities and units keep their ids: they point at each other, and nothing
else can hold those ids in a test that has no organisation yet (`restore` answers False, and the
caller loads for real, when there is one). Audit entries point at nothing; they get new ids, as
rows the test itself wrote before may hold the first load's. Rows are written with bulk_create:
no signals run, as none of a first load's signals leave anything outside these rows (the cache is
cleared before every test).
"""

from dataclasses import dataclass

from django.db import connection


def _max_pk(model) -> int:
    return model.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


@dataclass
class WrittenRows:
    """Each model's rows that one load inserted, as field values, in the order it inserted them."""

    rows: list[tuple[type, list[dict]]]
    fresh_ids: frozenset  # models whose rows are written with new ids

    @classmethod
    def record(cls, models, fresh_ids, load):
        """Runs `load()` and keeps the rows it inserted into `models` (those with an id above the
        largest before it). Returns (what load returned, the kept rows)."""
        before = {model: _max_pk(model) for model in models}
        result = load()
        rows = []
        for model in models:
            names = [field.attname for field in model._meta.concrete_fields]
            found = list(model.objects.filter(pk__gt=before[model]).order_by("pk").values(*names))
            rows.append((model, found))
        return result, cls(rows, frozenset(fresh_ids))

    def first_id(self, model):
        """The id of the first row the load inserted into `model`."""
        return next(found for kept, found in self.rows if kept is model)[0]["id"]

    def restore(self, empty) -> bool:
        """Writes the rows again, if the model `empty` has no rows yet; else writes nothing and
        answers False."""
        if empty.objects.exists():
            return False
        for model, found in self.rows:
            pk = model._meta.pk.attname
            fresh = model in self.fresh_ids
            model.objects.bulk_create(
                [model(**{k: v for k, v in row.items() if not (fresh and k == pk)}) for row in found])
        return True


def database_key() -> tuple:
    """One kept load per database of a process (the suite runs on SQLite, then on PostgreSQL)."""
    return connection.vendor, connection.settings_dict["NAME"]

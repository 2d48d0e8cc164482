"""Queries that every request makes, compiled to SQL once per database instead of once per run.

Django compiles a queryset into SQL each time it runs it. For the person's role grants with their
scopes and two-factor marks, compiling took 1.1 ms of the 1.3 ms the query cost on SQLite, and for
the person facts 2 ms of 2.1 ms: together a fifth of a page's time in the permission matrix
(docs/benchmarks.md, "The suite's time"). A `Precompiled` query is built once with a marker in
place of the one value that changes (the person's id), compiled by Django for each database,
and then run with the value put where the marker was, its rows converted by the same converters
Django applies (SQLite's booleans and times).
"""

from collections.abc import Callable
from functools import cache

from django.db import connections
from django.db.models import Model, QuerySet

# Stand for the value in the compiled SQL's parameters: no table's key or token's hash takes them.
MARKER = -7_351_246_918_264
TEXT_MARKER = "\x00precompiled: the value goes here"


class Precompiled:
    """`build(marker)` gives a `values_list` queryset of `model` filtered on `marker` (built only
    to be compiled; MARKER for a number, TEXT_MARKER for a text); `rows(value)` runs it with
    `value` in the marker's place."""

    def __init__(self, model: type[Model], build: Callable[[int | str], QuerySet], marker: int | str = MARKER):
        self._model, self._build, self._marker = model, build, marker
        self._compiled = {}  # (database alias, key) -> (compiler, converters, SQL, parameters, where the marker is)

    def rows(self, value: int | str, *, key: tuple = ()) -> list[tuple]:
        """The rows for `value`; `key` names what else the query is built from (compiled anew when it changes)."""
        database = self._model._default_manager.db
        compiler, converters, sql, parameters, at = self._compiled_for(database, key)
        parameters = [value if index in at else parameter for index, parameter in enumerate(parameters)]
        with connections[database].cursor() as cursor:
            cursor.execute(sql, parameters)
            fetched = cursor.fetchall()
        return [tuple(row) for row in compiler.apply_converters(fetched, converters)] if converters else fetched

    def _compiled_for(self, database: str, key: tuple):
        found = self._compiled.get((database, key))
        if found is None:
            compiler = self._build(self._marker).query.get_compiler(using=database)
            sql, parameters = compiler.as_sql()
            at = frozenset(index for index, parameter in enumerate(parameters) if parameter == self._marker)
            if not at:
                raise ValueError("the precompiled query does not use its marker")
            # The converters of the selected columns, as results_iter finds them for every run.
            converters = compiler.get_converters([column[0] for column in compiler.select[:compiler.col_count]])
            found = self._compiled[(database, key)] = (compiler, converters, sql, tuple(parameters), at)
        return found


def instance(model: type[Model], database: str, values: tuple) -> Model | None:
    """A model instance from its concrete fields' values in their order (`columns`), as Django
    makes it from a row; None when its key is NULL (a LEFT JOIN that found nothing)."""
    names, key_at = _attnames(model)
    if values[key_at] is None:
        return None
    return model.from_db(database, names, values)


@cache
def _attnames(model: type[Model]) -> tuple[tuple[str, ...], int]:
    """A model's concrete fields' attribute names and where its key is among them (a model's
    fields are fixed once Django has loaded it: found once, not for every row; a tuple, as
    every caller shares it)."""
    names = tuple(field.attname for field in model._meta.concrete_fields)
    return names, names.index(model._meta.pk.attname)


def columns(model: type[Model], prefix: str = "") -> list[str]:
    """The names `values_list` takes for a model's concrete fields, in order, through `prefix` ("unit__")."""
    return [prefix + (field.name if prefix and field.is_relation else field.attname) for field in model._meta.concrete_fields]

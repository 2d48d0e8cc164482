"""The ELM evaluator: one patient's data, one library, any expression.

`Evaluation` walks ELM expression nodes (dicts from `elm.Library`) and returns CQL values
(see `values.py`). A node of type `T` is evaluated by the function registered for `T` in
`HANDLERS` (`@handles("T")`), each in the module of its family (`ops_*`). Definitions are
evaluated once per patient and cached; functions are chosen among their overloads by the
runtime types of their arguments, since the published ELM rarely says which overload it means.

Errors name the library and definition being evaluated (`EvaluationError`), never a bare
KeyError from deep inside.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from . import fhir_model, ucum_spelling
from .elm import Library, LibrarySet
from .fhir_model import Node
from .values import ValueSet

HANDLERS: dict[str, Callable] = {}
NOT_EVALUATED = object()  # a definition the evaluation did not reach


def handles(*types: str):
    """Register a function `(evaluation, node, scope) -> value` for ELM node types."""

    def register(function):
        for name in types:
            HANDLERS[name] = function
        return function

    return register


class EvaluationError(Exception):
    """Evaluation failed: the message says in which library and definition, and why."""


class Unsupported(EvaluationError):
    """An ELM node type or operator the engine does not implement (yet)."""


@dataclass
class PatientData:
    """One patient's FHIR resources, by resource type (`Encounter` → [Node, …])."""

    patient: Node | None
    by_type: dict[str, list[Node]] = field(default_factory=dict)
    # why some of the patient's stored resources could not be read (then no result is given)
    unreadable: list[str] = field(default_factory=list)
    # what every evaluation of this patient (each measure, each period) may reuse, by purpose
    # ("retrieve", "conversion"): results keyed by everything they depend on (ops_core.py)
    shared: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_resources(cls, resources) -> PatientData:
        patient, by_type = None, {}
        for data in resources:
            node = fhir_model.resource(data)
            by_type.setdefault(node.fhir_type, []).append(node)
            if node.fhir_type == "Patient":
                patient = node
        return cls(patient, by_type)

    def of_type(self, resource_type: str) -> list[Node]:
        return self.by_type.get(resource_type, [])


@dataclass(slots=True)  # not frozen: made for every query row and function call (see fhir_model.Node)
class Scope:
    """Names visible to an expression: query aliases, let clauses, function operands. The
    library is the one whose definitions unqualified references name."""

    library: Library
    names: dict = field(default_factory=dict)

    def with_names(self, **more) -> Scope:
        return Scope(self.library, {**self.names, **more})

    def lookup(self, name: str):
        if name not in self.names:
            raise EvaluationError(f"{self.library.name}: {name!r} is not in scope")
        return self.names[name]


class Evaluation:
    """Everything one patient's evaluation needs, and its cache of definition results."""

    def __init__(self, libraries: LibrarySet, data: PatientData, valuesets: dict[str, ValueSet] | None = None,
                 parameters: dict | None = None, now=None, default_offset=0, accept_ucum_misspellings: bool = False,
                 shared_as=None):
        """`shared_as`: the definitions' and functions' results are kept with the patient
        (PatientData.shared) under this key, for any other evaluation of the patient under the
        same key: a key that says everything a result depends on besides the patient and the
        content (the parameters, Now()). None: kept for this evaluation alone."""
        load_handlers()
        if accept_ucum_misspellings:  # the corrector counts what it accepts on each call: nothing may be reused
            shared_as = None
        self.libraries = libraries
        self.data = data
        self.valuesets = valuesets or {}
        self.parameters = parameters or {}  # name -> value, for the main library's parameters
        self.now = now  # the evaluation's Now(): fixed for the whole evaluation (CQL §22.21)
        self.default_offset = default_offset
        kept = {} if shared_as is None else data.shared.setdefault(("evaluation", shared_as, default_offset), {})
        # by (library, version, definition): two libraries of one name may come in two versions
        self._results: dict[tuple[str, str | None, str], object] = kept.setdefault("definitions", {})
        # a function's results by its definition and arguments (ops_core.call_function), or None: not kept
        self.function_results: dict | None = None if shared_as is None else kept.setdefault("functions", {})
        self._parameter_values: dict[tuple[str, str], object] = {}
        self._evaluating: set[tuple[str, str]] = set()
        self.missing_valuesets: set[str] = set()  # value sets used but not in the content
        # None: quantities are converted as published FHIRHelpers does (ucum_spelling.py)
        self.ucum_corrector = ucum_spelling.Corrector(data.by_type) if accept_ucum_misspellings else None

    # -- entry points
    def expression(self, library: Library, name: str):
        """The value of definition `name` of `library` for this patient (cached)."""
        key = (library.name, library.version, name)
        if key in self._results:
            return self._results[key]
        definition = library.expressions.get(name)
        if definition is None:
            raise EvaluationError(f"{library.name}: no definition named {name!r}")
        if key in self._evaluating:
            raise EvaluationError(f"{library.name}: {name!r} refers to itself")
        self._evaluating.add(key)
        try:
            value = self.eval(definition.get("expression"), Scope(library))
        except EvaluationError:
            raise
        except Exception as error:
            raise EvaluationError(f"{library.name}: {name!r}: {type(error).__name__}: {error}") from error
        finally:
            self._evaluating.discard(key)
        self._results[key] = value
        return value

    def cached(self, library: Library, name: str):
        """A definition's value if this evaluation computed it, else NOT_EVALUATED (it never
        evaluates anything itself)."""
        return self._results.get((library.name, library.version, name), NOT_EVALUATED)

    def parameter(self, library: Library, name: str):
        key = (library.name, name)
        if key not in self._parameter_values:
            definition = library.parameters.get(name)
            if definition is None:
                raise EvaluationError(f"{library.name}: no parameter named {name!r}")
            if name in self.parameters:
                value = self.parameters[name]
            elif definition.get("default") is not None:
                value = self.eval(definition["default"], Scope(library))
            else:
                value = None
            self._parameter_values[key] = value
        return self._parameter_values[key]

    def eval(self, node, scope: Scope):
        if node is None:
            return None
        kind = node.get("type")
        handler = HANDLERS.get(kind)
        if handler is None:
            raise Unsupported(f"{scope.library.name}: ELM {kind} is not supported")
        return handler(self, node, scope)

    def operand(self, node, scope: Scope):
        """The single `operand` of a unary node."""
        operand = node.get("operand")
        return self.eval(operand[0] if isinstance(operand, list) else operand, scope)

    def operands(self, node, scope: Scope) -> list:
        operand = node.get("operand")
        if isinstance(operand, list):
            return [self.eval(o, scope) for o in operand]
        return [self.eval(operand, scope)]

    def library_for(self, scope: Scope, alias: str | None) -> Library:
        return scope.library if alias is None else self.libraries.included(scope.library, alias)


def load_handlers() -> None:
    """Import the operator families; each registers its node types."""
    from . import ops_core, ops_lists, ops_logic, ops_temporal, types  # noqa: F401

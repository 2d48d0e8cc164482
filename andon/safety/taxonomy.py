"""The safety-event taxonomy: categories and the fields each category needs, as data.

The document (content/taxonomies/safety-events.yaml) is checked when it is loaded and kept as a
versioned ContentDocument; a report keeps the version it was made with. `Taxonomy` wraps one
version and validates a report's category answers against it.
"""

from dataclasses import dataclass

from andon.platform import content, inputs

KIND, KEY = "taxonomies", "safety-events"
DEFAULT_FACTOR_CATEGORIES = [
    {"code": "communication", "label": "Human factors: communication"},
    {"code": "training", "label": "Human factors: training"},
    {"code": "fatigue", "label": "Human factors: fatigue and scheduling"},
    {"code": "environment", "label": "Environment and equipment"},
    {"code": "rules", "label": "Rules, policies and procedures"},
    {"code": "barriers", "label": "Barriers (controls)"},
]
FIELD_TYPES = {"text", "choice", "boolean", "integer"}


class TaxonomyMissing(Exception):
    pass


@dataclass(frozen=True)
class Taxonomy:
    version: str
    document: dict

    @property
    def categories(self) -> list[dict]:
        return self.document["categories"]

    @property
    def harm_scale(self) -> list[dict]:
        return self.document["harm_scale"]

    @property
    def factor_categories(self) -> list[dict]:
        """The fishbone's bones for contributing factors (VA NCPS categories by default)."""
        return self.document.get("contributing_factor_categories") or DEFAULT_FACTOR_CATEGORIES

    def factor_label(self, code: str) -> str:
        return next((c["label"] for c in self.factor_categories if c["code"] == code), code)

    def category(self, code: str) -> dict | None:
        return next((c for c in self.categories if c["code"] == code), None)

    def category_label(self, code: str) -> str:
        category = self.category(code)
        return category["label"] if category else code

    def harm_label(self, code: str | None) -> str:
        return next((h["label"] for h in self.harm_scale if h["code"] == code), code or "")

    def choice_label(self, category: str, field: str, value) -> str:
        for spec in (self.category(category) or {}).get("fields", []):
            if spec["code"] == field and spec["type"] == "choice":
                return next((c["label"] for c in spec["choices"] if c["code"] == value), str(value))
        return "" if value is None else str(value)

    def clean_details(self, category: str, answers: dict) -> tuple[dict, dict]:
        """Check a report's answers for its category: (clean values, {field: error})."""
        spec = self.category(category)
        if spec is None:
            return {}, {"category": f"unknown category {category!r}"}
        clean, errors = {}, {}
        for field in spec["fields"]:
            value, error = _clean_value(field, answers.get(field["code"]))
            if error:
                errors[field["code"]] = error
            elif value is not None:
                clean[field["code"]] = value
        unknown = set(answers) - {field["code"] for field in spec["fields"]}
        for code in sorted(unknown):
            errors[code] = f"not a field of the category {spec['label']!r}"
        return clean, errors


def _clean_value(field: dict, raw):
    if raw in (None, ""):
        return None, ("required" if field.get("required") else None)
    kind = field["type"]
    if kind == "text":
        text = str(raw).strip()
        limit = field.get("max_length", 500)
        return (None, f"at most {limit} characters") if len(text) > limit else (text, None)
    if kind == "choice":
        codes = [choice["code"] for choice in field["choices"]]
        return (str(raw), None) if str(raw) in codes else (None, f"{raw!r} is not one of {', '.join(codes)}")
    if kind == "boolean":
        if isinstance(raw, bool):
            return raw, None
        lowered = str(raw).strip().lower()
        if lowered in ("yes", "true", "1", "on"):
            return True, None
        if lowered in ("no", "false", "0", "off"):
            return False, None
        return None, "answer yes or no"
    if kind == "integer":
        try:  # not int(): it takes 4,000 digits and other scripts' digits
            number = inputs.number(str(raw))
        except inputs.InputError:
            return None, "expected a whole number"
        return (int(number), None) if number.is_integer() else (None, "expected a whole number")
    return None, f"unknown field type {kind!r}"


def _valueless_keys(node, path=""):
    """Keys with no value: in YAML, an unquoted comma inside {…} cuts a text short and leaves
    the rest as a key without a value."""
    if isinstance(node, dict):
        for key, value in node.items():
            if value is None:
                yield f"{path}.{key}"
            yield from _valueless_keys(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _valueless_keys(value, f"{path}[{i}]")


def check_document(data, source: str) -> None:
    """Refuse a taxonomy file that pages and validation could not use, naming the place."""
    if not isinstance(data, dict):
        raise content.ContentError(f"{source}: expected a mapping")
    for where in _valueless_keys(data):
        raise content.ContentError(f"{source}: {where.lstrip('.')} has no value (quote texts that contain commas)")
    for key in ("key", "version", "harm_scale", "categories"):
        if key not in data:
            raise content.ContentError(f"{source}.{key}: required")
    seen = set()
    for i, category in enumerate(data["categories"] or []):
        where = f"{source}: categories[{i}]"
        if not isinstance(category, dict) or not category.get("code") or not category.get("label"):
            raise content.ContentError(f"{where}: needs a code and a label")
        if category["code"] in seen:
            raise content.ContentError(f"{where}.code: {category['code']!r} appears twice")
        seen.add(category["code"])
        for j, field in enumerate(category.get("fields") or []):
            here = f"{where}.fields[{j}]"
            if not isinstance(field, dict) or not field.get("code") or field.get("type") not in FIELD_TYPES:
                raise content.ContentError(f"{here}: needs a code and a type ({', '.join(sorted(FIELD_TYPES))})")
            if field["type"] == "choice" and not field.get("choices"):
                raise content.ContentError(f"{here}.choices: a choice field needs choices")
    for i, bone in enumerate(data.get("contributing_factor_categories") or []):
        if not isinstance(bone, dict) or not bone.get("code") or not bone.get("label"):
            raise content.ContentError(f"{source}: contributing_factor_categories[{i}]: needs a code and a label")
    if "other" not in seen:
        raise content.ContentError(f"{source}.categories: an 'other' category is required")


def load_taxonomy_file(data, source: str) -> None:
    check_document(data, source)
    if data["key"] != KEY:
        raise content.ContentError(f"{source}.key: this loader knows {KEY!r}, not {data['key']!r}")
    data = {**data, "categories": [{**c, "fields": c.get("fields") or []} for c in data["categories"]]}
    content.store_document(KIND, KEY, str(data["version"]), data.get("title", ""), data)


def current() -> Taxonomy:
    found = content.current_document_key(KIND, KEY)
    if found is None:
        raise TaxonomyMissing("The safety-event taxonomy is not loaded: an administrator runs `andon load-content`.")
    return _taxonomy(found)


def version(number: str) -> Taxonomy:
    return _taxonomy(content.document_key(KIND, KEY, number))


def version_or_current(number: str) -> Taxonomy | None:
    """The version a record was made with (so an old record keeps its meaning); the current one
    when that version was removed; None when no taxonomy is loaded at all."""
    try:
        return version(number)
    except content.ContentDocument.DoesNotExist:
        try:
            return current()
        except TaxonomyMissing:
            return None


def _taxonomy(key) -> Taxonomy:
    document = content.document_by_key(key)
    return Taxonomy(document.version, document.document)

"""Content loading: files under `content/<kind>/` (YAML or JSON) go to the loader of their kind.

The platform's own kind is `organisation`: a health system, its facilities and unit trees,
upserted by code so that loading the same file twice changes nothing. Modules add loaders for
their kinds (taxonomies, measures, views) with `register_loader`. Each file loads in one
transaction: a file with an error loads nothing, and the error names the file and the field.
"""

from pathlib import Path

import yaml
from django.core.exceptions import ValidationError
from django.db import transaction
from tqdm import tqdm

from . import inputs, services
from .models import ContentDocument, Facility, Organisation, Unit
from .roles import Role


class ContentError(Exception):
    pass


LOADERS = {}


def register_loader(kind: str, loader) -> None:
    """`loader(data, source)` loads one parsed file; raise ContentError naming the field."""
    LOADERS[kind] = loader


def store_document(kind: str, key: str, version: str, title: str, document) -> "ContentDocument":
    """Keep a validated content document; reloading the same version changes nothing, and a
    changed document under an existing version is refused (versions are immutable)."""
    existing = ContentDocument.objects.filter(kind=kind, key=key, version=version).first()
    if existing is not None:
        if existing.document != document:
            raise ContentError(f"{kind}/{key} version {version} is already loaded with different content; "
                               "give the changed file a new version")
        return existing
    return ContentDocument.objects.create(kind=kind, key=key, version=version, title=title, document=document)


def current_document(kind: str, key: str) -> "ContentDocument | None":
    """The most recently loaded version of a document."""
    return ContentDocument.objects.filter(kind=kind, key=key).order_by("-loaded_at", "-pk").first()


# Pages read a document (a taxonomy) several times a request. A version is immutable once
# stored, so its parsed document is kept in the process; the row is still looked up (a cheap
# query without the document) so that a document loaded by another process is seen at once.
# The key holds the row's id and load time: ids can be reused (SQLite after a rollback), the
# pair is not.
_DOCUMENTS: dict[tuple, "ContentDocument"] = {}
_DOCUMENTS_KEPT = 64


def current_document_key(kind: str, key: str) -> tuple | None:
    """(id, loaded_at) of the most recently loaded version, or None."""
    return (ContentDocument.objects.filter(kind=kind, key=key).order_by("-loaded_at", "-pk")
            .values_list("pk", "loaded_at").first())


def document_key(kind: str, key: str, version: str) -> tuple:
    """(id, loaded_at) of one version; ContentDocument.DoesNotExist when it was never loaded."""
    return ContentDocument.objects.values_list("pk", "loaded_at").get(kind=kind, key=key, version=version)


def document_by_key(found: tuple) -> "ContentDocument":
    """The document of a (id, loaded_at) pair from `current_document_key` or `document_key`."""
    document = _DOCUMENTS.get(found)
    if document is None:
        document = ContentDocument.objects.get(pk=found[0])
        if len(_DOCUMENTS) >= _DOCUMENTS_KEPT:
            _DOCUMENTS.clear()
        _DOCUMENTS[found] = document
    return document


# libyaml's safe loader (in PyYAML's wheels) reads the same documents about ten times faster than
# the pure-Python one; the pure-Python one where PyYAML was built without it.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


MAX_FILE_CHARS = 20 * 1024 * 1024
MAX_DEPTH = 64  # the shipped content is at most 7 deep


def read_file(path: Path):
    """A content file's document, within the limits every input has (inputs.py): a deep, huge or
    non-finite document is the file's error, not a traceback or a NaN target."""
    try:
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".json":
            return inputs.load_json(text, max_bytes=MAX_FILE_CHARS, max_depth=MAX_DEPTH)
        if len(text) > MAX_FILE_CHARS:
            raise inputs.InputError(f"longer than {MAX_FILE_CHARS:,} characters")
        if "*" in text and any(isinstance(event, yaml.AliasEvent) for event in yaml.parse(text, Loader=_YAML_LOADER)):
            # An alias repeats a part without its size in the text: nine of nine make a billion.
            raise inputs.InputError("aliases (*name) are not accepted; write the parts out")
        document = yaml.load(text, Loader=_YAML_LOADER)
        inputs.check_tree(document, MAX_DEPTH)
        return document
    except UnicodeDecodeError as error:
        raise ContentError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})") from None
    except RecursionError:
        raise ContentError(f"{path}: nested more than {MAX_DEPTH} levels deep") from None
    except (inputs.InputError, yaml.YAMLError) as error:
        raise ContentError(f"{path}: not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {error}") from None


def content_files(paths) -> list[tuple[str, Path]]:
    """(kind, file) pairs: a folder's sub-folders name the kind; a file's parent folder does."""
    found = []
    for given in map(Path, paths):
        if not given.exists():
            raise ContentError(f"{given}: no such file or folder")
        if given.is_file():
            candidates = [given]
        elif given.name in LOADERS:
            candidates = sorted(given.rglob("*"))
        else:
            candidates = sorted(p for kind in LOADERS for p in (given / kind).rglob("*"))
        found.extend((_kind_of(p, given), p) for p in candidates if p.suffix in (".yaml", ".yml", ".json"))
    return found


def _kind_of(path: Path, root: Path) -> str:
    for folder in [path.parent, *path.parents]:
        if folder.name in LOADERS:
            return folder.name
        if folder == root.parent:
            break
    raise ContentError(f"{path}: not under a folder named for a kind of content ({', '.join(sorted(LOADERS))})")


def load_content(paths) -> dict[str, int]:
    summary: dict[str, int] = {}
    files = content_files(paths)
    for kind, path in tqdm(files, desc="Loading content", unit="file", disable=not files):
        data = read_file(path)
        with transaction.atomic():
            LOADERS[kind](data, str(path))
        summary[kind] = summary.get(kind, 0) + 1
    return summary


# --- organisation --------------------------------------------------------------------------

def _mapping(value, where) -> dict:
    if not isinstance(value, dict):
        raise ContentError(f"{where}: expected a mapping, found {type(value).__name__}")
    return value


def _list(value, where) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ContentError(f"{where}: expected a list, found {type(value).__name__}")
    return value


def _text(mapping, key, where, *, required=True) -> str:
    """A text field; a number is taken as text (YAML reads `code: 2` as a number)."""
    value = mapping.get(key)
    if value is None or value == "":
        if required:
            raise ContentError(f"{where}.{key}: required")
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ContentError(f"{where}.{key}: expected text, found {type(value).__name__}")
    return str(value).strip()


def load_organisation(data, source: str) -> Organisation:
    data = _mapping(data, source)
    org_data = _mapping(data.get("organisation"), f"{source}: organisation")
    where = f"{source}: organisation"
    name = _text(org_data, "name", where)
    organisation = Organisation.objects.filter(name=name).first() or Organisation(name=name)
    _update(organisation, where, short_name=_text(org_data, "short_name", where, required=False))
    for i, facility_data in enumerate(_list(data.get("facilities"), f"{source}: facilities")):
        where = f"{source}: facilities[{i}]"
        facility_data = _mapping(facility_data, where)
        code = _text(facility_data, "code", where)
        facility = Facility.objects.filter(organisation=organisation, code=code).first() or Facility(
            organisation=organisation, code=code
        )
        _update(facility, where, name=_text(facility_data, "name", where))
        _load_units(facility, None, facility_data.get("units"), where)
    return organisation


def _load_units(facility, parent, units_data, where):
    for i, unit_data in enumerate(_list(units_data, f"{where}.units")):
        here = f"{where}.units[{i}]"
        unit_data = _mapping(unit_data, here)
        code = _text(unit_data, "code", here)
        kind = _text(unit_data, "kind", here, required=False) or Unit.Kind.WARD
        if kind not in Unit.Kind.values:
            raise ContentError(f"{here}.kind: {kind!r} is not one of {', '.join(Unit.Kind.values)}")
        unit = Unit.objects.filter(facility=facility, code=code).first() or Unit(facility=facility, code=code)
        _update(unit, here, name=_text(unit_data, "name", here), kind=kind, parent=parent)
        _load_units(facility, unit, unit_data.get("units"), here)


def _update(instance, where: str, **values) -> None:
    """Validate and save, only when something changed, so a reload writes no audit entries."""
    changed = instance.pk is None or any(getattr(instance, k) != v for k, v in values.items())
    for key, value in values.items():
        setattr(instance, key, value)
    if not changed:
        return
    try:
        instance.full_clean(exclude=["path"], validate_unique=False)
        instance.save()
    except ValidationError as error:
        details = getattr(error, "message_dict", None)
        text = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in details.items()) if details else "; ".join(error.messages)
        raise ContentError(f"{where}: {text}") from None


register_loader("organisation", load_organisation)


# --- users from the command line -------------------------------------------------------------

def resolve_scope(text: str | None):
    """"" -> the organisation; "FAC" -> a facility; "FAC/UNIT" -> a unit (by codes)."""
    organisations = list(Organisation.objects.all()[:2])
    if len(organisations) != 1:
        raise LookupError("scopes need exactly one organisation; load one with `andon load-content`")
    organisation = organisations[0]
    if not text:
        return organisation
    facility_code, _, unit_code = text.partition("/")
    facility = Facility.objects.filter(organisation=organisation, code=facility_code).first()
    if facility is None:
        raise LookupError(f"no facility with code {facility_code!r}")
    if not unit_code:
        return facility
    unit = Unit.objects.filter(facility=facility, code=unit_code).first()
    if unit is None:
        raise LookupError(f"no unit with code {unit_code!r} in {facility.code}")
    return unit


@transaction.atomic
def create_user_from_cli(username, *, email="", password=None, grants=(), admin=False):
    parsed = []
    for grant in grants:
        role_text, _, scope_text = grant.partition("@")
        if role_text not in Role.values:
            raise LookupError(f"unknown role {role_text!r}; roles: {', '.join(Role.values)}")
        parsed.append((role_text, resolve_scope(scope_text)))
    if admin:
        parsed.append((Role.ADMINISTRATOR, resolve_scope("")))
    user = services.create_user(username, email=email, password=password, is_admin_site_staff=admin)
    for role, scope in parsed:
        services.grant_role(user, role, scope)
    return user

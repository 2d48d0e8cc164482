"""Compliance: frameworks. The domain logic of this subject; other modules reach it through
andon.compliance.services (which re-exports the names in __all__)."""

from django.db.models import Q

from .models import MappingRelation, RequirementMapping

__all__: list[str] = ["mapped_urns"]


def mapped_urns(urn: str) -> set[str]:
    """The URNs whose evidence shows against `urn` through mappings: the source of any mapping
    onto it (evidence for the source serves the target), and the target of an `equal` mapping
    from it (equivalence works both ways). Not `urn` itself."""
    rows = RequirementMapping.objects.filter(
        Q(target_urn=urn) | Q(source_urn=urn, relation=MappingRelation.EQUAL)).values_list("source_urn", "target_urn")
    return {source if target == urn else target for source, target in rows} - {urn}


def connect() -> None:
    """Registries of this subject (audit, history, navigation, work, content, demo), from ready()."""

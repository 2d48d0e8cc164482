"""Compliance: tracers. The domain logic of this subject; other modules reach it through
andon.compliance.services (which re-exports the names in __all__)."""

__all__: list[str] = []


def connect() -> None:
    """Registries of this subject (audit, history, navigation, work, content, demo), from ready()."""

"""(Being written: see the issue's brief.) surveys"""

__all__: list[str] = []


def connect() -> None:
    """Registries of this subject, from ready()."""

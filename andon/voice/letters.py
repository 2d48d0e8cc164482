"""(Being written: see the issue's brief.) letters"""

__all__: list[str] = []


def connect() -> None:
    """Registries of this subject, from ready()."""

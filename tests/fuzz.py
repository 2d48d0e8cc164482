"""How many generated examples the property-based and schema fuzzing tests try.

Each test names its own count for the default run (bounded, so CI stays inside its time);
`make test-deep` sets ANDON_FUZZ_SCALE=10 for release checks, which multiplies every count.
"""

import os


def examples(count: int) -> int:
    return count * max(1, int(os.environ.get("ANDON_FUZZ_SCALE", "1")))


def use_scaled_default() -> None:
    """Tests that name no count get hypothesis's default (100) times the scale."""
    from hypothesis import settings

    settings.register_profile("andon", max_examples=examples(settings.default.max_examples))
    settings.load_profile("andon")

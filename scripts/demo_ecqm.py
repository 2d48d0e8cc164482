"""Evaluate the demo's eCQM patients into andon/measures/demo_ecqm_results.json (the engine's
output, case by case), which `andon demo` reads instead of evaluating the eCQMs (about half a
minute; every browser test loads the demo); the demo then makes the cells and the drill-down's
cases from its own store as for any eCQM.

    ANDON_DATA_DIR=$(mktemp -d) .venv/bin/python scripts/demo_ecqm.py

Run it again when the eCQM content (content/ecqm), the eCQM measures (content/measures) or the
demo's eCQM patients (andon/measures/demo.py) change: the demo computes the eCQMs itself, as
before, while the file names other measures or other versions of them. It evaluates the demo's
eCQM patients for the 24 months ending last month, in a database of its own (ANDON_DATA_DIR).
"""

import json
import os
import sys


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "andon.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from andon.measures import demo
    from andon.measures.models import Measure, SourceKind
    from andon.platform import content
    from andon.platform.demo import SHIPPED_CONTENT

    call_command("migrate", interactive=False, verbosity=0)
    if Measure.objects.exists():
        print("ANDON_DATA_DIR holds a database already: give the script an empty one", file=sys.stderr)
        return 2
    content.load_content([SHIPPED_CONTENT])
    first, last = demo.window()
    keys = sorted(m.key for m in Measure.objects.filter(active=True) if m.source_kind == SourceKind.ECQM)
    try:
        snapshot = demo.snapshot_ecqm_evaluations(demo.evaluate_ecqms(keys, first, last), first)
    except ValueError as error:
        print(f"not written: {error}", file=sys.stderr)
        return 1
    demo.ECQM_RESULTS.write_text(json.dumps(snapshot, separators=(",", ":")) + "\n", encoding="utf-8")
    cases = sum(len(found["rows"]) for found in snapshot["evaluations"].values())
    print(f"{cases} evaluated cases of {', '.join(keys)} written to {demo.ECQM_RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

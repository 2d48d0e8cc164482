"""Compute the demo's eCQM results into andon/measures/demo_ecqm_results.json, which `andon demo`
loads instead of evaluating the eCQMs (about half a minute; every browser test loads the demo).

    ANDON_DATA_DIR=$(mktemp -d) .venv/bin/python scripts/demo_ecqm.py

Run it again when the eCQM content (content/ecqm), the eCQM measures (content/measures) or the
demo's eCQM patients (andon/measures/demo.py) change: the demo computes the eCQMs itself, as
before, while the file names other measures or other versions of them. It evaluates the demo's
eCQM patients for the 24 months ending last month, in a database of its own (ANDON_DATA_DIR).
"""

import json
import os
import sys
import tempfile
from pathlib import Path


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "andon.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from andon.measures import demo
    from andon.measures.models import Measure, SourceKind
    from andon.platform.demo import load_demo_hospital

    call_command("migrate", interactive=False, verbosity=0)
    if Measure.objects.exists():
        print("ANDON_DATA_DIR holds a database already: give the script an empty one", file=sys.stderr)
        return 2
    target, demo.ECQM_RESULTS = demo.ECQM_RESULTS, Path(tempfile.mkdtemp()) / "none.json"  # compute them
    load_demo_hospital()
    first, _ = demo.window()
    keys = sorted(m.key for m in Measure.objects.filter(active=True) if m.source_kind == SourceKind.ECQM)
    errors = {m.key: m.compute_error for m in Measure.objects.filter(key__in=keys) if m.compute_error}
    if errors:
        print(f"not written: {errors}", file=sys.stderr)
        return 1
    snapshot = demo.snapshot_ecqm_results(keys, first)
    target.write_text(json.dumps(snapshot, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"{len(snapshot['rows'])} results of {', '.join(keys)} written to {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The end of a CI run: the slowest tests of both runs, the wall time, and the totals.

    python .ci/summary.py RUN.xml ...   (JUnit XML written by pytest; CI_SECONDS in the environment)
"""

import os
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

SLOWEST = 25


def main(paths: list[str]) -> None:
    passed = failed = skipped = 0
    timings, runs = [], []
    for path in map(Path, paths):
        if not path.exists():
            print(f"{path}: missing (that run did not finish)")
            continue
        run = path.stem
        root = ET.parse(path).getroot()
        run_passed = 0
        for suite in root.iter("testsuite"):
            tests, failures, errors, skips = (int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped"))
            failed += failures + errors
            skipped += skips
            run_passed += tests - failures - errors - skips
        passed += run_passed
        runs.append(f"{run} {run_passed}")
        for case in root.iter("testcase"):
            name = f"{case.get('classname', '').replace('.', '/')}.py::{case.get('name')}"
            timings.append((float(case.get("time", 0)), run, name))
    print(f"{SLOWEST} slowest tests (seconds, run, test; setup, call and teardown together):")
    for seconds, run, name in sorted(timings, reverse=True)[:SLOWEST]:
        print(f"{seconds:8.2f}  {run:<10}  {name}")
    seconds = int(os.environ.get("CI_SECONDS", 0))
    print(f"{passed} passed ({', '.join(runs)}), {failed} failed, {skipped} skipped; "
          f"wall time {seconds // 60} min {seconds % 60:02d} s")


if __name__ == "__main__":
    main(sys.argv[1:])

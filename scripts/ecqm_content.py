"""Copy the CMS eCQM content the shipped measures use into content/ecqm/ (see its README).

    python scripts/ecqm_content.py ../shared/conformance/ecqm-qicore-2024

From the CC0 package (cqframework/ecqm-content-qicore-2024, in ../shared), for every measure in
content/measures/ whose source is an eCQM: its Measure resource, its ELM library and every
library that includes (JSON and CQL), the value sets those libraries name, and up to CASES of
its test cases whose expected initial population is not empty (the demo replays those patients
in its months, andon/measures/demo.py; `andon ecqm check content/ecqm` checks them).
Deterministic: run again, the same files.
"""

import json
import shutil
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "content" / "ecqm"
CASES = 24


def shipped_ecqms() -> list[str]:
    names = []
    for path in sorted((ROOT / "content" / "measures").glob("*.yaml")):
        source = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("source") or {}
        if source.get("kind") == "ecqm":
            names.append(source["measure"])
    return names


def _library(source: Path, name: str) -> dict:
    return json.loads((source / "libraries" / f"{name}.json").read_text(encoding="utf-8"))["library"]


def library_closure(source: Path, name: str, seen: set) -> None:
    if name in seen:
        return
    seen.add(name)
    for include in (_library(source, name).get("includes") or {}).get("def", []):
        library_closure(source, include["path"].rsplit("/", 1)[-1], seen)


def _in_population(case: Path) -> bool:
    for report in case.glob("MeasureReport-*.json"):
        data = json.loads(report.read_text(encoding="utf-8"))
        for population in data["group"][0]["population"]:
            if population["code"]["coding"][0]["code"] == "initial-population" and population.get("count", 0) > 0:
                return True
    return False


def main(source: Path) -> int:
    names = shipped_ecqms()
    libraries, valuesets = set(), set()
    for name in names:
        library_closure(source, name, libraries)
    for library in libraries:
        for valueset in (_library(source, library).get("valueSets") or {}).get("def", []):
            valuesets.add(valueset["id"])
    if TARGET.exists():
        for folder in ("libraries", "measures", "valuesets", "tests"):
            shutil.rmtree(TARGET / folder, ignore_errors=True)
    for folder in ("libraries", "measures", "valuesets"):
        (TARGET / folder).mkdir(parents=True, exist_ok=True)
    for library in sorted(libraries):
        for suffix in (".json", ".cql"):
            if (source / "libraries" / f"{library}{suffix}").exists():
                shutil.copy2(source / "libraries" / f"{library}{suffix}", TARGET / "libraries")
    by_url = {}  # the package names its files in two ways: find each value set by its url
    for path in sorted((source / "valuesets").glob("*.json")):
        by_url[json.loads(path.read_text(encoding="utf-8")).get("url")] = path
    missing = []
    for valueset in sorted(valuesets):
        if valueset in by_url:
            shutil.copy2(by_url[valueset], TARGET / "valuesets")
        else:
            missing.append(valueset.rsplit("/", 1)[-1])
    cases = 0
    for name in names:
        shutil.copy2(source / "measures" / f"{name}.json", TARGET / "measures")
        chosen = [c for c in sorted((source / "tests" / name).iterdir()) if c.is_dir() and _in_population(c)][:CASES]
        for case in chosen:
            shutil.copytree(case, TARGET / "tests" / name / case.name)
        cases += len(chosen)
    print(f"{len(names)} measures, {len(libraries)} libraries, {len(valuesets) - len(missing)} value sets "
          f"({len(missing)} named but not in the package: {', '.join(missing) or 'none'}), {cases} test cases")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        sys.exit(2)
    sys.exit(main(Path(sys.argv[1])))

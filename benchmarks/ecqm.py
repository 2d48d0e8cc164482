"""CMS eCQM evaluation at scale: Andon's ELM engine against the reference JavaScript engine
(`cql-execution` + `cql-exec-fhir`) on the same ELM, value sets and patients.

    .venv/bin/python benchmarks/ecqm.py [--patients 100000] [--measures CMS108VTEProphylaxisFHIR,...]

1. Patients: the test patients of the measures (shared/conformance/ecqm-qicore-2024/tests),
   replicated with fresh ids (every resource id and every `Type/id` reference rewritten, so
   each copy is a patient of its own) until `--patients` is reached. Written once under
   var/bench/ecqm/: one NDJSON file per resource type (for Andon's FHIR store) and one NDJSON
   of per-patient Bundles (for the JavaScript engine, which reads a patient at a time).
2. Andon: the NDJSON loaded into a fresh FHIR store, then `run.run_measure` for each measure
   (patients streamed from the store, a worker per core), in its own process: patients/s and
   peak RSS (`ru_maxrss`).
3. Reference: `node benchmarks/ecqm_js/run.js` on the same measure's library, value sets and
   Bundles, in its own process (`npm ci --prefix benchmarks/ecqm_js` first).
4. The population counts of both engines are compared; figures and the ratio go to
   docs/benchmarks.md ("CMS eCQM evaluation"). Times are never asserted.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fhir_views as views  # the child runner (peak RSS) and the doc writer

REPO = views.REPO
CONTENT = REPO.parent / "shared" / "conformance" / "ecqm-qicore-2024"
WORK = REPO / "var" / "bench" / "ecqm"
JS = REPO / "benchmarks" / "ecqm_js"
SECTION = "## CMS eCQM evaluation"
MEASURES = ("CMS108VTEProphylaxisFHIR", "ControllingHighBloodPressureFHIR", "CMSFHIR529HybridHospitalWideReadmission")


# --- 1. patients ---------------------------------------------------------------------------------

def _fresh(replica: int, kind: str, old: str) -> str:
    digest = hashlib.md5(f"{replica}:{kind}:{old}".encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"


def _rewrite(node, ids: dict):
    """A copy of a resource with every `Type/id` reference to a replicated resource renamed."""
    if isinstance(node, dict):
        copy = {}
        for key, value in node.items():
            if key == "reference" and isinstance(value, str) and value.count("/") == 1 and value in ids:
                copy[key] = ids[value]
            else:
                copy[key] = _rewrite(value, ids)
        return copy
    if isinstance(node, list):
        return [_rewrite(v, ids) for v in node]
    return node


def generate(patients: int, measures) -> dict:
    """Write the replicated patients (or reuse them); return the manifest."""
    from andon.analytics.cql import content

    manifest_path = WORK / "patients.manifest.json"
    key = {"patients": patients, "measures": list(measures)}
    if manifest_path.exists() and json.loads(manifest_path.read_text()).get("key") == key:
        return json.loads(manifest_path.read_text())
    cases = [c for m in measures for c in content.load_cases([CONTENT], m)]
    out = WORK / "ndjson"
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("*.ndjson"):
        stale.unlink()
    files: dict[str, object] = {}
    bundles = (WORK / "bundles.ndjson").open("w")
    written, counts = 0, Counter()
    replica = 0
    while written < patients:
        for case in cases:
            if written >= patients:
                break
            resources = [r for r in case.resources if r.get("resourceType") != "MeasureReport"]
            ids = {f"{r['resourceType']}/{r['id']}": f"{r['resourceType']}/{_fresh(replica, r['resourceType'], r['id'])}"
                   for r in resources if r.get("id")}
            copies = []
            for resource in resources:
                copy = _rewrite(resource, ids)
                if resource.get("id"):
                    copy["id"] = ids[f"{resource['resourceType']}/{resource['id']}"].split("/", 1)[1]
                copies.append(copy)
                kind = copy["resourceType"]
                if kind not in files:
                    files[kind] = (out / f"{kind}.ndjson").open("w")
                files[kind].write(json.dumps(copy) + "\n")
                counts[kind] += 1
            bundles.write(json.dumps({"resourceType": "Bundle", "type": "collection",
                                      "entry": [{"resource": r} for r in copies]}) + "\n")
            written += 1
        replica += 1
    for handle in files.values():
        handle.close()
    bundles.close()
    manifest = {"key": key, "patients": written, "resources": dict(counts), "cases": len(cases),
                "periods": {m: content.load_cases([CONTENT], m)[0].period for m in measures}}
    manifest_path.write_text(json.dumps(manifest))
    return manifest


# --- 2. Andon ------------------------------------------------------------------------------------

def phase_load(args: dict) -> dict:
    from andon.analytics.fhir import ingest, store

    path = WORK / "store.duckdb"
    for stale in (path, Path(str(path) + ".wal")):
        stale.unlink(missing_ok=True)
    connection = store.connect(path)
    began = time.perf_counter()
    summary = ingest.load_paths(connection, [WORK / "ndjson"])
    connection.close()
    return {"s": time.perf_counter() - began, "added": summary.total.added}


def phase_andon(args: dict) -> dict:
    from andon.analytics.cql.run import run_measure
    from andon.analytics.fhir import store

    connection = store.connect(WORK / "store.duckdb", read_only=True)
    began = time.perf_counter()
    report = run_measure(connection, [CONTENT], args["measure"], tuple(args["period"]), now="2026-01-01T00:00:00.000Z")
    seconds = time.perf_counter() - began
    connection.close()
    counts = {p["code"]["coding"][0]["code"]: p["count"] for p in report["group"][0]["population"]}
    return {"s": seconds, "patients": report["extension"][0]["valueInteger"], "counts": counts, "status": report["status"]}


PHASES = {"load": phase_load, "andon": phase_andon}


# --- 3. the reference engine ---------------------------------------------------------------------

def run_js(measure: str, period, definitions: dict[str, str], limit: float) -> dict:
    from andon.analytics.cql import content

    measure_resource = content.load_measures([CONTENT])[measure]
    library = measure_resource["library"][0].split("|")[0].rsplit("/", 1)[-1]
    version = content.load_libraries([CONTENT]).get(library).version
    if not (JS / "node_modules").is_dir():
        return {"error": f"not installed: npm ci --prefix {JS.relative_to(REPO)}"}
    out = WORK / f"js-{measure}.ndjson"
    command = ["node", str(JS / "run.js"), "--libraries", str(CONTENT / "libraries"), "--valuesets", str(CONTENT / "valuesets"),
               "--library", library, "--version", version, "--patients", str(WORK / "bundles"),
               "--period-start", period[0], "--period-end", period[1], "--definitions", ",".join(definitions.values()),
               "--out", str(out)]
    code, stdout, stderr, rss_mb, wall = _measured(command, limit)
    if code != 0:
        return {"error": f"exit {code}: {stderr.strip()[-300:]}", "rss_mb": rss_mb}
    result = json.loads(stdout)
    counts = Counter()
    codes = {name: code for code, name in definitions.items()}
    with out.open() as lines:
        for line in lines:
            row = json.loads(line)
            for name, value in row.get("results", row).items():
                if name in codes:
                    counts[codes[name]] += (1 if value is True else 0) if not isinstance(value, list) else len(value)
    return {"s": result.get("seconds", wall), "wall_s": wall, "patients": result.get("patients"), "counts": dict(counts),
            "versions": result.get("versions"), "rss_mb": rss_mb}


def _measured(command: list[str], limit: float):
    """Run a program; its exit code, output, peak RSS (MB, from wait4) and wall time. Killed
    past `limit` seconds (exit code -9)."""
    import os
    import signal
    import tempfile
    import threading

    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        began = time.perf_counter()
        child = subprocess.Popen(command, stdout=out, stderr=err, start_new_session=True)
        timer = threading.Timer(limit, lambda: os.killpg(child.pid, signal.SIGKILL))
        timer.start()
        try:
            _, status, usage = os.wait4(child.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - began
        out.seek(0)
        err.seek(0)
        return os.waitstatus_to_exitcode(status), out.read(), err.read(), usage.ru_maxrss / 1024, wall


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--measures", default=",".join(MEASURES))
    parser.add_argument("--limit", type=float, default=3600, help="seconds one engine run may take")
    parser.add_argument("--no-doc", action="store_true")
    parser.add_argument("--phase", choices=sorted(PHASES), help=argparse.SUPPRESS)
    parser.add_argument("--phase-args", help=argparse.SUPPRESS)
    cli = parser.parse_args(argv)
    if cli.phase:
        print(json.dumps(PHASES[cli.phase](json.loads(cli.phase_args))))
        return 0
    measures = [m.strip() for m in cli.measures.split(",") if m.strip()]
    say = lambda text: print(text, file=sys.stderr, flush=True)
    WORK.mkdir(parents=True, exist_ok=True)
    say(f"Patients: {cli.patients:,} from the test cases of {', '.join(measures)} …")
    manifest = generate(cli.patients, measures)
    (WORK / "bundles").mkdir(exist_ok=True)
    bundle_link = WORK / "bundles" / "patients.ndjson"
    if not bundle_link.exists():
        bundle_link.symlink_to(WORK / "bundles.ndjson")
    script = Path(__file__).resolve()
    load = views.run_step(sys.executable, "load", {}, cli.limit, script=script)
    say(f"  store loaded in {load.get('s', 0):.0f} s ({load.get('added', 0):,} resources)")
    from andon.analytics.cql import content
    from andon.analytics.cql.measure import MeasureDefinition

    libraries, found = content.load_libraries([CONTENT]), content.load_measures([CONTENT])
    rows = []
    for measure in measures:
        period = manifest["periods"][measure]
        andon = views.run_step(sys.executable, "andon", {"measure": measure, "period": period}, cli.limit, script=script)
        say(f"Andon {measure}: {andon}")
        definitions = MeasureDefinition.from_resource(found[measure], libraries).groups[0].criteria
        js = run_js(measure, period, definitions, cli.limit)
        say(f"cql-execution {measure}: { {k: v for k, v in js.items() if k != 'versions'} }")
        rows.append((measure, andon, js))
    text = report(cli, manifest, load, rows)
    print(text)
    if not cli.no_doc:
        views.write_doc(text, SECTION)
    return 0


def report(cli, manifest, load, rows) -> str:
    lines = [SECTION, "", (f"Run by `benchmarks/ecqm.py` on 2 cores: **{manifest['patients']:,} patients** replicated "
                           f"with fresh ids from {manifest['cases']} test cases of the measures below "
                           f"({sum(manifest['resources'].values()):,} resources; store loaded in {load.get('s', 0):.0f} s). "
                           "Each engine run in its own process; peak RSS its `ru_maxrss`; the reference engine is "
                           "`cql-execution` + `cql-exec-fhir` on Node, reading the same patients as Bundles."), "",
             "| measure | engine | time | patients/s | peak RSS | reference ÷ Andon | same counts |",
             "|---|---|---:|---:|---:|---:|---|"]
    for measure, andon, js in rows:
        if andon.get("error"):
            lines.append(f"| {measure} | Andon | {andon['error']} | | | | |")
            continue
        lines.append(f"| {measure} | **Andon** | {andon['s']:.1f} s | {andon['patients'] / andon['s']:,.0f} | "
                     f"{andon['rss_mb']:,.0f} MB | | |")
        if js.get("error"):
            lines.append(f"| {measure} | cql-execution | {js['error']} | | | | |")
            continue
        same = "yes" if js["counts"] == andon["counts"] else f"no: Andon {andon['counts']}, reference {js['counts']}"
        lines.append(f"| {measure} | cql-execution | {js['s']:.1f} s | {js['patients'] / js['s']:,.0f} | "
                     f"{js.get('rss_mb', 0):,.0f} MB | {js['s'] / andon['s']:.2f}× | {same} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())

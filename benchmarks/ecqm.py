"""CMS eCQM evaluation at scale: Andon's ELM engine against the reference JavaScript engine
(`cql-execution` + `cql-exec-fhir`) on the same ELM, value sets and patients.

    .venv/bin/python benchmarks/ecqm.py [--patients 100000] [--measures CMS108VTEProphylaxisFHIR,...]

1. Patients: the test patients of the measures (shared/conformance/ecqm-qicore-2024/tests),
   replicated with fresh ids (every resource id and every `Type/id` reference rewritten, so
   each copy is a patient of its own) until `--patients` is reached. Written once under
   var/bench/ecqm/: one NDJSON file per resource type (for Andon's FHIR store) and per-patient
   Bundles in one NDJSON file per core (for the JavaScript engine, which reads a patient at a
   time and runs on one core: a process per file gives it the machine's cores, as Andon has).
2. Andon: the NDJSON loaded into a fresh FHIR store, then `run.run_measure` for each measure
   (patients streamed from the store, a worker per core), in its own process: patients/s and
   peak RSS (`ru_maxrss`).
3. Reference: `node benchmarks/ecqm_js/run.js` on the same measure's library, value sets and
   Bundles, a process per core at once (`npm ci --prefix benchmarks/ecqm_js` first); its time
   is the wall time until the last one ends, its memory the sum of their peak RSS.
4. The population counts of both engines are compared; figures and the ratio go to
   docs/benchmarks.md ("CMS eCQM evaluation"), one row per measure: a run of some measures
   keeps the rows of the others from earlier runs. Times are never asserted.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
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
SHARDS = os.cpu_count() or 1  # Bundle files, one reference-engine process each
SHARED = ("Medication", "Location", "Organization", "Practitioner", "PractitionerRole")  # outside patient compartments


# --- 1. patients ---------------------------------------------------------------------------------

def _fresh(copy, kind: str, old: str) -> str:
    # keyed by the patient copy, not the replica: test cases reuse ids ("Condition-1") across
    # cases, and two cases' resources must never share an id in the store
    digest = hashlib.md5(f"{copy}:{kind}:{old}".encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"


def _owner(resource: dict, case_number: int, copy: int):
    """Whose fresh id a resource gets: a patient's own records are theirs alone; practitioners,
    locations, organizations and medications are shared by every copy of their test case, as a
    hospital's are by its patients."""
    return f"case {case_number}" if resource["resourceType"] in SHARED else copy


def generate(patients: int, measures) -> dict:
    """Write the replicated patients (or reuse them); return the manifest."""
    from andon.analytics.cql import content

    manifest_path = WORK / "patients.manifest.json"
    key = {"patients": patients, "measures": list(measures), "shards": SHARDS, "ids": "per copy, shared per case"}
    if manifest_path.exists() and json.loads(manifest_path.read_text()).get("key") == key:
        return json.loads(manifest_path.read_text())
    cases = [c for m in measures for c in content.load_cases([CONTENT], m)]
    out = WORK / "ndjson"
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("*.ndjson"):
        stale.unlink()
    files: dict[str, object] = {}
    bundles = []
    for shard in range(SHARDS):
        folder = WORK / "bundles" / f"part-{shard}"
        folder.mkdir(parents=True, exist_ok=True)
        bundles.append((folder / "patients.ndjson").open("w"))
    written, counts = 0, Counter()
    while written < patients:
        for number, case in enumerate(cases):
            if written >= patients:
                break
            resources = [r for r in case.resources if r.get("resourceType") != "MeasureReport"]
            ids = {}
            for r in resources:
                if r.get("id"):
                    fresh = _fresh(_owner(r, number, written), r["resourceType"], r["id"])
                    ids[f"{r['resourceType']}/{r['id']}"] = f"{r['resourceType']}/{fresh}"
            copies = []
            for resource in resources:
                copy = content.rename_references(resource, ids)
                if resource.get("id"):
                    copy["id"] = ids[f"{resource['resourceType']}/{resource['id']}"].split("/", 1)[1]
                copies.append(copy)
                kind = copy["resourceType"]
                if kind in SHARED and written >= len(cases):
                    continue  # in the store once (the first copy of its case); in every copy's Bundle
                if kind not in files:
                    files[kind] = (out / f"{kind}.ndjson").open("w")
                files[kind].write(json.dumps(copy) + "\n")
                counts[kind] += 1
            bundles[written % SHARDS].write(json.dumps({"resourceType": "Bundle", "type": "collection",
                                                        "entry": [{"resource": r} for r in copies]}) + "\n")
            written += 1
    for handle in [*files.values(), *bundles]:
        handle.close()
    manifest = {"key": key, "patients": written, "resources": dict(counts), "cases": len(cases),
                "periods": {m: content.load_cases([CONTENT], m)[0].period for m in measures}}
    manifest_path.write_text(json.dumps(manifest))
    return manifest


# --- 2. Andon ------------------------------------------------------------------------------------

def phase_load(args: dict) -> dict:
    summary, seconds, _ = views.load_fresh_store(WORK / "store.duckdb", [WORK / "ndjson"])
    return {"s": seconds, "added": summary.total.added}


def phase_andon(args: dict) -> dict:
    from andon.analytics.cql.run import run_measure
    from andon.analytics.fhir import store

    connection = store.connect(WORK / "store.duckdb", read_only=True)
    workers = _WorkerPeaks()
    began = time.perf_counter()
    report = run_measure(connection, [CONTENT], args["measure"], tuple(args["period"]), now="2026-01-01T00:00:00.000Z")
    seconds = time.perf_counter() - began
    connection.close()
    counts = {p["code"]["coding"][0]["code"]: p["count"] for p in report["group"][0]["population"]}
    # memory in use at the peak, at most: this process and each worker at the largest worker's peak
    import resource

    parent = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    worker = workers.stop()
    return {"s": seconds, "patients": report["extension"][0]["valueInteger"], "counts": counts, "status": report["status"],
            "memory_mb": parent + (os.cpu_count() or 1) * worker, "parent_mb": parent, "worker_mb": worker}


class _WorkerPeaks:
    """The largest peak RSS (VmHWM) of this process's children, read from /proc while they run.
    Not RUSAGE_CHILDREN: a spawned worker is forked before it execs, and Linux keeps the
    fork's high-water mark (the parent's whole size) in its ru_maxrss."""

    def __init__(self, every: float = 0.5):
        import threading

        self.peak, self._done = 0.0, threading.Event()
        self._thread = threading.Thread(target=self._watch, args=(every,), daemon=True)
        self._thread.start()

    def _watch(self, every: float) -> None:
        me = f"PPid:\t{os.getpid()}\n"
        while not self._done.wait(every):
            for pid in filter(str.isdigit, os.listdir("/proc")):
                try:
                    status = Path(f"/proc/{pid}/status").read_text()
                except OSError:
                    continue
                if me in status and "VmHWM:" in status:
                    self.peak = max(self.peak, int(status.split("VmHWM:")[1].split()[0]) / 1024)

    def stop(self) -> float:
        self._done.set()
        self._thread.join()
        return self.peak


PHASES = {"load": phase_load, "andon": phase_andon}


# --- 3. the reference engine ---------------------------------------------------------------------

def run_js(measure: str, period, definitions: dict[str, str], limit: float) -> dict:
    """The reference engine on every Bundle file at once (a process each); counts summed."""
    from concurrent.futures import ThreadPoolExecutor

    from andon.analytics.cql import content

    measure_resource = content.load_measures([CONTENT])[measure]
    library = measure_resource["library"][0].split("|")[0].rsplit("/", 1)[-1]
    version = content.load_libraries([CONTENT]).get(library).version
    if not (JS / "node_modules").is_dir():
        return {"error": f"not installed: npm ci --prefix {JS.relative_to(REPO)}"}
    parts = sorted((WORK / "bundles").glob("part-*"))

    def one(part: Path):
        out = WORK / f"js-{measure}-{part.name}.ndjson"
        command = ["node", str(JS / "run.js"), "--libraries", str(CONTENT / "libraries"),
                   "--valuesets", str(CONTENT / "valuesets"), "--library", library, "--version", version, "--patients", str(part),
                   "--period-start", period[0], "--period-end", period[1], "--definitions", ",".join(definitions.values()),
                   "--out", str(out)]
        return out, _measured(command, limit)

    began = time.perf_counter()
    with ThreadPoolExecutor(len(parts)) as pool:
        runs = list(pool.map(one, parts))
    wall = time.perf_counter() - began
    rss_mb = sum(run[3] for _, run in runs)
    failed = [run for _, run in runs if run[0] != 0]
    if failed:
        return {"error": f"exit {failed[0][0]}: {failed[0][2].strip()[-300:]}", "rss_mb": rss_mb}
    counts, patients, errors = Counter(), 0, Counter()
    codes = {name: code for code, name in definitions.items()}
    for out, run in runs:
        patients += json.loads(run[1]).get("patients", 0)
        with out.open() as lines:
            for line in lines:
                row = json.loads(line)
                if "error" in row:  # the patient is left out of the reference's counts
                    errors[_error_message(row["error"])] += 1
                    continue
                for name, value in row.get("results", row).items():
                    if name in codes:
                        counts[codes[name]] += (1 if value is True else 0) if not isinstance(value, list) else len(value)
    return {"s": wall, "patients": patients, "counts": dict(counts), "processes": len(runs), "errors": dict(errors),
            "versions": json.loads(runs[0][1][1]).get("versions"), "rss_mb": rss_mb}


def _error_message(text: str) -> str:
    """cql-execution's error, shortly: its message and where in the CQL."""
    fields = dict(line.strip().split(":\t", 1) for line in text.splitlines() if ":\t" in line)
    where = f" (CQL {fields['CQL Locator']})" if "CQL Locator" in fields else ""
    return (fields.get("Error Message", text.strip().splitlines()[0] if text.strip() else "error") + where)[:160]


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
    views.add_phase_arguments(parser, PHASES)
    cli = parser.parse_args(argv)
    if views.ran_phase(cli, PHASES):
        return 0
    measures = [m.strip() for m in cli.measures.split(",") if m.strip()]

    def say(text):
        print(text, file=sys.stderr, flush=True)

    WORK.mkdir(parents=True, exist_ok=True)
    say(f"Patients: {cli.patients:,} from the test cases of {', '.join(MEASURES)} …")
    manifest = generate(cli.patients, MEASURES)  # the same population whichever measures this run evaluates
    script = Path(__file__).resolve()
    load = views.run_step(sys.executable, "load", {}, cli.limit, script=script)
    say(f"  store loaded in {load.get('s', 0):.0f} s ({load.get('added', 0):,} resources)")
    from andon.analytics.cql import content
    from andon.analytics.cql.measure import MeasureDefinition

    libraries, found = content.load_libraries([CONTENT]), content.load_measures([CONTENT])
    rows = []
    for measure in measures:
        period = content.load_cases([CONTENT], measure)[0].period  # its test cases' Measurement Period
        andon = views.run_step(sys.executable, "andon", {"measure": measure, "period": period}, cli.limit, script=script)
        say(f"Andon {measure}: {andon}")
        definitions = MeasureDefinition.from_resource(found[measure], libraries).groups[0].criteria
        js = run_js(measure, period, definitions, cli.limit)
        say(f"cql-execution {measure}: { {k: v for k, v in js.items() if k != 'versions'} }")
        rows.append((measure, andon, js))
    text = report(manifest, load, rows, earlier=_current_section())
    print(text)
    if not cli.no_doc:
        views.write_doc(text, SECTION)
    return 0


HEADER = ["| measure | patients | engine | time | patients/s | memory | reference ÷ Andon | same counts | run |",
          "|---|---:|---|---:|---:|---:|---:|---|---|"]


def _current_section() -> str:
    doc = views.DOC.read_text() if views.DOC.exists() else ""
    start = doc.find(SECTION + "\n")
    if start == -1:
        return ""
    end = doc.find("\n## ", start + len(SECTION))
    return doc[start:end if end != -1 else len(doc)]


def report(manifest, load, rows, earlier: str = "") -> str:
    """The section: how it was run, and a pair of rows per measure (this run's, and those of
    other measures from `earlier`, the section as it stood)."""
    today = time.strftime("%Y-%m-%d")
    fresh = {measure: _rows(measure, manifest, load, andon, js, today) for measure, andon, js in rows}
    kept: dict[str, list[str]] = {}
    for line in earlier.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if line.startswith("| ") and len(cells) == len(HEADER[0].strip("|").split("|")) and cells[0] not in ("measure",):
            kept.setdefault(cells[0], []).append(line)
    order = list(MEASURES) + sorted((set(fresh) | set(kept)) - set(MEASURES))
    table = [line for m in order for line in fresh.get(m, kept.get(m, []))]
    intro = ("Run by `benchmarks/ecqm.py` on this 2-core machine: patients replicated with fresh ids from the test cases "
             "of the three measures (every resource id and reference rewritten), loaded into a fresh FHIR store; each measure "
             "evaluated over all of them with its test cases' Measurement Period. **Andon**: `run_measure`, patients streamed "
             "from the store, a worker per core; memory is at most the parent's peak RSS plus each worker at the largest "
             "worker's peak. **Reference**: `cql-execution` + `cql-exec-fhir` on Node (`benchmarks/ecqm_js`), the same ELM, "
             "value sets and patients as Bundles, one process per core on its share of the patients; time until the last "
             "ends, memory the sum of their peaks. Counts compared population by population (the reference's raw definition "
             "results). Store load time is in the Andon row's run column.")
    return "\n".join([SECTION, "", intro, "", *HEADER, *table]) + "\n"


def _rows(measure, manifest, load, andon, js, today) -> list[str]:
    patients = f"{manifest['patients']:,}"
    run = f"{today}, store load {load.get('s', 0):.0f} s"
    if andon.get("error"):
        return [f"| {measure} | {patients} | Andon | {andon['error'][:120]} | | | | | {run} |"]
    memory = f"{andon['memory_mb']:,.0f} MB ({andon['parent_mb']:,.0f} + {SHARDS} × {andon['worker_mb']:,.0f})"
    lines = [f"| {measure} | {patients} | **Andon** | {andon['s']:.1f} s | {andon['patients'] / andon['s']:,.0f} | "
             f"{memory} | | | {run} |"]
    if js.get("error"):
        lines.append(f"| {measure} | {patients} | cql-execution | {js['error'][:120]} | | | | | {today} |")
        return lines
    same = "yes" if js["counts"] == andon["counts"] else f"no: Andon {andon['counts']}, reference {js['counts']}"
    if js["errors"]:
        failed = "; ".join(f"{n:,} × {message}" for message, n in js["errors"].items())
        same += f"; the reference failed on {sum(js['errors'].values()):,} patients, left out of its counts: {failed}"
    lines.append(f"| {measure} | {patients} | cql-execution ×{js['processes']} | {js['s']:.1f} s | "
                 f"{js['patients'] / js['s']:,.0f} | {js['rss_mb']:,.0f} MB | {js['s'] / andon['s']:.2f}× | {same} | {today} |")
    return lines


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env node
'use strict';
/*
 * Reference-engine side of the Andon eCQM benchmark.
 *
 * Evaluates one ELM library with cql-execution + cql-exec-fhir (FHIR 4.0.1
 * model info) over a folder of NDJSON patient bundles and prints the value of
 * the requested definitions per patient.  See README.md for the formats.
 */
const fs = require('fs');
const path = require('path');
const readline = require('readline');

function die(msg) {
  process.stderr.write(`run.js: error: ${msg}\n`);
  process.exit(2);
}

let cql, cqlfhir;
try {
  cql = require('cql-execution');
  cqlfhir = require('cql-exec-fhir');
} catch (e) {
  die(`cannot load cql-execution / cql-exec-fhir (${e.message}); run "npm ci --prefix ${__dirname}" first`);
}

// ---------------------------------------------------------------- arguments
const USAGE = 'usage: node run.js --libraries DIR --valuesets DIR --library NAME --version VER ' +
  '--patients DIR --period-start YYYY-MM-DD --period-end YYYY-MM-DD ' +
  '--definitions "Initial Population,Denominator,..." [--out FILE] [--chunk N]';
const REQUIRED = ['libraries', 'valuesets', 'library', 'version', 'patients',
  'period-start', 'period-end', 'definitions'];
const OPTIONAL = ['out', 'chunk'];

function parseArgs(argv) {
  const args = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-h' || a === '--help') {
      process.stdout.write(USAGE + '\n');
      process.exit(0);
    }
    if (!a.startsWith('--')) die(`unexpected argument "${a}"\n${USAGE}`);
    let key = a.slice(2);
    let val;
    const eq = key.indexOf('=');
    if (eq >= 0) {
      val = key.slice(eq + 1);
      key = key.slice(0, eq);
    } else {
      val = argv[++i];
      if (val === undefined) die(`--${key} needs a value\n${USAGE}`);
    }
    if (!REQUIRED.includes(key) && !OPTIONAL.includes(key)) die(`unknown option --${key}\n${USAGE}`);
    args[key] = val;
  }
  const missing = REQUIRED.filter((k) => args[k] === undefined || args[k] === '');
  if (missing.length) die(`missing ${missing.map((k) => '--' + k).join(', ')}\n${USAGE}`);
  for (const k of ['libraries', 'valuesets', 'patients']) {
    if (!fs.existsSync(args[k]) || !fs.statSync(args[k]).isDirectory()) {
      die(`--${k}: "${args[k]}" is not a directory`);
    }
  }
  for (const k of ['period-start', 'period-end']) {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(args[k])) die(`--${k}: expected YYYY-MM-DD, got "${args[k]}"`);
  }
  args.definitions = args.definitions.split(',').map((s) => s.trim()).filter((s) => s);
  if (!args.definitions.length) die('--definitions is empty');
  args.chunk = args.chunk === undefined ? 500 : parseInt(args.chunk, 10);
  if (!(args.chunk > 0)) die('--chunk must be a positive integer');
  return args;
}

function jsonFiles(dir, exts) {
  return fs.readdirSync(dir)
    .filter((f) => exts.some((e) => f.toLowerCase().endsWith(e)))
    .sort()
    .map((f) => path.join(dir, f));
}

// ---------------------------------------------------------------- libraries
// The published CMS ELM JSON repeats the key "type" in every
// ChoiceTypeSpecifier node:
//     "type" : "ChoiceTypeSpecifier",
//     "type" : [ ],
//     "choice" : [ ... ]
// JSON.parse keeps the last value, so the node would end up with type = [].
// Does cql-execution care?  It switches on spec.type in
// Context.matchesTypeSpecifier (runtime/context.js), used by As/Is
// (asTypeSpecifier: 634 such choice nodes in the 2024 content) and by function
// overload resolution (operandTypeSpecifier: 16).  An unknown type falls into
// the `default: return true` branch, so unrepaired, every As(Choice<...>) and
// choice-typed operand silently matches ANY value instead of checking the
// choices.  (On CMS108's 136 test cases the results happen to be identical
// either way, but it is wrong in general.)  We repair it with a textual
// pre-pass before JSON.parse: a `"type": [ ]` that directly follows a string
// `"type": "..."` key in the same object is dropped, keeping the string value.
// All 739 duplicates in the 2024 QICore content have exactly that form.
const DUP_TYPE_RE = /("type"\s*:\s*"[^"]*")\s*,\s*"type"\s*:\s*\[\s*\]/g;

function loadLibraries(dir) {
  const libs = {};
  let repaired = 0;
  const files = jsonFiles(dir, ['.json']);
  if (!files.length) die(`--libraries: no *.json files in "${dir}"`);
  for (const f of files) {
    let text = fs.readFileSync(f, 'utf8');
    text = text.replace(DUP_TYPE_RE, (m, keep) => { repaired++; return keep; });
    let elm;
    try {
      elm = JSON.parse(text);
    } catch (e) {
      die(`cannot parse ELM JSON ${f}: ${e.message}`);
    }
    if (!elm || !elm.library || !elm.library.identifier) {
      process.stderr.write(`run.js: warning: ${f} is not an ELM library, skipped\n`);
      continue;
    }
    const { id, version } = elm.library.identifier;
    libs[`${id}|${version || ''}`] = elm;
  }
  return { libs, repaired };
}

// ---------------------------------------------------------------- value sets
// cql.CodeService expects { <valueset id>: { <version>: [ {code, system, version} ] } }.
// The ELM ValueSetDef.id is the canonical URL, so we key by ValueSet.url; the
// inner key is ValueSet.version ('' if absent).  With no version in the ELM,
// CodeService.findValueSet picks the greatest version string.
function collectContains(contains, out) {
  for (const c of contains || []) {
    if (c.code !== undefined && c.system !== undefined && !c.abstract) {
      out.push({ code: c.code, system: c.system, version: c.version });
    }
    if (c.contains) collectContains(c.contains, out);
  }
}

function loadValueSets(dir) {
  const vs = {};
  let count = 0, composeOnly = 0, empty = 0;
  for (const f of jsonFiles(dir, ['.json'])) {
    let res;
    try {
      res = JSON.parse(fs.readFileSync(f, 'utf8'));
    } catch (e) {
      die(`cannot parse value set ${f}: ${e.message}`);
    }
    const list = res && res.resourceType === 'Bundle' ? (res.entry || []).map((e) => e.resource) : [res];
    for (const r of list) {
      if (!r || r.resourceType !== 'ValueSet' || !r.url) continue;
      const codes = [];
      if (r.expansion && r.expansion.contains) {
        collectContains(r.expansion.contains, codes);
      } else if (r.compose && r.compose.include) {
        // No expansion: fall back to codes enumerated in compose.include
        // (filters / nested value sets are NOT expanded here).
        composeOnly++;
        for (const inc of r.compose.include) {
          for (const c of inc.concept || []) {
            codes.push({ code: c.code, system: inc.system, version: inc.version });
          }
        }
      }
      if (!codes.length) empty++;
      const version = r.version || '';
      vs[r.url] = vs[r.url] || {};
      vs[r.url][version] = codes;
      count++;
    }
  }
  return { vs, count, composeOnly, empty };
}

// ---------------------------------------------------------------- results
function idOf(item) {
  if (item && typeof item.getId === 'function') return item.getId();
  if (item && item._json && item._json.id !== undefined) return item._json.id;
  return undefined;
}

function toPlain(v) {
  if (v === null || v === undefined) return null;
  if (typeof v === 'boolean' || typeof v === 'number' || typeof v === 'string') return v;
  if (Array.isArray(v)) {
    return v.map((x) => {
      const id = idOf(x);
      return id !== undefined ? id : toPlain(x);
    });
  }
  const id = idOf(v);
  if (id !== undefined) return { id };
  if (typeof v.toString === 'function' && v.toString !== Object.prototype.toString) return v.toString();
  try {
    return JSON.parse(JSON.stringify(v));
  } catch (e) {
    return String(v);
  }
}

// ---------------------------------------------------------------- main
async function* bundles(dir) {
  const files = jsonFiles(dir, ['.ndjson', '.jsonl']);
  if (!files.length) die(`--patients: no *.ndjson / *.jsonl files in "${dir}"`);
  for (const f of files) {
    const rl = readline.createInterface({ input: fs.createReadStream(f), crlfDelay: Infinity });
    let n = 0;
    for await (const line of rl) {
      n++;
      if (!line.trim()) continue;
      let b;
      try {
        b = JSON.parse(line);
      } catch (e) {
        die(`${f}:${n}: invalid JSON (${e.message})`);
      }
      if (!b || b.resourceType !== 'Bundle') die(`${f}:${n}: not a FHIR Bundle`);
      yield b;
    }
  }
}

function patientIdOf(bundle) {
  const p = (bundle.entry || []).find((e) => e.resource && e.resource.resourceType === 'Patient');
  return p ? p.resource.id : undefined;
}

// cql-exec-fhir reports e.g. "Failed to locate element for Procedure.effective"
// with console.error whenever CQL reads a property that the resource type does
// not have (common with unions such as ServiceRequest | Procedure); the value is
// then null, as CQL requires.  Printed once per access that would flood stderr
// on 100,000 patients, so count distinct messages and report them in the summary.
const engineWarnings = {};
console.error = (...a) => {
  const msg = a.map(String).join(' ');
  engineWarnings[msg] = (engineWarnings[msg] || 0) + 1;
};

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const t0 = process.hrtime.bigint();

  const { libs, repaired } = loadLibraries(args.libraries);
  const repo = new cql.Repository(libs);
  const lib = repo.resolve(args.library, args.version);
  if (!lib) {
    const avail = Object.keys(libs).filter((k) => k.startsWith(args.library + '|'));
    die(`library ${args.library} version ${args.version} not found in ${args.libraries}` +
      (avail.length ? ` (found: ${avail.join(', ')})` : ''));
  }
  for (const d of args.definitions) {
    if (!lib.expressions[d]) die(`definition "${d}" not found in ${args.library}`);
  }
  const { vs, count: vsCount, composeOnly, empty } = loadValueSets(args.valuesets);
  const codeService = new cql.CodeService(vs);

  const [sy, sm, sd] = args['period-start'].split('-').map(Number);
  const [ey, em, ed] = args['period-end'].split('-').map(Number);
  const period = new cql.Interval(
    new cql.DateTime(sy, sm, sd, 0, 0, 0, 0, 0),
    new cql.DateTime(ey, em, ed, 23, 59, 59, 999, 0),
    true, true);
  const executor = new cql.Executor(lib, codeService, { 'Measurement Period': period });
  const t1 = process.hrtime.bigint();

  const out = args.out ? fs.createWriteStream(args.out) : null;
  const results = out ? null : {};
  let nPatients = 0, nErrors = 0;
  const errorSamples = [];
  let execNs = 0n;

  const record = (pid, resultMap) => {
    const row = {};
    for (const d of args.definitions) row[d] = toPlain(resultMap[d]);
    if (out) out.write(JSON.stringify({ id: pid, results: row }) + '\n');
    else results[pid] = row;
  };
  const recordError = (pid, err) => {
    nErrors++;
    const msg = (err && err.message) || String(err);
    if (errorSamples.length < 20) errorSamples.push({ id: pid, error: msg });
    if (out) out.write(JSON.stringify({ id: pid, error: msg }) + '\n');
    else results[pid] = { error: msg };
  };

  const runChunk = async (chunk) => {
    const s = process.hrtime.bigint();
    try {
      const src = cqlfhir.PatientSource.FHIRv401();
      src.loadBundles(chunk);
      const r = await executor.exec(src);
      for (const pid of Object.keys(r.patientResults)) record(pid, r.patientResults[pid]);
    } catch (e) {
      // One bad patient aborts the whole chunk: redo it one patient at a time
      // so the others still get results and the culprit is named.
      for (const b of chunk) {
        try {
          const src = cqlfhir.PatientSource.FHIRv401();
          src.loadBundles([b]);
          const r = await executor.exec(src);
          for (const pid of Object.keys(r.patientResults)) record(pid, r.patientResults[pid]);
        } catch (e2) {
          recordError(patientIdOf(b), e2);
        }
      }
    }
    execNs += process.hrtime.bigint() - s;
    nPatients += chunk.length;
  };

  let chunk = [];
  for await (const b of bundles(args.patients)) {
    chunk.push(b);
    if (chunk.length >= args.chunk) {
      await runChunk(chunk);
      chunk = [];
    }
  }
  if (chunk.length) await runChunk(chunk);
  if (out) await new Promise((res, rej) => out.end((e) => (e ? rej(e) : res())));
  const t2 = process.hrtime.bigint();

  const summary = {
    engine: 'cql-execution',
    versions: {
      'cql-execution': require('cql-execution/package.json').version,
      'cql-exec-fhir': require('cql-exec-fhir/package.json').version,
      node: process.version,
    },
    library: `${args.library}|${args.version}`,
    definitions: args.definitions,
    period: [args['period-start'], args['period-end']],
    patients: nPatients,
    errors: nErrors,
    seconds: Number(t2 - t1) / 1e9,            // read + parse bundles + evaluate
    exec_seconds: Number(execNs) / 1e9,        // evaluation calls only
    load_seconds: Number(t1 - t0) / 1e9,       // libraries + value sets
    libraries_loaded: Object.keys(libs).length,
    duplicate_type_keys_repaired: repaired,
    valuesets_loaded: vsCount,
    valuesets_from_compose: composeOnly,
    valuesets_without_codes: empty,
  };
  summary.engine_warnings = engineWarnings;
  if (errorSamples.length) summary.error_samples = errorSamples;
  if (out) summary.out = args.out;
  else summary.results = results;
  process.stdout.write(JSON.stringify(summary) + '\n');
}

main().catch((e) => {
  process.stderr.write(`run.js: fatal: ${(e && e.stack) || e}\n`);
  process.exit(1);
});

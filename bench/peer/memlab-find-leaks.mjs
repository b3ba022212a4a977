#!/usr/bin/env node
// memlab-find-leaks.mjs [--trace-all-objects] [--planted NAME] [--work-dir DIR] S0 S1 S2
//
// Peer for bench/run-diff.sh: memlab's own three-snapshot leak finder,
// `findLeaksBySnapshotFilePaths(baseline, target, final)` from @memlab/api@2.0.5
// (the API behind `memlab find-leaks --baseline S0 --target S1 --final S2`).
// memlab takes the objects allocated between baseline and target that are still
// alive in final ((S1 \ S0) ∩ S2, by V8 object id), runs its leak filters over them,
// finds a retainer trace to the GC roots for each survivor and clusters the traces;
// each cluster is one reported leak.
//
// memlab's default leak filters are written for browsers (detached DOM elements,
// unmounted React Fiber nodes, ...): on a Node.js heap they keep nothing unless
// `--trace-all-objects` is given, which (like the CLI flag of the same name) sets
// config.oversizeObjectAsLeak = true and config.oversizeThreshold = 0, i.e. every
// surviving new object is a leak candidate.
//
// Phases are timed by wrapping memlab's own methods (nothing is re-implemented):
// reading node ids of S0 and S1, full parse of S2, the set differences, shortest
// paths + dominators, leak filters, per-object retainer traces, clustering.
// A cluster "points at the planted leak" if its trace goes through an edge or node
// named NAME (default `sessionCache`, the Map planted by gen-snapshot.js --rounds).
//
// Phase timings go to stderr; one line of JSON to stdout.
// Run with a big heap: node --max-old-space-size=16000 memlab-find-leaks.mjs S0 S1 S2
import { statSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

const args = process.argv.slice(2);
let traceAll = false;
let planted = 'sessionCache';
let workDir = null;
const files = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--trace-all-objects') traceAll = true;
  else if (args[i] === '--planted') planted = args[++i];
  else if (args[i] === '--work-dir') workDir = args[++i];
  else files.push(args[i]);
}
if (files.length !== 3) {
  console.error('usage: node --max-old-space-size=16000 memlab-find-leaks.mjs [--trace-all-objects] [--planted NAME] [--work-dir DIR] S0 S1 S2');
  process.exit(2);
}

const require = createRequire(import.meta.url);
const core = require('@memlab/core');
const api = require('@memlab/api');
// memlab's internal TraceBucket (not exported; its package "exports" only has "."),
// wrapped to see cluster sizes
const coreDist = path.dirname(require.resolve('@memlab/core'));
const TraceBucket = require(path.join(coreDist, 'trace-cluster', 'TraceBucket.js')).default;

const { config, utils, analysis, serializer, NumericSet } = core;
const t0 = performance.now();
const timings = {};
const sec = (ms) => +(ms / 1000).toFixed(3);
const rssMiB = () => Math.round(process.resourceUsage().maxRSS / 1024);
function add(name, ms) {
  timings[name] = +((timings[name] || 0) + ms / 1000).toFixed(3);
  console.error(`[memlab-find-leaks] ${name.padEnd(22)} ${(ms / 1000).toFixed(2).padStart(8)}s  (peak rss ${rssMiB()} MiB)`);
}
function wrap(obj, method, name, onResult) {
  const orig = obj[method];
  obj[method] = function (...a) {
    const t = performance.now();
    const r = orig.apply(this, a);
    if (r && typeof r.then === 'function') {
      return r.then((v) => { add(typeof name === 'function' ? name(a) : name, performance.now() - t); onResult?.(v, a); return v; });
    }
    add(typeof name === 'function' ? name(a) : name, performance.now() - t);
    onResult?.(r, a);
    return r;
  };
}

// ---- instrumentation
let snapshot = null;
let candidates = null;          // |(S1 \ S0) ∩ S2| before memlab's leak filters
let afterFilter = null;         // ... after the filters
let tracesSampled = null;
let clusters = null;
const base = (a) => path.basename(String(a[0]));
wrap(utils, 'getSnapshotNodeIdsFromFile', (a) => `node_ids ${base(a)}`);
wrap(utils, 'getSnapshotFromFile', (a) => `parse ${base(a)}`);
wrap(analysis, 'diffSnapshots', 'diff_total(incl. parse)', (v) => { snapshot = v.snapshot; candidates = v.leakedHeapNodeIdSet.size; });
wrap(analysis, 'preparePathFinder', 'paths+dominators');
wrap(analysis, 'filterLeakedObjects', 'leak_filters', (v, a) => { afterFilter = a[0].size; });
wrap(analysis, 'filterLeakPaths', 'filter+traces(total)', (v) => { tracesSampled = v.length; });
wrap(TraceBucket, 'clusterPaths', 'clustering', (v) => { clusters = v; });
wrap(analysis, 'serializeClusterUpdate', 'serialize_clusters');

config.muteConsole = true; // memlab's progress output goes to stdout otherwise
if (traceAll) {
  config.oversizeObjectAsLeak = true;   // what `memlab find-leaks --trace-all-objects` sets
  config.oversizeThreshold = 0;
}
const ownWorkDir = !workDir;
if (!workDir) workDir = mkdtempSync(path.join(os.tmpdir(), 'memlab-find-leaks-'));

let traces = [];
let error = null;
try {
  traces = await api.findLeaksBySnapshotFilePaths(files[0], files[1], files[2], { workDir, consoleMode: 'SILENT' });
} catch (e) {
  error = String(e && e.stack || e).slice(0, 2000);
  console.error(`[memlab-find-leaks] memlab threw: ${error}`);
}
const total = performance.now() - t0;
add('total', total);

// ---- describe clusters
const mentions = (s) => s.includes(planted);
const summaries = [];
if (clusters && snapshot) {
  // memlab's own order is kept as `memlab_rank`; the list is re-sorted by retained size
  const sorted = clusters.map((c, i) => ({ c, i })).sort((a, b) => (b.c.retainedSize || 0) - (a.c.retainedSize || 0));
  for (const { c, i } of sorted) {
    let text = '';
    try { text = serializer.summarizePath(c.path, new NumericSet(), snapshot, { color: false }); } catch (e) { text = `(summarizePath failed: ${e.message})`; }
    text = text.replace(/\u001b\[[0-9;]*m/g, '');
    summaries.push({ memlab_rank: i + 1, count: c.count ?? null, retained_size: c.retainedSize ?? null, points_at_planted: mentions(text), trace: text.slice(0, 1200) });
  }
}
// traces returned by the API (one per cluster, JSON): also searched for the planted name
const tracesMention = traces.filter((t) => mentions(JSON.stringify(t))).length;
const firstPlanted = summaries.findIndex((c) => c.points_at_planted);
const out = {
  tool: 'memlab find-leaks',
  engine: '@memlab/api@2.0.5 findLeaksBySnapshotFilePaths',
  mode: traceAll ? 'trace-all-objects' : 'default leak filters',
  node: process.version,
  files: files.map((f) => ({ file: f, bytes: statSync(f).size })),
  node_count_final: snapshot ? snapshot.nodes.length : null,
  candidates_new_in_target_alive_in_final: candidates,
  after_leak_filters: afterFilter,
  traces_sampled: tracesSampled,
  leak_count: traces.length,
  clusters: summaries.slice(0, 20),
  planted: { name: planted, found: firstPlanted >= 0 || tracesMention > 0,
    rank_by_retained_size: firstPlanted >= 0 ? firstPlanted + 1 : null,
    memlab_rank: firstPlanted >= 0 ? summaries[firstPlanted].memlab_rank : null,
    clusters_pointing_at_it: summaries.filter((c) => c.points_at_planted).length, api_traces_mentioning_it: tracesMention },
  timings,
  total_secs: sec(total),
  peak_rss_mib: rssMiB(),
  error,
};
process.stdout.write(JSON.stringify(out) + '\n');
if (ownWorkDir) rmSync(workDir, { recursive: true, force: true });
process.exit(error ? 1 : 0);

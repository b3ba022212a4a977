#!/usr/bin/env node
// memlab-analyze.mjs FILE
//
// Optional second peer for bench/run.sh: memlab (@memlab/core@2.0.5).
// Loads the snapshot the way memlab's `getFullHeapFromFile()` does
// (utils.getSnapshotFromFile(file, {buildNodeIdIndex: true}) followed by
// analysis.preparePathFinder(): shortest paths from roots + dominator tree +
// retained sizes + React-Fiber marking), with the steps inlined so they can be
// timed separately. memlab has no Summary-style "class aggregates with retained
// size", so that part is computed here on top of memlab's public node API
// (node.name/type/self_size/retainedSize/dominatorNode) with the same rule as
// DevTools: a class's retained size is the sum of the retained sizes of its
// instances that are not dominated by another instance of the same class.
// Then the top 20 objects by retained size.
// Phase timings go to stderr; one line of JSON goes to stdout.
//
// Run with a big heap: node --max-old-space-size=16000 memlab-analyze.mjs FILE
import { statSync } from 'node:fs';
import memlab from '@memlab/core';

const { utils, TraceFinder, info, config } = memlab;
const file = process.argv[2];
if (!file) {
  console.error('usage: node --max-old-space-size=16000 memlab-analyze.mjs FILE.heapsnapshot');
  process.exit(2);
}
const TOP_N = 20;
config.muteConsole = true; // memlab's progress output goes to stdout otherwise
const t0 = performance.now();
let tPhase = t0;
const timings = {};
const sec = (ms) => +(ms / 1000).toFixed(3);
const rssMiB = () => Math.round(process.resourceUsage().maxRSS / 1024);
function phase(name) {
  const now = performance.now();
  timings[name] = sec(now - tPhase);
  console.error(`[memlab] ${name.padEnd(14)} ${timings[name].toFixed(2).padStart(8)}s  (peak rss ${rssMiB()} MiB)`);
  tPhase = now;
}

const bytes = statSync(file).size;

// ---- parse (same options as memlab's getFullHeapFromFile)
const snapshot = await utils.getSnapshotFromFile(file, { buildNodeIdIndex: true, verbose: false });
if (!snapshot) throw new Error('memlab failed to parse the snapshot');
phase('parse');

// ---- analysis.preparePathFinder(snapshot), step by step
const finder = new TraceFinder();
finder.annotateShortestPaths(snapshot);
phase('shortest_paths');
finder.calculateAllNodesRetainedSizes(snapshot);
phase('dominators');
utils.markAllDetachedFiberNode(snapshot);
utils.markAlternateFiberNode(snapshot);
snapshot.isProcessed = true;
phase('fiber_marks');
info.flush();

// ---- class aggregates with retained sizes (DevTools Summary semantics)
const nodes = snapshot.nodes;
const n = nodes.length;
const classIds = new Int32Array(n);
const classNames = [];
const classIndex = new Map();
const domOrd = new Int32Array(n);
const retained = new Float64Array(n);
const self = new Float64Array(n);
let rootOrd = 0;
for (let i = 0; i < n; i++) {
  const node = nodes.get(i);
  const type = node.type;
  const name = (type === 'object' || type === 'native') ? node.name
    : type === 'closure' ? 'Function' : `(${type})`;
  let c = classIndex.get(name);
  if (c === undefined) { c = classNames.length; classNames.push(name); classIndex.set(name, c); }
  classIds[i] = c;
  self[i] = node.self_size;
  retained[i] = node.retainedSize;
  const d = node.dominatorNode;
  domOrd[i] = d ? d.nodeIndex : -1;
  if (d && d.nodeIndex === i) rootOrd = i; // root is its own dominator
}
// children lists of the dominator tree (CSR)
const first = new Uint32Array(n + 1);
for (let i = 0; i < n; i++) if (domOrd[i] >= 0 && domOrd[i] !== i) first[domOrd[i] + 1]++;
for (let i = 0; i < n; i++) first[i + 1] += first[i];
const kids = new Uint32Array(first[n]);
const fill = first.slice(0, n);
for (let i = 0; i < n; i++) if (domOrd[i] >= 0 && domOrd[i] !== i) kids[fill[domOrd[i]]++] = i;
const C = classNames.length;
const agg = { count: new Float64Array(C), self: new Float64Array(C), ret: new Float64Array(C) };
for (let i = 0; i < n; i++) {
  if (!self[i]) continue;
  agg.count[classIds[i]]++;
  agg.self[classIds[i]] += self[i];
}
// iterative DFS over the dominator tree; `active[c]` = instances of class c on the current path
const active = new Int32Array(C);
const stack = new Int32Array(n + 1);
const iter = new Uint32Array(n);
let sp = 0;
stack[sp++] = rootOrd;
iter[rootOrd] = first[rootOrd];
if (self[rootOrd]) { agg.ret[classIds[rootOrd]] += retained[rootOrd]; }
active[classIds[rootOrd]]++;
while (sp > 0) {
  const v = stack[sp - 1];
  if (iter[v] < first[v + 1]) {
    const w = kids[iter[v]++];
    const c = classIds[w];
    if (self[w] && active[c] === 0) agg.ret[c] += retained[w];
    active[c]++;
    iter[w] = first[w];
    stack[sp++] = w;
  } else {
    active[classIds[v]]--;
    sp--;
  }
}
const classes = [];
for (let c = 0; c < C; c++) {
  if (agg.count[c]) classes.push({ name: classNames[c], count: agg.count[c], self: agg.self[c], retained: agg.ret[c] });
}
classes.sort((a, b) => b.retained - a.retained || b.self - a.self);
phase('aggregates');

// ---- top N objects by retained size (excluding the synthetic root)
const top = [];
for (let i = 0; i < n; i++) {
  if (i === rootOrd) continue;
  const r = retained[i];
  if (top.length < TOP_N || r > retained[top[top.length - 1]]) {
    let k = top.length < TOP_N ? top.length : TOP_N - 1;
    top[k] = i;
    while (k > 0 && retained[top[k - 1]] < r) { top[k] = top[k - 1]; top[k - 1] = i; k--; }
  }
}
const topObjects = top.map((i) => {
  const node = nodes.get(i);
  return { id: node.id, type: node.type, name: String(node.name).slice(0, 80), self: node.self_size, retained: retained[i] };
});
phase('top');

const total = sec(performance.now() - t0);
console.error(`[memlab] total          ${total.toFixed(2).padStart(8)}s  (peak rss ${rssMiB()} MiB)`);
process.stdout.write(JSON.stringify({
  tool: 'memlab',
  engine: '@memlab/core@2.0.5',
  node: process.version,
  file,
  bytes,
  node_count: n,
  edge_count: snapshot.edges.length,
  total_size: retained[rootOrd],
  class_count: classes.length,
  top_classes: classes.slice(0, 10),
  top_objects: topObjects,
  timings,
  total_secs: total,
  peak_rss_mib: rssMiB(),
}) + '\n');

#!/usr/bin/env node
// devtools-analyze.mjs FILE
//
// Peer for bench/run.sh: load a V8 .heapsnapshot with Chrome DevTools' own
// HeapSnapshot engine (the devtools-frontend worker code, packaged by the npm
// package heap-snapshot-toolkit@1.1.3) and compute what `plateau analyze`
// reports:
//   * full parse of nodes/edges/strings,
//   * DevTools' initialisation (edge indexes, retainers, flags, dominator tree,
//     retained sizes, distances, object names, statistics),
//   * the Summary view's class aggregates (count, shallow size, retained size
//     per class via calculateClassesRetainedSize),
//   * the Summary view's "Duplicated strings" filter (plateau reports duplicate
//     strings too; PEER_DUP_STRINGS=0 skips this phase),
//   * the top 20 objects by retained size.
// Phase timings go to stderr; one line of JSON goes to stdout.
//
// This is the same sequence heap-snapshot-toolkit's parse() performs, inlined so
// that the parse and init phases can be timed separately. Note: in Chrome the
// dominator/retainer step runs in a second worker; heap-snapshot-toolkit (and
// therefore this script) runs everything on one thread via a MessageChannel.
//
// Run with a big heap: node --max-old-space-size=16000 devtools-analyze.mjs FILE
import { createReadStream, statSync, openSync, readSync, closeSync } from 'node:fs';
import { DevToolsAPI } from 'heap-snapshot-toolkit';

const file = process.argv[2];
if (!file) {
  console.error('usage: node --max-old-space-size=16000 devtools-analyze.mjs FILE.heapsnapshot');
  process.exit(2);
}
const TOP_N = 20;
const t0 = performance.now();
let tPhase = t0;
const timings = {};
const sec = (ms) => +(ms / 1000).toFixed(3);
const rssMiB = () => Math.round(process.resourceUsage().maxRSS / 1024);
function phase(name) {
  const now = performance.now();
  timings[name] = sec(now - tPhase);
  console.error(`[devtools] ${name.padEnd(12)} ${(timings[name]).toFixed(2).padStart(8)}s  (peak rss ${rssMiB()} MiB)`);
  tPhase = now;
}

// Log DevTools' own progress statuses (sub-phases of parse/init) with timestamps.
let lastStatus = null;
let lastStatusAt = t0;
const verbose = process.env.PEER_VERBOSE !== '0';
const dispatcher = {
  sendEvent(_type, serialized) {
    let s;
    try { s = JSON.parse(serialized).string; } catch { return; }
    if (typeof s !== 'string' || s === lastStatus) return;
    const now = performance.now();
    if (verbose && lastStatus !== null) {
      console.error(`[devtools]   ${(lastStatus.replace(/ \{PH1\}%/, '')).padEnd(40)} ${((now - lastStatusAt) / 1000).toFixed(2).padStart(8)}s`);
    }
    lastStatus = s;
    lastStatusAt = now;
  },
};

const bytes = statSync(file).size;
const head = Buffer.alloc(4096);
{
  const fd = openSync(file, 'r');
  readSync(fd, head, 0, head.length, 0);
  closeSync(fd);
}

// ---- parse (stream the file into DevTools' incremental JSON loader)
const { HeapSnapshotLoader } = DevToolsAPI.HeapSnapshotLoader;
const { SecondaryInitManager } = DevToolsAPI;
const loader = new HeapSnapshotLoader(dispatcher);
await new Promise((resolve, reject) => {
  const rs = createReadStream(file, { encoding: 'utf-8', highWaterMark: 4 << 20 });
  rs.on('error', reject);
  rs.on('end', resolve);
  rs.on('data', (chunk) => loader.write(chunk));
});
loader.close();
await loader.parsingComplete;
phase('parse');

// ---- init (retainers, dominators, retained sizes, distances, names, stats)
const channel = new MessageChannel();
let snapshot;
try {
  // eslint-disable-next-line no-new
  new SecondaryInitManager(channel.port2);
  snapshot = await loader.buildSnapshot(channel.port1);
} finally {
  channel.port1.close();
  channel.port2.close();
}
dispatcher.sendEvent(0, JSON.stringify({ string: '(end)' }));
phase('init');

// ---- class aggregates (Summary view): count, self size, retained size per class
const aggregates = snapshot.aggregatesWithFilter({});
const classes = Object.entries(aggregates).map(([key, a]) => ({
  key, name: a.name, count: a.count, self: a.self, retained: a.maxRet, distance: a.distance,
}));
classes.sort((a, b) => b.retained - a.retained || b.self - a.self);
phase('aggregates');

// ---- duplicated strings (the Summary view's "Duplicated strings" filter), since
// plateau analyze reports duplicate strings too. PEER_DUP_STRINGS=0 skips it.
let dupStrings = null;
if (process.env.PEER_DUP_STRINGS !== '0') {
  const dup = snapshot.aggregatesWithFilter({ filterName: 'duplicatedStrings' });
  dupStrings = { nodes: 0, self: 0 };
  for (const a of Object.values(dup)) { dupStrings.nodes += a.count; dupStrings.self += a.self; }
  phase('dup_strings');
}

// ---- top N objects by retained size (excluding the synthetic root)
const { retainedSizes, nodeCount } = snapshot;
const rootOrdinal = snapshot.rootNodeIndex / snapshot.nodeFieldCount;
const topOrd = [];
let minTop = -1;
for (let ord = 0; ord < nodeCount; ord++) {
  if (ord === rootOrdinal) continue;
  const r = retainedSizes[ord];
  if (topOrd.length < TOP_N) {
    topOrd.push(ord);
    if (topOrd.length === TOP_N) { topOrd.sort((a, b) => retainedSizes[b] - retainedSizes[a]); minTop = retainedSizes[topOrd[TOP_N - 1]]; }
  } else if (r > minTop) {
    let i = TOP_N - 1;
    while (i > 0 && retainedSizes[topOrd[i - 1]] < r) { topOrd[i] = topOrd[i - 1]; i--; }
    topOrd[i] = ord;
    minTop = retainedSizes[topOrd[TOP_N - 1]];
  }
}
if (topOrd.length < TOP_N) topOrd.sort((a, b) => retainedSizes[b] - retainedSizes[a]);
const node = snapshot.createNode(0);
const topObjects = topOrd.map((ord) => {
  node.nodeIndex = ord * snapshot.nodeFieldCount;
  return {
    id: node.id(), type: node.type(), name: String(node.name()).slice(0, 80), class: node.className(),
    self: node.selfSize(), retained: retainedSizes[ord],
  };
});
phase('top');

const stats = snapshot.getStatistics();
const total = sec(performance.now() - t0);
console.error(`[devtools] total        ${total.toFixed(2).padStart(8)}s  (peak rss ${rssMiB()} MiB)`);
const out = {
  tool: 'devtools',
  engine: 'heap-snapshot-toolkit@1.1.3 (Chrome DevTools HeapSnapshot worker)',
  node: process.version,
  file,
  bytes,
  node_count: snapshot.nodeCount,
  edge_count: snapshot.containmentEdges.length / snapshot.edgeFieldsCount,
  header_node_count: Number((/"node_count":(\d+)/.exec(head.toString('utf8')) || [])[1]),
  total_size: snapshot.totalSize,
  statistics: stats,
  class_count: classes.length,
  top_classes: classes.slice(0, 10).map(({ key, ...c }) => c),
  top_objects: topObjects,
  duplicated_strings: dupStrings,
  timings,
  total_secs: total,
  peak_rss_mib: rssMiB(),
};
process.stdout.write(JSON.stringify(out) + '\n');

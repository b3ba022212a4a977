#!/usr/bin/env node
// memlab-unbound.mjs --plugin unbound-object|unbound-collection [--planted NAME] S0 S1 ...
//
// Peer for bench/run-diff.sh: memlab's multi-snapshot heap-analysis plugins from
// @memlab/heap-analysis@2.0.5, run as `memlab analyze unbound-object --snapshot-dir DIR`
// would run them:
//   unbound-object      ObjectUnboundGrowthAnalysis: every object/closure/regexp of S0,
//                       followed by V8 object id through the later snapshots; reports
//                       those whose retained size changed and is >= 10 KB at the end,
//                       top 20 by final retained size;
//   unbound-collection  CollectionUnboundGrowthAnalysis: every Map/Set/WeakMap/WeakSet of
//                       S0, followed the same way; reports those whose entry count
//                       changed, top 20 by final entry count.
// Each plugin parses every snapshot fully and computes dominators/retained sizes for it.
// The plugins read a directory, so the files are symlinked into a temporary one as
// s1.heapsnapshot, s2, ... (memlab's naming, which it sorts numerically).
// The reported list is captured from memlab's own serializer call
// (serializer.summarizeUnboundedObjectsToCSV(items)). An item is the planted leak if an
// edge named NAME (default `sessionCache`) points at it in S0.
//
// Phase timings go to stderr; one line of JSON to stdout.
import { mkdtempSync, rmSync, symlinkSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

const args = process.argv.slice(2);
let plugin = null;
let planted = 'sessionCache';
const files = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--plugin') plugin = args[++i];
  else if (args[i] === '--planted') planted = args[++i];
  else files.push(args[i]);
}
const PLUGINS = { 'unbound-object': 'ObjectUnboundGrowthAnalysis', 'unbound-collection': 'CollectionUnboundGrowthAnalysis' };
if (!PLUGINS[plugin] || files.length < 2) {
  console.error('usage: node --max-old-space-size=16000 memlab-unbound.mjs --plugin unbound-object|unbound-collection [--planted NAME] S0 S1 [S2 ...]');
  process.exit(2);
}

const require = createRequire(import.meta.url);
const core = require('@memlab/core');
// CollectionUnboundGrowthAnalysis is not re-exported by the package index (and the
// package "exports" map hides subpaths), so the plugin files are loaded by path.
const pluginDir = path.join(path.dirname(require.resolve('@memlab/heap-analysis')), 'plugins');
const { config, utils, serializer, fileManager } = core;

const t0 = performance.now();
const timings = {};
const sec = (ms) => +(ms / 1000).toFixed(3);
const rssMiB = () => Math.round(process.resourceUsage().maxRSS / 1024);
function add(name, ms) {
  timings[name] = +((timings[name] || 0) + ms / 1000).toFixed(3);
  console.error(`[memlab-${plugin}] ${name.padEnd(20)} ${(ms / 1000).toFixed(2).padStart(8)}s  (peak rss ${rssMiB()} MiB)`);
}
let loads = 0;
{
  const orig = utils.getSnapshotFromFile;
  utils.getSnapshotFromFile = async function (file, opt) {
    const t = performance.now();
    const r = await orig.call(this, file, opt);
    add(`parse ${path.basename(file)} (${path.basename(files[loads++] || '?')})`, performance.now() - t);
    return r;
  };
}
let items = null;
{
  const orig = serializer.summarizeUnboundedObjectsToCSV;
  serializer.summarizeUnboundedObjectsToCSV = function (list, ...rest) { items = list; return orig.call(this, list, ...rest); };
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'memlab-unbound-'));
files.forEach((f, i) => symlinkSync(path.resolve(f), path.join(dir, `s${i + 1}.heapsnapshot`)));
const work = path.join(dir, 'work');
config.muteConsole = true;
fileManager.initDirs(config, { workDir: work });

let error = null;
try {
  const Analysis = require(path.join(pluginDir, `${PLUGINS[plugin]}.js`)).default;
  const a = new Analysis();
  await a.process({ args: { _: [], 'snapshot-dir': dir } });
} catch (e) {
  error = String(e && e.stack || e).slice(0, 2000);
  console.error(`[memlab-${plugin}] memlab threw: ${error}`);
}
const total = performance.now() - t0;
add('total', total);

// planted?  look at the S0 node's referrers (the plugin keeps S0's node objects)
function isPlanted(item) {
  let hit = false;
  try {
    item.node.forEachReferrer((e) => { if (String(e.name_or_index) === planted) hit = true; });
  } catch { /* ignore */ }
  return hit;
}
const list = (items || []).map((it, i) => ({
  rank: i + 1, id: it.id, type: it.type, name: String(it.name).slice(0, 60), history: it.history,
  planted: isPlanted(it),
}));
const p = list.find((x) => x.planted);
process.stdout.write(JSON.stringify({
  tool: `memlab ${plugin}`,
  engine: `@memlab/heap-analysis@2.0.5 ${PLUGINS[plugin]}`,
  node: process.version,
  files: files.map((f) => ({ file: f, bytes: statSync(f).size })),
  reported: list.length,
  items: list,
  planted: { name: planted, found: !!p, rank: p ? p.rank : null, history: p ? p.history : null },
  timings,
  total_secs: sec(total),
  peak_rss_mib: rssMiB(),
  error,
}) + '\n');
rmSync(dir, { recursive: true, force: true });
process.exit(error ? 1 : 0);

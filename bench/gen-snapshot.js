#!/usr/bin/env node
// gen-snapshot.js — build a realistic, service-like V8 heap inside a real node
// process and write it with v8.writeHeapSnapshot().
//
//   node bench/gen-snapshot.js --target-mb 300 --out bench/out/heap-300.heapsnapshot
//
// Options:
//   --target-mb N   approximate size of the written .heapsnapshot file, in MiB (2^20 bytes)
//   --out FILE      output path (written to FILE.tmp first, then renamed)
//   --seed S        PRNG seed (default 1234567)
//   --units U       skip calibration and build exactly U "session units"
//                   (the chosen U is printed, so a run can be replayed exactly)
//
// Multi-snapshot mode (for `plateau diff` and memlab's find-leaks):
//
//   node bench/gen-snapshot.js --target-mb 300 --rounds 3 --out-prefix bench/out/grow-300
//
//   --rounds N      write N snapshots from ONE process: PREFIX-s0.heapsnapshot (the heap
//                   above, the baseline), then after each of N-1 "load rounds" PREFIX-s1,
//                   PREFIX-s2, ... (N >= 2; --rounds 3 = s0, s1, s2)
//   --out-prefix P  file prefix for --rounds (replaces --out)
//   --leak-per-round K   sessions leaked per round (default: 3.5% of the unit count)
//   --churn-per-round R  requests per round whose garbage is freed again (default: 25% of units)
//
// A load round: K short-lived sessions log in (into state.sessions, activeIds, and the
// module-level `sessionCache` Map), R requests run against random live sessions (garbage:
// request contexts, header objects, response bodies; and in-place replacements of
// existing objects: a renewed AuthToken for 1 request in 8, a new RequestContext on
// sessions that already had one, a new lastPath string), then the K sessions log out:
// they are deleted from state.sessions and activeIds, but never from `sessionCache`.
// That Map is the planted leak: 0 entries in s0, K in s1, 2K in s2, ... Everything else
// is the same size in every snapshot. The printed JSON names the leak.
//
// "MB" here means MiB (2^20 bytes), matching `ls -lh`/`du -m`.
//
// How sizing works: the heap is built from "session units" (one user session
// with its user, cart, token, history arrays, closures, listeners, ...).
// We write two small calibration snapshots (at C and 2C units), read their
// sizes and node/edge counts, fit size = a + b*units + (decimal-digit growth of
// node ids and edge to_node indexes), solve for the target, round the unit count
// to a multiple of 1000 (100 for small targets) (so small non-determinism in calibration does not change
// the result) and build the rest. Everything is driven by a seeded PRNG; no
// Math.random / Date.now, so the application heap is reproducible for a given
// node version and unit count (V8's own objects — compiled code, feedback —
// still vary slightly, so files are not byte-identical across runs).
'use strict';

const fs = require('fs');
const path = require('path');
const v8 = require('v8');
const { EventEmitter } = require('events');
const { spawnSync } = require('child_process');

// ---------------------------------------------------------------- arguments
function parseArgs(argv) {
  const o = { targetMb: null, out: null, seed: 1234567, units: null, rounds: null, outPrefix: null,
    leakPerRound: null, churnPerRound: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) die(`missing value for ${a}`);
      return argv[++i];
    };
    if (a === '--target-mb') o.targetMb = Number(next());
    else if (a === '--out') o.out = next();
    else if (a === '--seed') o.seed = Number(next()) >>> 0;
    else if (a === '--units') o.units = Number(next());
    else if (a === '--rounds') o.rounds = Number(next());
    else if (a === '--out-prefix') o.outPrefix = next();
    else if (a === '--leak-per-round') o.leakPerRound = Number(next());
    else if (a === '--churn-per-round') o.churnPerRound = Number(next());
    else if (a === '-h' || a === '--help') {
      console.log('usage: gen-snapshot.js --target-mb N --out FILE [--seed S] [--units U]\n' +
        '       gen-snapshot.js --target-mb N --rounds 3 --out-prefix PREFIX [--seed S] [--units U]\n' +
        '                       [--leak-per-round K] [--churn-per-round R]');
      process.exit(0);
    } else die(`unknown argument: ${a}`);
  }
  if (o.rounds != null) {
    if (!(Number.isInteger(o.rounds) && o.rounds >= 2)) die('--rounds must be an integer >= 2 (number of snapshots)');
    if (!o.outPrefix) die('--rounds needs --out-prefix PREFIX');
    if (o.out) die('--out and --rounds are exclusive (use --out-prefix)');
    for (const [k, v] of [['--leak-per-round', o.leakPerRound], ['--churn-per-round', o.churnPerRound]]) {
      if (v != null && !(Number.isInteger(v) && v >= 0)) die(`${k} must be an integer >= 0`);
    }
  } else if (o.outPrefix || o.leakPerRound != null || o.churnPerRound != null) {
    die('--out-prefix, --leak-per-round and --churn-per-round need --rounds');
  }
  if (!o.out && o.rounds == null) die('--out FILE is required');
  if (o.units == null && !(o.targetMb > 0)) die('--target-mb N (N > 0) is required unless --units is given');
  if (o.units != null && !(o.units >= 0)) die('--units must be >= 0');
  return o;
}
function die(msg) {
  console.error(`gen-snapshot: ${msg}`);
  process.exit(2);
}
const opts = parseArgs(process.argv.slice(2));

// Re-exec ourselves with a big enough old space. Building the heap for a 1 GiB
// snapshot needs ~1-2 GiB of JS heap; the snapshot generator itself allocates
// outside the JS heap (roughly 1-2x the heap again).
{
  const wantMb = Math.min(20000, Math.max(4096, Math.ceil((opts.targetMb || 1024) * 4)));
  const haveMb = v8.getHeapStatistics().heap_size_limit / 2 ** 20;
  if (!process.env.PLATEAU_GEN_CHILD && haveMb < wantMb * 0.95) {
    const r = spawnSync(process.execPath,
      [`--max-old-space-size=${wantMb}`, __filename, ...process.argv.slice(2)],
      { stdio: 'inherit', env: { ...process.env, PLATEAU_GEN_CHILD: '1' } });
    if (r.error) die(String(r.error));
    process.exit(r.status == null ? 1 : r.status);
  }
}

const T0 = process.hrtime.bigint();
const secs = () => Number(process.hrtime.bigint() - T0) / 1e9;
const log = (m) => console.error(`[gen ${secs().toFixed(1).padStart(6)}s] ${m}`);

// ---------------------------------------------------------------- PRNG
function mulberry32(a) {
  return function () {
    a |= 0; a = (a + 0x6D2B79F5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rng = mulberry32(opts.seed);
const int = (n) => Math.floor(rng() * n);
const pick = (arr) => arr[int(arr.length)];
const HEX = '0123456789abcdef';
const hexBuf = [];
function hex(n) { // flat (sequential) string; `s += c` in a loop would build long cons-string chains
  hexBuf.length = n;
  for (let i = 0; i < n; i++) hexBuf[i] = HEX[int(16)];
  return hexBuf.join('');
}
const WORDS = ('lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor ' +
  'incididunt ut labore et dolore magna aliqua enim ad minim veniam quis nostrud exercitation ' +
  'ullamco laboris nisi aliquip ex ea commodo consequat duis aute irure in reprehenderit voluptate').split(' ');
function text(len) {
  const parts = [];
  let n = 0;
  while (n < len) {
    const w = pick(WORDS);
    parts.push(w);
    n += w.length + 1;
  }
  parts.push(hex(8)); // make it unique
  return parts.join(' ');
}

// ---------------------------------------------------------------- pools
const FIRST = ['Ada', 'Grace', 'Alan', 'Linus', 'Barbara', 'Ken', 'Dennis', 'Margaret', 'Edsger', 'Donald',
  'Frances', 'John', 'Radia', 'Leslie', 'Tim', 'Sophie', 'Guido', 'Bjarne', 'Anders', 'Yukihiro'];
const LAST = ['Lovelace', 'Hopper', 'Turing', 'Torvalds', 'Liskov', 'Thompson', 'Ritchie', 'Hamilton',
  'Dijkstra', 'Knuth', 'Allen', 'McCarthy', 'Perlman', 'Lamport', 'Berners-Lee', 'Wilson', 'van Rossum'];
const CITIES = ['Berlin', 'Lisbon', 'Austin', 'Osaka', 'Nairobi', 'Toronto', 'Sydney', 'Oslo', 'Lima', 'Pune'];
const COUNTRIES = ['DE', 'PT', 'US', 'JP', 'KE', 'CA', 'AU', 'NO', 'PE', 'IN'];
const STREETS = ['Main St', 'High St', 'Station Rd', 'Park Ave', 'Church Ln', 'Mill Rd', 'King St'];
const SKUS = Array.from({ length: 400 }, (_, i) => `SKU-${String(100000 + i * 37)}`);
const TAGS = ['sale', 'new', 'gift', 'bulk', 'fragile', 'digital', 'refurb', 'eco', 'limited', 'clearance'];
const SCOPES = ['read', 'write', 'admin', 'billing', 'orders', 'profile', 'support'];
const ROLES = ['customer', 'staff', 'vip', 'beta-tester', 'wholesale'];
const ACTIONS = ['login', 'logout', 'view', 'add_to_cart', 'remove_from_cart', 'checkout', 'refresh_token'];
const THEMES = ['light', 'dark', 'system'];
const LOCALES = ['en-US', 'en-GB', 'de-DE', 'pt-PT', 'ja-JP', 'fr-FR', 'es-ES'];
const STATUSES = ['active', 'idle', 'expiring', 'locked'];
const METRICS = ['http_request_duration_ms', 'db_query_ms', 'cache_hit', 'queue_depth', 'gc_pause_ms'];
const ROUTES = ['/api/v1/cart', '/api/v1/items', '/api/v1/orders', '/api/v1/users/me', '/healthz'];
const CODES = ['200', '201', '204', '304', '400', '401', '404', '500'];
const EVENTS = ['session:expired', 'session:renewed', 'cart:updated', 'order:placed', 'user:updated'];
const UAS = Array.from({ length: 40 }, (_, i) =>
  `Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${100 + i}.0.0.0 Safari/537.36`);
const ORDER_STATES = ['pending', 'paid', 'shipped', 'delivered', 'refunded'];
const EPOCH = 1700000000000;

// ---------------------------------------------------------------- classes
class Address {
  constructor(street, city, zip, country) {
    this.street = street; this.city = city; this.zip = zip; this.country = country;
  }
}
class User {
  constructor(id, first, last, address) {
    this.id = id;
    this.displayName = first + ' ' + last; // duplicate contents across users
    this.email = `${first.toLowerCase()}.${last.toLowerCase()}${id}@example.com`;
    this.address = address;
    this.roles = [pick(ROLES)];
    if (rng() < 0.2) this.roles.push(pick(ROLES));
    this.createdAt = EPOCH - rng() * 3e10; // heap number
    this.loginCount = int(5000);
  }
}
class Preferences {
  constructor(theme, locale) {
    this.theme = theme; this.locale = locale;
    this.flags = { beta: rng() < 0.1, darkMode: theme === 'dark', emails: rng() < 0.5, compact: rng() < 0.3 };
  }
}
class CartItem {
  constructor(sku, qty, price, tags) { this.sku = sku; this.qty = qty; this.price = price; this.tags = tags; }
}
class Cart {
  constructor(items) { this.items = items; this.currency = 'EUR'; this.updatedAt = EPOCH + rng() * 1e9; }
  total() { let t = 0; for (const it of this.items) t += it.qty * it.price; return t; }
}
class Order {
  constructor(id, user, items, total) {
    this.id = id; this.user = user; this.items = items; this.total = total;
    this.status = 'order:' + pick(ORDER_STATES); // duplicate-content string objects
    this.placedAt = EPOCH + rng() * 1e9;
  }
}
class AuthToken {
  constructor(value, scopes, expiresAt) { this.value = value; this.scopes = scopes; this.expiresAt = expiresAt; }
}
class AuditEntry {
  constructor(ts, action, detail) { this.ts = ts; this.action = action; this.detail = detail; }
}
class RequestContext {
  constructor(requestId, path, headers, startedAt) {
    this.requestId = requestId; this.path = path; this.headers = headers; this.startedAt = startedAt;
  }
}
class RateLimiter {
  constructor(key, capacity) { this.key = key; this.capacity = capacity; this.window = new Float64Array(8); this.hits = 0; }
}
class MetricSample {
  constructor(name, value, labels) { this.name = name; this.value = value; this.labels = labels; }
}
class Session {
  constructor(id, user, token, cart, prefs) {
    this.id = id; this.user = user; this.token = token; this.cart = cart; this.prefs = prefs;
    this.status = null; this.history = null; this.latencies = null; this.audit = null;
    this.lastPath = null; this.ctx = null; this.onTimeout = null; this.blob = null; this.payload = null; this.lastOrder = null;
  }
}

// ---------------------------------------------------------------- state
const state = {
  sessions: new Map(),
  usersById: new Map(),
  limiters: new Map(),
  activeIds: new Set(),
  responseCache: new Map(),
  orders: [],
  metrics: [],
  buses: Array.from({ length: 16 }, () => { const e = new EventEmitter(); e.setMaxListeners(0); return e; }),
  counters: { expired: 0, renewed: 0, events: 0 },
};
globalThis.__plateauBenchState = state;

function makeTimeoutHandler(session, sid, ttlMs) {
  let fired = 0;
  const startedAt = EPOCH + int(1e9);
  return function onSessionTimeout(now) {
    fired++;
    if (now - startedAt > ttlMs) { state.sessions.delete(sid); state.counters.expired++; }
    return fired + session.history.length;
  };
}
function makeListener(sid, kind, weight) {
  const seen = [];
  return (evt) => {
    seen.push(evt);
    state.counters.events += weight;
    return `${kind}:${sid}:${seen.length}`;
  };
}

let nextUserId = 1;
let unitsBuilt = 0;
function buildUnit(i) {
  // user: ~30% of sessions belong to an existing user (shared => interesting dominators)
  let user;
  if (nextUserId > 1 && rng() < 0.3) {
    user = state.usersById.get(1 + int(nextUserId - 1));
  } else {
    const id = nextUserId++;
    const addr = new Address(`${1 + int(300)} ${pick(STREETS)}`, pick(CITIES), String(10000 + int(89999)), pick(COUNTRIES));
    user = new User(id, pick(FIRST), pick(LAST), addr);
    state.usersById.set(id, user);
    state.limiters.set(id, new RateLimiter(`rl:user:${id}`, 50 + int(200)));
  }

  const sid = 'sess-' + hex(16);
  const scopes = [pick(SCOPES)];
  if (rng() < 0.5) scopes.push(pick(SCOPES));
  const token = new AuthToken(hex(48), scopes, EPOCH + rng() * 1e9);

  const nItems = int(7);
  const items = new Array(nItems);
  for (let k = 0; k < nItems; k++) {
    const tags = [];
    for (let t = int(4); t > 0; t--) tags.push(pick(TAGS));
    items[k] = new CartItem(pick(SKUS), 1 + int(5), Math.round(rng() * 20000) / 100 + 0.01, tags);
  }
  const cart = new Cart(items);
  const prefs = new Preferences(pick(THEMES), pick(LOCALES));
  const s = new Session(sid, user, token, cart, prefs);
  s.status = 'st:' + pick(STATUSES); // many duplicate-content strings
  s.lastPath = `/api/v1/${pick(['cart', 'items', 'orders'])}/${int(1e7)}?session=${sid}`; // unique medium string

  const hl = 4 + int(21);
  s.history = new Array(hl);
  for (let k = 0; k < hl; k++) s.history[k] = int(1e6);      // smi array
  const ll = 4 + int(13);
  s.latencies = new Array(ll);
  for (let k = 0; k < ll; k++) s.latencies[k] = rng() * 250;  // double array

  const na = int(5);
  s.audit = [];
  for (let k = 0; k < na; k++) {
    const action = pick(ACTIONS);
    s.audit.push(new AuditEntry(EPOCH + int(1e9), action, ['user ', action, ' ok'].join('')));
  }

  if (i % 3 === 0) s.onTimeout = makeTimeoutHandler(s, sid, 60000 + int(3600000));
  if (i % 10 === 0) {
    const kind = pick(EVENTS);
    state.buses[i % 16].on(kind, makeListener(sid, kind, 1 + int(3)));
  }
  if (i % 7 === 0) {
    const reqId = hex(24);
    s.ctx = new RequestContext(reqId, `/api/v1/items/${int(1e6)}?ref=${hex(6)}`, {
      accept: 'application/json',
      'user-agent': pick(UAS),
      'x-request-id': reqId,
      'x-tenant': 'tenant-' + (i % 16),
    }, EPOCH + int(1e9));
  }
  if (i % 20 === 0) {
    s.blob = (i % 40 === 0)
      ? Buffer.alloc(64 + int(448), i & 255)      // own ArrayBuffer + backing store
      : Buffer.from(sid + ':' + token.value);     // small pooled Buffer slice
  }
  if (i % 50 === 0 && nItems > 0) {
    const order = new Order(`ord-${hex(12)}`, user, items.slice(), cart.total());
    state.orders.push(order);
    s.lastOrder = order;
  }
  if (i % 200 === 0) s.payload = text(2048 + int(14336)); // a few long unique strings
  if (i % 4 === 0) {
    state.metrics.push(new MetricSample(pick(METRICS), rng() * 1000, { route: pick(ROUTES), code: pick(CODES) }));
  }
  if (i % 5 === 0) {
    state.responseCache.set(`GET /api/v1/items/${int(1e6)}`, {
      status: 200, etag: hex(16), body: text(48 + int(200)), cachedAt: EPOCH + int(1e9),
    });
  }
  state.sessions.set(sid, s);
  if (i % 2 === 0) state.activeIds.add(sid);
}
function buildTo(n) {
  while (unitsBuilt < n) buildUnit(unitsBuilt++);
}

// ---------------------------------------------------------------- load rounds (--rounds)
// The planted leak: a module-level cache that login() fills and logout() never
// empties. Created only in --rounds mode (before s0, so it is an old, empty holder
// in the baseline); the default single-snapshot heap does not contain it.
let sessionCache = null;

// A session like buildUnit's, for an existing user, registered nowhere else
// (no listeners, orders, metrics, response-cache entries, new users or limiters:
// those would be further growing structures, and this benchmark wants one leak).
function makeRoundSession(k) {
  const user = state.usersById.get(1 + int(nextUserId - 1)); // an existing user: usersById does not grow
  const sid = 'sess-' + hex(16);
  const scopes = [pick(SCOPES)];
  if (rng() < 0.5) scopes.push(pick(SCOPES));
  const token = new AuthToken(hex(48), scopes, EPOCH + rng() * 1e9);
  const nItems = int(7);
  const items = new Array(nItems);
  for (let j = 0; j < nItems; j++) {
    const tags = [];
    for (let t = int(4); t > 0; t--) tags.push(pick(TAGS));
    items[j] = new CartItem(pick(SKUS), 1 + int(5), Math.round(rng() * 20000) / 100 + 0.01, tags);
  }
  const s = new Session(sid, user, token, new Cart(items), new Preferences(pick(THEMES), pick(LOCALES)));
  s.status = 'st:' + pick(STATUSES);
  s.lastPath = `/api/v1/${pick(['cart', 'items', 'orders'])}/${int(1e7)}?session=${sid}`;
  const hl = 4 + int(21);
  s.history = new Array(hl);
  for (let j = 0; j < hl; j++) s.history[j] = int(1e6);
  const ll = 4 + int(13);
  s.latencies = new Array(ll);
  for (let j = 0; j < ll; j++) s.latencies[j] = rng() * 250;
  s.audit = [];
  for (let j = int(5); j > 0; j--) {
    const action = pick(ACTIONS);
    s.audit.push(new AuditEntry(EPOCH + int(1e9), action, ['user ', action, ' ok'].join('')));
  }
  if (k % 3 === 0) s.onTimeout = makeTimeoutHandler(s, sid, 60000 + int(3600000));
  return s;
}

function login(s) {
  state.sessions.set(s.id, s);
  state.activeIds.add(s.id);
  sessionCache.set(s.id, s); // "fast re-login" cache ...
}
function logout(sid) {
  state.sessions.delete(sid);
  state.activeIds.delete(sid);
  // ... BUG (planted): sessionCache.delete(sid) is missing
}

// One request against a live session: garbage (context, headers, parsed body, response)
// plus in-place replacements that keep every count stable.
function handleRequest(s, q) {
  const reqId = hex(24);
  const ctx = new RequestContext(reqId, `/api/v1/items/${int(1e6)}?ref=${hex(6)}`, {
    accept: 'application/json', 'user-agent': pick(UAS), 'x-request-id': reqId, 'x-session': s.id,
  }, EPOCH + int(1e9));
  const body = [];
  for (let j = int(6); j > 0; j--) body.push({ sku: pick(SKUS), qty: 1 + int(5), note: text(16 + int(48)) });
  const response = { status: 200, etag: hex(16), body: JSON.stringify(body), ctx };
  if (s.ctx) s.ctx = ctx;                 // replaces the old one (freed): RequestContext count unchanged
  if (q % 8 === 0) s.token = new AuthToken(hex(48), s.token.scopes, EPOCH + rng() * 1e9); // renewal
  s.lastPath = `${ctx.path}&session=${s.id}`;
  s.history[int(s.history.length)] = int(1e6);
  return response;
}

function loadRound(round, leakN, churnN) {
  const ids = Array.from(state.sessions.keys()); // garbage after the round
  const inflight = [];
  const loggedIn = [];
  for (let k = 0; k < leakN; k++) {
    const s = makeRoundSession(k);
    login(s);
    loggedIn.push(s);
  }
  for (let q = 0; q < churnN; q++) {
    // 1 request in 5 from this round's short-lived sessions, the rest from the long-lived ones
    const s = (loggedIn.length && q % 5 === 0) ? loggedIn[int(loggedIn.length)] : state.sessions.get(ids[int(ids.length)]);
    inflight.push(handleRequest(s, q));
    if (inflight.length > 4096) inflight.length = 0; // responses sent
  }
  for (const s of loggedIn) logout(s.id);
  return { logins: leakN, requests: churnN, cache_entries: sessionCache.size, sessions: state.sessions.size };
}

// ---------------------------------------------------------------- snapshot helpers
function headerCounts(file) {
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.alloc(4096);
  const n = fs.readSync(fd, buf, 0, buf.length, 0);
  fs.closeSync(fd);
  const head = buf.subarray(0, n).toString('utf8');
  const nc = /"node_count":(\d+)/.exec(head);
  const ec = /"edge_count":(\d+)/.exec(head);
  return { nodes: nc ? Number(nc[1]) : NaN, edges: ec ? Number(ec[1]) : NaN };
}
function snapshotTo(file) {
  const t = secs();
  const written = v8.writeHeapSnapshot(file);
  const size = fs.statSync(written).size;
  return { size, ...headerCounts(written), secs: secs() - t };
}
// average number of decimal digits of an integer drawn uniformly from [0, max)
function avgDigits(max) {
  if (max <= 1) return 1;
  let total = 0;
  for (let d = 1, lo = 0, hi = 10; lo < max; d++, lo = hi, hi *= 10) total += d * (Math.min(hi, max) - lo);
  return total / max;
}
// Extra bytes from the growing decimal width of node ids (~2 per object) and
// edge to_node fields (7 * ordinal). Many edges point at shared low-ordinal
// objects (maps, prototypes, pooled strings) whose width does not grow, so only
// a fraction of the uniform-distribution estimate applies; 0.3 was measured on
// node 20 (300 MiB target: linear fit 287 MiB, full digit model 298, actual 291).
const DIGIT_FACTOR = 0.3;
const digitBytes = (nodes, edges) => DIGIT_FACTOR * (edges * avgDigits(7 * nodes) + nodes * avgDigits(2 * nodes));

// ---------------------------------------------------------------- main
function main() {
  const out = path.resolve(opts.rounds != null ? opts.outPrefix : opts.out);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const tmp = out + '.tmp';
  let units = opts.units;
  const targetBytes = opts.targetMb != null ? opts.targetMb * 2 ** 20 : null;
  log(`node ${process.version}, heap limit ${(v8.getHeapStatistics().heap_size_limit / 2 ** 20).toFixed(0)} MiB, seed ${opts.seed}`);

  if (units == null) {
    const cal = Math.max(200, Math.min(5000, Math.round(opts.targetMb * 8)));
    const calFile = out + '.cal.heapsnapshot.tmp';
    buildTo(cal);
    const a = snapshotTo(calFile);
    buildTo(2 * cal);
    const b = snapshotTo(calFile);
    fs.rmSync(calFile, { force: true });
    log(`calibration: ${cal} units -> ${(a.size / 2 ** 20).toFixed(1)} MiB (${a.nodes} nodes, ${a.edges} edges); ` +
      `${2 * cal} units -> ${(b.size / 2 ** 20).toFixed(1)} MiB (${b.nodes} nodes, ${b.edges} edges)`);
    const nPer = (b.nodes - a.nodes) / cal, ePer = (b.edges - a.edges) / cal;
    const n0 = a.nodes - nPer * cal, e0 = a.edges - ePer * cal;
    const ra = a.size - digitBytes(a.nodes, a.edges), rb = b.size - digitBytes(b.nodes, b.edges);
    const slope = (rb - ra) / cal, icpt = ra - slope * cal;
    const predict = (u) => icpt + slope * u + digitBytes(n0 + nPer * u, e0 + ePer * u);
    let lo = 0, hi = 1;
    while (predict(hi) < targetBytes) hi *= 2;
    for (let k = 0; k < 60; k++) { const mid = (lo + hi) / 2; if (predict(mid) < targetBytes) lo = mid; else hi = mid; }
    const grain = lo >= 20000 ? 1000 : 100;
    units = Math.max(2 * cal, Math.round(lo / grain) * grain);
    log(`per unit: ${nPer.toFixed(1)} nodes, ${ePer.toFixed(1)} edges, ~${(slope).toFixed(0)} B (+digits); ` +
      `=> ${units} units, predicted ${(predict(units) / 2 ** 20).toFixed(1)} MiB, ~${Math.round(n0 + nPer * units)} nodes`);
  }

  buildTo(units);
  if (opts.rounds != null) return writeRounds(out, units);
  const mu = process.memoryUsage();
  log(`built ${units} units (replay with --units ${units} --seed ${opts.seed}); heapUsed ${(mu.heapUsed / 2 ** 20).toFixed(0)} MiB, rss ${(mu.rss / 2 ** 20).toFixed(0)} MiB; writing snapshot...`);
  const r = snapshotTo(tmp);
  fs.renameSync(tmp, out);
  const rssPeak = process.resourceUsage().maxRSS / 1024;
  log(`wrote ${out}: ${r.size} bytes (${(r.size / 2 ** 20).toFixed(1)} MiB), ${r.nodes} nodes, ${r.edges} edges; ` +
    `snapshot write ${r.secs.toFixed(1)}s; peak rss ${rssPeak.toFixed(0)} MiB; total ${secs().toFixed(1)}s`);
  console.log(JSON.stringify({
    file: out, bytes: r.size, node_count: r.nodes, edge_count: r.edges, units, seed: opts.seed,
    target_mb: opts.targetMb, node: process.version, write_secs: +r.secs.toFixed(2), total_secs: +secs().toFixed(2),
    peak_rss_mib: Math.round(rssPeak),
  }));
}

// --rounds: s0, then a load round and a snapshot, N-1 times, all from this process
// (V8 keeps object ids stable across snapshots of one process; diff tools rely on it).
function writeRounds(prefix, units) {
  const leakN = opts.leakPerRound != null ? opts.leakPerRound : Math.round(units * 0.035 / 10) * 10;
  const churnN = opts.churnPerRound != null ? opts.churnPerRound : Math.round(units * 0.25 / 10) * 10;
  sessionCache = new Map();
  const snaps = [];
  for (let r = 0; r < opts.rounds; r++) {
    let round = null;
    if (r > 0) {
      const t = secs();
      round = loadRound(r, leakN, churnN);
      round.secs = +(secs() - t).toFixed(2);
      log(`load round ${r}: ${leakN} logins (leaked into sessionCache), ${churnN} requests in ${round.secs}s; ` +
        `sessionCache ${round.cache_entries} entries, state.sessions ${round.sessions}`);
    }
    const file = `${prefix}-s${r}.heapsnapshot`;
    const mu = process.memoryUsage();
    log(`s${r}: heapUsed ${(mu.heapUsed / 2 ** 20).toFixed(0)} MiB, rss ${(mu.rss / 2 ** 20).toFixed(0)} MiB; writing ${file} ...`);
    const res = snapshotTo(file + '.tmp');
    fs.renameSync(file + '.tmp', file);
    log(`wrote ${file}: ${res.size} bytes (${(res.size / 2 ** 20).toFixed(1)} MiB), ${res.nodes} nodes, ${res.edges} edges; ` +
      `snapshot write ${res.secs.toFixed(1)}s`);
    snaps.push({ file, bytes: res.size, node_count: res.nodes, edge_count: res.edges, write_secs: +res.secs.toFixed(2),
      cache_entries: sessionCache.size, round });
  }
  const rssPeak = process.resourceUsage().maxRSS / 1024;
  log(`done: ${opts.rounds} snapshots; peak rss ${rssPeak.toFixed(0)} MiB; total ${secs().toFixed(1)}s`);
  console.log(JSON.stringify({
    prefix, snapshots: snaps, units, seed: opts.seed, target_mb: opts.targetMb, node: process.version,
    leak: {
      holder: 'sessionCache', class: 'Map', kind: 'module-level Map, filled by login(), never emptied by logout()',
      entries_per_round: leakN, value_class: 'Session', entries: snaps.map((x) => x.cache_entries),
    },
    churn_requests_per_round: churnN, total_secs: +secs().toFixed(2), peak_rss_mib: Math.round(rssPeak),
  }));
}
main();

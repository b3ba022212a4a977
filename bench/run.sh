#!/usr/bin/env bash
# bench/run.sh — benchmark `plateau analyze` against peer heap-snapshot analyzers
# on large, realistic V8 .heapsnapshot files. See bench/README.md.
#
#   bench/run.sh [--sizes "300 1024"] [--peer-1g] [--no-memlab] [--no-peers]
#                [--runs N] [--timeout SECS] [--skip-build]
# Env: PLATEAU_BIN=path (use this binary, no cargo build), PLATEAU_ARGS (default "--json --top 20"),
#      PEER_HEAP_MB (default 16000)
#   bench/run.sh --diff [...]  runs bench/run-diff.sh (plateau diff benchmark) with the other arguments
set -euo pipefail
if [[ "${1:-}" == --diff ]]; then shift; exec "$(dirname "${BASH_SOURCE[0]}")/run-diff.sh" "$@"; fi

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH_DIR/.." && pwd)"
OUT="$BENCH_DIR/out"
SIZES="300 1024"
PEER_1G=0
MEMLAB=1
PEERS=1
RUNS=1
TIMEOUT=0
SKIP_BUILD=0
PEER_HEAP_MB="${PEER_HEAP_MB:-16000}"
PLATEAU_ARGS="${PLATEAU_ARGS:---json --top 20}"
PEER_MAX_MB=1000   # peers run only on sizes below this unless --peer-1g

usage() { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --sizes) SIZES="$2"; shift 2 ;;
    --sizes=*) SIZES="${1#*=}"; shift ;;
    --peer-1g) PEER_1G=1; shift ;;
    --no-memlab) MEMLAB=0; shift ;;
    --no-peers) PEERS=0; shift ;;
    --runs) RUNS="$2"; shift 2 ;;
    --timeout) TIMEOUT="$2"; shift 2 ;;
    --skip-build) SKIP_BUILD=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
done
[[ "$PEER_1G" == 1 ]] && PEER_MAX_MB=999999999

say() { printf '\n==> %s\n' "$*" >&2; }
warn() { printf 'run.sh: warning: %s\n' "$*" >&2; }

# ------------------------------------------------------------------ prerequisites
if ! /usr/bin/time -v true >/dev/null 2>&1; then
  cat >&2 <<'EOF'
run.sh: GNU time (/usr/bin/time with -v) is required to measure wall time and peak RSS.
Install it with:
    apt-get update && apt-get install -y time
EOF
  exit 1
fi
command -v node >/dev/null || { echo "run.sh: node (v20+) is required" >&2; exit 1; }
if [[ "$TIMEOUT" != 0 ]] && ! command -v timeout >/dev/null; then
  echo "run.sh: --timeout needs coreutils 'timeout'" >&2; exit 1
fi
if [[ "$PEERS" == 1 && ! -d "$BENCH_DIR/peer/node_modules/heap-snapshot-toolkit" ]]; then
  say "installing peer analyzers into bench/peer/node_modules (npm ci, no install scripts, no browser download)"
  (cd "$BENCH_DIR/peer" && PUPPETEER_SKIP_DOWNLOAD=1 npm ci --ignore-scripts --no-audit --no-fund)
fi
if [[ "$MEMLAB" == 1 && ! -d "$BENCH_DIR/peer/node_modules/@memlab/core" ]]; then
  warn "@memlab/core not installed; skipping memlab"; MEMLAB=0
fi

mkdir -p "$OUT/results"
STAMP="$(date +%Y%m%d-%H%M%S)"
RES="$OUT/results/$STAMP"
mkdir -p "$RES"
TSV="$RES/results.tsv"
printf 'size_mb\tfile_bytes\tnodes\tedges\ttool\trun\twall_s\tmax_rss_kb\tstatus\n' > "$TSV"

# header_count FILE node_count|edge_count
header_count() { head -c 4096 "$1" | grep -ao "\"$2\":[0-9]*" | head -1 | cut -d: -f2; }

# measure TAG SIZE FILE TOOL RUN -- CMD...
# Runs CMD under /usr/bin/time -v; stdout -> TAG.json, stderr -> TAG.stderr; appends a TSV row.
measure() {
  local tag="$1" size="$2" file="$3" tool="$4" run="$5"; shift 6
  local tfile="$RES/$tag.time"
  local pre=()
  [[ "$TIMEOUT" != 0 ]] && pre=(timeout --signal=KILL "$TIMEOUT")
  cat "$file" > /dev/null   # same (warm page cache) starting point for every tool
  say "$tool on $(basename "$file") (run $run): $*"
  local rc=0
  /usr/bin/time -v -o "$tfile" "${pre[@]}" "$@" > "$RES/$tag.json" 2> "$RES/$tag.stderr" || rc=$?
  grep -E '^\[|^timings:' "$RES/$tag.stderr" >&2 || true
  local wall rss status
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { n=split($2,p,":"); s=0; for(i=1;i<=n;i++) s=s*60+p[i]; printf "%.2f", s }' "$tfile")
  rss=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$tfile")
  if [[ $rc == 0 ]]; then status=ok
  elif grep -q 'Command terminated by signal 9' "$tfile" 2>/dev/null || [[ $rc == 137 ]]; then
    status="killed (SIGKILL: timeout or OOM killer)"
  elif grep -qiE 'heap out of memory|Invalid string length|Invalid array length|RangeError' "$RES/$tag.stderr"; then
    status="failed: $(grep -aoiE 'JavaScript heap out of memory|Invalid string length|Invalid array length|RangeError[^\n]{0,60}' "$RES/$tag.stderr" | head -1)"
  else status="failed (exit $rc)"
  fi
  [[ $rc != 0 ]] && status="$status after ${wall:-?}s, peak RSS $(( ${rss:-0} / 1024 )) MiB"
  [[ $rc != 0 ]] && { warn "$tool failed ($status); last stderr lines:"; tail -5 "$RES/$tag.stderr" >&2; }
  local bytes nodes edges
  bytes=$(stat -c %s "$file"); nodes=$(header_count "$file" node_count); edges=$(header_count "$file" edge_count)
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$size" "$bytes" "$nodes" "$edges" "$tool" "$run" "${wall:-}" "${rss:-}" "$status" >> "$TSV"
}

# ------------------------------------------------------------------ snapshots
for size in $SIZES; do
  f="$OUT/heap-$size.heapsnapshot"
  if [[ -s "$f" ]]; then
    echo "using existing $f ($(stat -c %s "$f") bytes)" >&2
    continue
  fi
  need_kb=$(( size * 1024 * 3 ))   # file + calibration files + headroom
  avail_kb=$(df -Pk "$OUT" | awk 'NR==2 { print $4 }')
  if (( avail_kb < need_kb )); then
    echo "run.sh: not enough disk space in $OUT for a ${size} MB snapshot (need ~$((need_kb/1024)) MiB, have $((avail_kb/1024)) MiB)" >&2
    exit 1
  fi
  say "generating $f (target ${size} MiB)"
  /usr/bin/time -v -o "$RES/gen-$size.time" node "$BENCH_DIR/gen-snapshot.js" --target-mb "$size" --out "$f" > "$RES/gen-$size.json"
  awk -F': ' '/Elapsed \(wall clock\)|Maximum resident set size/ { print "    " $0 }' "$RES/gen-$size.time" >&2
done

# ------------------------------------------------------------------ plateau
PLATEAU="${PLATEAU_BIN:-$ROOT/target/release/plateau}"
HAVE_PLATEAU=0
if [[ "$SKIP_BUILD" == 0 && -z "${PLATEAU_BIN:-}" ]]; then
  say "cargo build --release -p plateau"
  if (cd "$ROOT" && cargo build --release -p plateau); then :; else
    warn "cargo build --release -p plateau failed; plateau rows will be skipped"
    PLATEAU=/nonexistent   # never benchmark a stale binary
  fi
fi
if [[ -x "$PLATEAU" ]]; then
  HAVE_PLATEAU=1
else
  warn "$PLATEAU not found; skipping plateau rows (peer numbers only)"
fi

# ------------------------------------------------------------------ runs
for size in $SIZES; do
  f="$OUT/heap-$size.heapsnapshot"
  for run in $(seq 1 "$RUNS"); do
    if [[ "$HAVE_PLATEAU" == 1 ]]; then
      measure "plateau-$size-$run" "$size" "$f" plateau "$run" -- \
        env PLATEAU_TIMINGS=1 "$PLATEAU" analyze "$f" $PLATEAU_ARGS
    fi
    if [[ "$PEERS" == 1 ]] && (( size < PEER_MAX_MB )); then
      measure "devtools-$size-$run" "$size" "$f" devtools "$run" -- \
        node --max-old-space-size="$PEER_HEAP_MB" "$BENCH_DIR/peer/devtools-analyze.mjs" "$f"
      if [[ "$MEMLAB" == 1 ]]; then
        measure "memlab-$size-$run" "$size" "$f" memlab "$run" -- \
          node --max-old-space-size="$PEER_HEAP_MB" "$BENCH_DIR/peer/memlab-analyze.mjs" "$f"
      fi
    elif [[ "$PEERS" == 1 && "$run" == 1 ]]; then
      echo "(peers skipped for ${size} MB; pass --peer-1g to run them on large files)" >&2
    fi
  done
done

# ------------------------------------------------------------------ report
# Median wall time / max peak RSS over runs; ratios are tool / plateau for the same file.
say "results ($TSV)"
TABLE="$RES/results.md"
awk -F'\t' -v cpu="$(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2/1048576 }' /proc/meminfo)" '
  NR == 1 { next }
  {
    k = $1 SUBSEP $5
    if (!(k in seen)) { seen[k] = 1; order[++n] = k; size[k] = $1; tool[k] = $5; bytes[k] = $2; nodes[k] = $3; edges[k] = $4 }
    if ($9 == "ok") { cnt[k]++; walls[k, cnt[k]] = $7; if ($8 > rss[k]) rss[k] = $8 }
    else if (!(k in st)) st[k] = $9
  }
  function median(k,   i, j, t, m, a) {
    m = cnt[k]; for (i = 1; i <= m; i++) a[i] = walls[k, i]
    for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return (m % 2) ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
  }
  END {
    printf "| size | file (MiB) | nodes | edges | tool | runs | wall (s) | peak RSS (MiB) | wall vs plateau | RSS vs plateau | status |\n"
    printf "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---|\n"
    for (i = 1; i <= n; i++) {
      k = order[i]; pk = size[k] SUBSEP "plateau"
      ok = (cnt[k] > 0); pok = (pk in cnt) && cnt[pk] > 0
      w = ok ? median(k) : 0; pw = pok ? median(pk) : 0
      wr = (ok && pok && pw > 0) ? sprintf("%.1fx", w / pw) : "n/a"
      rr = (ok && pok && rss[pk] > 0) ? sprintf("%.1fx", rss[k] / rss[pk]) : "n/a"
      if (tool[k] == "plateau" && ok) { wr = "1.0x"; rr = "1.0x" }
      printf "| %s MB | %.1f | %s | %s | %s | %d | %s | %s | %s | %s | %s |\n", size[k], bytes[k] / 1048576, nodes[k], edges[k], tool[k], cnt[k] + 0,
        ok ? sprintf("%.2f", w) : "-", ok ? sprintf("%.0f", rss[k] / 1024) : "-", wr, rr, ok ? "ok" : st[k]
    }
    printf "\nMachine: %s. Wall = median of successful runs, RSS = max over runs (GNU time -v).\n", cpu
  }' "$TSV" | tee "$TABLE"
echo >&2
echo "raw outputs: $RES" >&2

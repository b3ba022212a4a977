#!/usr/bin/env bash
# bench/run-diff.sh — benchmark `plateau diff` (multi-snapshot leak detection) on three
# generated ~300 MB snapshots of one process with a planted leak, against `plateau analyze`
# of one of them and against memlab's three-snapshot leak finder. See bench/README.md.
#
#   bench/run-diff.sh [--size 300] [--runs N] [--timeout SECS] [--skip-build]
#                     [--no-peers] [--no-unbound] [--no-memlab-default]
# Env: PLATEAU_BIN=path (use this binary, no cargo build), PEER_HEAP_MB (default 16000)
# Also reachable as: bench/run.sh --diff [options above]
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH_DIR/.." && pwd)"
OUT="$BENCH_DIR/out"
SIZE=300
RUNS=1
TIMEOUT=0
SKIP_BUILD=0
PEERS=1
UNBOUND=1
MEMLAB_DEFAULT=1
PEER_HEAP_MB="${PEER_HEAP_MB:-16000}"
PLANTED=sessionCache   # the Map gen-snapshot.js --rounds plants (also in the .gen.json)

usage() { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --size) SIZE="$2"; shift 2 ;;
    --size=*) SIZE="${1#*=}"; shift ;;
    --runs) RUNS="$2"; shift 2 ;;
    --timeout) TIMEOUT="$2"; shift 2 ;;
    --skip-build) SKIP_BUILD=1; shift ;;
    --no-peers) PEERS=0; shift ;;
    --no-unbound) UNBOUND=0; shift ;;
    --no-memlab-default) MEMLAB_DEFAULT=0; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run-diff.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
done

say() { printf '\n==> %s\n' "$*" >&2; }
warn() { printf 'run-diff.sh: warning: %s\n' "$*" >&2; }

# ------------------------------------------------------------------ prerequisites
if ! /usr/bin/time -v true >/dev/null 2>&1; then
  cat >&2 <<'EOF'
run-diff.sh: GNU time (/usr/bin/time with -v) is required to measure wall time and peak RSS.
Install it with:
    apt-get update && apt-get install -y time
EOF
  exit 1
fi
command -v node >/dev/null || { echo "run-diff.sh: node (v20+) is required" >&2; exit 1; }
if [[ "$TIMEOUT" != 0 ]] && ! command -v timeout >/dev/null; then
  echo "run-diff.sh: --timeout needs coreutils 'timeout'" >&2; exit 1
fi
if [[ "$PEERS" == 1 && ! -d "$BENCH_DIR/peer/node_modules/@memlab/api" ]]; then
  say "installing peer analyzers into bench/peer/node_modules (npm ci, no install scripts, no browser download)"
  (cd "$BENCH_DIR/peer" && PUPPETEER_SKIP_DOWNLOAD=1 npm ci --ignore-scripts --no-audit --no-fund)
fi

mkdir -p "$OUT/results"
STAMP="$(date +%Y%m%d-%H%M%S)"
RES="$OUT/results/diff-$STAMP"
mkdir -p "$RES"
TSV="$RES/results.tsv"
printf 'tool\trun\twall_s\tmax_rss_kb\tstatus\tfound\n' > "$TSV"

PREFIX="$OUT/grow-$SIZE"
S0="$PREFIX-s0.heapsnapshot"; S1="$PREFIX-s1.heapsnapshot"; S2="$PREFIX-s2.heapsnapshot"
GEN_JSON="$PREFIX.gen.json"

# header_count FILE node_count|edge_count
header_count() { head -c 4096 "$1" | grep -ao "\"$2\":[0-9]*" | head -1 | cut -d: -f2; }

# ------------------------------------------------------------------ snapshots
if [[ -s "$S0" && -s "$S1" && -s "$S2" ]]; then
  echo "using existing $PREFIX-s{0,1,2}.heapsnapshot" >&2
else
  # the three files must come from one process (V8 object ids), so regenerate all of them
  rm -f "$S0" "$S1" "$S2" "$GEN_JSON" "$PREFIX.gen.log" "$PREFIX.gen.time"
  need_kb=$(( SIZE * 1024 * 4 ))   # three files + calibration file + headroom
  avail_kb=$(df -Pk "$OUT" | awk 'NR==2 { print $4 }')
  if (( avail_kb < need_kb )); then
    echo "run-diff.sh: not enough disk space in $OUT for three ${SIZE} MB snapshots (need ~$((need_kb/1024)) MiB, have $((avail_kb/1024)) MiB)" >&2
    exit 1
  fi
  say "generating $PREFIX-s{0,1,2}.heapsnapshot (target ${SIZE} MiB, 2 load rounds, planted leak: $PLANTED)"
  /usr/bin/time -v -o "$RES/gen.time" node "$BENCH_DIR/gen-snapshot.js" --target-mb "$SIZE" --rounds 3 \
    --out-prefix "$PREFIX" > "$GEN_JSON.tmp" 2> >(tee "$PREFIX.gen.log" >&2)
  mv "$GEN_JSON.tmp" "$GEN_JSON"
  cp "$RES/gen.time" "$PREFIX.gen.time"
  awk -F': ' '/Elapsed \(wall clock\)|Maximum resident set size/ { print "    " $0 }' "$RES/gen.time" >&2
fi
[[ -s "$GEN_JSON" ]] && cp "$GEN_JSON" "$RES/gen.json"
if [[ -s "$GEN_JSON" ]]; then
  PLANTED="$(node -e 'const j=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")); process.stdout.write(j.leak.holder)' "$GEN_JSON")"
fi

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
if [[ -x "$PLATEAU" ]]; then HAVE_PLATEAU=1; else warn "$PLATEAU not found; skipping plateau rows"; fi

# measure TAG TOOL RUN OK_CODES -- CMD...   (OK_CODES: space-separated exit codes that mean success)
# Runs CMD under /usr/bin/time -v; stdout -> TAG.json, stderr -> TAG.stderr; sets LAST_STATUS.
LAST_STATUS=""
measure() {
  local tag="$1" tool="$2" run="$3" okc="$4"; shift 5
  local tfile="$RES/$tag.time"
  local pre=()
  [[ "$TIMEOUT" != 0 ]] && pre=(timeout --signal=KILL "$TIMEOUT")
  cat "$S0" "$S1" "$S2" > /dev/null   # same (warm page cache) starting point for every tool
  say "$tool (run $run): $*"
  local rc=0
  /usr/bin/time -v -o "$tfile" "${pre[@]}" "$@" > "$RES/$tag.json" 2> "$RES/$tag.stderr" || rc=$?
  grep -aE '^\[|^timings:' "$RES/$tag.stderr" >&2 || true
  local wall rss status
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { n=split($2,p,":"); s=0; for(i=1;i<=n;i++) s=s*60+p[i]; printf "%.2f", s }' "$tfile")
  rss=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$tfile")
  if [[ " $okc " == *" $rc "* ]]; then status=ok
  elif grep -q 'Command terminated by signal 9' "$tfile" 2>/dev/null || [[ $rc == 137 ]]; then
    status="killed (SIGKILL: timeout or OOM killer)"
  elif grep -qiE 'heap out of memory|Invalid string length|Invalid array length|RangeError' "$RES/$tag.stderr"; then
    status="failed: $(grep -aoiE 'JavaScript heap out of memory|Invalid string length|Invalid array length|RangeError[^\n]{0,60}' "$RES/$tag.stderr" | head -1)"
  else status="failed (exit $rc)"
  fi
  if [[ $status != ok ]]; then
    status="$status after ${wall:-?}s, peak RSS $(( ${rss:-0} / 1024 )) MiB"
    warn "$tool failed ($status); last stderr lines:"; tail -5 "$RES/$tag.stderr" >&2
  fi
  LAST_STATUS="$status"
  LAST_ROW=$(printf '%s\t%s\t%s\t%s\t%s' "$tool" "$run" "${wall:-}" "${rss:-}" "$status")
}
row() { printf '%s\t%s\n' "$LAST_ROW" "$1" >> "$TSV"; }

# found_* TAG: one cell for the "planted leak found" column, from the tool's JSON output
found_plateau() {
  node -e '
    const fs = require("fs"); const [file, planted] = process.argv.slice(1);
    let j; try { j = JSON.parse(fs.readFileSync(file, "utf8")); } catch { console.log("(no JSON)"); process.exit(); }
    const s = j.suspects || [];
    const i = s.findIndex((x) => String(x.path || "").includes(planted));
    if (i < 0) console.log(`no (${s.length} suspects)`);
    else console.log(`${i === 0 ? "yes" : "not first"}: suspect #${i + 1} of ${s.length} (${s[i].pattern}, ${s[i].class})`);
  ' "$RES/$1.json" "$PLANTED"
}
found_findleaks() {
  node -e '
    const fs = require("fs"); let j; try { j = JSON.parse(fs.readFileSync(process.argv[1], "utf8")); } catch { console.log("(no JSON)"); process.exit(); }
    const p = j.planted;
    if (p.found) console.log(`yes: cluster #${p.memlab_rank ?? "?"} of ${j.leak_count} leaks`);
    else console.log(`no (${j.leak_count} leaks; ${j.after_leak_filters} of ${j.candidates_new_in_target_alive_in_final} candidates kept by the filters)`);
  ' "$RES/$1.json"
}
found_unbound() {
  node -e '
    const fs = require("fs"); let j; try { j = JSON.parse(fs.readFileSync(process.argv[1], "utf8")); } catch { console.log("(no JSON)"); process.exit(); }
    const p = j.planted;
    console.log(p.found ? `yes: #${p.rank} of ${j.reported} reported (history ${p.history.join(" -> ")})` : `no (${j.reported} reported)`);
  ' "$RES/$1.json"
}

# ------------------------------------------------------------------ runs
for run in $(seq 1 "$RUNS"); do
  if [[ "$HAVE_PLATEAU" == 1 ]]; then
    measure "plateau-analyze-s2-$run" "plateau analyze s2" "$run" "0" -- \
      env PLATEAU_TIMINGS=1 "$PLATEAU" analyze --json "$S2"
    row "n/a (one snapshot)"
    # exit 1 = "a suspect was found": that is success here
    measure "plateau-diff-$run" "plateau diff s0 s1 s2" "$run" "0 1" -- \
      env PLATEAU_TIMINGS=1 "$PLATEAU" diff --json "$S0" "$S1" "$S2"
    row "$(found_plateau "plateau-diff-$run")"
  fi
  if [[ "$PEERS" == 1 ]]; then
    if [[ "$MEMLAB_DEFAULT" == 1 ]]; then
      measure "memlab-find-leaks-$run" "memlab find-leaks" "$run" "0" -- \
        node --max-old-space-size="$PEER_HEAP_MB" "$BENCH_DIR/peer/memlab-find-leaks.mjs" --planted "$PLANTED" "$S0" "$S1" "$S2"
      row "$(found_findleaks "memlab-find-leaks-$run")"
    fi
    measure "memlab-find-leaks-all-$run" "memlab find-leaks --trace-all-objects" "$run" "0" -- \
      node --max-old-space-size="$PEER_HEAP_MB" "$BENCH_DIR/peer/memlab-find-leaks.mjs" --trace-all-objects --planted "$PLANTED" "$S0" "$S1" "$S2"
    row "$(found_findleaks "memlab-find-leaks-all-$run")"
    if [[ "$UNBOUND" == 1 ]]; then
      for p in unbound-object unbound-collection; do
        measure "memlab-$p-$run" "memlab $p" "$run" "0" -- \
          node --max-old-space-size="$PEER_HEAP_MB" "$BENCH_DIR/peer/memlab-unbound.mjs" --plugin "$p" --planted "$PLANTED" "$S0" "$S1" "$S2"
        row "$(found_unbound "memlab-$p-$run")"
      done
    fi
  fi
done

# ------------------------------------------------------------------ report
say "results ($TSV)"
TABLE="$RES/results.md"
{
  echo "Snapshots (one node $(node --version) process, \`gen-snapshot.js --target-mb $SIZE --rounds 3\`, planted leak: module-level Map \`$PLANTED\`):"
  echo
  echo "| file | bytes | MiB | nodes | edges |"
  echo "|---|---:|---:|---:|---:|"
  for f in "$S0" "$S1" "$S2"; do
    b=$(stat -c %s "$f")
    printf '| %s | %s | %s | %s | %s |\n' "$(basename "$f")" "$b" "$(awk -v b="$b" 'BEGIN { printf "%.1f", b / 1048576 }')" \
      "$(header_count "$f" node_count)" "$(header_count "$f" edge_count)"
  done
  echo
  awk -F'\t' -v cpu="$(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2/1048576 }' /proc/meminfo)" '
    NR == 1 { next }
    {
      k = $1
      if (!(k in seen)) { seen[k] = 1; order[++n] = k; found[k] = $6 }
      if ($5 == "ok") { cnt[k]++; walls[k, cnt[k]] = $3; if ($4 > rss[k]) rss[k] = $4 }
      else if (!(k in st)) st[k] = $5
    }
    function median(k,   i, j, t, m, a) {
      m = cnt[k]; for (i = 1; i <= m; i++) a[i] = walls[k, i]
      for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
      return (m % 2) ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
    }
    END {
      b = "plateau analyze s2"; bok = (b in cnt) && cnt[b] > 0; bw = bok ? median(b) : 0
      printf "| tool | runs | wall (s) | peak RSS (MiB) | wall vs analyze s2 | RSS vs analyze s2 | planted leak found | status |\n"
      printf "|---|---:|---:|---:|---:|---:|---|---|\n"
      for (i = 1; i <= n; i++) {
        k = order[i]; ok = (cnt[k] > 0); w = ok ? median(k) : 0
        wr = (ok && bok && bw > 0) ? sprintf("%.2fx", w / bw) : "n/a"
        rr = (ok && bok && rss[b] > 0) ? sprintf("%.1fx", rss[k] / rss[b]) : "n/a"
        printf "| %s | %d | %s | %s | %s | %s | %s | %s |\n", k, cnt[k] + 0, ok ? sprintf("%.2f", w) : "-",
          ok ? sprintf("%.0f", rss[k] / 1024) : "-", wr, rr, found[k], ok ? "ok" : st[k]
      }
      d = "plateau diff s0 s1 s2"
      if (bok && (d in cnt) && cnt[d] > 0)
        printf "\n**diff / analyze = %.2fx** (goal: < 3x; wall %.2f s vs %.2f s)\n", median(d) / bw, median(d), bw
      printf "\nMachine: %s. Wall = median of successful runs, RSS = max over runs (GNU time -v).\n", cpu
    }' "$TSV"
  if [[ -s "$RES/plateau-diff-1.json" ]]; then
    echo
    node -e '
      const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); const s = j.suspects || [];
      console.log(`plateau diff: verdict \`${j.verdict}\`, ${s.length} suspect(s), same_process ${j.same_process}.`);
      if (s[0]) {
        const x = s[0];
        console.log(`suspects[0]: pattern \`${x.pattern}\`, class \`${x.class}\`, ${x.count_unit || "count"} ${JSON.stringify(x.counts)}, ` +
          `retained ${JSON.stringify(x.retained_sizes)}, +${x.growth_per_round_bytes} B/round`);
        console.log(`  path: \`${x.path}\``);
      }
    ' "$RES/plateau-diff-1.json" 2>/dev/null || true
  fi
} | tee "$TABLE"
echo >&2
echo "raw outputs: $RES" >&2

#!/usr/bin/env bash
# bench/hprof/run.sh — benchmark `plateau analyze` against hprof-slurp on large, realistic
# Java heap dumps (.hprof written by jcmd GC.heap_dump). See bench/hprof.md.
#
#   bench/hprof/run.sh [--sizes "300 2048"] [--runs N] [--timeout SECS] [--skip-build]
#                      [--no-peer] [--java-heap 6g]
# Env: PLATEAU_BIN=path (use this binary, no cargo build), PLATEAU_ARGS (default
#      "--json --no-progress"), HPROF_SLURP=path (default: hprof-slurp on PATH, else
#      /work/peers/bin/hprof-slurp)
set -euo pipefail

HDIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"   # .../bench/hprof
BENCH_DIR="$(cd "$HDIR/.." && pwd)"
ROOT="$(cd "$BENCH_DIR/.." && pwd)"
OUT="$BENCH_DIR/out"
SIZES="300 2048"
RUNS=1
TIMEOUT=0
SKIP_BUILD=0
PEER=1
JAVA_HEAP=6g
PLATEAU_ARGS="${PLATEAU_ARGS:---json --no-progress}"

usage() { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --sizes) SIZES="$2"; shift 2 ;;
    --sizes=*) SIZES="${1#*=}"; shift ;;
    --runs) RUNS="$2"; shift 2 ;;
    --timeout) TIMEOUT="$2"; shift 2 ;;
    --skip-build) SKIP_BUILD=1; shift ;;
    --no-peer) PEER=0; shift ;;
    --java-heap) JAVA_HEAP="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
done

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
for tool in java javac jcmd; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool (a JDK, 17 or later) is required" >&2; exit 1; }
done
if [[ "$TIMEOUT" != 0 ]] && ! command -v timeout >/dev/null; then
  echo "run.sh: --timeout needs coreutils 'timeout'" >&2; exit 1
fi
SLURP="${HPROF_SLURP:-$(command -v hprof-slurp || echo /work/peers/bin/hprof-slurp)}"
if [[ "$PEER" == 1 && ! -x "$SLURP" ]]; then
  warn "hprof-slurp not found (set HPROF_SLURP, or: cargo install hprof-slurp --version 0.10.0 --locked); skipping it"
  PEER=0
fi

mkdir -p "$OUT/results"
STAMP="$(date +%Y%m%d-%H%M%S)"
RES="$OUT/results/hprof-$STAMP"
mkdir -p "$RES"
TSV="$RES/results.tsv"
printf 'size_mb\tfile_bytes\ttool\trun\twall_s\tmax_rss_kb\tstatus\n' > "$TSV"

# measure TAG SIZE FILE TOOL RUN -- CMD...
# Runs CMD under /usr/bin/time -v; stdout -> TAG.out, stderr -> TAG.stderr; appends a TSV row.
measure() {
  local tag="$1" size="$2" file="$3" tool="$4" run="$5"; shift 6
  local tfile="$RES/$tag.time"
  local pre=()
  [[ "$TIMEOUT" != 0 ]] && pre=(timeout --signal=KILL "$TIMEOUT")
  cat "$file" > /dev/null   # same (warm page cache) starting point for every tool
  say "$tool on $(basename "$file") (run $run): $*"
  local rc=0
  /usr/bin/time -v -o "$tfile" "${pre[@]}" "$@" > "$RES/$tag.out" 2> "$RES/$tag.stderr" || rc=$?
  grep -E '^timings:|warning|error' "$RES/$tag.stderr" >&2 || true
  local wall rss status
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { n=split($2,p,":"); s=0; for(i=1;i<=n;i++) s=s*60+p[i]; printf "%.2f", s }' "$tfile")
  rss=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$tfile")
  if [[ $rc == 0 ]]; then status=ok
  elif grep -q 'Command terminated by signal 9' "$tfile" 2>/dev/null || [[ $rc == 137 ]]; then
    status="killed (SIGKILL: timeout or OOM killer)"
  else status="failed (exit $rc)"
  fi
  [[ $rc != 0 ]] && status="$status after ${wall:-?}s, peak RSS $(( ${rss:-0} / 1024 )) MiB"
  [[ $rc != 0 ]] && { warn "$tool failed ($status); last stderr lines:"; tail -5 "$RES/$tag.stderr" >&2; }
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$size" "$(stat -c %s "$file")" "$tool" "$run" "${wall:-}" "${rss:-}" "$status" >> "$TSV"
}

# ------------------------------------------------------------------ dumps
JVM_PID=
GEN_PID=
DUMP_TMP=
WORK=
cleanup() {
  # The generator JVM (a child of /usr/bin/time), also if it was stopped before "ready",
  # and what an interrupted run leaves: a partial dump, a calibration dump.
  if [[ -z "$JVM_PID" && -n "$GEN_PID" ]]; then JVM_PID=$(pgrep -P "$GEN_PID" java | head -1 || true); fi
  if [[ -n "$JVM_PID" ]] && kill -0 "$JVM_PID" 2>/dev/null; then
    kill "$JVM_PID" 2>/dev/null || true
    sleep 1
    rm -f "$OUT/genheap-calib-$JVM_PID-"*.hprof
  fi
  [[ -n "$DUMP_TMP" ]] && rm -f "$DUMP_TMP"
  exec 3>&- 2>/dev/null || true
  [[ -n "$WORK" ]] && rm -rf "$WORK"
  return 0
}
trap cleanup EXIT

# make_dump SIZE FILE: runs GenHeap --dump-mb SIZE, waits for "ready", dumps it with jcmd.
make_dump() {
  local size="$1" f="$2"
  local need_kb=$(( size * 1024 * 2 ))   # calibration dumps are small; file + headroom
  local avail_kb
  avail_kb=$(df -Pk "$OUT" | awk 'NR==2 { print $4 }')
  if (( avail_kb < need_kb )); then
    echo "run.sh: not enough disk space in $OUT for a ${size} MB dump (need ~$((need_kb/1024)) MiB, have $((avail_kb/1024)) MiB)" >&2
    exit 1
  fi
  if [[ -z "$WORK" ]]; then
    WORK="$(mktemp -d "${TMPDIR:-/tmp}/plateau-hprof-bench.XXXXXX")"
    javac -d "$WORK/classes" "$HDIR/GenHeap.java"
  fi
  say "generating $f (target ${size} MiB of dump; java -Xmx$JAVA_HEAP)"
  local log="$OUT/hprof-$size.gen.log"
  rm -f "$WORK/in"; mkfifo "$WORK/in"
  /usr/bin/time -v -o "$OUT/hprof-$size.gen.time" \
    java -Xmx"$JAVA_HEAP" -XX:+UseG1GC -cp "$WORK/classes" GenHeap --dump-mb "$size" --calib-dir "$OUT" \
    < "$WORK/in" > "$log" 2>&1 &
  local tpid=$!
  GEN_PID=$tpid
  exec 3> "$WORK/in"
  # /usr/bin/time forks the JVM; find it (the child of time) to dump and to kill it.
  local i
  for i in $(seq 1 3600); do
    grep -q '^ready' "$log" && break
    kill -0 "$tpid" 2>/dev/null || { echo "run.sh: GenHeap exited before it was ready:" >&2; cat "$log" >&2; exit 1; }
    sleep 0.5
  done
  grep -q '^ready' "$log" || { echo "run.sh: GenHeap not ready after 30 min" >&2; kill "$tpid"; exit 1; }
  JVM_PID=$(pgrep -P "$tpid" java | head -1)
  [[ -n "$JVM_PID" ]] || { echo "run.sh: cannot find the GenHeap JVM (child of $tpid)" >&2; exit 1; }
  sed 's/^/    /' "$log" >&2
  rm -f "$f.tmp"
  DUMP_TMP="$f.tmp"
  local t0=$SECONDS
  jcmd "$JVM_PID" GC.heap_dump "$f.tmp" > "$WORK/jcmd.out" || { cat "$WORK/jcmd.out" >&2; exit 1; }
  grep -q 'Heap dump file created' "$WORK/jcmd.out" || { echo "run.sh: jcmd GC.heap_dump failed:" >&2; cat "$WORK/jcmd.out" >&2; exit 1; }
  echo "    jcmd GC.heap_dump: $(grep 'Heap dump file created' "$WORK/jcmd.out" | sed 's/^.*created //') in $((SECONDS - t0)) s" | tee -a "$log" >&2
  # The JVM's own class histogram of the same objects (the oracle for counts and shallow bytes).
  jcmd "$JVM_PID" GC.class_histogram | grep -v "^$JVM_PID:" > "$OUT/hprof-$size.histo.txt"
  echo quit >&3
  exec 3>&-
  wait "$tpid" || true
  JVM_PID=; GEN_PID=
  mv "$f.tmp" "$f"
  DUMP_TMP=
  awk -F': ' '/Elapsed \(wall clock\)|Maximum resident set size/ { print "    generator " $0 }' "$OUT/hprof-$size.gen.time" >&2
}

for size in $SIZES; do
  f="$OUT/hprof-$size.hprof"
  if [[ -s "$f" ]]; then
    echo "using existing $f ($(stat -c %s "$f") bytes)" >&2
  else
    make_dump "$size" "$f"
  fi
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
elif [[ -z "${PLATEAU_BIN:-}" && ! -x "$PLATEAU" ]]; then
  warn "--skip-build and no $PLATEAU"
fi
if [[ -x "$PLATEAU" ]]; then
  HAVE_PLATEAU=1
else
  warn "$PLATEAU not found; skipping plateau rows (hprof-slurp numbers only)"
fi

# ------------------------------------------------------------------ runs
for size in $SIZES; do
  f="$OUT/hprof-$size.hprof"
  for run in $(seq 1 "$RUNS"); do
    if [[ "$HAVE_PLATEAU" == 1 ]]; then
      measure "plateau-$size-$run" "$size" "$f" plateau "$run" -- \
        env PLATEAU_TIMINGS=1 "$PLATEAU" analyze "$f" $PLATEAU_ARGS
    fi
    if [[ "$PEER" == 1 ]]; then
      measure "hprof-slurp-$size-$run" "$size" "$f" hprof-slurp "$run" -- "$SLURP" "$f"
    fi
  done
done

# ------------------------------------------------------------------ report
# Median wall time / max peak RSS over successful runs; ratio = plateau / hprof-slurp wall.
say "results ($TSV)"
TABLE="$RES/results.md"
{
awk -F'\t' -v cpu="$(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2/1048576 }' /proc/meminfo)" -v runs="$RUNS" '
  NR == 1 { next }
  {
    k = $1 SUBSEP $3
    if (!($1 in seen)) { seen[$1] = 1; order[++n] = $1; bytes[$1] = $2 }
    if ($7 == "ok") { cnt[k]++; walls[k, cnt[k]] = $5; if ($6 > rss[k]) rss[k] = $6 }
    else if (!(k in st)) st[k] = $7
    has[k] = 1
  }
  function median(k,   i, j, t, m, a) {
    m = cnt[k]; for (i = 1; i <= m; i++) a[i] = walls[k, i]
    for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return (m % 2) ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
  }
  function wall(k) { return (cnt[k] > 0) ? sprintf("%.2f", median(k)) : ((k in has) ? st[k] : "-") }
  function mib(k) { return (cnt[k] > 0) ? sprintf("%.0f", rss[k] / 1024) : "-" }
  END {
    printf "| size | file (MiB) | plateau wall (s) | plateau peak RSS (MiB) | plateau RSS / file | hprof-slurp wall (s) | hprof-slurp peak RSS (MiB) | wall plateau / hprof-slurp |\n"
    printf "|---|---:|---:|---:|---:|---:|---:|---:|\n"
    for (i = 1; i <= n; i++) {
      s = order[i]; p = s SUBSEP "plateau"; h = s SUBSEP "hprof-slurp"
      fm = bytes[s] / 1048576
      rf = (cnt[p] > 0) ? sprintf("%.2f", rss[p] / 1024 / fm) : "-"
      ratio = (cnt[p] > 0 && cnt[h] > 0 && median(h) > 0) ? sprintf("%.2fx", median(p) / median(h)) : "n/a"
      printf "| %s MB | %.1f | %s | %s | %s | %s | %s | %s |\n", s, fm, wall(p), mib(p), rf, wall(h), mib(h), ratio
    }
    printf "\nMachine: %s. %d run(s) per tool; wall = median of successful runs, RSS = max over runs (GNU time -v).\n", cpu, runs
  }' "$TSV"
echo
echo "plateau phase timings (PLATEAU_TIMINGS=1, per run):"
echo
for s in $SIZES; do
  for r in $(seq 1 "$RUNS"); do
    t="$RES/plateau-$s-$r.stderr"
    if [[ -f "$t" ]]; then
      printf -- '- %s MB run %s: `%s`\n' "$s" "$r" "$(grep -m1 '^timings:' "$t" || echo 'no timings line')"
    fi
  done
done
if command -v jq >/dev/null; then
  echo
  echo "plateau warnings (run 1):"
  echo
  for s in $SIZES; do
    o="$RES/plateau-$s-1.out"
    if [[ -s "$o" ]]; then
      jq -r --arg s "$s" '.warnings | if length == 0 then "- \($s) MB: none" else .[] | "- \($s) MB: \(.)" end' "$o" 2>/dev/null || true
    fi
  done
fi
} | tee "$TABLE"
echo >&2
echo "raw outputs: $RES" >&2

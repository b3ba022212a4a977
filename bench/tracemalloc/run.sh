#!/usr/bin/env bash
# bench/tracemalloc/run.sh — time Python's own tracemalloc (Snapshot.load of two dumps and
# compare_to(old, 'lineno')) against plateau's tracemalloc reader doing the same work
# (plateau-formats' tracemalloc_load example with --compare-lineno) on two ~4M-trace dumps.
# See bench/tracemalloc.md.
#
#   bench/tracemalloc/run.sh [--traces N] [--runs N] [--skip-build]
# Env: PYTHON (default python3), CARGO_TARGET_DIR (where cargo builds; default ./target),
#      LOAD_BIN=path (benchmark this tracemalloc_load binary, no cargo build)
set -euo pipefail

TDIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"   # .../bench/tracemalloc
BENCH_DIR="$(cd "$TDIR/.." && pwd)"
ROOT="$(cd "$BENCH_DIR/.." && pwd)"
OUT="$BENCH_DIR/out"
TRACES=4000000
RUNS=3
SKIP_BUILD=0
PY="${PYTHON:-python3}"

usage() { sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --traces) TRACES="$2"; shift 2 ;;
    --runs) RUNS="$2"; shift 2 ;;
    --skip-build) SKIP_BUILD=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
done

say() { printf '\n==> %s\n' "$*" >&2; }

if ! /usr/bin/time -v true >/dev/null 2>&1; then
  cat >&2 <<'EOT'
run.sh: GNU time (/usr/bin/time with -v) is required to measure wall time and peak RSS.
Install it with:
    apt-get update && apt-get install -y time
EOT
  exit 1
fi

DATA="$OUT/tracemalloc-$TRACES"
S0="$DATA/s0.tracemalloc"
S1="$DATA/s1.tracemalloc"
mkdir -p "$DATA"

# 1. Dumps (reused when present; delete them to regenerate).
if [[ ! -f "$S0" || ! -f "$S1" ]]; then
  say "generating two dumps of ~$TRACES traces into $DATA"
  /usr/bin/time -v -o "$DATA/gen.time" "$PY" "$TDIR/gen.py" --out "$DATA" --traces "$TRACES" \
    | tee "$DATA/gen.log"
fi

# 2. Build.
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="${LOAD_BIN:-$TARGET/release/examples/tracemalloc_load}"
if [[ -z "${LOAD_BIN:-}" && "$SKIP_BUILD" == 0 ]]; then
  say "cargo build --release -p plateau-formats --example tracemalloc_load"
  (cd "$ROOT" && cargo build --release -p plateau-formats --example tracemalloc_load)
fi
[[ -x "$BIN" ]] || { echo "run.sh: $BIN not found" >&2; exit 1; }

STAMP="$(date +%Y%m%d-%H%M%S)"
RES="$OUT/results/tracemalloc-$STAMP"
mkdir -p "$RES"
TSV="$RES/results.tsv"
printf 'tool\trun\twall_s\tmax_rss_kb\tstatus\n' > "$TSV"

# measure TAG TOOL RUN -- CMD...
measure() {
  local tag="$1" tool="$2" run="$3"; shift 4
  cat "$S0" "$S1" > /dev/null   # warm page cache for every run
  say "$tool (run $run): $*"
  local rc=0
  /usr/bin/time -v -o "$RES/$tag.time" "$@" > "$RES/$tag.out" 2> "$RES/$tag.stderr" || rc=$?
  local wall rss
  wall="$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$RES/$tag.time" \
    | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')"
  rss="$(awk -F': ' '/Maximum resident set size/ {print $2}' "$RES/$tag.time")"
  printf '%s\t%s\t%s\t%s\t%s\n' "$tool" "$run" "$wall" "$rss" "$rc" >> "$TSV"
  tail -n 3 "$RES/$tag.out" >&2
}

for run in $(seq 1 "$RUNS"); do
  measure "python-$run" python "$run" -- "$PY" "$TDIR/py_compare.py" "$S0" "$S1"
  measure "plateau-$run" plateau "$run" -- "$BIN" "$S0" "$S1" --compare-lineno
done

# 3. Report: median wall, max RSS per tool.
summary() {  # TOOL -> "median_wall max_rss_kb"
  awk -F'\t' -v t="$1" '$1==t && $5==0 {print $3, $4}' "$TSV" | sort -n \
    | awk '{w[NR]=$1; if ($2>r) r=$2} END {print w[int((NR+1)/2)], r}'
}
read -r PW PR <<< "$(summary python)"
read -r RW RR <<< "$(summary plateau)"
SIZE0=$(stat -c %s "$S0"); SIZE1=$(stat -c %s "$S1")
{
  echo "# tracemalloc: Python Snapshot.load x2 + compare_to('lineno') vs plateau reader"
  echo
  echo "dumps: $(basename "$S0") $SIZE0 B, $(basename "$S1") $SIZE1 B; $RUNS run(s), median wall, max RSS; $("$PY" --version 2>&1)"
  echo
  echo "| tool | wall s | peak RSS MiB |"
  echo "|---|---:|---:|"
  echo "| python3 (tracemalloc) | $PW | $(awk -v k="$PR" 'BEGIN{printf "%.0f", k/1024}') |"
  echo "| plateau reader | $RW | $(awk -v k="$RR" 'BEGIN{printf "%.0f", k/1024}') |"
  echo
  echo "wall ratio python/plateau: $(awk -v a="$PW" -v b="$RW" 'BEGIN{printf "%.1f", a/b}')x;" \
       "RSS ratio: $(awk -v a="$PR" -v b="$RR" 'BEGIN{printf "%.1f", a/b}')x"
  echo
  echo '```'
  grep -h '^timings:' "$RES"/python-*.out
  grep -h -E 'read in|^total|compare_to' "$RES"/plateau-*.out
  echo '```'
} | tee "$RES/results.md"
echo "results: $RES" >&2

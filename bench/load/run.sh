#!/usr/bin/env bash
# bench/load/run.sh — plateau-load's generator vs wrk against the same loopback HTTP server.
# See bench/load.md.
#
#   bench/load/run.sh [--runs N] [--duration SECS] [--connections C] [--server-threads T]
#                     [--threads T] [--skip-build]
# Defaults: 3 runs of each tool (interleaved), 10 s each, 32 connections, a 1-thread server,
# wrk -t2 and the library's own thread choice (2 on a 2-core machine).
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROOT="$(cd "$BENCH_DIR/.." && pwd)"
OUT="$BENCH_DIR/out/load"
RUNS=3
DURATION=10
CONNECTIONS=32
SERVER_THREADS=1
THREADS=0
SKIP_BUILD=0

usage() { sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --runs) RUNS="$2"; shift 2 ;;
    --duration) DURATION="$2"; shift 2 ;;
    --connections) CONNECTIONS="$2"; shift 2 ;;
    --server-threads) SERVER_THREADS="$2"; shift 2 ;;
    --threads) THREADS="$2"; shift 2 ;;
    --skip-build) SKIP_BUILD=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
done

say() { printf '==> %s\n' "$*" >&2; }

# ------------------------------------------------------------------ prerequisites
need_apt=()
command -v wrk >/dev/null 2>&1 || need_apt+=(wrk)
/usr/bin/time -v true >/dev/null 2>&1 || need_apt+=(time)
if [[ ${#need_apt[@]} -gt 0 ]]; then
  if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    say "installing ${need_apt[*]} (apt-get)"
    apt-get update -qq && apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "run.sh: needs ${need_apt[*]}: apt-get update && apt-get install -y ${need_apt[*]}" >&2
    exit 2
  fi
fi

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
EXAMPLES="$CARGO_TARGET_DIR/release/examples"
if [[ "$SKIP_BUILD" == 0 ]]; then
  say "building the examples (release)"
  (cd "$ROOT" && cargo build --release -p plateau-load --examples --quiet)
fi
mkdir -p "$OUT"

# ------------------------------------------------------------------ server
"$EXAMPLES/hello_server" 0 "$SERVER_THREADS" > "$OUT/server.out" &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null || true' EXIT
for _ in $(seq 1 400); do [[ -s "$OUT/server.out" ]] && break; kill -0 "$SERVER" 2>/dev/null || break; sleep 0.05; done
URL="$(awk 'NR==1 {print $3}' "$OUT/server.out")"
[[ "$URL" == http://* ]] || { echo "run.sh: the server did not start" >&2; exit 1; }
say "server $URL (pid $SERVER, $SERVER_THREADS thread(s)); load average: $(cut -d' ' -f1-3 /proc/loadavg)"

TICK="$(getconf CLK_TCK)"
server_ticks() { awk '{print $14 + $15}' "/proc/$SERVER/stat"; }

# run NAME COMMAND...: runs the client under GNU time;
# prints "rps client_cpu% server_cpu% requests_per_client_cpu_second"
run() {
  local name="$1"; shift
  local before after start end
  before="$(server_ticks)"; start="$(date +%s.%N)"
  /usr/bin/time -v -o "$OUT/$name.time" "$@" > "$OUT/$name.out" 2>&1
  end="$(date +%s.%N)"; after="$(server_ticks)"
  local rps cpu server_cpu cpu_s per_cpu_s
  rps="$(awk '/^Requests\/sec:/ {print $2}' "$OUT/$name.out")"
  cpu="$(awk -F': ' '/Percent of CPU/ {sub("%", "", $2); print $2}' "$OUT/$name.time")"
  cpu_s="$(awk -F': ' '/User time|System time/ {t += $2} END {print t}' "$OUT/$name.time")"
  per_cpu_s="$(awk -v r="$rps" -v s="$start" -v e="$end" -v c="$cpu_s" \
    'BEGIN {printf "%.0f", r * (e - s) / c}')"
  server_cpu="$(awk -v a="$before" -v b="$after" -v t="$TICK" -v s="$start" -v e="$end" \
    'BEGIN {printf "%.0f", 100 * (b - a) / t / (e - s)}')"
  echo "$rps $cpu $server_cpu $per_cpu_s"
}

median() { sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }

: > "$OUT/results.tsv"
for i in $(seq 1 "$RUNS"); do
  say "run $i/$RUNS: wrk -t2 -c$CONNECTIONS -d${DURATION}s"
  read -r rps cpu scpu eff < <(run "wrk-$i" wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" "$URL")
  printf 'wrk\t%s\t%s\t%s\t%s\t%s\n' "$i" "$rps" "$cpu" "$scpu" "$eff" | tee -a "$OUT/results.tsv" >&2
  say "run $i/$RUNS: plateau-load, $CONNECTIONS connections, ${DURATION}s"
  read -r rps cpu scpu eff < <(run "plateau-$i" "$EXAMPLES/load" "$URL" "$CONNECTIONS" "$DURATION" "$THREADS")
  printf 'plateau-load\t%s\t%s\t%s\t%s\t%s\n' "$i" "$rps" "$cpu" "$scpu" "$eff" | tee -a "$OUT/results.tsv" >&2
done

WRK="$(awk -F'\t' '$1=="wrk" {print $3}' "$OUT/results.tsv" | median)"
OURS="$(awk -F'\t' '$1=="plateau-load" {print $3}' "$OUT/results.tsv" | median)"
RATIO="$(awk -v a="$OURS" -v b="$WRK" 'BEGIN {printf "%.2f", a / b}')"
WRK_EFF="$(awk -F'\t' '$1=="wrk" {print $6}' "$OUT/results.tsv" | median)"
OURS_EFF="$(awk -F'\t' '$1=="plateau-load" {print $6}' "$OUT/results.tsv" | median)"

{
  echo "| tool | run | requests/s | client CPU | server CPU | requests per client CPU-second |"
  echo "|---|---:|---:|---:|---:|---:|"
  awk -F'\t' '{printf "| %s | %s | %.0f | %s%% | %s%% | %s |\n", $1, $2, $3, $4, $5, $6}' "$OUT/results.tsv"
  echo
  printf 'median requests/s: wrk %.0f, plateau-load %.0f; ratio %s (target >= 0.80)\n' "$WRK" "$OURS" "$RATIO"
  printf 'median requests per client CPU-second: wrk %.0f, plateau-load %.0f\n' "$WRK_EFF" "$OURS_EFF"
  echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$OUT/results.md"

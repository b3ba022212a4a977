#!/usr/bin/env bash
# bench/pprof/run.sh — time `go tool pprof -top` against plateau's pprof reader (the
# `pprof_top` example of plateau-formats) on large Go heap profiles. See bench/pprof.md.
#
#   bench/pprof/run.sh [--paths "100000 400000"] [--runs N] [--skip-build]
# Env: PPROF_TOP_BIN=path (use this pprof_top binary, no cargo build), CARGO_TARGET_DIR
#      (where cargo builds; default ./target)
set -euo pipefail

PDIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"   # .../bench/pprof
BENCH_DIR="$(cd "$PDIR/.." && pwd)"
ROOT="$(cd "$BENCH_DIR/.." && pwd)"
OUT="$BENCH_DIR/out"
PATHS="100000 400000"
RUNS=3
SKIP_BUILD=0

usage() { sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --paths) PATHS="$2"; shift 2 ;;
    --paths=*) PATHS="${1#*=}"; shift ;;
    --runs) RUNS="$2"; shift 2 ;;
    --skip-build) SKIP_BUILD=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
done

say() { printf '\n==> %s\n' "$*" >&2; }

# ------------------------------------------------------------------ prerequisites
if ! /usr/bin/time -v true >/dev/null 2>&1; then
  cat >&2 <<'EOF'
run.sh: GNU time (/usr/bin/time with -v) is required to measure wall time and peak RSS.
Install it with:
    apt-get update && apt-get install -y time
EOF
  exit 1
fi
command -v go >/dev/null || { echo "run.sh: Go is required (apt-get update && apt-get install -y golang-go)" >&2; exit 1; }
PPROF_TOOL="$(go env GOTOOLDIR)/pprof"

mkdir -p "$OUT/results"
STAMP="$(date +%Y%m%d-%H%M%S)"
RES="$OUT/results/pprof-$STAMP"
mkdir -p "$RES"
TSV="$RES/results.tsv"
printf 'paths\tfile_bytes\ttool\trun\twall_s\tmax_rss_kb\tstatus\tcpu_s\n' > "$TSV"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/plateau-pprof-bench.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

# measure TAG PATHS FILE TOOL RUN -- CMD...: runs CMD under /usr/bin/time -v; stdout ->
# TAG.out, stderr -> TAG.stderr; appends a TSV row.
measure() {
  local tag="$1" paths="$2" file="$3" tool="$4" run="$5"; shift 6
  local tfile="$RES/$tag.time"
  cat "$file" > /dev/null   # warm page cache for every tool
  say "$tool on $(basename "$file") (run $run): $*"
  local rc=0
  /usr/bin/time -v -o "$tfile" "$@" > "$RES/$tag.out" 2> "$RES/$tag.stderr" || rc=$?
  local wall rss cpu status=ok
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { n=split($2,p,":"); s=0; for(i=1;i<=n;i++) s=s*60+p[i]; printf "%.3f", s }' "$tfile")
  rss=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$tfile")
  cpu=$(awk -F': ' '/User time|System time/ { s += $2 } END { printf "%.2f", s }' "$tfile")
  if [[ $rc != 0 ]]; then status="failed (exit $rc)"; tail -5 "$RES/$tag.stderr" >&2; fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$paths" "$(stat -c %s "$file")" "$tool" "$run" "$wall" "$rss" "$status" "$cpu" >> "$TSV"
}

# ------------------------------------------------------------------ profiles
GEN=
for n in $PATHS; do
  f="$OUT/pprof-$n.pb.gz"
  if [[ -s "$f" ]]; then
    echo "using existing $f ($(stat -c %s "$f") bytes)" >&2
    continue
  fi
  if [[ -z "$GEN" ]]; then
    say "building bench/pprof/gen.go"
    mkdir -p "$WORK/src"
    cp "$PDIR/gen.go" "$WORK/src/"
    printf 'module plateau.example/pprofgen\n\ngo 1.19\n' > "$WORK/src/go.mod"
    (cd "$WORK/src" && GOCACHE="$WORK/gocache" GOPATH="$WORK/gopath" GOFLAGS= GOPROXY=off \
      go build -trimpath -o "$WORK/gen" .)
    GEN="$WORK/gen"
  fi
  say "generating $f ($n call paths)"
  /usr/bin/time -v -o "$OUT/pprof-$n.gen.time" "$GEN" -paths "$n" -out "$f.tmp" | tee "$OUT/pprof-$n.gen.log" >&2
  mv "$f.tmp" "$f"
done

# ------------------------------------------------------------------ plateau's reader
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
PPROF_TOP="${PPROF_TOP_BIN:-$TARGET/release/examples/pprof_top}"
if [[ "$SKIP_BUILD" == 0 && -z "${PPROF_TOP_BIN:-}" ]]; then
  say "cargo build --release -p plateau-formats --example pprof_top"
  (cd "$ROOT" && cargo build --release -p plateau-formats --example pprof_top) \
    || { echo "run.sh: cargo build failed" >&2; exit 1; }
fi
[[ -x "$PPROF_TOP" ]] || { echo "run.sh: $PPROF_TOP not found" >&2; exit 1; }

# ------------------------------------------------------------------ runs
for n in $PATHS; do
  f="$OUT/pprof-$n.pb.gz"
  for run in $(seq 1 "$RUNS"); do
    measure "go-tool-pprof-$n-$run" "$n" "$f" "go tool pprof" "$run" -- \
      go tool pprof -top -nodecount=20 -sample_index=inuse_space "$f"
    measure "pprof-binary-$n-$run" "$n" "$f" "pprof binary" "$run" -- \
      "$PPROF_TOOL" -top -nodecount=20 -sample_index=inuse_space "$f"
    measure "plateau-$n-$run" "$n" "$f" "plateau pprof_top" "$run" -- \
      "$PPROF_TOP" "$f" --sample_index=inuse_space --nodecount=20
  done
done

# ------------------------------------------------------------------ report
say "results ($TSV)"
{
echo "| paths | file (MB) | protobuf (MB) | samples | tool | wall (s) | CPU user+sys (s) | peak RSS (MiB) | CPU vs plateau |"
echo "|---:|---:|---:|---:|---|---:|---:|---:|---:|"
for n in $PATHS; do
  f="$OUT/pprof-$n.pb.gz"
  pb=$(gzip -dc "$f" | wc -c)
  samples=$(grep -o '[0-9]* samples in the file' "$RES/plateau-$n-1.out" | cut -d' ' -f1)
  awk -F'\t' -v n="$n" -v pb="$pb" -v samples="$samples" '
    NR == 1 || $1 != n || $7 != "ok" { next }
    { k = $3; if (!(k in cnt)) order[++m] = k; cnt[k]++; w[k, cnt[k]] = $5; u[k, cnt[k]] = $8; if ($6 > rss[k]) rss[k] = $6; bytes = $2 }
    function median(k, col,   i, j, t, c, a) {
      c = cnt[k]; for (i = 1; i <= c; i++) a[i] = (col == "cpu") ? u[k, i] : w[k, i]
      for (i = 1; i <= c; i++) for (j = i + 1; j <= c; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
      return (c % 2) ? a[(c + 1) / 2] : (a[c / 2] + a[c / 2 + 1]) / 2
    }
    END {
      base = median("plateau pprof_top", "cpu")
      for (i = 1; i <= m; i++) {
        k = order[i]
        printf "| %d | %.1f | %.1f | %s | %s | %.2f | %.2f | %.0f | %.1fx |\n", n, bytes / 1e6, pb / 1e6, samples, k, median(k, "wall"), median(k, "cpu"), rss[k] / 1024, median(k, "cpu") / base
      }
    }' "$TSV"
done
echo
echo "Machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2/1048576 }' /proc/meminfo). $RUNS run(s) per tool; wall and CPU = median, RSS = max (GNU time -v)."
echo "$(go version); plateau-formats at $(cd "$ROOT" && git rev-parse --short HEAD)$(cd "$ROOT" && git diff --quiet HEAD -- crates || echo ' (with uncommitted changes)')."
echo
echo "Totals (inuse_space), run 1:"
echo
for n in $PATHS; do
  pp=$(grep -o 'of [^ ]* total' "$RES/go-tool-pprof-$n-1.out" | head -1)
  ours=$(grep '^total inuse_space/bytes: ' "$RES/plateau-$n-1.out" | cut -d' ' -f3-)
  echo "- $n paths: go tool pprof \`$pp\`, plateau \`$ours\`; plateau: \`$(cat "$RES/plateau-$n-1.stderr" | tail -1)\`"
done
} | tee "$RES/results.md"
echo >&2
echo "raw outputs: $RES" >&2

#!/usr/bin/env bash
# Sampling cost of `plateau watch`: CPU time of plateau itself while it samples a real process
# (/proc status, its cgroup, classification every 2 s) at a given interval. smaps_rollup is read
# only on kernels without RssAnon: on this target it cost ~6 ms a read, 0.6% of a core at 1 Hz.
# Usage: bench/watch-overhead.sh [SECONDS] [INTERVAL]   (defaults: 60 s at 1s)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
interval=${2:-1s}
cargo build --release -q -p plateau
bin=target/release/plateau
out=$(mktemp -d)
trap 'kill "$target" 2>/dev/null || true; rm -rf "$out"' EXIT

# A target with a realistic footprint: 200 MB touched, ~2,000 mappings for smaps_rollup to walk.
python3 -c '
import mmap, time
blocks = [bytearray(100_000) for _ in range(2000)]
maps = [mmap.mmap(-1, 4096 * 16) for _ in range(2000)]
big = bytearray(200 * 1024 * 1024)
time.sleep(10_000)
' &
target=$!
sleep 2

/usr/bin/time -f "%U %S %e" -o "$out/time" \
    "$bin" watch --pid "$target" --interval "$interval" --duration "${seconds}s" \
    --out "$out/series" --json >"$out/events" 2>"$out/stderr" || true
read -r user sys wall <"$out/time"
samples=$(grep -c '"event":"sample"' "$out/events" || true)
python3 - "$user" "$sys" "$wall" "$samples" "$interval" <<'PY'
import sys
user, sys_, wall, samples, interval = float(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
cpu = user + sys_
print(f"plateau watch --pid (interval {interval}): {samples} samples in {wall:.1f} s wall, "
      f"CPU {cpu*1000:.0f} ms (user {user*1000:.0f} + sys {sys_*1000:.0f}) = "
      f"{100*cpu/wall:.3f}% of one core, {1000*cpu/max(samples,1):.2f} ms per sample")
PY
grep -h "smaps" "$out/stderr" "$out/events" | head -3 || true

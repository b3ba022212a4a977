"""What bench/tracemalloc/run.sh times on the Python side: tracemalloc's own load of two
dumps and compare_to(old, 'lineno'), the usual way to find a leak in tracemalloc dumps.

    python3 py_compare.py OLD NEW [--top 10]

Prints the top differences as tracemalloc formats them, then one line of phase timings.
"""
import sys
import time
import tracemalloc


def main():
    args = sys.argv[1:]
    if len(args) < 2:
        sys.exit(__doc__)
    top = int(args[args.index("--top") + 1]) if "--top" in args else 10
    t0 = time.perf_counter()
    old = tracemalloc.Snapshot.load(args[0])
    t1 = time.perf_counter()
    new = tracemalloc.Snapshot.load(args[1])
    t2 = time.perf_counter()
    stats = new.compare_to(old, "lineno")
    t3 = time.perf_counter()
    for stat in stats[:top]:
        print(stat)
    print("timings: load_old=%.3f load_new=%.3f compare_lineno=%.3f total=%.3f traces=%d+%d groups=%d"
          % (t1 - t0, t2 - t1, t3 - t2, t3 - t0, len(old.traces), len(new.traces), len(stats)))


if __name__ == "__main__":
    main()

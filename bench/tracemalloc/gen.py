"""Writes two large tracemalloc dumps of one process for bench/tracemalloc/run.sh:
OUT/s0.tracemalloc with about --traces live traces, then OUT/s1.tracemalloc after the
process grew by --grow (a fraction of --traces, all at a few "leaking" lines).

    python3 gen.py --out bench/out/tracemalloc [--traces 4000000] [--lines 2000]
                   [--grow 0.1] [--limit 10]

The allocations are small bytes objects (one block, one trace each) held alive in lists,
made by generated code: --lines functions in 20 generated modules (compiled under file names
bench/app/mod_NN.py), each with one allocating line, reached through three route functions
and a middleware (bench/app/framework.py), so there are about 3 x --lines distinct
tracebacks, 5 frames deep. Counts per line are skewed (1x to 5x) deterministically; no
randomness, no clocks.
"""
import gc
import os
import sys
import time
import tracemalloc
import types

MODULES = 20

FRAMEWORK = '''
def middleware(fn, n, keep):
    fn(n, keep)

def route_a(fn, n, keep):
    middleware(fn, n, keep)

def route_b(fn, n, keep):
    middleware(fn, n, keep)

def route_c(fn, n, keep):
    middleware(fn, n, keep)
'''


def load(name, filename, source, env=None):
    module = types.ModuleType(name)
    if env:
        module.__dict__.update(env)
    exec(compile(source, filename, "exec"), module.__dict__)
    return module


def make_functions(lines):
    per = (lines + MODULES - 1) // MODULES
    functions = []
    for m in range(MODULES):
        src = []
        for k in range(per):
            i = m * per + k
            if i >= lines:
                break
            size = 8 + (i * 37) % 120
            src.append("def alloc_%d(n, keep):\n"
                       "    for _ in range(n):\n"
                       "        keep.append(bytes(%d))\n" % (i, size))
        module = load("mod_%02d" % m, "bench/app/mod_%02d.py" % m, "\n".join(src))
        functions.extend(getattr(module, "alloc_%d" % i)
                         for i in range(m * per, min(lines, (m + 1) * per)))
    return functions


def allocate(functions, routes, keeps, weights, total):
    weight_sum = sum(weights)
    done = 0
    for i, fn in enumerate(functions):
        if weights[i] == 0:
            continue
        n = total * weights[i] // weight_sum
        for r, route in enumerate(routes):
            share = n // 3 + (1 if r < n % 3 else 0)
            route(fn, share, keeps[i])
            done += share
    return done


def dump(path):
    t = time.time()
    gc.collect()
    snapshot = tracemalloc.take_snapshot()
    snapshot.dump(path)
    n = len(snapshot.traces)
    del snapshot
    gc.collect()
    print("%s: %d traces, %.1f MB, %.1f s" % (path, n, os.path.getsize(path) / 1e6, time.time() - t),
          flush=True)


def main():
    args = sys.argv[1:]
    opts = dict(zip(args[0::2], args[1::2]))
    if "--out" not in opts:
        sys.exit(__doc__)
    out = opts["--out"]
    traces = int(opts.get("--traces", 4000000))
    lines = int(opts.get("--lines", 2000))
    grow = float(opts.get("--grow", 0.1))
    limit = int(opts.get("--limit", 10))
    os.makedirs(out, exist_ok=True)

    framework = load("framework", "bench/app/framework.py", FRAMEWORK)
    routes = (framework.route_a, framework.route_b, framework.route_c)
    functions = make_functions(lines)
    keeps = [[] for _ in functions]
    weights = [1 + (i * 7919) % 5 for i in range(len(functions))]

    tracemalloc.start(limit)
    t = time.time()
    made = allocate(functions, routes, keeps, weights, traces)
    print("allocated %d objects in %.1f s" % (made, time.time() - t), flush=True)
    dump(os.path.join(out, "s0.tracemalloc.tmp"))
    leaking = [w if i % 100 == 0 else 0 for i, w in enumerate(weights)]
    made = allocate(functions, routes, keeps, leaking, int(traces * grow))
    print("grew by %d objects at %d lines" % (made, sum(1 for w in leaking if w)), flush=True)
    dump(os.path.join(out, "s1.tracemalloc.tmp"))
    tracemalloc.stop()
    for name in ("s0", "s1"):
        os.replace(os.path.join(out, name + ".tracemalloc.tmp"), os.path.join(out, name + ".tracemalloc"))


if __name__ == "__main__":
    main()

# Written by plateau. It traces allocations with tracemalloc from interpreter start and dumps a
# tracemalloc snapshot when the process gets a signal, so that a running service can be
# captured without changing its code. plateau rewrites this file; do not edit it.
#
#   PLATEAU_TRACEMALLOC_DIR     where snapshots go (default: this file's directory)
#   PLATEAU_TRACEMALLOC_FRAMES  traceback depth for tracemalloc.start (default 25)
#   PLATEAU_TRACEMALLOC_SIGNAL  the signal that dumps a snapshot (default SIGUSR2)
#
# Snapshot k is written as snapshot-<k>.tracemalloc.tmp and renamed to snapshot-<k>.tracemalloc,
# k being one more than the highest already in the directory. Nothing here may break the
# service: every failure prints one line on stderr and the program goes on.


def _plateau_install():
    import os
    import sys

    def say(message):
        try:
            sys.stderr.write("plateau sitecustomize: %s\n" % (message,))
            sys.stderr.flush()
        except Exception:
            pass

    def same_dir(a, b):
        try:
            return os.path.realpath(a or os.curdir) == os.path.realpath(b)
        except Exception:
            return False

    here = os.path.dirname(os.path.abspath(__file__))

    try:
        import tracemalloc

        if not tracemalloc.is_tracing():
            frames = 25
            wanted = os.environ.get("PLATEAU_TRACEMALLOC_FRAMES", "").strip()
            if wanted:
                try:
                    frames = max(1, int(wanted))
                except ValueError:
                    say("PLATEAU_TRACEMALLOC_FRAMES=%r is not a number; using 25" % (wanted,))
            tracemalloc.start(frames)
    except Exception as e:
        say("cannot start tracemalloc: %r" % (e,))
        return

    # This file shadows any other sitecustomize (the user's, the distribution's): run that one
    # too, found on the rest of the path, as `import sitecustomize` would have.
    spec = None
    try:
        import importlib.machinery
        import importlib.util

        rest = [p for p in sys.path if isinstance(p, str) and not same_dir(p, here)]
        spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
        if spec is not None and spec.loader is not None:
            ours = sys.modules.get(__name__)
            if ours is not None:
                sys.modules["_plateau_sitecustomize"] = ours
            theirs = importlib.util.module_from_spec(spec)
            sys.modules["sitecustomize"] = theirs
            try:
                spec.loader.exec_module(theirs)
            except Exception:
                if ours is not None:
                    sys.modules["sitecustomize"] = ours
                raise
    except Exception as e:
        say("the sitecustomize at %s failed: %r" % (getattr(spec, "origin", "?"), e))

    out = os.environ.get("PLATEAU_TRACEMALLOC_DIR") or here
    name = (os.environ.get("PLATEAU_TRACEMALLOC_SIGNAL") or "SIGUSR2").strip().upper()
    if not name.startswith("SIG"):
        name = "SIG" + name
    try:
        import signal

        signum = signal.Signals[name]
        previous = signal.getsignal(signum)
    except Exception as e:
        say("cannot use signal %s: %r" % (name, e))
        return

    def dump(received, frame):
        try:
            import pickle
            import re

            snapshot = tracemalloc.take_snapshot()
            highest = 0
            for entry in os.listdir(out):
                m = re.fullmatch(r"snapshot-([0-9]+)\.tracemalloc", entry)
                if m:
                    highest = max(highest, int(m.group(1)))
            final = os.path.join(out, "snapshot-%d.tracemalloc" % (highest + 1))
            tmp = final + ".tmp"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                with os.fdopen(fd, "wb") as f:
                    # What Snapshot.dump() writes.
                    pickle.dump(snapshot, f, pickle.HIGHEST_PROTOCOL)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, final)
            except BaseException:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
                raise
        except Exception as e:
            say("cannot dump a tracemalloc snapshot: %r" % (e,))
        if callable(previous):
            previous(received, frame)

    try:
        signal.signal(signum, dump)
    except Exception as e:
        say("cannot install the %s handler: %r" % (name, e))


try:
    _plateau_install()
except Exception:
    pass

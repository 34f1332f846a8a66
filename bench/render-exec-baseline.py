"""The official approach, for comparison: exec() every script in this one process, serially.

Usage: python render-exec-baseline.py CORPUS_DIRECTORY ROUNDS

Times only the scripts (pyplot is imported before the clock starts, as a long-running process would
have it), closes all figures after each script, and prints one JSON line last:
    {"renders": int, "seconds": float, "failures": [name, ...]}
No isolation of any kind: this is what scigen's sandboxed renderer is measured against.
"""

import json
import os
import sys
import tempfile
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as pyplot


def main():
    corpus_directory, rounds = sys.argv[1], int(sys.argv[2])
    scripts = sorted(
        os.path.join(corpus_directory, name) for name in os.listdir(corpus_directory) if name.endswith(".py")
    )
    # The scripts save into the current directory, as they would in the official run.
    os.chdir(tempfile.mkdtemp(prefix="scigen-bench-exec-"))
    failures = []
    started = time.perf_counter()
    for _ in range(rounds):
        for path in scripts:
            with open(path, encoding="utf-8") as handle:
                source = handle.read()
            try:
                exec(compile(source, path, "exec"), {"__name__": "__main__"})  # noqa: S102 — the official approach
            except Exception:  # noqa: BLE001 — a failed script is counted, not fatal
                failures.append(os.path.basename(path))
            finally:
                pyplot.close("all")
    seconds = time.perf_counter() - started
    print(json.dumps({"renders": rounds * len(scripts) - len(failures), "seconds": seconds, "failures": failures}))


if __name__ == "__main__":
    main()

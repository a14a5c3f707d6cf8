"""Run the benchmarks: every ``bench/bench_*.py`` module's ``main()``, each in its own process.

    python -m bench                     # all of them, 1,000,000 rows
    python -m bench apply memory        # only bench_apply.py and bench_memory.py
    python -m bench --rows 100000       # a smaller corpus (sets $BENCH_ROWS)
    python -m bench labelmodel --full   # the big sizes too (sets $BENCH_FULL)

A separate process per module keeps one benchmark's memory and threads out of the next one's
numbers. The exit status is non-zero if any benchmark failed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent


def discover() -> list[str]:
    """Names of the benchmark modules (``bench_apply`` -> ``apply``), in a stable order."""
    return sorted(p.stem.removeprefix("bench_") for p in BENCH_DIR.glob("bench_*.py"))


def main(argv: list[str] | None = None) -> int:
    available = discover()
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"benchmarks to run (default all: {', '.join(available)})")
    parser.add_argument("--rows", type=int, help="corpus size (default 1,000,000)")
    parser.add_argument("--full", action="store_true", help="the big sizes too, where a benchmark has them")
    # options after the names go to the benchmarks (python -m bench pipeline --dask)
    args, extra = parser.parse_known_args(argv)
    unknown = sorted(set(args.names) - set(available))
    if unknown:
        parser.error(f"no benchmark named {', '.join(unknown)}; choose from {', '.join(available)}")
    env = dict(os.environ)
    if args.rows:
        env["BENCH_ROWS"] = str(args.rows)
    if args.full:
        env["BENCH_FULL"] = "1"
    failed = []
    for name in args.names or available:
        print(f"\n=== bench_{name} ===", flush=True)
        start = time.perf_counter()
        code = f"import bench.bench_{name} as m; m.main()"
        result = subprocess.run([sys.executable, "-c", code, *extra], env=env, cwd=BENCH_DIR.parent)
        print(f"=== bench_{name}: {'ok' if result.returncode == 0 else 'FAILED'} in {time.perf_counter() - start:.0f} s ===", flush=True)
        if result.returncode != 0:
            failed.append(name)
    if failed:
        print(f"\nFailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

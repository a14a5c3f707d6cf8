"""``python -m workbench.course [--out DIR] [NOTEBOOK ...]``: build the HTML handout (``make course``)."""

import argparse

from workbench.course._build import build_course


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m workbench.course", description=__doc__)
    parser.add_argument("notebooks", nargs="*", help="notebooks to build (default: the whole series)")
    parser.add_argument("--out", default=None, help="output folder (default: out/course)")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per cell")
    args = parser.parse_args(argv)
    built = build_course(args.out, args.notebooks or None, timeout=args.timeout)
    print(f"wrote {len(built)} notebooks and index.html to {built[0].parent if built else args.out}")


if __name__ == "__main__":
    main()

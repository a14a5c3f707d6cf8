"""Command line: ``python -m workbench run CONFIG`` and ``python -m workbench reproduce MANIFEST``.

Exit codes: 0 success; 1 the run failed or did not reproduce; 2 a bad config or usage.
Failures print one line, ``error: ...``, naming the problem (``--traceback`` shows more).
"""

from __future__ import annotations

import argparse
import sys
import traceback

from workbench.pipeline import ConfigError, load_config


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m workbench", description="Synthetic Labels Workbench, headless.")
    parser.add_argument("--traceback", action="store_true", help="show the full traceback on failure")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the pipeline of a YAML/TOML config; write export, manifest and report")
    run.add_argument("config", help="the config file (.yaml, .yml or .toml)")
    run.add_argument("--out", help="output folder (overrides output.dir)")
    run.add_argument("--overwrite", action="store_true", default=None, help="replace existing outputs")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    rep = sub.add_parser("reproduce", help="re-run the pipeline recorded in a manifest and compare every step")
    rep.add_argument("manifest", help="a run's .manifest.json, or an export folder (its current run)")
    rep.add_argument("--lfs", help="use this LF module (file or module path) instead of the recorded one")
    rep.add_argument("--trust-lf-module", action="store_true",
                     help="import the LF module even if it is not the one recorded (hash differs) or the manifest "
                          "cannot be checked")
    rep.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "run":
            config = load_config(args.config)  # before the heavy imports: a bad config fails fast
            from workbench.pipeline import run_pipeline

            run_pipeline(config, out=args.out, overwrite=args.overwrite, progress_bar=not args.quiet)
            return 0
        from workbench.pipeline import reproduce

        report = reproduce(args.manifest, lf_module=args.lfs, trust_lf_module=args.trust_lf_module,
                           progress_bar=not args.quiet)
        print(report)
        return 0 if report.ok else 1
    except ConfigError as exc:
        if args.traceback:
            traceback.print_exc()
        print(f"error: config {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # the CLI's contract: one clear line and a non-zero exit, whatever failed
        if args.traceback:
            traceback.print_exc()
        message = " ".join(str(exc).split()) or type(exc).__name__
        print(f"error: {type(exc).__name__}: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

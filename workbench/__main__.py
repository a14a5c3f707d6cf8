"""Command line: ``python -m workbench init FILE ...``, ``run CONFIG`` and ``reproduce MANIFEST``.

Exit codes: 0 success; 1 the run failed or did not reproduce; 2 a bad config or usage.
Failures print one line, ``error: ...``, naming the problem (``--traceback`` shows more); warnings print one line
each, ``warning: ...``, and the run's class check is said once, in its summary.
"""

from __future__ import annotations

import argparse
import sys
import traceback
import warnings

from workbench.pipeline import ConfigError, load_config


def _sizes(text: str) -> dict[str, float]:
    """``dev=120,test=0.2`` -> ``{"dev": 120, "test": 0.2}`` (counts or fractions of the labeled rows)."""
    sizes = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        split, sep, value = part.partition("=")
        try:
            number = float(value)
        except ValueError:
            number = None
        if not sep or number is None:
            raise argparse.ArgumentTypeError(f"{part!r}: write split=count or split=fraction, e.g. dev=120,test=0.2")
        sizes[split.strip()] = int(number) if number.is_integer() else number
    return sizes


def _header(text: str):
    if text.lower() in ("none", "no"):
        return None
    if text == "infer":
        return "infer"
    if text.isdigit():
        return int(text)
    raise argparse.ArgumentTypeError(f"{text!r}: use infer, none (no header line) or the header's line number")


def _names(text: str) -> list[str]:
    return [n.strip() for n in text.split(",") if n.strip()]


def _sep(text: str) -> str:
    return {"\\t": "\t", "tab": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}.get(text, text)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m workbench", description="Synthetic Labels Workbench, headless.")
    parser.add_argument("--traceback", action="store_true", help="show the full traceback on failure")
    sub = parser.add_subparsers(dest="command", required=True)
    init = sub.add_parser("init", help="make a project folder (split dataset, starter LFs, config, studio notebook) from a file")
    init.add_argument("file", help="CSV, TSV, Parquet or JSONL (optionally .gz); other names are sniffed")
    init.add_argument("--text-column", required=True, help="the column holding the text (a position like 1 if no header)")
    init.add_argument("--label-column", help="the column of hand labels (class names or ids; empty: unlabeled, goes to the pool)")
    init.add_argument("--id-column", help="a column of unique ids (default: the row number)")
    init.add_argument("--class-names", type=_names, help="comma-separated, in class-id order (default: sorted labels)")
    init.add_argument("--project", help="the project folder to create (default: ./<file name>_project)")
    init.add_argument("--sizes", type=_sizes, help="split sizes, e.g. dev=120,test=0.2,seed=50 (default: "
                      "test 0.2, dev 0.1, valid 0.1, canary 0.05, seed 0.05 of the labeled rows)")
    init.add_argument("--group-column", help="keep all rows of a group (e.g. an author) in one split")
    init.add_argument("--time-column", help="make the latest period the test set")
    init.add_argument("--sep", type=_sep, help="field separator (tab, comma, ...; default from the format)")
    init.add_argument("--header", type=_header, default="infer", help="infer (default), none, or the header's line number")
    init.add_argument("--names", type=_names, help="comma-separated column names for a file without a header line")
    init.add_argument("--encoding", help="text encoding (default UTF-8)")
    init.add_argument("--overwrite", action="store_true", help="replace a project already in the folder")
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


def _one_line(message, category, filename, lineno, file=None, line=None) -> None:
    """A warning as one line of the command's output, without the source line Python would quote."""
    print(f"warning: {category.__name__}: {' '.join(str(message).split())}", file=sys.stderr if file is None else file)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    with warnings.catch_warnings():
        warnings.showwarning = _one_line
        return _command(args)


def _command(args: argparse.Namespace) -> int:
    try:
        if args.command == "init":
            from workbench.pipeline import init_project

            project = init_project(args.file, args.project, text_column=args.text_column, label_column=args.label_column,
                                   id_column=args.id_column, class_names=args.class_names, sizes=args.sizes,
                                   group_column=args.group_column, time_column=args.time_column, overwrite=args.overwrite,
                                   sep=args.sep, header=args.header, names=args.names, encoding=args.encoding)
            print(project.summary())
            return 0
        if args.command == "run":
            config = load_config(args.config)  # before the heavy imports: a bad config fails fast
            from workbench.pipeline import ClassShareWarning, run_pipeline

            warnings.simplefilter("ignore", ClassShareWarning)  # the summary's WARNING line says it

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

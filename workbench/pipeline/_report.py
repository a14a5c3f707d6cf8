"""What a run prints (:func:`render_summary`) and the report written beside its export (:func:`render_report`).

Both read only the manifest (and the run's paths), so a report can be rebuilt from any manifest.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from workbench.export._runs import POINTER, ExportRun


def _fmt(x: Any) -> str:
    return f"{x:.3f}" if isinstance(x, float) else str(x)


def _gate_text(gate: dict) -> str:
    text = (f"{gate['metric']} {_fmt(gate['value'])} {'>=' if gate['passed'] else '<'} {_fmt(gate['minimum'])} "
            f"on {gate['n']} canary rows: {'passed' if gate['passed'] else 'FAILED'}")
    if gate.get("override"):
        text += f", exported under override ({gate['override']['reason']})"
    return text


def _leakage_text(leak: dict) -> str:
    """One sentence: what the leakage check removed from which set, or that it found nothing."""
    parts = [(name, leak[key]) for key, name in (("export", "export"), ("seed", "seed")) if leak.get(key)]
    removed = [f"{len(r['removed'])} of {r['rows']} {name} rows" for name, r in parts if r["removed"]]
    checked = " and ".join(f"the {name} {'table' if name == 'export' else 'split'}" for name, _ in parts)
    if not removed:
        return f"no copies of protected rows in {checked}"
    return f"removed {' and '.join(removed)} as copies of protected rows"


def _timing_text(timings: dict) -> str:
    if not timings:
        return ""
    slowest = max(timings, key=timings.get)
    return f"took {sum(timings.values()):.1f} s ({slowest} {timings[slowest]:.1f} s)"


def render_summary(manifest: dict, run: ExportRun) -> str:
    """A few lines: the funnel, the label model, the leakage check, the test metrics, where the files are."""
    funnel, ev, lm = manifest["funnel"], manifest["evaluation"], manifest["label_model"]
    leak = ev["leakage"]
    removed = [f"{s['step']} -{s['n_in'] - s['n_kept']}" for s in funnel["steps"]]
    if leak["export"]["removed"]:
        removed.append(f"leakage -{len(leak['export']['removed'])}")
    test = ev["test"]
    lines = [
        f"{manifest['config']['name']}: {funnel['n_pool']} pool rows -> {manifest['export']['rows']} exported "
        f"({', '.join(removed) or 'no filters'})",
        f"label model: {lm['used']}" + (f" (auto: {lm['reason'][0]})" if lm["requested"] == "auto" and lm.get("reason") else ""),
        f"leakage: {_leakage_text(leak)}",
        f"test ({test['end_model']['n']} rows): label model ({test['label_model']['model']}) accuracy "
        f"{_fmt(test['label_model']['accuracy'])} with abstentions counted as errors "
        f"({_fmt(test['label_model']['accuracy_covered'])} on the {test['label_model']['coverage']:.0%} of rows it labels), "
        f"end model accuracy {_fmt(test['end_model']['accuracy'])}, "
        f"F1 {_fmt(test['end_model']['f1_macro'])}",
    ]
    lines += [f"WARNING: class check: {w}" for w in (ev.get("classes") or {}).get("warnings", [])]
    if ev.get("canary_gate"):
        lines.append(f"canary gate: {_gate_text(ev['canary_gate'])}")
    if (ev.get("synthetic_label_accuracy") or {}).get("accuracy") is not None:
        lines.append(f"exported labels agree with hidden gold on {_fmt(ev['synthetic_label_accuracy']['accuracy'])} of rows")
    if manifest.get("timings"):
        lines.append(_timing_text(manifest["timings"]))
    lines += [
        f"run {run.run_id} of {run.folder} (current: {run.folder / POINTER})",
        f"export:   {run.export_path} (sha256 {manifest['export']['sha256'][:12]})",
        f"manifest: {run.manifest_path}",
        f"report:   {run.report_path}",
        f"check it: python -m workbench reproduce {run.manifest_path}",
    ]
    return "\n".join(lines)


def render_report(manifest: dict, export_path: Path, manifest_path: Path, fmt: str = "md") -> str:
    """The report written beside the export: Markdown tables (``md``) or plain text (``txt``)."""
    md = fmt == "md"
    funnel, ev, lm = manifest["funnel"], manifest["evaluation"], manifest["label_model"]

    def table(header: list[str], rows: list[list[Any]]) -> list[str]:
        if md:
            return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
                    *("| " + " | ".join(_fmt(c) for c in r) + " |" for r in rows), ""]
        widths = [max(len(_fmt(c)) for c in col) for col in zip(header, *rows)]
        return ["  ".join(_fmt(c).ljust(w) for c, w in zip(r, widths)) for r in [header, *rows]] + [""]

    h = (lambda t: f"## {t}") if md else (lambda t: f"{t}\n{'-' * len(t)}")
    out = [f"# Export report: {manifest['config']['name']}" if md else f"Export report: {manifest['config']['name']}", "",
           f"Created {manifest['created_at']}. Export `{export_path.name}` ({manifest['export']['rows']} rows, "
           f"{manifest['export']['format']}, sha256 `{manifest['export']['sha256']}`); lineage in `{manifest_path.name}`.", ""]
    out += [h("Funnel"), ""]
    # rows left per class (by the generated label), when the filter stage counted them
    counted = "n_pool_by_class" in funnel and all("n_kept_by_class" in s for s in funnel["steps"])
    names = list(funnel["n_pool_by_class"]) if counted else []

    def per_class(counts: dict | None) -> list[str]:
        return [" / ".join(str(counts[n]) for n in names)] if counted else []

    rows = [["pool", "", funnel["n_pool"], *per_class(funnel.get("n_pool_by_class")), ""]]
    for s, configured in zip(funnel["steps"], manifest["config"]["filter"]):
        why = "; ".join(f"{r}: {v['count']}" for r, v in s["removed"].items()) or "-"
        params = ", ".join(f"{k}={v}" for k, v in configured.items() if k != "step")  # as configured
        rows.append([s["step"] + (f" ({params})" if params else ""), s["n_in"] - s["n_kept"], s["n_kept"],
                     *per_class(s.get("n_kept_by_class")), why])
    out += table(["step", "removed", "rows left", *([f"by label ({' / '.join(names)})"] if counted else []), "reasons"], rows)
    classes = ev.get("classes")
    if classes:
        out += [h("Classes"), "", "Each class's share of the export (by its exported label) against the dev set's "
                f"(a class is flagged when {classes['rule']}).", ""]
        out += [f"- **WARNING**: {w}" if md else f"- WARNING: {w}" for w in classes["warnings"]] + ([""] if classes["warnings"] else [])
        out += table(["class", "dev rows", "dev share", "dev 95% interval", "export rows", "export share"], [
            [name, c["dev_rows"], c["dev_share"], f"{_fmt(c['dev_share_interval'][0])} to {_fmt(c['dev_share_interval'][1])}",
             c["export_rows"], c["export_share"]] for name, c in classes["classes"].items()])
    out += [h("Label model"), "", f"Requested `{lm['requested']}`, used `{lm['used']}` ({lm['class']}).", ""]
    out += [f"- {m}" for m in lm.get("reason", [])] + ([""] if lm.get("reason") else [])

    leak = ev["leakage"]
    out += [h("Leakage"), "", f"Checked by {leak['method']}, against "
            f"{', '.join(f'{s} ({n} rows)' for s, n in leak['protected_sizes'].items())}.", ""]
    sets = [("export table", leak["export"]), ("seed split", leak["seed"])]
    out += table(["set", "rows", "exact copies", "near copies", "policy (exact / near)", "removed"], [
        [name, r["rows"], len(r["exact_copies"]), len(r["near_copies"]), f"{r['policy']['exact']} / {r['policy']['near']}",
         len(r["removed"])] for name, r in sets if r is not None])
    if leak["seed"] is None:
        out += ["The seed split is not trained on, so it was not checked.", ""]

    test = ev["test"]
    out += [h("Evaluation on the clean test set"), ""]
    lm_test = test["label_model"]
    out += table(["model", "accuracy", "accuracy on covered rows", "F1 (macro)", "coverage", "rows"], [
        [f"label model: {lm_test['model']}", lm_test["accuracy"], lm_test["accuracy_covered"], lm_test["f1_macro"],
         lm_test["coverage"], lm_test["n"]],
        ["end model", test["end_model"]["accuracy"], test["end_model"]["accuracy"], test["end_model"]["f1_macro"], 1.0,
         test["end_model"]["n"]],
    ])
    out += [f"Label-model accuracy counts as the whole workbench does: {lm_test['policy']}.", ""]
    per_class = test["end_model"].get("per_class")
    if per_class:
        out += ["End model per class on the test set:", ""]
        out += table(["class", "precision", "recall", "F1", "rows"],
                     [[name, m["precision"], m["recall"], m["f1"], m["support"]] for name, m in per_class.items()])
    if ev.get("canary_gate"):
        out += [f"Canary gate: {_gate_text(ev['canary_gate'])}. End model accuracy on the canary set: "
                f"{_fmt(ev['canary']['end_model']['accuracy'])}.", ""]
    training = ev["end_model_training"]
    out += [f"The end model trained on {training['synthetic_rows']} synthetic rows"
            + (f" and {training['seed_rows']} hand-labeled seed rows." if training["seed_rows"] else "."), ""]
    if (ev.get("synthetic_label_accuracy") or {}).get("accuracy") is not None:
        out += [f"Exported labels agree with the pool's hidden gold labels on "
                f"{_fmt(ev['synthetic_label_accuracy']['accuracy'])} of {ev['synthetic_label_accuracy']['n']} rows.", ""]
    if manifest.get("timings"):
        out += [h("Timings"), ""]
        out += table(["stage", "seconds"], [[stage, f"{seconds:.2f}"] for stage, seconds in manifest["timings"].items()])
    out += [h("Reproduce"), "", f"`python -m workbench reproduce {manifest_path}`", ""]
    return "\n".join(out)

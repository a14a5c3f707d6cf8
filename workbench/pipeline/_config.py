"""Pipeline configuration: load a YAML or TOML file and validate it, naming the offending key.

A config describes one headless run (``python -m workbench run CONFIG``)::

    name: youtube_spam                 # names the output files (default: the config file's stem)
    data:
      bundled: youtube_spam            # the bundled data, or a saved dataset (Dataset.save, python -m workbench init):
      # dataset: my_project/dataset
      # or your own tables, one per split:
      # text_column: body              # defaults for every table below (text_column: text)
      # id_column: id
      # train:  {path: pool.csv}       # the unlabeled pool (required)
      # dev:    {path: dev.csv, label_column: y}    # hand-labeled (required)
      # test:   {path: test.csv, label_column: y}   # clean test set (required)
      # seed:   {path: seed.csv, label_column: y}   # optional: hand labels the end model MAY train on
      # valid / canary: optional, protected like dev and test (never trained on)
      # class_names: [ham, spam]       # default: "0", "1", ... from the labels; needed for labels that are names
      # allow_missing_classes: false   # class names and labels must match: a class that no row of any labeled
                                       # split (seed/dev/valid/test/canary) has stops the run, naming the class,
                                       # since the model would have a class it can neither learn nor be scored
                                       # on; true says it is intended (a class to label later). With tables or
                                       # a saved dataset (whose own setting it overrides when given)
      # sep / header / names / encoding: how to read the tables (load_table's options), here or per table
    lfs: workbench.data.youtube_lfs         # a module path or a .py file exposing LFS (or one *_LFS list)
    # lfs: {module: my_lfs.py, attribute: MY_LFS}
    label_model: {kind: auto, random_state: 123}   # a name in workbench.generate.LABEL_MODELS (auto chooses)
                                       # n_epochs, lr, l2 go to models that take them
    generators:                        # optional; default: the label model alone
      combine: primary                 # primary: the first one's labels; blend: the weighted mean of all
      disagreement: 0.5                # disagreement score (0..1) from which a row is flagged in the export
      use:                             # (a plain list is `use:` with combine: primary)
        - label_model                  # the label model above, over the LF module (exactly once)
        - {kind: pseudo_label, threshold: 0.9, max_rounds: 5}   # self-training seeded from `seed` (+ review answers)
        - {kind: distillation, teacher: teacher.joblib, temperature: 2.0}  # a fitted model file, or
                                       # module:factory returning an estimator fitted on the label model's labels
    review:                            # optional: answers from a review store become labeled rows
      store: out/workbench.sqlite
      reviewers: [ana, bo]             # default: every reviewer
      conflicts: drop                  # reviewers disagree: drop, majority or latest
      weight: 3.0                      # sample_weight of a human-labeled row
    rounds: {max: 2, min_gain: 0.0, on: valid}   # optional: while the end model beats its teacher on
                                       # `on` (valid or dev), it relabels the pool for another round
    filter:                            # steps of workbench.curate.FILTER_STEPS, run in order; removals recorded
      - uncovered                      # rows no LF voted on
      - {step: confidence, threshold: 0.7}   # class_thresholds: {spam: 0.9} raises it for some classes
      - protected_duplicates           # rows whose text equals a dev/valid/test/canary row
      - {step: near_duplicates, threshold: 0.7}   # keep the most confident row of each cluster of clones
    leakage:                           # protected rows in what the end model trains on (the export table,
      near_duplicates: true            # and the seed split when mixed in): exact copies, and near ones
      threshold: 0.7                   # Jaccard similarity of character shingles from which a text is a near copy
      export: {exact: refuse, near: remove}   # refuse (stop the run) or remove (with a record), per kind
      seed: {exact: refuse, near: remove}
    end_model: {mix_seed: true, targets: hard, seed_weight: 1.0, synthetic_weight: 1.0, C: 10.0}
    canary: {metric: f1, minimum: 0.8}     # the gate before export (when there is a canary split);
                                           # override: "why" exports despite a failed gate, recorded
    export: {columns: [AUTHOR]}        # pool columns exported besides id, text and the synthetic labels (default none)
    output: {dir: out, format: parquet, overwrite: false, report: md}
    engine: local                      # or dask: the pool (Parquet: a file, a folder of files or a glob such as
                                       # pool/*.parquet) read and processed partition by partition on a Dask cluster
    # engine: {kind: dask, scheduler: "tcp://10.0.0.5:8786"}      # a running cluster, or a LocalCluster:
    # engine: {kind: dask, n_workers: 2, memory_limit: 4GB, processes: true}

Relative paths are relative to the config file's folder. ``output.dir`` defaults to the
workbench output folder (``$WORKBENCH_OUT`` or ``out/``). Every problem raises
:class:`ConfigError`, whose message starts with the key, e.g.
``data.train.text_column: 'body' is not a column of pool.csv; columns are [...]``.
"""

from __future__ import annotations

import difflib
import importlib.util
import json
import os
import re
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from workbench.curate._registry import FILTER_STEPS, ParamError
from workbench.data._dataset import DATASET_FILE
from workbench.data._table import load_table, read_table_file
from workbench.generate._labelmodel import LABEL_MODELS

#: The default ``label_model.kind``: :class:`workbench.generate.AutoLabelModel`, registered under this name.
AUTO = "auto"
LEAKAGE_ACTIONS = ("refuse", "remove")
EXPORT_FORMATS = ("parquet", "csv", "jsonl")
REPORT_FORMATS = ("md", "txt")
BUNDLED = ("youtube_spam",)
SPLITS = ("train", "seed", "dev", "test", "valid", "canary")
LABELED_SPLITS = ("seed", "dev", "test", "valid", "canary")


class ConfigError(ValueError):
    """A config problem: ``key`` is the dotted key at fault (``""`` for the file as a whole),
    ``source`` the config file, when known."""

    def __init__(self, key: str, message: str, source: str | os.PathLike | None = None):
        super().__init__(key, message)
        self.key, self.message, self.source = key, message, source

    def __str__(self) -> str:
        where = f"{self.source}: " if self.source else ""
        return f"{where}{self.key}: {self.message}" if self.key else f"{where}{self.message}"


@dataclass(frozen=True)
class TableSpec:
    """One user table: where it is and which columns hold the id, the text and the label."""

    path: Path
    text_column: str
    label_column: str | None = None
    id_column: str | None = None
    sep: str | None = None
    header: Any = "infer"
    names: tuple[str, ...] | None = None
    encoding: str | None = None

    @property
    def files(self) -> list[Path]:
        """The table's files: the path itself, or (a pool given as a folder or a glob) its Parquet files, sorted."""
        return parquet_files(self.path) if is_multi_file(self.path) else [self.path]

    def load(self, class_names: list[str] | None = None) -> pd.DataFrame:
        frames = [load_table(path, self.text_column, self.label_column, self.id_column, class_names=class_names,
                             sep=self.sep, header=self.header, names=self.names, encoding=self.encoding)
                  for path in self.files]
        if len(frames) == 1:
            return frames[0]
        table = pd.concat(frames, ignore_index=True)
        table.attrs = frames[0].attrs
        duplicated = table["example_id"][table["example_id"].duplicated()]
        if len(duplicated):
            raise ValueError(f"{self.path}: id column {self.id_column!r} has ids in more than one file: "
                             f"{sorted(duplicated.unique())[:5]}")
        return table


def is_multi_file(path: Path) -> bool:
    """A pool given as a folder of Parquet files or as a glob pattern."""
    return path.is_dir() or any(c in path.name for c in "*?[")


def parquet_files(path: Path) -> list[Path]:
    """The Parquet files of a folder (``*.parquet``) or of a glob pattern, sorted (their order is the pool's)."""
    return sorted(path.glob("*.parquet")) if path.is_dir() else sorted(path.parent.glob(path.name))


@dataclass(frozen=True)
class DataConfig:
    """The bundled data, a saved dataset folder, or one table per split."""

    bundled: str | None = None
    tables: dict[str, TableSpec] = field(default_factory=dict)
    class_names: list[str] | None = None
    dataset: Path | None = None
    allow_missing_classes: bool | None = None  # None: False for tables, as saved for a dataset


@dataclass(frozen=True)
class LFModuleSpec:
    """A labeling-function module: a dotted module path or a ``.py`` file, and its LF list."""

    module: str
    attribute: str | None = None

    @property
    def is_file(self) -> bool:
        return self.module.endswith(".py") or os.sep in self.module or "/" in self.module


def label_model_kinds() -> tuple[str, ...]:
    """The values ``label_model.kind`` may take: every model in ``LABEL_MODELS`` now, ``auto`` first."""
    return (AUTO, *(name for name in LABEL_MODELS.names() if name != AUTO))


@dataclass(frozen=True)
class LabelModelConfig:
    """``kind``: ``auto`` or a registered label model; the settings go to a model that takes them."""

    kind: str = AUTO
    random_state: int = 123
    n_epochs: int = 500
    lr: float = 0.01
    l2: float = 0.0


#: ``generators.use[i].kind``: what may generate labels in a run.
GENERATOR_KINDS = ("label_model", "pseudo_label", "distillation")
#: ``generators.combine``: the first generator's labels (the others only flag disagreement), or a weighted blend.
COMBINE_METHODS = ("primary", "blend")
#: ``review.conflicts``: what :func:`workbench.review.harvest` does where reviewers disagree.
REVIEW_CONFLICTS = ("drop", "majority", "latest")
#: Each generator kind's settings besides ``kind`` and ``weight``, with their defaults.
GENERATOR_SETTINGS = {
    "label_model": {},
    "pseudo_label": {"threshold": 0.9, "max_rounds": 5, "balance": "prior"},
    "distillation": {"teacher": None, "temperature": 1.0},
}


@dataclass(frozen=True)
class GeneratorSpec:
    """One generator of ``generators.use``: its kind, its weight in a blend and its settings."""

    kind: str
    weight: float = 1.0
    settings: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "weight": self.weight, **self.settings}


@dataclass(frozen=True)
class GeneratorsConfig:
    """Which generators label the pool and how their labels combine; the default is the label model alone."""

    use: tuple[GeneratorSpec, ...] = (GeneratorSpec("label_model"),)
    combine: str = "primary"
    disagreement: float = 0.5


@dataclass(frozen=True)
class ReviewConfig:
    """Review answers brought into the run. ``through`` (last decision id) and ``as_of`` pin the
    round the run read, so a re-run reads the same decisions; they are filled in by the run."""

    store: Path
    reviewers: tuple[str, ...] | None = None
    conflicts: str = "drop"
    weight: float = 1.0
    through: int | None = None
    as_of: str | None = None


@dataclass(frozen=True)
class RoundsConfig:
    """Student rounds: while the end model beats its teacher on the ``on`` split by more than
    ``min_gain`` (accuracy), it relabels the pool, up to ``max`` times."""

    max: int = 0
    min_gain: float = 0.0
    on: str = "valid"


@dataclass(frozen=True)
class FilterStepConfig:
    step: str
    params: dict = field(default_factory=dict)


@dataclass(frozen=True)
class LeakagePolicy:
    """What to do with exact and with near copies of protected rows: ``refuse`` (stop the run) or ``remove``."""

    exact: str = "refuse"
    near: str = "remove"


@dataclass(frozen=True)
class LeakageConfig:
    """The leakage check run on every set the end model trains on (:func:`workbench.evaluate.check_leakage`).

    ``export`` applies to the export table, ``seed`` to the hand-labeled seed split when it is
    mixed into training; ``near_duplicates: false`` looks for exact copies only.
    """

    near_duplicates: bool = True
    threshold: float = 0.7
    export: LeakagePolicy = LeakagePolicy()
    seed: LeakagePolicy = LeakagePolicy()


@dataclass(frozen=True)
class EndModelConfig:
    """``mix_seed``: add the hand-labeled ``seed`` split (if there is one) to the synthetic rows.

    ``targets``: what the end model learns from each synthetic row. ``hard``: the generated label
    (the label model's argmax). ``soft``: the label model's class probabilities (cross-entropy
    against them), which pass its calibration errors on to the end model: on the bundled data the
    hyper label model gives spam rows lower confidence than ham rows, and soft targets cut the
    end model's test accuracy from 0.938 to 0.851 (majority vote: 0.941 vs 0.930).
    """

    mix_seed: bool = True
    targets: str = "hard"
    seed_weight: float = 1.0
    synthetic_weight: float = 1.0
    C: float = 10.0


END_MODEL_TARGETS = ("hard", "soft")


@dataclass(frozen=True)
class CanaryConfig:
    """The canary gate (:func:`workbench.evaluate.canary_gate`) run on the end model before export."""

    metric: str = "f1"
    minimum: float = 0.8
    override: str | None = None


@dataclass(frozen=True)
class ExportConfig:
    """``columns``: the pool's own columns exported besides id, text and the synthetic label columns."""

    columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class OutputConfig:
    name: str
    dir: Path | None = None
    format: str = "parquet"
    overwrite: bool = False
    report: str = "md"


#: ``engine.kind``: in this process on pandas, or partition by partition on a Dask cluster.
ENGINE_KINDS = ("local", "dask")
#: The filter steps the Dask engine runs: those that decide each row alone run partition by partition,
#: ``near_duplicates`` over the whole pool (MinHash band keys shuffled by band).
DASK_FILTER_STEPS = ("uncovered", "confidence", "protected_duplicates", "near_duplicates")


@dataclass(frozen=True)
class EngineConfig:
    """Where the run's pool is processed. ``dask``: on the cluster at ``scheduler`` (an address), or on a
    ``LocalCluster`` of ``n_workers`` single-threaded workers (``memory_limit`` each: bytes, or a string
    such as ``"4GB"``; ``processes: false`` makes them threads of this process)."""

    kind: str = "local"
    scheduler: str | None = None
    n_workers: int = 2
    memory_limit: str | int | None = None
    processes: bool = True


@dataclass(frozen=True)
class PipelineConfig:
    """A validated pipeline config (see the module docstring for the file format)."""

    name: str
    data: DataConfig
    lfs: LFModuleSpec
    label_model: LabelModelConfig = LabelModelConfig()
    generators: GeneratorsConfig = GeneratorsConfig()
    review: ReviewConfig | None = None
    rounds: RoundsConfig = RoundsConfig()
    filters: tuple[FilterStepConfig, ...] = ()
    leakage: LeakageConfig = LeakageConfig()
    end_model: EndModelConfig = EndModelConfig()
    canary: CanaryConfig = CanaryConfig()
    export: ExportConfig = ExportConfig()
    output: OutputConfig | None = None
    engine: EngineConfig = EngineConfig()
    source: Path | None = None

    def to_dict(self) -> dict:
        """JSON-safe form with absolute paths; :func:`parse_config` reads it back."""
        data: dict[str, Any] = {}
        if self.data.bundled:
            data["bundled"] = self.data.bundled
        if self.data.dataset is not None:
            data["dataset"] = str(self.data.dataset)
        for split, spec in self.data.tables.items():
            data[split] = {k: str(v) if isinstance(v, Path) else list(v) if isinstance(v, tuple) else v
                           for k, v in asdict(spec).items() if v is not None and not (k == "header" and v == "infer")}
        if self.data.class_names is not None:
            data["class_names"] = list(self.data.class_names)
        if self.data.allow_missing_classes is not None:
            data["allow_missing_classes"] = self.data.allow_missing_classes
        lfs = {"module": self.lfs.module} if not self.lfs.attribute else asdict(self.lfs)
        out = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self.output).items()
               if v is not None and not (k == "name" and v == self.name)}  # renaming the config renames its files
        out_dict = {
            "name": self.name,
            "data": data,
            "lfs": lfs,
            "label_model": asdict(self.label_model),
            "generators": {"combine": self.generators.combine, "disagreement": self.generators.disagreement,
                           "use": [g.to_dict() for g in self.generators.use]},
            "rounds": asdict(self.rounds),
            "filter": [{"step": f.step, **f.params} for f in self.filters],
            "leakage": asdict(self.leakage),
            "end_model": asdict(self.end_model),
            "export": {"columns": list(self.export.columns)},
            "output": out,
        }
        if self.review is not None:
            review = {k: v for k, v in asdict(self.review).items() if v is not None}
            out_dict["review"] = {**review, "store": str(self.review.store),
                                  **({"reviewers": list(self.review.reviewers)} if self.review.reviewers else {})}
        if self.engine.kind != "local":
            out_dict["engine"] = {k: v for k, v in asdict(self.engine).items() if v is not None}
        if self.data.bundled or self.data.dataset is not None or "canary" in self.data.tables:
            out_dict["canary"] = {k: v for k, v in asdict(self.canary).items() if v is not None}
        return out_dict


# --------------------------------------------------------------------------- reading


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice in one mapping (PyYAML keeps the last silently)."""

    def construct_mapping(self, node, deep=False):
        seen: dict = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise ConfigError(str(key), f"given twice, on lines {seen[key]} and {line}; keep one")
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def read_config_file(path: str | os.PathLike) -> dict:
    """The raw mapping in a ``.yaml``/``.yml`` or ``.toml`` file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError("", "no such config file", path)
    suffix = path.suffix.lower()
    if suffix not in (".toml", ".yaml", ".yml"):
        raise ConfigError("", f"unknown config format {path.suffix!r}; use .yaml, .yml or .toml", path)
    text = path.read_text(encoding="utf-8")
    try:
        raw = tomllib.loads(text) if suffix == ".toml" else yaml.load(text, Loader=_UniqueKeyLoader)
    except ConfigError as exc:
        raise ConfigError(exc.key, exc.message, path) from None
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError("", f"not valid {suffix[1:].upper()}: {' '.join(str(exc).split())}", path) from exc
    if not isinstance(raw, dict):
        raise ConfigError("", f"a config must be a mapping of keys to values, got {type(raw).__name__}", path)
    return raw


def load_config(path: str | os.PathLike) -> PipelineConfig:
    """Read and validate a YAML or TOML pipeline config.

    Examples
    --------
    >>> cfg = load_config("configs/youtube_spam.yaml")  # doctest: +SKIP
    >>> cfg.label_model.kind  # doctest: +SKIP
    'auto'
    """
    path = Path(path).resolve()
    raw = read_config_file(path)
    try:
        return parse_config(raw, base_dir=path.parent, source=path, default_name=path.stem)
    except ConfigError as exc:
        exc.source = path
        raise


# --------------------------------------------------------------------------- validation helpers


def _suggest(value: Any, options) -> str:
    """`` (did you mean 'x'?)`` for the closest option (case-insensitive first), or nothing."""
    options = [str(o) for o in options]
    same_case = [o for o in options if o.lower() == str(value).lower()]
    close = same_case or difflib.get_close_matches(str(value), options, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _check_keys(mapping: dict, allowed, key: str) -> None:
    for k in mapping:
        if k not in allowed:
            hint = _suggest(k, allowed)
            raise ConfigError(f"{key}.{k}" if key else str(k), f"unknown key{hint}; known keys are {sorted(allowed)}")


def _mapping(value: Any, key: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(key, f"must be a mapping, got {type(value).__name__} {value!r}")
    return value


def _typed(mapping: dict, name: str, kind, default, key: str):
    value = mapping.get(name, default)
    if value is None:
        return value
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
        expected = " or ".join(k.__name__ for k in kinds)
        raise ConfigError(f"{key}.{name}" if key else name, f"must be {expected}, got {type(value).__name__} {value!r}")
    return float(value) if float in kinds and not isinstance(value, bool) else value


def _positive(value: float, key: str, allow_zero: bool = False) -> float:
    if value < 0 or (value == 0 and not allow_zero):
        raise ConfigError(key, f"must be {'>= 0' if allow_zero else '> 0'}, got {value!r}")
    return value


def _choice(value: Any, choices, key: str) -> str:
    if value not in choices:
        hint = _suggest(value, choices)
        raise ConfigError(key, f"unknown value {value!r}{hint}; choose one of {list(choices)}")
    return value


def _resolve(path: Any, base_dir: Path, key: str) -> Path:
    if not isinstance(path, str) or not path:
        raise ConfigError(key, f"must be a path, got {path!r}")
    p = Path(path).expanduser()
    return p if p.is_absolute() else (base_dir / p)


def table_columns(path: Path, **options: Any) -> list[str]:
    """Column names of a table file (read with :func:`workbench.data.read_table_file`'s ``options``), from its first rows."""
    return [str(c) for c in read_table_file(path, nrows=5, **options)[0].columns]


# --------------------------------------------------------------------------- sections


READ_OPTIONS = ("sep", "header", "names", "encoding")


def _read_options(spec: dict, defaults: dict, key: str) -> dict:
    """``load_table``'s reading options of one table (its own, else the data section's), validated."""
    options = {k: spec.get(k, defaults.get(k)) for k in READ_OPTIONS}
    for k in ("sep", "encoding"):
        if options[k] is not None and (not isinstance(options[k], str) or not options[k]):
            raise ConfigError(f"{key}.{k}", f"must be a non-empty string, got {options[k]!r}")
    header = options["header"]
    if header is None and ("header" in spec or "header" in defaults):
        options["header"] = None
    elif header is None or header == "infer":
        options["header"] = "infer"
    elif isinstance(header, bool) or not isinstance(header, int) or header < 0:
        raise ConfigError(f"{key}.header", f"must be infer, null (no header line) or a line number >= 0, got {header!r}")
    names = options["names"]
    if names is not None:
        if not isinstance(names, list) or not names or len(set(map(str, names))) != len(names):
            raise ConfigError(f"{key}.names", f"must be a list of distinct column names, got {names!r}")
        options["names"] = tuple(str(n) for n in names)
    return options


def _parse_data(raw: Any, base_dir: Path) -> DataConfig:
    raw = _mapping(raw, "data")
    if not raw:
        raise ConfigError("data", "missing: give `bundled: youtube_spam`, `dataset: FOLDER` or your tables (train, dev, test)")
    _check_keys(raw, {"bundled", "dataset", "class_names", "allow_missing_classes", "text_column", "label_column",
                      "id_column", *READ_OPTIONS, *SPLITS}, "data")
    allow = raw.get("allow_missing_classes")
    if allow is not None and not isinstance(allow, bool):
        raise ConfigError("data.allow_missing_classes", f"must be true or false, got {allow!r}")
    class_names = raw.get("class_names")
    if class_names is not None and (not isinstance(class_names, list) or len(class_names) < 2
                                    or len(set(map(str, class_names))) != len(class_names)):
        raise ConfigError("data.class_names", f"must be a list of at least 2 distinct names, got {class_names!r}")
    class_names = None if class_names is None else [str(c) for c in class_names]

    for source in ("bundled", "dataset"):
        if source in raw:
            extra = [k for k in raw if k != source and not (source == "dataset" and k == "allow_missing_classes")]
            if extra:
                raise ConfigError(f"data.{extra[0]}", f"cannot be combined with data.{source} (it has its own splits "
                                                      "and class names)")
    if "bundled" in raw:
        return DataConfig(bundled=_choice(raw["bundled"], BUNDLED, "data.bundled"))
    if "dataset" in raw:
        folder = _resolve(raw["dataset"], base_dir, "data.dataset")
        if not (folder / DATASET_FILE).is_file():
            raise ConfigError("data.dataset", f"{folder} holds no saved dataset (no {DATASET_FILE}); "
                                              "write one with Dataset.save(folder) or python -m workbench init")
        return DataConfig(dataset=folder, allow_missing_classes=allow)

    defaults = {"text_column": raw.get("text_column", "text"), "label_column": raw.get("label_column"),
                "id_column": raw.get("id_column")}
    for k, v in defaults.items():
        if v is not None and not isinstance(v, str):
            raise ConfigError(f"data.{k}", f"must be a column name, got {v!r}")
    read_defaults = {k: raw[k] for k in READ_OPTIONS if k in raw}
    _read_options(read_defaults, {}, "data")
    tables = {}
    for split in SPLITS:
        if split not in raw:
            if split in ("train", "dev", "test"):
                raise ConfigError(f"data.{split}", "missing: the pipeline needs a train pool, a dev set and a test set")
            continue
        key = f"data.{split}"
        spec = raw[split]
        if isinstance(spec, str):
            spec = {"path": spec}
        spec = _mapping(spec, key)
        _check_keys(spec, {"path", "text_column", "label_column", "id_column", *READ_OPTIONS}, key)
        if "path" not in spec:
            raise ConfigError(f"{key}.path", "missing: where is the table?")
        path = _resolve(spec["path"], base_dir, f"{key}.path")
        first = path
        if split == "train" and is_multi_file(path):
            files = parquet_files(path)
            if not files:
                raise ConfigError(f"{key}.path", f"no Parquet files (*.parquet) in {path}")
            if len(files) > 1 and spec.get("id_column", defaults["id_column"]) is None:
                raise ConfigError(f"{key}.id_column", f"missing: a pool of {len(files)} files needs an id column "
                                                      "(row numbers would repeat from file to file)")
            first = files[0]
        elif not path.is_file():
            raise ConfigError(f"{key}.path", f"no such file: {path}")
        cols = {k: spec.get(k, defaults[k]) for k in ("text_column", "label_column", "id_column")}
        pool_default_label = split == "train" and "label_column" not in spec
        if pool_default_label:
            cols["label_column"] = None  # known only if the pool has that column (its gold: hidden, never exported)
        if split in LABELED_SPLITS and cols["label_column"] is None:
            raise ConfigError(f"{key}.label_column", f"missing: the {split} set needs gold labels (or set data.label_column)")
        for k, col in cols.items():
            if col is not None and not isinstance(col, str):
                raise ConfigError(f"{key}.{k}", f"must be a column name, got {col!r}")
        options = _read_options(spec, read_defaults, key)
        try:
            try:
                columns = table_columns(first, columns={k: c for k, c in cols.items() if c is not None}, **options)
            except ValueError:
                # a column missing from the header line: read the header as it is, and name the key below
                columns = table_columns(first, **options)
        except ValueError as exc:
            message = " ".join(str(exc).split())
            raise ConfigError(f"{key}.path", f"cannot read {first.name}: {message}") from exc
        if pool_default_label and defaults["label_column"] in columns:
            cols["label_column"] = defaults["label_column"]
        for k, col in cols.items():
            if col is not None and col not in columns:
                hint = _suggest(col, columns)
                raise ConfigError(f"{key}.{k}", f"{col!r} is not a column of {first.name}{hint}; columns are {columns}")
        tables[split] = TableSpec(path=path, **cols, **options)
    return DataConfig(tables=tables, class_names=class_names, allow_missing_classes=allow)


def _parse_lfs(raw: Any, base_dir: Path) -> LFModuleSpec:
    if raw is None:
        raise ConfigError("lfs", "missing: name a module path (workbench.data.youtube_lfs) or a .py file exposing LFS")
    key = "lfs" if isinstance(raw, str) else "lfs.module"
    if isinstance(raw, str):
        raw = {"module": raw}
    raw = _mapping(raw, "lfs")
    _check_keys(raw, {"module", "attribute"}, "lfs")
    module = raw.get("module")
    if not isinstance(module, str) or not module:
        raise ConfigError(key, f"must be a module path or a .py file, got {module!r}")
    attribute = _typed(raw, "attribute", str, None, "lfs")
    spec = LFModuleSpec(module, attribute)
    if spec.is_file:
        path = _resolve(module, base_dir, key)
        if not path.is_file():
            raise ConfigError(key, f"unknown LF module: no such file {path}")
        return LFModuleSpec(str(path), attribute)
    if not re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", module):
        raise ConfigError(key, f"unknown LF module {module!r}: not a module path (like my_package.lfs) or a .py file")
    try:
        found = importlib.util.find_spec(module) is not None
    except ImportError:
        found = False
    if not found:
        raise ConfigError(key, f"unknown LF module {module!r}: no such module importable from here")
    return spec


def _parse_label_model(raw: Any) -> LabelModelConfig:
    if isinstance(raw, str):
        raw = {"kind": raw}
    raw = _mapping(raw, "label_model")
    _check_keys(raw, {"kind", "random_state", "n_epochs", "lr", "l2"}, "label_model")
    d = LabelModelConfig()
    return LabelModelConfig(
        kind=_choice(raw.get("kind", d.kind), label_model_kinds(), "label_model.kind"),
        random_state=_typed(raw, "random_state", int, d.random_state, "label_model"),
        n_epochs=int(_positive(_typed(raw, "n_epochs", int, d.n_epochs, "label_model"), "label_model.n_epochs")),
        lr=_positive(_typed(raw, "lr", (int, float), d.lr, "label_model"), "label_model.lr"),
        l2=_positive(_typed(raw, "l2", (int, float), d.l2, "label_model"), "label_model.l2", allow_zero=True),
    )


def _parse_generators(raw: Any, base_dir: Path) -> GeneratorsConfig:
    if raw is None:
        return GeneratorsConfig()
    if isinstance(raw, list):
        raw = {"use": raw}
    raw = _mapping(raw, "generators")
    _check_keys(raw, {"use", "combine", "disagreement"}, "generators")
    d = GeneratorsConfig()
    combine = _choice(raw.get("combine", d.combine), COMBINE_METHODS, "generators.combine")
    disagreement = _typed(raw, "disagreement", (int, float), d.disagreement, "generators")
    if not 0 < disagreement <= 1:
        raise ConfigError("generators.disagreement", f"{disagreement!r} is outside 0..1 (0 excluded)")
    entries = raw.get("use")
    if not isinstance(entries, list) or not entries:
        raise ConfigError("generators.use", f"must be a non-empty list of generators, got {entries!r}")
    use = []
    for i, entry in enumerate(entries):
        key = f"generators.use[{i}]"
        if isinstance(entry, str):
            entry = {"kind": entry}
        entry = _mapping(entry, key)
        if "kind" not in entry:
            raise ConfigError(f"{key}.kind", f"missing: which generator? one of {list(GENERATOR_KINDS)}")
        kind = _choice(entry["kind"], GENERATOR_KINDS, f"{key}.kind")
        defaults = GENERATOR_SETTINGS[kind]
        _check_keys(entry, {"kind", "weight", *defaults}, key)
        weight = _positive(_typed(entry, "weight", (int, float), 1.0, key), f"{key}.weight")
        settings = {}
        for name, default in defaults.items():
            if name == "teacher":
                settings[name] = _parse_teacher(entry.get("teacher"), base_dir, f"{key}.teacher")
            elif name == "threshold":
                value = _typed(entry, name, (int, float), default, key)
                if not 0 < value <= 1:
                    raise ConfigError(f"{key}.threshold", f"{value!r} is outside 0..1 (0 excluded)")
                settings[name] = value
            elif name == "max_rounds":
                settings[name] = int(_positive(_typed(entry, name, int, default, key), f"{key}.max_rounds", allow_zero=True))
            elif name == "balance":
                from workbench.generate._pseudolabel import BALANCE

                settings[name] = _choice(entry.get(name, default), BALANCE, f"{key}.balance")
            else:
                settings[name] = _positive(_typed(entry, name, (int, float), default, key), f"{key}.{name}")
        use.append(GeneratorSpec(kind, weight, settings))
    n_models = sum(g.kind == "label_model" for g in use)
    if n_models != 1:
        raise ConfigError("generators.use", f"lists label_model {n_models} times; list it exactly once (its settings are "
                          "in label_model:, and it is what the LF module's votes feed)")
    return GeneratorsConfig(tuple(use), combine, disagreement)


def _parse_teacher(value: Any, base_dir: Path, key: str) -> str:
    """A fitted model file (``.joblib``/``.pkl``), or ``module:factory`` returning an estimator to fit."""
    if not isinstance(value, str) or not value:
        raise ConfigError(key, f"missing: a fitted model file (.joblib, .pkl) or module:factory, got {value!r}")
    if re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*", value):
        module = value.split(":")[0]
        try:
            found = importlib.util.find_spec(module) is not None
        except ImportError:
            found = False
        if not found:
            raise ConfigError(key, f"unknown teacher module {module!r}: no such module importable from here")
        return value
    path = _resolve(value, base_dir, key)
    if path.suffix.lower() not in (".joblib", ".pkl", ".pickle"):
        raise ConfigError(key, f"{value!r} is neither a model file (.joblib, .pkl) nor module:factory")
    if not path.is_file():
        raise ConfigError(key, f"no such teacher file: {path}")
    return str(path)


def _parse_review(raw: Any, base_dir: Path) -> ReviewConfig | None:
    if raw is None:
        return None
    raw = _mapping(raw, "review")
    _check_keys(raw, {"store", "reviewers", "conflicts", "weight", "through", "as_of"}, "review")
    if "store" not in raw:
        raise ConfigError("review.store", "missing: the review store (a workbench .sqlite file) to read answers from")
    store = _resolve(raw["store"], base_dir, "review.store")
    if not store.is_file():
        raise ConfigError("review.store", f"no such review store: {store}")
    reviewers = raw.get("reviewers")
    if isinstance(reviewers, str):
        reviewers = [reviewers]
    if reviewers is not None and (not isinstance(reviewers, list) or not reviewers
                                  or not all(isinstance(r, str) and r for r in reviewers)):
        raise ConfigError("review.reviewers", f"must be a list of reviewer names, got {reviewers!r}")
    through = _typed(raw, "through", int, None, "review")
    as_of = _typed(raw, "as_of", str, None, "review")
    return ReviewConfig(
        store=store,
        reviewers=None if reviewers is None else tuple(reviewers),
        conflicts=_choice(raw.get("conflicts", "drop"), REVIEW_CONFLICTS, "review.conflicts"),
        weight=_positive(_typed(raw, "weight", (int, float), 1.0, "review"), "review.weight"),
        through=None if through is None else int(_positive(through, "review.through", allow_zero=True)),
        as_of=as_of,
    )


def _parse_rounds(raw: Any, data: DataConfig) -> RoundsConfig:
    if raw is None:
        return RoundsConfig()
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = {"max": raw}
    raw = _mapping(raw, "rounds")
    _check_keys(raw, {"max", "min_gain", "on"}, "rounds")
    d = RoundsConfig()
    rounds = RoundsConfig(
        max=int(_positive(_typed(raw, "max", int, d.max, "rounds"), "rounds.max", allow_zero=True)),
        min_gain=_positive(_typed(raw, "min_gain", (int, float), d.min_gain, "rounds"), "rounds.min_gain", allow_zero=True),
        on=_choice(raw.get("on", d.on), ("valid", "dev"), "rounds.on"),
    )
    if rounds.max and rounds.on == "valid" and not data.bundled and "valid" not in data.tables:
        raise ConfigError("rounds.on", "there is no valid split to compare student and teacher on; "
                          "add data.valid or set rounds.on: dev")
    return rounds


DEFAULT_FILTERS = (FilterStepConfig("uncovered"), FilterStepConfig("protected_duplicates"))


def _check_class_thresholds(steps: tuple[FilterStepConfig, ...], class_names: list[str] | None) -> None:
    """Per-class thresholds name classes: with the class names known now, unknown names are a config error."""
    for i, step in enumerate(steps):
        per_class = step.params.get("class_thresholds")
        if not per_class:
            continue
        for name, value in per_class.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
                raise ConfigError(f"filter[{i}].class_thresholds.{name}", f"must be a probability in 0..1, got {value!r}")
            if class_names is not None and str(name) not in class_names:
                raise ConfigError(f"filter[{i}].class_thresholds.{name}",
                                  f"unknown class{_suggest(name, class_names)}; classes are {class_names}")


def _parse_filters(raw: Any) -> tuple[FilterStepConfig, ...]:
    if raw is None:
        return DEFAULT_FILTERS
    if not isinstance(raw, list):
        raise ConfigError("filter", f"must be a list of steps, got {type(raw).__name__}")
    steps = []
    for i, item in enumerate(raw):
        key = f"filter[{i}]"
        if isinstance(item, str):
            item = {"step": item}
        item = _mapping(item, key)
        if "step" not in item:
            raise ConfigError(f"{key}.step", f"missing: which step? one of {list(FILTER_STEPS.names())}")
        name = _choice(item["step"], FILTER_STEPS.names(), f"{key}.step")
        try:
            params = FILTER_STEPS[name].check_params({k: v for k, v in item.items() if k != "step"})
        except ParamError as exc:
            raise ConfigError(f"{key}.{exc.param}", exc.message) from None
        steps.append(FilterStepConfig(name, params))
    return tuple(steps)


def _parse_leakage(raw: Any) -> LeakageConfig:
    raw = _mapping(raw, "leakage")
    _check_keys(raw, {"near_duplicates", "threshold", "export", "seed"}, "leakage")
    d = LeakageConfig()
    threshold = _typed(raw, "threshold", (int, float), d.threshold, "leakage")
    if not 0 < threshold <= 1:
        raise ConfigError("leakage.threshold", f"{threshold!r} is outside 0..1 (0 excluded)")
    policies = {}
    for part in ("export", "seed"):
        key = f"leakage.{part}"
        given = _mapping(raw.get(part), key)
        _check_keys(given, {"exact", "near"}, key)
        default = getattr(d, part)
        policies[part] = LeakagePolicy(**{kind: _choice(given.get(kind, getattr(default, kind)), LEAKAGE_ACTIONS, f"{key}.{kind}")
                                          for kind in ("exact", "near")})
    return LeakageConfig(near_duplicates=_typed(raw, "near_duplicates", bool, d.near_duplicates, "leakage"),
                         threshold=threshold, **policies)


def _parse_end_model(raw: Any) -> EndModelConfig:
    raw = _mapping(raw, "end_model")
    _check_keys(raw, {"mix_seed", "targets", "seed_weight", "synthetic_weight", "C"}, "end_model")
    d = EndModelConfig()
    return EndModelConfig(
        mix_seed=_typed(raw, "mix_seed", bool, d.mix_seed, "end_model"),
        targets=_choice(_typed(raw, "targets", str, d.targets, "end_model"), END_MODEL_TARGETS, "end_model.targets"),
        seed_weight=_positive(_typed(raw, "seed_weight", (int, float), d.seed_weight, "end_model"), "end_model.seed_weight"),
        synthetic_weight=_positive(_typed(raw, "synthetic_weight", (int, float), d.synthetic_weight, "end_model"),
                                   "end_model.synthetic_weight"),
        C=_positive(_typed(raw, "C", (int, float), d.C, "end_model"), "end_model.C"),
    )


def _parse_canary(raw: Any, data: DataConfig) -> CanaryConfig:
    raw = _mapping(raw, "canary")
    _check_keys(raw, {"metric", "minimum", "override"}, "canary")
    if raw and not data.bundled and data.dataset is None and "canary" not in data.tables:
        raise ConfigError("canary", "there is no canary split to gate on; add data.canary or remove this section")
    d = CanaryConfig()
    minimum = _typed(raw, "minimum", (int, float), d.minimum, "canary")
    if not 0 <= minimum <= 1:
        raise ConfigError("canary.minimum", f"{minimum!r} is outside 0..1")
    override = _typed(raw, "override", str, None, "canary")
    if override is not None and not override.strip():
        raise ConfigError("canary.override", "must say why the gate may be overridden (a non-empty reason)")
    metric = raw.get("metric", d.metric)
    if metric != d.metric:
        from workbench.evaluate._canary import (
            GATE_METRICS,  # imported only when needed: it pulls in scikit-learn
        )

        _choice(metric, GATE_METRICS, "canary.metric")
    return CanaryConfig(metric=metric, minimum=minimum, override=override)


def _parse_output(raw: Any, base_dir: Path, name: str) -> OutputConfig:
    raw = _mapping(raw, "output")
    _check_keys(raw, {"dir", "name", "format", "overwrite", "report"}, "output")
    out_name = _typed(raw, "name", str, name, "output")
    if not re.fullmatch(r"[\w.-]+", out_name) or out_name.startswith("."):
        raise ConfigError("output.name", f"{out_name!r} is not a plain file name (letters, digits, _ . -)")
    return OutputConfig(
        name=out_name,
        dir=_resolve(raw["dir"], base_dir, "output.dir") if raw.get("dir") is not None else None,
        format=_choice(raw.get("format", "parquet"), EXPORT_FORMATS, "output.format"),
        overwrite=_typed(raw, "overwrite", bool, False, "output"),
        report=_choice(raw.get("report", "md"), REPORT_FORMATS, "output.report"),
    )


def _parse_export(raw: Any) -> ExportConfig:
    raw = _mapping(raw, "export")
    _check_keys(raw, {"columns"}, "export")
    columns = raw.get("columns", [])
    if not isinstance(columns, list) or not all(isinstance(c, str) and c for c in columns):
        raise ConfigError("export.columns", f"must be a list of column names of the pool, got {columns!r}")
    return ExportConfig(columns=tuple(dict.fromkeys(columns)))


def _parse_engine(raw: Any) -> EngineConfig:
    if raw is None:
        return EngineConfig()
    if isinstance(raw, str):
        raw = {"kind": raw}
    raw = _mapping(raw, "engine")
    _check_keys(raw, {"kind", "scheduler", "n_workers", "memory_limit", "processes"}, "engine")
    d = EngineConfig()
    kind = _choice(raw.get("kind", d.kind), ENGINE_KINDS, "engine.kind")
    if kind == "local":
        extra = sorted(set(raw) - {"kind"})
        if extra:
            raise ConfigError(f"engine.{extra[0]}", "is a setting of the Dask engine; set engine.kind: dask or remove it")
        return d
    scheduler = _typed(raw, "scheduler", str, None, "engine")
    if scheduler is not None and not scheduler.strip():
        raise ConfigError("engine.scheduler", "must be a scheduler address such as tcp://10.0.0.5:8786")
    if scheduler is not None:
        local = sorted({"n_workers", "memory_limit", "processes"} & set(raw))
        if local:
            raise ConfigError(f"engine.{local[0]}", "sets up a LocalCluster; with engine.scheduler the cluster you run "
                                                    "has its own workers")
    n_workers = int(_positive(_typed(raw, "n_workers", int, d.n_workers, "engine"), "engine.n_workers"))
    memory_limit = raw.get("memory_limit")
    if memory_limit is not None:
        from dask.utils import parse_bytes  # only a Dask config imports dask

        try:
            if isinstance(memory_limit, bool) or parse_bytes(memory_limit) <= 0:
                raise ValueError(memory_limit)
        except (TypeError, ValueError):
            raise ConfigError("engine.memory_limit", f"must be a size per worker (bytes, or like 4GB), "
                                                     f"got {memory_limit!r}") from None
    return EngineConfig(kind, scheduler, n_workers, memory_limit,
                        _typed(raw, "processes", bool, d.processes, "engine"))


def _check_dask(config: PipelineConfig) -> None:
    """What the Dask engine does not run (yet), named by key: everything else runs as on the local engine."""
    data = config.data
    if data.bundled or data.dataset is not None:
        raise ConfigError("engine.kind", "the Dask engine reads the pool from Parquet tables: give data.train "
                                         "(and dev, test, ...) instead of data.bundled / data.dataset")
    pool = data.tables["train"]
    if any(f.suffix.lower() not in (".parquet", ".pq") for f in pool.files):
        raise ConfigError("data.train.path", "the Dask engine reads the pool from Parquet: a file, a folder of "
                                             f"*.parquet files or a glob; got {pool.path.name}")
    if pool.id_column is None:
        raise ConfigError("data.train.id_column", "missing: the Dask engine needs the pool's own ids (row numbers "
                                                  "are not known partition by partition)")
    if config.review is not None:
        raise ConfigError("review", "not run by the Dask engine yet; use engine: local to bring in review answers")
    if config.rounds.max:
        raise ConfigError("rounds.max", "student rounds relabel the whole pool in memory; not run by the Dask engine "
                                        "(set rounds.max: 0 or engine: local)")
    for i, spec in enumerate(config.generators.use):
        if spec.kind != "label_model":
            raise ConfigError(f"generators.use[{i}].kind", f"{spec.kind} is not run by the Dask engine yet; "
                                                           "it generates with the label model alone")
    seen_near = False
    for i, step in enumerate(config.filters):
        if step.step not in DASK_FILTER_STEPS:
            raise ConfigError(f"filter[{i}].step", f"{step.step} is not run by the Dask engine yet; it runs "
                                                   f"{list(DASK_FILTER_STEPS)}")
        if step.step == "near_duplicates":
            if seen_near:
                raise ConfigError(f"filter[{i}].step", "the Dask engine runs near_duplicates once per run")
            seen_near = True


TOP_LEVEL = {"name", "data", "lfs", "label_model", "generators", "review", "rounds", "filter", "leakage", "end_model",
             "canary", "export", "output", "engine"}


def parse_config(raw: dict, *, base_dir: str | os.PathLike = ".", source: str | os.PathLike | None = None,
                 default_name: str = "pipeline") -> PipelineConfig:
    """Validate a raw config mapping (as read from YAML/TOML, or :meth:`PipelineConfig.to_dict`).

    Relative paths are resolved against ``base_dir``.
    """
    base_dir = Path(base_dir).resolve()
    raw = _mapping(raw, "")
    _check_keys(raw, TOP_LEVEL, "")
    name = _typed(raw, "name", str, default_name, "")
    if not re.fullmatch(r"[\w.-]+", name) or name.startswith("."):
        raise ConfigError("name", f"{name!r} is not a plain name (letters, digits, _ . -); it names the output files")
    data = _parse_data(raw.get("data"), base_dir)
    filters = _parse_filters(raw.get("filter"))
    known = data.class_names
    if data.dataset is not None:
        known = json.loads((data.dataset / DATASET_FILE).read_text(encoding="utf-8"))["class_names"]
    _check_class_thresholds(filters, known)
    config = PipelineConfig(
        name=name,
        data=data,
        lfs=_parse_lfs(raw.get("lfs"), base_dir),
        label_model=_parse_label_model(raw.get("label_model")),
        generators=_parse_generators(raw.get("generators"), base_dir),
        review=_parse_review(raw.get("review"), base_dir),
        rounds=_parse_rounds(raw.get("rounds"), data),
        filters=filters,
        leakage=_parse_leakage(raw.get("leakage")),
        end_model=_parse_end_model(raw.get("end_model")),
        canary=_parse_canary(raw.get("canary"), data),
        export=_parse_export(raw.get("export")),
        output=_parse_output(raw.get("output"), base_dir, name),
        engine=_parse_engine(raw.get("engine")),
        source=Path(source) if source else None,
    )
    if config.engine.kind == "dask":
        _check_dask(config)
    return config

"""A project store on SQLite: review decisions, LF versions, export records, review rounds.

One file per project (by default ``workbench._internal.out_dir() / "workbench.sqlite"``).
The file is in WAL mode and every write is its own ``BEGIN IMMEDIATE`` transaction,
committed before the call returns, so a crash, a kernel restart or two notebooks
writing to the same store lose nothing and corrupt nothing; readers never block the
writer. The file carries an SQLite ``application_id`` (so a stranger's database is
refused instead of modified) and a schema version in ``user_version``; opening an
older store migrates it in one transaction, opening a newer one is refused.

Tables: ``decisions`` (append-only; undo marks a row ``undone_at`` instead of
deleting it, so the audit trail survives), ``lf_versions``, ``exports``,
``review_rounds``, ``studio_sessions`` (the LF studio's LFs, kept across kernel restarts)
and ``meta``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from workbench._internal.jsonsafe import json_safe

#: ``PRAGMA application_id`` of a workbench store ("WBST" in ASCII).
APPLICATION_ID = 0x57425354
STORE_FILENAME = "workbench.sqlite"

#: Decision outcomes: a class label, or one of the two non-answers.
LABEL, SKIP, UNSURE = "label", "skip", "unsure"
OUTCOMES = (LABEL, SKIP, UNSURE)

_SCHEMA_V1 = """
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE decisions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    example_id  TEXT NOT NULL,
    outcome     TEXT NOT NULL CHECK (outcome IN ('label', 'skip', 'unsure')),
    label       INTEGER CHECK ((outcome = 'label') = (label IS NOT NULL)),
    reviewer    TEXT NOT NULL,
    decided_at  TEXT NOT NULL,
    proba       TEXT,
    lf_votes    TEXT,
    session     TEXT,
    round       INTEGER,
    undone_at   TEXT
);
CREATE INDEX decisions_by_example ON decisions (example_id);
CREATE INDEX decisions_by_reviewer ON decisions (reviewer, id);
CREATE TABLE lf_versions (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT NOT NULL,
    version       INTEGER NOT NULL,
    source        TEXT NOT NULL,
    source_sha256 TEXT NOT NULL,
    stats         TEXT NOT NULL,
    recorded_at   TEXT NOT NULL,
    UNIQUE (name, version)
);
CREATE TABLE exports (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    path          TEXT NOT NULL,
    manifest_hash TEXT NOT NULL,
    n_rows        INTEGER,
    info          TEXT NOT NULL,
    recorded_at   TEXT NOT NULL
);
CREATE TABLE review_rounds (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    round         INTEGER NOT NULL UNIQUE,
    n_seed_labels INTEGER NOT NULL,
    metrics       TEXT NOT NULL,
    lineage       TEXT NOT NULL,
    recorded_at   TEXT NOT NULL
);
"""

# Version 2: the LF studio's session (its LFs, their on/off state and version history), one JSON
# document per studio, replaced as a whole in one transaction.
_SCHEMA_V2 = """
CREATE TABLE studio_sessions (
    studio    TEXT PRIMARY KEY,
    state     TEXT NOT NULL,
    saved_at  TEXT NOT NULL
);
"""

# Version 3: rows the headless pipeline asks a reviewer to look at (its ``disagreement`` filter
# step with ``route: review``); a request stands until the example has a decision.
_SCHEMA_V3 = """
CREATE TABLE review_requests (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    example_id    TEXT NOT NULL,
    reason        TEXT NOT NULL,
    score         REAL,
    requested_at  TEXT NOT NULL,
    UNIQUE (example_id, reason)
);
"""

#: ``MIGRATIONS[v]`` takes a store from schema version ``v`` to ``v + 1`` inside the
#: opening transaction; append a step to change the schema, never edit an old one.
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [
    lambda conn: _executescript_in_transaction(conn, _SCHEMA_V1),
    lambda conn: _executescript_in_transaction(conn, _SCHEMA_V2),
    lambda conn: _executescript_in_transaction(conn, _SCHEMA_V3),
]


def schema_version() -> int:
    """The schema version this code writes (the number of migration steps)."""
    return len(MIGRATIONS)


class StoreError(RuntimeError):
    """A problem with a project store file."""


class NotAStoreError(StoreError):
    """The file exists but is not a workbench project store."""


class NewerSchemaError(StoreError):
    """The store was written by a newer workbench whose schema this code does not know."""


def default_store_path() -> Path:
    """``workbench._internal.out_dir() / "workbench.sqlite"``: the notebooks' project store."""
    from workbench._internal.paths import out_dir

    return out_dir() / STORE_FILENAME


def _executescript_in_transaction(conn: sqlite3.Connection, script: str) -> None:
    # Connection.executescript would COMMIT first; run statement by statement instead.
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")




def _dumps(value, what: str) -> str:
    try:
        return json.dumps(json_safe(value), sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{what} must be JSON-serialisable: {exc}") from exc


def _loads(text):
    return json.loads(text) if isinstance(text, str) else None


def _check_text(value, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} must be a non-empty string, got {value!r}")
    return value


class ProjectStore:
    """The project's SQLite store of review decisions, LF versions, exports and review rounds.

    Parameters
    ----------
    path : str or PathLike, optional
        The store file; created (with its folder) when missing. Defaults to
        :func:`default_store_path`.
    class_names : sequence of str, optional
        The task's classes. Recorded in a new store; checked against an existing
        one, so labels from a different task cannot be mixed in by mistake.
    timeout : float
        Seconds a write waits for another process's write to finish.

    Raises
    ------
    NotAStoreError
        ``path`` is a folder, not an SQLite file, or another program's database.
    NewerSchemaError
        The store's schema version is newer than this code's.

    Examples
    --------
    >>> store = ProjectStore(tmp / "project.sqlite", class_names=["ham", "spam"])  # doctest: +SKIP
    >>> store.record_decision("v1-007", 1, reviewer="ana")  # doctest: +SKIP
    1
    >>> store.decisions()[["example_id", "outcome", "label", "reviewer"]]  # doctest: +SKIP
      example_id outcome  label reviewer
    0     v1-007   label      1      ana
    """

    def __init__(
        self,
        path: str | os.PathLike | None = None,
        *,
        class_names: Sequence[str] | None = None,
        timeout: float = 30.0,
    ):
        self.path = Path(path) if path is not None else default_store_path()
        if self.path.is_dir():
            raise NotAStoreError(f"{self.path} is a folder; give the path of a store file inside it")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._timeout = timeout
        self._conn = sqlite3.connect(self.path, timeout=timeout, isolation_level=None)
        try:
            self._open()
            self._check_class_names(class_names)
        except BaseException:
            self._conn.close()
            raise

    # -- opening, identification and migration ------------------------------------

    def _open(self) -> None:
        conn = self._conn
        # Identify the file with reads only: a stranger's database must not be changed.
        try:
            app_id, version, tables = self._identity()
        except sqlite3.DatabaseError as exc:
            raise NotAStoreError(f"{self.path} is not a workbench store: not an SQLite database ({exc})") from exc
        self._check_identity(app_id, version, tables)
        mode = self._switch_to_wal()
        if mode.lower() != "wal":
            raise StoreError(f"{self.path}: SQLite refused WAL mode (journal_mode={mode}); is it on a network drive?")
        conn.execute("PRAGMA synchronous=FULL")
        with self._transaction():
            # Re-read inside the write lock: another process may have created or migrated it.
            app_id, version, tables = self._identity()
            self._check_identity(app_id, version, tables)
            if version < schema_version():
                for step in MIGRATIONS[version:]:
                    step(conn)
                conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
                conn.execute(f"PRAGMA user_version={schema_version()}")
                if version == 0:
                    conn.execute("INSERT INTO meta VALUES ('created_at', ?)", (_now(),))

    def _switch_to_wal(self) -> str:
        """``PRAGMA journal_mode=WAL``, retried while another process holds the lock, up to ``timeout``.

        Two processes opening a new store at once both ask for the lock the switch needs; SQLite
        refuses one of them at once ("database is locked") instead of waiting, since its busy
        handler is skipped where waiting could deadlock. The other is done within milliseconds.
        """
        deadline = time.monotonic() + self._timeout
        while True:
            try:
                return self._conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    def _identity(self) -> tuple[int, int, list[str]]:
        conn = self._conn
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return app_id, version, tables

    def _check_identity(self, app_id: int, version: int, tables: list[str]) -> None:
        if app_id == 0 and version == 0 and not tables:
            return  # a new, empty file
        if app_id != APPLICATION_ID:
            raise NotAStoreError(
                f"{self.path} is an SQLite database but not a workbench store "
                f"(application_id={app_id:#x}, tables={sorted(tables)[:8]}); refusing to touch it"
            )
        if version > schema_version():
            raise NewerSchemaError(
                f"{self.path} has store schema version {version}, but this workbench only knows "
                f"versions up to {schema_version()}; upgrade the workbench to open it"
            )

    @contextmanager
    def _transaction(self):
        """A write transaction that takes the write lock up front (no upgrade deadlocks)."""
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def _check_class_names(self, class_names: Sequence[str] | None) -> None:
        stored = self.class_names
        if class_names is None:
            return
        class_names = [str(c) for c in class_names]
        if stored is None:
            with self._transaction() as conn:
                conn.execute("INSERT OR IGNORE INTO meta VALUES ('class_names', ?)", (json.dumps(class_names),))
            stored = self.class_names
        if stored != class_names:
            raise StoreError(f"{self.path} was created for classes {stored}, not {class_names}")

    @property
    def schema_version(self) -> int:
        return self._conn.execute("PRAGMA user_version").fetchone()[0]

    @property
    def class_names(self) -> list[str] | None:
        """The task's classes, when the store was told them."""
        row = self._conn.execute("SELECT value FROM meta WHERE key = 'class_names'").fetchone()
        return None if row is None else json.loads(row[0])

    def integrity_check(self) -> str:
        """SQLite's ``PRAGMA integrity_check``: ``"ok"`` for an intact file."""
        return "; ".join(r[0] for r in self._conn.execute("PRAGMA integrity_check"))

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> ProjectStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        (n,) = self._conn.execute("SELECT COUNT(*) FROM decisions WHERE undone_at IS NULL").fetchone()
        return f"ProjectStore({str(self.path)!r}, schema v{self.schema_version}, {n} decisions)"

    # -- review decisions -----------------------------------------------------------

    def record_decision(
        self,
        example_id: str,
        label: int | str,
        *,
        reviewer: str,
        proba: Sequence[float] | None = None,
        lf_votes: Mapping[str, int] | None = None,
        session: str | None = None,
        round: int | None = None,
    ) -> int:
        """Commit one review decision and return its id.

        Parameters
        ----------
        example_id : str
        label : int or {"skip", "unsure"}
            A class id in ``0..k-1``, or a non-answer.
        reviewer : str
        proba : sequence of float, optional
            The model probability shown to the reviewer.
        lf_votes : mapping of str to int, optional
            The LF votes shown to the reviewer.
        session, round : optional
            Which review session and loop round the decision belongs to.
        """
        if isinstance(example_id, (int, np.integer)):
            example_id = str(example_id)
        example_id = _check_text(example_id, "example_id")
        reviewer = _check_text(reviewer, "reviewer")
        if isinstance(label, str):
            if label not in (SKIP, UNSURE):
                raise ValueError(f"label must be a class id or one of {SKIP!r}, {UNSURE!r}; got {label!r}")
            outcome, label = label, None
        elif isinstance(label, (int, np.integer)) and not isinstance(label, bool):
            outcome, label = LABEL, int(label)
            k = len(self.class_names) if self.class_names is not None else None
            if label < 0 or (k is not None and label >= k):
                bound = f"0..{k - 1} ({self.class_names})" if k is not None else "non-negative"
                raise ValueError(f"label {label} for example {example_id!r} is out of range; classes are {bound}")
        else:
            raise TypeError(f"label must be an int class id, {SKIP!r} or {UNSURE!r}; got {label!r}")
        if proba is not None:
            proba = [float(p) for p in np.asarray(proba, dtype=float).ravel()]
            if not all(math.isfinite(p) for p in proba):
                raise ValueError(f"proba for example {example_id!r} has non-finite values: {proba}")
        if lf_votes is not None:
            lf_votes = {str(k): int(v) for k, v in dict(lf_votes).items()}
        with self._transaction() as conn:
            cur = conn.execute(
                "INSERT INTO decisions (example_id, outcome, label, reviewer, decided_at, proba, lf_votes, session, round)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    example_id,
                    outcome,
                    label,
                    reviewer,
                    _now(),
                    None if proba is None else json.dumps(proba),
                    None if lf_votes is None else json.dumps(lf_votes, sort_keys=True),
                    session,
                    None if round is None else int(round),
                ),
            )
            return int(cur.lastrowid)

    def undo_last(self, *, reviewer: str, session: str | None = None) -> dict | None:
        """Withdraw ``reviewer``'s latest standing decision (in ``session``, if given).

        The row stays in the table with ``undone_at`` set. Returns the withdrawn
        decision as a dict, or ``None`` when there is nothing to undo.
        """
        where, params = "reviewer = ? AND undone_at IS NULL", [reviewer]
        if session is not None:
            where += " AND session = ?"
            params.append(session)
        with self._transaction() as conn:
            row = conn.execute(f"SELECT id FROM decisions WHERE {where} ORDER BY id DESC LIMIT 1", params).fetchone()
            if row is None:
                return None
            conn.execute("UPDATE decisions SET undone_at = ? WHERE id = ?", (_now(), row[0]))
        return self.decisions(include_undone=True, ids=[row[0]]).iloc[0].to_dict()

    def decisions(
        self,
        *,
        reviewer: str | None = None,
        include_undone: bool = False,
        latest: bool = False,
        ids: Sequence[int] | None = None,
    ) -> pd.DataFrame:
        """Decisions as a DataFrame, oldest first.

        Parameters
        ----------
        reviewer : str, optional
            Only this reviewer's decisions.
        include_undone : bool
            Keep withdrawn decisions (``undone_at`` set).
        latest : bool
            Keep only each reviewer's latest standing decision per example.
        ids : sequence of int, optional
            Only these decision ids.

        Returns
        -------
        DataFrame
            Columns ``id, example_id, outcome, label (Int64, <NA> for skip/unsure),
            reviewer, decided_at (UTC), proba (list), lf_votes (dict), session, round,
            undone_at``.
        """
        clauses, params = [], []
        if reviewer is not None:
            clauses.append("reviewer = ?")
            params.append(reviewer)
        if not include_undone:
            clauses.append("undone_at IS NULL")
        if ids is not None:
            clauses.append(f"id IN ({','.join('?' * len(ids))})")
            params.extend(int(i) for i in ids)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        df = pd.read_sql_query(f"SELECT * FROM decisions {where} ORDER BY id", self._conn, params=params)
        if latest:
            df = df.drop_duplicates(["example_id", "reviewer"], keep="last").reset_index(drop=True)
        df["label"] = df["label"].astype("Int64")
        df["round"] = df["round"].astype("Int64")
        df["proba"] = df["proba"].map(_loads)
        df["lf_votes"] = df["lf_votes"].map(_loads)
        for col in ("decided_at", "undone_at"):
            df[col] = pd.to_datetime(df[col], utc=True, format="ISO8601")
        return df

    def decided_ids(self, *, reviewer: str | None = None, outcomes: Sequence[str] = OUTCOMES) -> set[str]:
        """Ids of examples with a standing decision (by ``reviewer``, if given) of the given outcomes."""
        unknown = set(outcomes) - set(OUTCOMES)
        if unknown:
            raise ValueError(f"unknown outcomes {sorted(unknown)}; use {OUTCOMES}")
        sql = f"SELECT DISTINCT example_id FROM decisions WHERE undone_at IS NULL AND outcome IN ({','.join('?' * len(outcomes))})"
        params = list(outcomes)
        if reviewer is not None:
            sql += " AND reviewer = ?"
            params.append(reviewer)
        return {r[0] for r in self._conn.execute(sql, params)}

    # -- review requests (written by the pipeline) ------------------------------------

    def request_review(self, example_ids: Sequence[str], *, reason: str, scores: Sequence[float] | None = None) -> int:
        """Ask for a review of these examples (the next :class:`ReviewQueue` shows them first, highest
        ``score`` first); return how many were not already requested for ``reason``."""
        ids = [_check_text(str(e), "example_id") for e in example_ids]
        reason = _check_text(reason, "reason")
        if scores is not None and len(scores) != len(ids):
            raise ValueError(f"{len(scores)} scores for {len(ids)} example ids")
        values = [float(v) for v in scores] if scores is not None else [None] * len(ids)
        now = _now()
        with self._transaction() as conn:
            before = conn.total_changes
            conn.executemany("INSERT OR IGNORE INTO review_requests (example_id, reason, score, requested_at) "
                             "VALUES (?, ?, ?, ?)", [(e, reason, v, now) for e, v in zip(ids, values)])
            return conn.total_changes - before

    def review_requests(self, *, pending: bool = True) -> pd.DataFrame:
        """Requested reviews, highest score first: ``example_id, reason, score, requested_at``;
        ``pending`` keeps those whose example has no standing decision yet."""
        df = pd.read_sql_query("SELECT example_id, reason, score, requested_at FROM review_requests "
                               "ORDER BY score IS NULL, score DESC, id", self._conn)
        if pending:
            df = df[~df["example_id"].isin(self.decided_ids())].reset_index(drop=True)
        df["requested_at"] = pd.to_datetime(df["requested_at"], utc=True, format="ISO8601")
        return df

    # -- LF versions (written by the LF studio) ---------------------------------------

    def record_lf_version(self, name: str, source: str, stats: Mapping) -> int:
        """Record a labeling function's source code and statistics; return its version number.

        Versions count from 1 per LF name. Recording the same source as the LF's
        latest version does not create a new version: it refreshes that version's
        statistics (and time) and returns its number.

        Examples
        --------
        >>> store.record_lf_version("kw_check_out", "keyword_lf('kw_check_out', ['check out'], 1)",
        ...                         {"coverage": 0.21, "emp_acc": 0.93})  # doctest: +SKIP
        1
        """
        name = _check_text(name, "LF name")
        if not isinstance(source, str):
            raise TypeError(f"source of LF {name!r} must be a string, got {type(source).__name__}")
        stats_json = _dumps(dict(stats), f"stats of LF {name!r}")
        digest = hashlib.sha256(source.encode()).hexdigest()
        with self._transaction() as conn:
            row = conn.execute(
                "SELECT version, source_sha256 FROM lf_versions WHERE name = ? ORDER BY version DESC LIMIT 1", (name,)
            ).fetchone()
            if row is not None and row[1] == digest:
                conn.execute(
                    "UPDATE lf_versions SET stats = ?, recorded_at = ? WHERE name = ? AND version = ?",
                    (stats_json, _now(), name, row[0]),
                )
                return int(row[0])
            version = 1 if row is None else int(row[0]) + 1
            conn.execute(
                "INSERT INTO lf_versions (name, version, source, source_sha256, stats, recorded_at) VALUES (?, ?, ?, ?, ?, ?)",
                (name, version, source, digest, stats_json, _now()),
            )
            return version

    def lf_versions(self, name: str | None = None) -> pd.DataFrame:
        """LF versions (all LFs, or one), by name then version.

        Columns ``name, version, source, source_sha256, stats (dict), recorded_at``.
        """
        sql, params = "SELECT name, version, source, source_sha256, stats, recorded_at FROM lf_versions", []
        if name is not None:
            sql += " WHERE name = ?"
            params.append(name)
        df = pd.read_sql_query(sql + " ORDER BY name, version", self._conn, params=params)
        df["stats"] = df["stats"].map(_loads)
        df["recorded_at"] = pd.to_datetime(df["recorded_at"], utc=True, format="ISO8601")
        return df

    # -- LF studio sessions (written by the LF studio) --------------------------------

    def save_studio(self, studio: str, state: Mapping) -> None:
        """Replace the saved session of the studio named ``studio`` with ``state`` (JSON-serialisable).

        One transaction: a reader sees the previous session or this one, never a mix.
        """
        studio = _check_text(studio, "studio name")
        state_json = _dumps(dict(state), f"state of studio {studio!r}")
        with self._transaction() as conn:
            conn.execute("INSERT INTO studio_sessions (studio, state, saved_at) VALUES (?, ?, ?) "
                         "ON CONFLICT (studio) DO UPDATE SET state = excluded.state, saved_at = excluded.saved_at",
                         (studio, state_json, _now()))

    def load_studio(self, studio: str) -> dict | None:
        """The saved session of the studio named ``studio``, or None if it has none."""
        row = self._conn.execute("SELECT state FROM studio_sessions WHERE studio = ?",
                                 (_check_text(studio, "studio name"),)).fetchone()
        return None if row is None else json.loads(row[0])

    # -- export records (written by the export step) ------------------------------

    def record_export(
        self, path: str | os.PathLike, manifest_hash: str, *, n_rows: int | None = None, **info
    ) -> int:
        """Record that a training set was exported to ``path``; return the record's id.

        ``info`` holds any further JSON-serialisable facts (label model, thresholds,
        canary result...).
        """
        manifest_hash = _check_text(manifest_hash, "manifest_hash")
        info_json = _dumps(info, "export info")
        with self._transaction() as conn:
            cur = conn.execute(
                "INSERT INTO exports (path, manifest_hash, n_rows, info, recorded_at) VALUES (?, ?, ?, ?, ?)",
                (str(path), manifest_hash, None if n_rows is None else int(n_rows), info_json, _now()),
            )
            return int(cur.lastrowid)

    def exports(self) -> pd.DataFrame:
        """Export records, oldest first: ``id, path, manifest_hash, n_rows, info (dict), recorded_at``."""
        df = pd.read_sql_query("SELECT * FROM exports ORDER BY id", self._conn)
        df["n_rows"] = df["n_rows"].astype("Int64")
        df["info"] = df["info"].map(_loads)
        df["recorded_at"] = pd.to_datetime(df["recorded_at"], utc=True, format="ISO8601")
        return df

    # -- review loop rounds --------------------------------------------------------

    def record_round(self, *, n_seed_labels: int, metrics: Mapping[str, float], lineage: Mapping) -> int:
        """Record one round of the review loop; return its number (0 for the first)."""
        metrics_json = _dumps(dict(metrics), "round metrics")
        lineage_json = _dumps(dict(lineage), "round lineage")
        with self._transaction() as conn:
            (last,) = conn.execute("SELECT MAX(round) FROM review_rounds").fetchone()
            number = 0 if last is None else int(last) + 1
            conn.execute(
                "INSERT INTO review_rounds (round, n_seed_labels, metrics, lineage, recorded_at) VALUES (?, ?, ?, ?, ?)",
                (number, int(n_seed_labels), metrics_json, lineage_json, _now()),
            )
            return number

    def rounds(self) -> pd.DataFrame:
        """Recorded loop rounds: ``round, n_seed_labels``, one column per metric, ``lineage, recorded_at``."""
        df = pd.read_sql_query("SELECT round, n_seed_labels, metrics, lineage, recorded_at FROM review_rounds ORDER BY round", self._conn)
        metrics = pd.DataFrame([_loads(m) for m in df["metrics"]], index=df.index)
        out = pd.concat([df[["round", "n_seed_labels"]], metrics], axis=1)
        out["lineage"] = df["lineage"].map(_loads)
        out["recorded_at"] = pd.to_datetime(df["recorded_at"], utc=True, format="ISO8601")
        return out

import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from workbench.review import NewerSchemaError, NotAStoreError, ProjectStore, StoreError
from workbench.review import _store as store_module

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def store(tmp_path):
    with ProjectStore(tmp_path / "project.sqlite", class_names=["ham", "spam"]) as s:
        yield s


def _child(tmp_path, body: str, *args: str) -> subprocess.Popen:
    """Start a Python process that runs ``body`` with ``path``, the store file ``tmp_path/project.sqlite``."""
    script = tmp_path / f"child_{len(list(tmp_path.glob('child_*.py')))}.py"
    script.write_text(
        "import sys\nfrom workbench.review._store import ProjectStore\n"
        f"path = {str(tmp_path / 'project.sqlite')!r}\n" + textwrap.dedent(body)
    )
    return subprocess.Popen(
        [sys.executable, str(script), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )


# -- the file ---------------------------------------------------------------------


def test_new_store_is_wal_and_versioned(store):
    assert store._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    raw = sqlite3.connect(store.path)
    assert raw.execute("PRAGMA application_id").fetchone()[0] == store_module.APPLICATION_ID
    assert raw.execute("PRAGMA user_version").fetchone()[0] == store_module.schema_version() == 3
    assert store.class_names == ["ham", "spam"]


def test_opening_waits_out_a_lock_sqlite_refuses_at_once(tmp_path, monkeypatch):
    """Two processes creating one store: SQLite refuses one's switch to WAL at once ("database is locked", its
    busy handler skipped where waiting could deadlock); the store retries it instead of failing."""
    refusals = []

    class Contended(sqlite3.Connection):
        def execute(self, sql, *args):
            if sql == "PRAGMA journal_mode=WAL" and len(refusals) < 3:
                refusals.append(sql)
                raise sqlite3.OperationalError("database is locked")
            return super().execute(sql, *args)

    connect = sqlite3.connect
    monkeypatch.setattr(store_module.sqlite3, "connect", lambda *a, **k: connect(*a, factory=Contended, **k))
    with ProjectStore(tmp_path / "s.sqlite", class_names=["ham", "spam"]) as opened:
        assert len(refusals) == 3 and opened.integrity_check() == "ok"
    refusals.clear()
    with pytest.raises(sqlite3.OperationalError, match="locked"):  # not forever: up to the timeout
        ProjectStore(tmp_path / "t.sqlite", timeout=0.0)


def test_default_path_is_under_out_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_OUT", str(tmp_path / "out"))
    with ProjectStore() as s:
        assert s.path == tmp_path / "out" / "workbench.sqlite"
        assert s.path.exists()


def test_text_file_is_refused_and_left_unchanged(tmp_path):
    path = tmp_path / "notes.sqlite"
    content = b"these are my notes, not a database\n" * 50
    path.write_bytes(content)
    with pytest.raises(NotAStoreError, match="not an SQLite database"):
        ProjectStore(path)
    assert path.read_bytes() == content


def test_other_sqlite_database_is_refused_and_left_unchanged(tmp_path):
    path = tmp_path / "app.db"
    raw = sqlite3.connect(path)
    raw.execute("CREATE TABLE customers (name TEXT)")
    raw.commit()
    raw.close()
    before = path.read_bytes()
    with pytest.raises(NotAStoreError, match=r"not a workbench store.*customers"):
        ProjectStore(path)
    assert path.read_bytes() == before
    assert not Path(str(path) + "-wal").exists()


def test_folder_is_refused(tmp_path):
    with pytest.raises(NotAStoreError, match="is a folder"):
        ProjectStore(tmp_path)


def test_newer_schema_is_refused(store):
    path = store.path
    store.close()
    raw = sqlite3.connect(path)
    raw.execute("PRAGMA user_version = 99")
    raw.commit()
    raw.close()
    with pytest.raises(NewerSchemaError, match=f"version 99.*up to {store_module.schema_version()}"):
        ProjectStore(path)


def test_older_store_is_migrated_keeping_its_data(store, monkeypatch):
    store.record_decision("a", 1, reviewer="ana")
    path = store.path
    store.close()

    def add_comments(conn):
        conn.execute("ALTER TABLE decisions ADD COLUMN comment TEXT")

    monkeypatch.setattr(store_module, "MIGRATIONS", [*store_module.MIGRATIONS, add_comments])
    with ProjectStore(path) as migrated:
        assert migrated.schema_version == store_module.schema_version() == 4
        decisions = migrated.decisions()
        assert decisions["example_id"].tolist() == ["a"]
        assert "comment" in decisions.columns


def test_failed_migration_leaves_the_store_as_it_was(store, monkeypatch):
    store.record_decision("a", 1, reviewer="ana")
    path = store.path
    store.close()

    def broken(conn):
        conn.execute("CREATE TABLE half_done (x)")
        raise RuntimeError("migration bug")

    monkeypatch.setattr(store_module, "MIGRATIONS", [*store_module.MIGRATIONS, broken])
    with pytest.raises(RuntimeError, match="migration bug"):
        ProjectStore(path)
    monkeypatch.undo()
    with ProjectStore(path) as s:
        assert s.schema_version == store_module.schema_version()
        assert s.decisions()["example_id"].tolist() == ["a"]
        assert s._conn.execute("SELECT name FROM sqlite_master WHERE name = 'half_done'").fetchone() is None


def test_a_version_1_store_gains_studio_sessions_and_keeps_its_data(tmp_path, monkeypatch):
    path = tmp_path / "v1.sqlite"
    monkeypatch.setattr(store_module, "MIGRATIONS", store_module.MIGRATIONS[:1])
    with ProjectStore(path) as old:
        old.record_decision("a", 1, reviewer="ana")
        assert old.schema_version == 1
    monkeypatch.undo()
    with ProjectStore(path) as s:
        assert s.schema_version == store_module.schema_version()
        assert s.decisions()["example_id"].tolist() == ["a"]
        assert s.load_studio("toy") is None
        assert s.review_requests().empty
        s.save_studio("toy", {"lfs": [{"name": "kw", "enabled": False}]})
        s.save_studio("toy", {"lfs": [{"name": "kw", "enabled": True}], "x": float("nan")})
        s.save_studio("other", {"lfs": []})
    with ProjectStore(path) as s:
        assert s.load_studio("toy") == {"lfs": [{"name": "kw", "enabled": True}], "x": None}
        assert s.load_studio("other") == {"lfs": []}
        with pytest.raises(ValueError, match="studio name"):
            s.load_studio("")


def test_class_names_must_match(store):
    with pytest.raises(StoreError, match=r"created for classes \['ham', 'spam'\], not \['neg', 'pos'\]"):
        ProjectStore(store.path, class_names=["neg", "pos"])


# -- decisions ----------------------------------------------------------------------


def test_decisions_round_trip(store):
    first = store.record_decision("v1-001", 1, reviewer="ana", proba=np.array([0.3, 0.7]), lf_votes={"kw": np.int8(1)}, session="s1", round=0)
    store.record_decision("v1-002", "skip", reviewer="ana")
    store.record_decision("v1-003", "unsure", reviewer="bo")
    df = store.decisions()
    assert df["id"].tolist()[0] == first
    assert df["outcome"].tolist() == ["label", "skip", "unsure"]
    assert df["label"].tolist()[0] == 1 and df["label"].isna().tolist() == [False, True, True]
    assert df["proba"].iloc[0] == [0.3, 0.7]
    assert df["lf_votes"].iloc[0] == {"kw": 1}
    assert df["session"].iloc[0] == "s1" and df["round"].iloc[0] == 0
    assert str(df["decided_at"].dt.tz) == "UTC"
    assert store.decided_ids() == {"v1-001", "v1-002", "v1-003"}
    assert store.decided_ids(reviewer="bo") == {"v1-003"}
    assert store.decided_ids(outcomes=["label"]) == {"v1-001"}


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"label": 2}, ValueError, r"label 2 for example 'x' is out of range; classes are 0..1"),
        ({"label": -1}, ValueError, "out of range"),
        ({"label": "maybe"}, ValueError, "'skip', 'unsure'; got 'maybe'"),
        ({"label": 1.0}, TypeError, "int class id"),
        ({"label": True}, TypeError, "int class id"),
        ({"label": 1, "reviewer": " "}, ValueError, "reviewer must be a non-empty string"),
        ({"label": 1, "proba": [np.nan, 1.0]}, ValueError, "non-finite"),
    ],
)
def test_bad_decisions_are_refused_with_a_clear_message(store, kwargs, error, message):
    kwargs = {"reviewer": "ana", **kwargs}
    with pytest.raises(error, match=message):
        store.record_decision("x", **kwargs)
    assert store.decisions().empty


def test_undo_withdraws_the_latest_decision_but_keeps_the_row(store):
    store.record_decision("a", 0, reviewer="ana", session="s")
    store.record_decision("b", 1, reviewer="ana", session="s")
    store.record_decision("c", 1, reviewer="bo", session="t")
    undone = store.undo_last(reviewer="ana")
    assert undone["example_id"] == "b" and undone["undone_at"] is not None
    assert store.decided_ids() == {"a", "c"}
    assert store.undo_last(reviewer="ana", session="s")["example_id"] == "a"
    assert store.undo_last(reviewer="ana") is None
    assert store.decisions(include_undone=True)["example_id"].tolist() == ["a", "b", "c"]


def test_latest_keeps_each_reviewers_last_word(store):
    store.record_decision("a", 0, reviewer="ana")
    store.record_decision("a", 1, reviewer="ana")
    store.record_decision("a", 0, reviewer="bo")
    latest = store.decisions(latest=True)
    assert sorted(zip(latest["reviewer"], latest["label"])) == [("ana", 1), ("bo", 0)]


def test_two_handles_in_one_process_see_each_other(store):
    with ProjectStore(store.path) as other:
        store.record_decision("a", 0, reviewer="ana")
        other.record_decision("b", 1, reviewer="bo")
        assert store.decided_ids() == other.decided_ids() == {"a", "b"}


# -- LF versions, exports, rounds --------------------------------------------------


def test_lf_versions(store):
    assert store.record_lf_version("kw_subscribe", "keyword_lf('kw_subscribe', ['subscribe'], 1)", {"coverage": np.float64(0.1)}) == 1
    assert store.record_lf_version("kw_subscribe", "keyword_lf('kw_subscribe', ['subscribe'], 1)", {"coverage": 0.12}) == 1
    assert store.record_lf_version("kw_subscribe", "keyword_lf('kw_subscribe', ['subscribe', 'sub'], 1)", {"coverage": 0.2}) == 2
    assert store.record_lf_version("short", "lambda x: 0", {"coverage": np.array([0.5])}) == 1
    versions = store.lf_versions()
    assert versions[["name", "version"]].values.tolist() == [["kw_subscribe", 1], ["kw_subscribe", 2], ["short", 1]]
    assert versions["stats"].tolist()[0] == {"coverage": 0.12}
    assert store.lf_versions("short")["stats"].tolist() == [{"coverage": [0.5]}]
    with pytest.raises(TypeError, match="stats of LF 'x' must be JSON-serialisable"):
        store.record_lf_version("x", "src", {"model": object()})


def test_exports(store, tmp_path):
    first = store.record_export(tmp_path / "train.parquet", "sha256:abc", n_rows=900, canary_accuracy=0.93)
    store.record_export("again.parquet", "sha256:def")
    df = store.exports()
    assert df["id"].tolist() == [first, first + 1]
    assert df["path"].tolist() == [str(tmp_path / "train.parquet"), "again.parquet"]
    assert df["n_rows"].tolist()[0] == 900 and df["n_rows"].isna().tolist() == [False, True]
    assert df["info"].tolist() == [{"canary_accuracy": 0.93}, {}]


def test_rounds_are_numbered_from_zero(store):
    assert store.record_round(n_seed_labels=0, metrics={"dev_accuracy": 0.8}, lineage={"seed_ids": []}) == 0
    assert store.record_round(n_seed_labels=5, metrics={"dev_accuracy": 0.85}, lineage={"seed_ids": ["a"]}) == 1
    rounds = store.rounds()
    assert rounds["round"].tolist() == [0, 1]
    assert rounds["dev_accuracy"].tolist() == [0.8, 0.85]
    assert rounds["lineage"].tolist()[1] == {"seed_ids": ["a"]}


# -- crashes and concurrent writers --------------------------------------------------


@pytest.mark.slow
def test_decisions_survive_a_process_killed_between_writes(store, tmp_path):
    child = _child(
        tmp_path,
        """
        store = ProjectStore(path)
        for i in range(1000):
            store.record_decision(f"ex{i}", i % 2, reviewer="crash", proba=[0.5, 0.5])
            print(i, flush=True)
            sys.stdin.readline()  # wait for the go-ahead: the kill lands between two writes
        """,
    )
    for i in range(5):
        assert child.stdout.readline().strip() == str(i)
        if i < 4:
            child.stdin.write("\n")
            child.stdin.flush()
    child.send_signal(signal.SIGKILL)
    child.wait()
    with ProjectStore(store.path) as reopened:
        assert reopened.integrity_check() == "ok"
        assert reopened.decisions()["example_id"].tolist() == [f"ex{i}" for i in range(5)]
        reopened.record_decision("after", 0, reviewer="me")
        assert "after" in reopened.decided_ids()


@pytest.mark.slow
def test_decisions_survive_a_process_killed_mid_stream(store, tmp_path):
    child = _child(
        tmp_path,
        """
        store = ProjectStore(path)
        for i in range(100000):
            store.record_decision(f"ex{i}", i % 2, reviewer="crash")
            print(i, flush=True)
        """,
    )
    confirmed = -1
    while confirmed < 30:
        confirmed = int(child.stdout.readline())
    child.send_signal(signal.SIGKILL)  # most likely in the middle of the next transaction
    child.wait()
    with ProjectStore(store.path) as reopened:
        assert reopened.integrity_check() == "ok"
        ids = reopened.decisions()["example_id"].tolist()
        assert len(ids) >= confirmed + 1
        assert ids == [f"ex{i}" for i in range(len(ids))]


@pytest.mark.slow
def test_two_writer_processes_create_and_fill_one_store_losing_nothing(tmp_path):
    body = """
    reviewer = sys.argv[1]
    sys.stdin.readline()  # start together: both create the store, then both write
    store = ProjectStore(path, class_names=["ham", "spam"])
    for i in range(150):
        store.record_decision(f"ex{i}", i % 2, reviewer=reviewer)
        if i == 75:
            store.undo_last(reviewer=reviewer)
    print("done", flush=True)
    """
    writers = [_child(tmp_path, body, f"writer{k}") for k in range(2)]
    for w in writers:
        w.stdin.write("go\n")
        w.stdin.flush()
    for w in writers:
        assert w.stdout.readline().strip() == "done"
        assert w.wait() == 0
    store = ProjectStore(tmp_path / "project.sqlite")
    assert store.class_names == ["ham", "spam"]
    decisions = store.decisions()
    assert len(decisions) == 2 * 149
    assert len(store.decisions(include_undone=True)) == 300
    for k in range(2):
        expected = {f"ex{i}" for i in range(150)} - {"ex75"}
        assert store.decided_ids(reviewer=f"writer{k}") == expected
    assert store.integrity_check() == "ok"
    store.close()


def test_review_requests_are_kept_once_and_pending_until_decided(store):
    reason = "generators disagree: sent to review"
    assert store.request_review(["a", "b"], reason=reason, scores=[0.5, 0.8]) == 2
    assert store.request_review(["b", "c"], reason=reason, scores=[0.8, 0.6]) == 1  # b was asked for already
    assert store.review_requests()["example_id"].tolist() == ["b", "c", "a"]  # highest score first
    store.record_decision("b", 1, reviewer="ana")
    assert store.review_requests()["example_id"].tolist() == ["c", "a"]
    assert len(store.review_requests(pending=False)) == 3
    with pytest.raises(ValueError, match="2 scores for 1 example ids"):
        store.request_review(["d"], reason=reason, scores=[0.1, 0.2])
    with pytest.raises(ValueError, match="reason must be a non-empty string"):
        store.request_review(["d"], reason=" ")

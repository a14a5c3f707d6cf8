"""The one atomic writer: all files or none, and the mode a normal write would give."""

import os
import stat

import pytest

from tests._helpers import siblings
from workbench._internal.atomic import atomic_files, atomic_pickle, atomic_write


def test_atomic_files_move_all_files_or_none(tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("old a")
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_files([a, b], overwrite=True) as (ta, tb):
            ta.write_text("new a")
            tb.write_text("new b")
            raise RuntimeError("boom")
    assert a.read_text() == "old a" and not b.exists()
    with atomic_files([a, b], overwrite=True) as (ta, tb):
        ta.write_text("new a")
        tb.write_text("new b")
        assert a.read_text() == "old a"  # nothing is visible before the block ends
    assert (a.read_text(), b.read_text()) == ("new a", "new b")
    assert siblings(a) == ["a.txt", "b.txt"]


def test_atomic_files_refuses_existing_destinations_before_running(tmp_path):
    (tmp_path / "b.txt").write_text("keep")
    ran = []
    with pytest.raises(FileExistsError, match=r"b\.txt already exists"):
        with atomic_files([tmp_path / "a.txt", tmp_path / "b.txt"]) as _:
            ran.append(True)
    assert not ran and not (tmp_path / "a.txt").exists()


def _normal_mode(tmp_path):
    probe = tmp_path / "probe"
    probe.write_text("x")
    return stat.S_IMODE(probe.stat().st_mode)


def test_atomic_writes_get_the_mode_a_normal_write_gives(tmp_path):
    expected = _normal_mode(tmp_path)
    text = atomic_write(tmp_path / "lfs.py", "LFS = []\n")
    blob = atomic_pickle({"a": 1}, tmp_path / "model.pkl")
    assert stat.S_IMODE(text.stat().st_mode) == expected
    assert stat.S_IMODE(blob.stat().st_mode) == expected
    assert text.read_text() == "LFS = []\n"


def test_a_failing_atomic_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = atomic_write(tmp_path / "a.txt", "old")

    def broken(temp):
        temp.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(path, broken)
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["a.txt"]


def test_atomic_write_refuses_an_existing_file_when_asked(tmp_path):
    path = atomic_write(tmp_path / "a.txt", b"old")
    with pytest.raises(FileExistsError, match="a.txt"):
        atomic_write(path, "new", overwrite=False)
    assert path.read_bytes() == b"old"

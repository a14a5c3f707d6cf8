"""The LF set the notebooks use: the learner's saved module from notebook 01 when it exists."""

import pytest

from workbench.data.youtube_lfs import YOUTUBE_LFS
from workbench.labeling import BUNDLED_LFS, SAVED_LFS_FILE, LFModuleError, resolve_lf_set, saved_lfs_path


def test_without_a_saved_module_the_bundled_lfs_are_used_and_it_says_how_to_use_yours(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WORKBENCH_OUT", str(tmp_path))
    lf_set = resolve_lf_set()
    assert not lf_set.saved and lf_set.source == BUNDLED_LFS
    assert lf_set.names == [lf.name for lf in YOUTUBE_LFS]
    out = capsys.readouterr().out
    assert "the bundled YouTube LFs" in out and str(tmp_path / SAVED_LFS_FILE) in out


def test_the_module_saved_in_01_is_used_and_named(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WORKBENCH_OUT", str(tmp_path))
    assert saved_lfs_path() == tmp_path / SAVED_LFS_FILE
    saved_lfs_path().write_text('from workbench.labeling import keyword_lf\nLFS = [keyword_lf("kw_mine", ["mine"], 1)]\n')
    lf_set = resolve_lf_set()
    assert lf_set.saved and lf_set.names == ["kw_mine"] and lf_set.source == str(saved_lfs_path())
    assert capsys.readouterr().out.startswith("LF set: your saved LFs from notebook 01, 1 LFs from ")


def test_a_broken_saved_module_is_an_error_not_a_silent_fallback(tmp_path):
    broken = tmp_path / "labeling_functions.py"
    broken.write_text("LFS = [undefined_name]\n")
    with pytest.raises(LFModuleError, match="labeling_functions.py"):
        resolve_lf_set(broken, verbose=False)

"""The one LF-module loader: files and module paths, LFS or *_LFS lists, fresh private copies, named problems."""

import sys

import pytest

from workbench.labeling import LFModuleError, keyword_lf, lfs_to_code, load_lf_module


def test_loads_the_bundled_module_by_path_and_finds_its_only_lfs_list():
    loaded = load_lf_module("workbench.data.youtube_lfs")
    assert loaded.attribute == "YOUTUBE_LFS" and loaded.path.name == "youtube_lfs.py"
    assert loaded.lfs == list(loaded.module.YOUTUBE_LFS)


def test_a_written_module_round_trips_and_each_load_sees_the_current_text(tmp_path):
    path = tmp_path / "my_lfs.py"
    path.write_text(lfs_to_code([keyword_lf("kw_sub", ["subscribe"], 1)]))
    first = load_lf_module(path)
    assert first.attribute == "LFS" and [lf.name for lf in first.lfs] == ["kw_sub"]
    path.write_text(lfs_to_code([keyword_lf("kw_song", ["song"], 0)]))
    second = load_lf_module(str(path))
    assert [lf.name for lf in second.lfs] == ["kw_song"]
    assert first.lfs[0].name == "kw_sub"  # the first copy's objects were not swapped under its holder
    assert first.module.__name__ in sys.modules  # dataclasses and pickling look the module up there


@pytest.mark.parametrize("text, message, part", [
    ("X = 1\n", "no LFS list", "module"),
    ("A_LFS = [1]\nB_LFS = [2]\n", "several lists", "module"),
    ("LFS = []\n", "non-empty list", "module"),
    ("raise RuntimeError('boom')\n", "raised RuntimeError: boom", "module"),
    ("from workbench.labeling import keyword_lf\nLFS = [keyword_lf('a', ['x'], 1), keyword_lf('a', ['y'], 0)]\n",
     "duplicate", "module"),
])
def test_problems_are_named(tmp_path, text, message, part):
    path = tmp_path / "bad.py"
    path.write_text(text)
    with pytest.raises(LFModuleError, match=message) as info:
        load_lf_module(path)
    assert info.value.part == part


def test_missing_file_module_and_attribute_are_named(tmp_path):
    with pytest.raises(LFModuleError, match="no such file"):
        load_lf_module(tmp_path / "none.py")
    with pytest.raises(LFModuleError, match="unknown LF module 'no_such_module_xyz'"):
        load_lf_module("no_such_module_xyz")
    with pytest.raises(LFModuleError, match="has no 'MY_LFS'") as info:
        load_lf_module("workbench.data.youtube_lfs", attribute="MY_LFS")
    assert info.value.part == "attribute"

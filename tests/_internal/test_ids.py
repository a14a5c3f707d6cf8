"""Row-id lookups: the same answers as pandas' own, on string and integer ids."""

import numpy as np
import pandas as pd
import pytest

from workbench._internal.ids import id_index, isin_ids


@pytest.mark.parametrize("ids, values", [
    (pd.Series(["p1", "p2", "p3", "p4"]).astype(str).to_numpy(), ["p3", "p1", "zz"]),
    (np.array([3, 1, 2]), {2, 5}),
    (np.array(["1", "2"], dtype=object), [1, 2]),  # the string "1" is not the number 1
    (np.array([], dtype=object), ["a"]),
])
def test_isin_ids_answers_as_python_equality_does(ids, values):
    expected = [v in set(values) for v in ids.tolist()]
    assert isin_ids(ids, values).tolist() == expected


def test_pyarrow_strings_are_looked_up_as_python_objects():
    ids = pd.array(["a", "b", "c"], dtype="str")
    assert id_index(ids).dtype == object and id_index(ids).get_indexer(["c", "x"]).tolist() == [2, -1]

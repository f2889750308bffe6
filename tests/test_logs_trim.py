"""Trimming char(n) padding: the distinct-values path matches a plain trim."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dpcsim.logs.source import _trim


def test_trim_matches_plain_trim_for_few_and_many_distinct_values() -> None:
    rng = np.random.default_rng(1)
    n = 20_000
    states = np.array(["Completed       ", "  Evicted", "\u2003Running\u00a0", ""])
    few = states[rng.integers(0, states.size, n)].tolist()
    few[5] = None  # a null among repeated values
    many = [f" select {i}\n  from t{i % 7}   " for i in range(n)]
    table = pa.table(
        {
            "few": pa.chunked_array([few[:12_000], few[12_000:]], pa.string()),
            "many": pa.array(many, pa.string()),
            "n": pa.array(np.arange(n)),
        }
    )
    out = _trim(table)
    for name in ("few", "many"):
        plain = pc.utf8_trim_whitespace(table.column(name))
        assert out.column(name).equals(plain)
        assert out.column(name).type == pa.string()
    assert out.column("few")[0].as_py() in {"Completed", "Evicted", "Running", ""}
    assert out.column("few")[5].as_py() is None
    assert out.column("n").equals(table.column("n"))

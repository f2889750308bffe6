"""Trimming char(n) padding: the distinct-values path matches a plain trim."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import given, settings
from hypothesis import strategies as st

from dpcsim.logs.source import _may_be_padded, _trim, _trim_column


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


# Whitespace Python's str.isspace (and so utf8_trim_whitespace) knows, ASCII and
# Unicode, beside printable characters of one to four UTF-8 bytes.
_SPACES = " \t\n\r\x0b\x0c\x1c\x1f\x85\xa0\u1680\u2003\u2028\u3000"
_LETTERS = "az09'(,.~\x7f\xe9\u00e4\u65e5\U0001f600"


@settings(max_examples=300, deadline=None)
@given(
    values=st.lists(
        st.one_of(st.none(), st.text(alphabet=_SPACES + _LETTERS, max_size=6)),
        min_size=1,
        max_size=40,
    ),
    cut=st.integers(min_value=0, max_value=40),
)
def test_unpadded_check_never_skips_a_value_that_trims(
    values: list[str | None], cut: int
) -> None:
    # A sliced chunk (offset != 0) is read at its own offsets.
    chunk = pa.array(values, pa.string()).slice(min(cut, len(values) - 1))
    plain = pc.utf8_trim_whitespace(chunk)
    if not _may_be_padded(chunk):
        assert plain.equals(chunk)
    assert _trim_column(pa.chunked_array([chunk])).equals(pa.chunked_array([plain]))


def test_unpadded_check_passes_printable_edges_and_flags_each_kind_of_space() -> None:
    assert not _may_be_padded(pa.array(["select 1", "a", "", None, "xé x", "x é!"]))
    for space in _SPACES:
        assert _may_be_padded(pa.array(["select 1", f"select{space}"]))
        assert _may_be_padded(pa.array([f"{space}select", "b"]))

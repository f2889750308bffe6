"""Exports shaped exactly as psql writes them: multi-line SQL, bad rows, wrong shapes.

Files are built with :mod:`fixtures.psql` (quoting only where needed, NULL as an
empty field, char(n) padding, PostgreSQL timestamps) and are larger than both
pyarrow's 1 MiB parse block and, with ``block_bytes`` small, dpcsim's own blocks,
so records cross every boundary.
"""

from __future__ import annotations

import datetime as dt
import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fixtures.psql import (
    aligned,
    char,
    psql_csv,
    tuples_only,
    unaligned,
    unload_text,
    write_psql_csv,
)

from dpcsim.errors import InputError
from dpcsim.logs import ingest, read_export
from dpcsim.logs.csvblocks import iter_raw_blocks
from dpcsim.logs.source import parse_file

STL_QUERY = [
    "userid",
    "query",
    "label",
    "xid",
    "pid",
    "database",
    "querytxt",
    "starttime",
    "endtime",
    "aborted",
    "insert_pristine",
    "concurrency_scaling_status",
]
T0 = dt.datetime(2024, 3, 1, 12, 0, 0)


def _sql(i: int) -> str:
    """Multi-line SQL of varying shape (a comma, quotes, a CR LF now and then)."""
    body = f"select a, b\n  from mart.t{i % 7}\n where s = 'it''s \"{i}\"'"
    if i % 5 == 0:
        body = f'/* {{"app": "dbt", "node_id": "model.x{i}"}} */\n' + body
    if i % 11 == 0:
        body = body.replace("\n", "\r\n")
    return body


def _rows(n: int) -> list[list[object]]:
    rows: list[list[object]] = []
    for i in range(n):
        start = T0 + dt.timedelta(seconds=i, microseconds=(i * 370) % 1_000_000)
        rows.append(
            [
                100 + i % 3,
                1000 + i,
                char("default", 30),
                5000 + i,
                30000 + i % 3,
                char("dev", 32),
                char(_sql(i), 4000) if i % 50 == 0 else _sql(i),
                start,
                start + dt.timedelta(seconds=2),
                0,
                None,
                0,
            ]
        )
    return rows


def _line_of_record(text: str, k: int) -> int:
    """Line record k (0 = the header) starts on, by a character-by-character scan."""
    line, inside, records = 1, False, -1
    at_start = True
    for ch in text:
        if at_start and not inside:
            records += 1
            if records == k:
                return line
            at_start = False
        if ch == '"':
            inside = not inside
        elif ch == "\n":
            line += 1
            at_start = not inside
    raise AssertionError("record not found")


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[list[object]]]:
    rows = _rows(9_000)
    path = write_psql_csv(
        tmp_path_factory.mktemp("q") / "stl_query.csv", STL_QUERY, rows
    )
    assert path.stat().st_size > 1 << 20  # larger than pyarrow's parse block
    return path, rows


@pytest.mark.parametrize("block_bytes", [None, 4096, 65_537])
def test_multiline_text_read_whole_at_any_size(big, block_bytes):
    path, rows = big
    kwargs = {} if block_bytes is None else {"block_bytes": block_bytes}
    parsed = parse_file(path, **kwargs)
    assert len(parsed.frame) == len(rows)
    assert not parsed.bad
    want = [str(r[6]).strip() for r in rows]
    assert parsed.frame["querytxt"].tolist() == want
    text = path.read_bytes().decode()
    picks = np.array([0, 1, 55, 4_999, len(rows) - 1])
    lines, raws = parsed.describe(picks)
    for k, line, raw in zip(picks, lines, raws, strict=True):
        assert line == _line_of_record(text, int(k) + 1)
        assert raw in text
        assert raw.split(",")[1] == str(rows[k][1])
    assert parsed.frame["query"].tolist() == [r[1] for r in rows]


def _long_rows(n: int) -> list[list[object]]:
    """Rows whose SQL is now and then a quoted multi-line value of 100-300 KiB."""
    rows = _rows(n)
    for k in range(3, n, 40):
        lines = "\n".join(f'  , "c{j}" -- it\'s column {j}' for j in range(k * 90))
        rows[k][6] = f"select 1\n{lines}\nfrom big"
    return rows


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("block_bytes", [4096, 65_537, 1 << 20])
def test_raw_blocks_cover_the_file_and_end_at_record_ends(tmp_path, gz, block_bytes):
    rows = _long_rows(400)
    path = write_psql_csv(
        tmp_path / ("stl_query.csv.gz" if gz else "stl_query.csv"), STL_QUERY, rows
    )
    text = psql_csv(STL_QUERY, rows).encode()
    body = text[text.index(b"\n") + 1 :]
    blocks = list(iter_raw_blocks(path, gzip_=gz, block_bytes=block_bytes))
    joined = b"".join(bytes(b.data) for b in blocks)
    assert joined == body  # every byte once, in order
    at = len(text) - len(body)
    for b in blocks:
        data = bytes(b.data)
        assert b.offset == at
        assert b.quotes == data.count(b'"')
        assert data.endswith(b"\n")  # a record's end: a newline outside quotes
        assert b.quotes % 2 == 0
        at += len(data)
    # Records longer than a block are carried whole: a block never splits one.
    starts = {b.offset for b in blocks}
    assert len(starts) == len(blocks)


def test_records_longer_than_the_edge_search_parse_whole(tmp_path):
    rows = _long_rows(400)
    path = write_psql_csv(tmp_path / "stl_query.csv", STL_QUERY, rows)
    whole = parse_file(path, block_bytes=64 << 20)
    for block_bytes in (200_000, 1 << 20):
        parsed = parse_file(path, block_bytes=block_bytes)
        assert parsed.frame["querytxt"].tolist() == [str(r[6]).strip() for r in rows]
        assert parsed.frame.equals(whole.frame)


def test_gzip_multiline_and_whole_second_timestamps(tmp_path, big):
    _, rows = big
    path = write_psql_csv(tmp_path / "stl_query.csv.gz", STL_QUERY, rows[:3000])
    res = read_export(path)
    assert len(res.rows) == 3000
    assert res.rejects.empty
    # psql drops a zero fraction: 12:00:00 reads as 12:00:00.000000
    assert res.rows["start_at"].iloc[0].isoformat() == "2024-03-01T12:00:00+00:00"


def test_one_bad_row_is_one_reject_with_its_raw_line(tmp_path, big):
    _, rows = big
    first = psql_csv(STL_QUERY, rows[:1000]).encode()
    rest = psql_csv(STL_QUERY, rows[1000:2000]).encode().split(b"\n", 1)[1]
    extra = (
        b'101,77,x,1,1,dev,"select 1\n, 2",2024-03-01 12:00:00,'
        b"2024-03-01 12:00:01,0,,0,9"
    )
    # A 60-character cut of a multi-byte character leaves a stray lead byte.
    cut = "select 'が'".encode()[:-3] + b"'"
    broken = (
        b'102,78,x,1,1,dev,"' + cut + b'\n from t",2024-03-01 12:00:00,'
        b"2024-03-01 12:00:01,0,,0"
    )
    path = tmp_path / "stl_query.csv"
    path.write_bytes(first + extra + b"\n" + broken + b"\n" + rest)
    res = read_export(path)
    assert len(res.rows) == 2000
    assert res.rows_read == 2002
    rj = res.rejects.sort_values("line").reset_index(drop=True)
    text = path.read_bytes().decode("utf-8", "replace")
    assert rj["raw"].iloc[0] == extra.decode()
    assert rj["raw"].iloc[0] in text
    assert rj["reason"].iloc[0] == "too many fields (13)"
    assert rj["column"].iloc[1] == "querytxt"
    assert rj["reason"].iloc[1].startswith("undecodable byte")
    line_extra = text[: text.index(extra.decode())].count("\n") + 1
    assert rj["line"].tolist() == [line_extra, line_extra + 2]
    with pytest.raises(InputError, match=rf"line {line_extra}: too many fields"):
        read_export(path, strict=True)


def test_conversion_failure_keeps_raw_record_and_line(tmp_path, big):
    _, rows = big
    rows = [list(r) for r in rows[:1500]]
    rows[700][7] = "2024-03-01 25:61:00"
    path = write_psql_csv(tmp_path / "stl_query.csv", STL_QUERY, rows)
    res = read_export(path)
    (rj,) = res.rejects.itertuples()
    assert rj.reason == "unparseable time"
    assert rj.column == "starttime"
    text = path.read_bytes().decode()
    assert rj.raw in text
    assert "25:61:00" in rj.raw
    assert "\n" in rj.raw
    assert rj.line == _line_of_record(text, 701)
    with pytest.raises(InputError, match=rf"line {rj.line}, column 'starttime'"):
        read_export(path, strict=True)


def test_unclosed_quote_fails_naming_its_line(tmp_path):
    path = tmp_path / "stl_query.csv"
    path.write_text(psql_csv(STL_QUERY, _rows(3)) + '1,2,x,1,1,dev,"select\n')
    with pytest.raises(
        InputError, match=r"stl_query\.csv, line 12: a quoted value is never closed"
    ):
        read_export(path)


def test_the_first_bad_file_is_named_and_good_files_give_their_own_rows(tmp_path, big):
    """Of several files, the error names the first bad one (in the order given),
    and good files give the rows each gives when read alone."""
    _, rows = big
    good = [
        write_psql_csv(tmp_path / f"{k}_stl_query.csv.gz", STL_QUERY, part)
        for k, part in enumerate((rows[:4000], rows[4000:4003], rows[4003:6000]))
    ]
    unclosed = tmp_path / "9_stl_query.csv"
    unclosed.write_text(psql_csv(STL_QUERY, _rows(3)) + '1,2,x,1,1,dev,"select\n')
    unknown = tmp_path / "8_other.csv"
    unknown.write_text("a,b\n1,2\n")
    result = ingest(good)
    alone = pd.concat([read_export(p).rows for p in good], ignore_index=True)
    got = result.workload.queries.set_index("query_id").sort_index()
    assert got.index.tolist() == alone["query_id"].tolist()
    assert got["query_text"].tolist() == alone["text"].tolist()
    # The bad file after a long one; the first of two bad ones.
    with pytest.raises(InputError, match=r"9_stl_query\.csv, line 12"):
        ingest([good[0], unclosed, good[1]])
    with pytest.raises(InputError, match=r"8_other\.csv"):
        ingest([good[0], unknown, unclosed])
    with pytest.raises(InputError, match=r"9_stl_query\.csv"):
        ingest([unclosed, unknown])


HEAD = ["userid", "query", "starttime", "endtime", "substring"]
ROWS = [[100, 1, T0, T0, "select 1"], [101, 2, T0, T0, "select 2"]]


@pytest.mark.parametrize(
    ("text", "seen"),
    [
        (aligned(HEAD, ROWS), "psql aligned output"),
        (unaligned(HEAD, ROWS), "psql -A -F'|'"),
        (tuples_only(ROWS), "psql -t"),
        (unload_text(ROWS), "UNLOAD's default pipe-delimited text"),
    ],
)
def test_wrong_shapes_get_a_hint(tmp_path, text, seen):
    path = tmp_path / "svl_qlog.txt"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        read_export(path)
    msg = str(info.value)
    assert seen in msg
    assert "psql --csv" in msg
    assert "FORMAT CSV HEADER" in msg
    assert "closest is" not in msg


def test_ingest_reads_a_folder_of_unload_parts(tmp_path, big):
    _, rows = big
    folder = tmp_path / "unload"
    folder.mkdir()
    for k in range(3):
        part = rows[k * 100 : (k + 1) * 100]
        data = psql_csv(STL_QUERY, part).encode()
        (folder / f"0000_part_{k:02d}.gz").write_bytes(gzip.compress(data))
    result = ingest([folder])
    assert len(result.workload.queries) == 300
    assert np.all(np.diff(result.workload.queries["query_id"].to_numpy()) > 0)

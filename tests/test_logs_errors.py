"""Malformed exports: every error names the file, the row or column, and the value."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from dpcsim.errors import InputError
from dpcsim.logs import ingest, read_export

FIX = Path(__file__).parent / "fixtures" / "logs"


def test_empty_file():
    with pytest.raises(InputError, match=r"empty\.csv: file is empty"):
        read_export(FIX / "empty.csv")


def test_unknown_table_lists_header_and_closest():
    with pytest.raises(InputError) as info:
        read_export(FIX / "unknown_table.csv")
    msg = str(info.value)
    assert "unknown_table.csv" in msg
    assert "header" in msg
    assert "['bar', 'foo', 'starttime']" in msg
    assert "closest is" in msg


def test_missing_required_column():
    with pytest.raises(InputError) as info:
        read_export(FIX / "missing_column.csv")
    msg = str(info.value)
    assert "missing_column.csv" in msg
    assert "svl_qlog" in msg
    assert "column 'userid'" in msg


def test_undecodable_byte_rejects_only_its_row(tmp_path):
    data = (
        (FIX / "svl_qlog.csv").read_bytes().replace(b"select count", b"sel\xffct count")
    )
    path = tmp_path / "latin.csv"
    path.write_bytes(data)
    res = read_export(path)
    assert res.rows_read == 7
    assert len(res.rows) == 6
    (reject,) = res.rejects.itertuples()
    assert reject.line == 3
    assert reject.column == "substring"
    assert "undecodable byte b'\\xff'" in reject.reason
    with pytest.raises(
        InputError, match=r"latin\.csv, line 3, column 'substring': undecodable byte"
    ):
        read_export(path, strict=True)


def test_undecodable_bytes_in_gzip(tmp_path):
    path = tmp_path / "latin.csv.gz"
    data = (
        (FIX / "svl_qlog.csv").read_bytes().replace(b"fct_b where", b"fct_\xe9 where")
    )
    path.write_bytes(gzip.compress(data))
    with pytest.raises(InputError, match=r"latin\.csv\.gz, line 8, .*expected UTF-8"):
        read_export(path, strict=True)


def test_bad_rows_rejected_with_reasons():
    res = read_export(FIX / "svl_qlog_bad_rows.csv")
    rejects = res.rejects.set_index("source_row")["reason"].to_dict()
    assert rejects == {
        2: "unparseable time",
        3: "negative duration",
        4: "end before start",
        5: "duplicate query id",
        6: "non-numeric value",
    }
    assert res.rows_read == 7 == len(res.rows) + len(res.rejects)
    assert res.rejects["raw"].str.contains("25:61:00").any()
    assert set(res.rejects["source_file"]) == {str(FIX / "svl_qlog_bad_rows.csv")}


def test_ingest_summary_counts_rejects_by_reason():
    result = ingest([FIX / "svl_qlog_bad_rows.csv"])
    s = result.summary
    assert s.rows_read == 7
    assert s.accepted == 2
    assert sum(s.rejected_by_reason.values()) == 5
    assert s.rejected_by_reason["duplicate query id"] == 1
    # out-of-order row 7 (11:59) is sorted before row 1 (12:00)
    assert result.workload.queries["query_id"].tolist() == [2007, 2001]


def test_strict_stops_at_first_bad_row():
    with pytest.raises(InputError) as info:
        read_export(FIX / "svl_qlog_bad_rows.csv", strict=True)
    msg = str(info.value)
    assert "svl_qlog_bad_rows.csv" in msg
    assert "line 3" in msg
    assert "column 'starttime'" in msg
    assert "25:61:00" in msg
    assert "expected a UTC timestamp" in msg


def test_duplicate_across_files_rejected(tmp_path):
    copy = tmp_path / "again.csv"
    copy.write_bytes((FIX / "svl_qlog.csv").read_bytes())
    result = ingest([FIX / "svl_qlog.csv", copy])
    assert len(result.rejects) == 7
    assert set(result.rejects["reason"]) == {"duplicate query id"}
    assert set(result.rejects["source_file"]) == {str(copy)}
    assert result.summary.rows_read == 14
    assert result.summary.accepted == 7
    with pytest.raises(InputError, match=r"again\.csv, row 1"):
        ingest([FIX / "svl_qlog.csv", copy], strict=True)


def test_wlm_negative_and_end_before_start(tmp_path):
    lines = (FIX / "stl_wlm_query.csv").read_text().splitlines()
    fields = lines[1].split(",")
    fields[12] = "-1"  # total_exec_time
    lines[1] = ",".join(fields)
    fields = lines[6].split(",")
    fields[11] = "2024-03-01 11:00:00.000000"  # exec_end_time before exec_start_time
    lines[6] = ",".join(fields)
    path = tmp_path / "wlm.csv"
    path.write_text("\n".join(lines) + "\n")
    res = read_export(path)
    assert res.rejects.set_index("source_row")["reason"].to_dict() == {
        1: "negative duration",
        6: "end before start",
    }
    with pytest.raises(InputError, match=r"line 2, column 'total_exec_time'.*'-1'"):
        read_export(path, strict=True)


def test_short_row_is_one_reject_with_its_raw_line(tmp_path):
    path = tmp_path / "short.csv"
    text = (FIX / "svl_qlog.csv").read_text() + "100,1\n"
    path.write_text(text)
    res = read_export(path)
    assert len(res.rows) == 7
    (reject,) = res.rejects.itertuples()
    assert (reject.line, reject.raw, reject.reason) == (
        9,
        "100,1",
        "too few fields (2)",
    )
    with pytest.raises(InputError, match=r"short\.csv, line 9: too few fields"):
        read_export(path, strict=True)


def test_stepfunctions_not_a_list(tmp_path):
    path = tmp_path / "sfn.json"
    path.write_text('{"foo": []}')
    with pytest.raises(InputError, match=r"sfn\.json, key 'executions'"):
        read_export(path)
    path.write_text(
        '{"executions": [{"name": "a", "status": "SUCCEEDED", "startDate": "nope"}]}'
    )
    res = read_export(path)
    assert res.rejects["reason"].tolist() == ["unparseable time"]

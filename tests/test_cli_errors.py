"""Bad input on the command line: one line on stderr naming the file, exit code 2.

Every case runs in-process and checks the whole of stderr: exactly one line,
no traceback, the file's name and what was expected.
"""

from __future__ import annotations

import errno
import gzip
import json
from pathlib import Path

import pytest

from dpcsim.cli import _progress, main
from dpcsim.designs.dpc_wlm import dpc_design_config

#: A valid one-metric alarm, as ``put-metric-alarm --cli-input-json`` takes it.
ALARM = {
    "AlarmName": "queue-long",
    "Namespace": "AWS/Redshift",
    "MetricName": "WLMQueueLength",
    "Dimensions": [{"Name": "QueueName", "Value": "adhoc"}],
    "Statistic": "Maximum",
    "Period": 60,
    "EvaluationPeriods": 1,
    "Threshold": 1,
    "ComparisonOperator": "GreaterThanThreshold",
}
METRICS_HEADER = "timestamp,namespace,metric_name,dimensions,value\n"
METRICS_ROW = "2025-05-26T00:00:00Z,AWS/Redshift,WLMQueueLength,QueueName=adhoc,1\n"
QLOG_HEADER = (
    "userid,query,xid,pid,starttime,endtime,elapsed,aborted,label,substring,"
    "source_query,concurrency_scaling_status_txt,from_sp_call\n"
)


def _error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """Run ``argv``; assert exit 2 and a single stderr line; return that line."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture
def files(tmp_path: Path) -> Path:
    """A folder of good and bad inputs, named after what is wrong with them."""
    (tmp_path / "folder.csv").mkdir()
    (tmp_path / "empty.csv").write_bytes(b"")
    (tmp_path / "unknown.csv").write_text("foo,bar\n1,2\n")
    row = "100,1,1,1,2025-05-26 00:00:00,2025-05-26 00:00:01,1000000,0,default,"
    qlog = (QLOG_HEADER + row + "select 1,-1,,0\n") * 200
    data = gzip.compress(qlog.encode())
    (tmp_path / "truncated_header.csv.gz").write_bytes(data[:60])
    (tmp_path / "truncated.csv.gz").write_bytes(data[: len(data) // 2])
    (tmp_path / "latin1.csv").write_bytes(
        (QLOG_HEADER + row + "select caf\xe9,-1,,0\n").encode("latin-1")
    )
    runs = json.dumps({"executions": []}).encode()
    (tmp_path / "truncated.json.gz").write_bytes(gzip.compress(runs)[:15])
    (tmp_path / "syntax.json").write_text('[{"query_concurrency": 5,}]')
    over = [{"query_concurrency": 60}, {"query_concurrency": 5}]
    (tmp_path / "over.json").write_text(json.dumps(over))
    (tmp_path / "wlm.json").write_text(json.dumps(dpc_design_config().to_json()))
    (tmp_path / "unknown_key.toml").write_text("[cluster]\nnode_colour = 1\n")
    (tmp_path / "bad_value.toml").write_text("[cluster]\nnode_count = -2\n")
    (tmp_path / "syntax.toml").write_text("a = [\n")
    (tmp_path / "latin1.toml").write_bytes("# caf\xe9\n".encode("latin-1"))
    (tmp_path / "alarm.json").write_text(json.dumps([ALARM]))
    (tmp_path / "period.json").write_text(json.dumps([{**ALARM, "Period": 45}]))
    text = json.dumps([ALARM]).replace("queue-long", "caf\xe9")
    (tmp_path / "latin1_alarm.json").write_bytes(text.encode("latin-1"))
    bad_ts = (
        METRICS_HEADER
        + METRICS_ROW
        + METRICS_ROW.replace("2025-05-26T00:00:00Z", "yesterday")
    )
    (tmp_path / "bad_ts.csv").write_text(bad_ts)
    (tmp_path / "latin1_metrics.csv").write_bytes(
        (METRICS_HEADER + METRICS_ROW.replace("adhoc", "caf\xe9")).encode("latin-1")
    )
    data = gzip.compress((METRICS_HEADER + METRICS_ROW * 50).encode())
    (tmp_path / "truncated_metrics.csv.gz").write_bytes(data[:40])
    (tmp_path / "corrupt.parquet").write_bytes(b"PAR1 not really parquet")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("x")
    return tmp_path


# argv (paths relative to the ``files`` folder, marked by a leading "@"), then
# the fragments the one-line message must contain.
CASES = {
    "ingest-missing": (
        ["ingest", "@nowhere.csv", "--out", "@o"],
        ["nowhere.csv", "no such file"],
    ),
    "ingest-directory": (
        ["ingest", "@folder.csv", "--out", "@o"],
        ["folder.csv", "folder holds no export files"],
    ),
    "ingest-empty": (["ingest", "@empty.csv", "--out", "@o"], ["empty.csv", "empty"]),
    "ingest-unknown-header": (
        ["ingest", "@unknown.csv", "--out", "@o"],
        ["unknown.csv", "unknown table", "'foo'", "expected one of"],
    ),
    "ingest-truncated-gzip": (
        ["ingest", "@truncated.csv.gz", "--out", "@o"],
        ["truncated.csv.gz", "unreadable gzip CSV", "expected a complete gzip"],
    ),
    "ingest-truncated-gzip-header": (
        ["ingest", "@truncated_header.csv.gz", "--out", "@o"],
        ["truncated_header.csv.gz", "unreadable gzip data", "expected a gzip CSV"],
    ),
    "ingest-truncated-gzip-json": (
        ["ingest", "@truncated.json.gz", "--out", "@o"],
        ["truncated.json.gz", "gzip", "expected"],
    ),
    "ingest-latin1": (
        ["ingest", "@latin1.csv", "--strict", "--out", "@o"],
        ["latin1.csv", "line 2", "\\xe9", "expected UTF-8"],
    ),
    "ingest-out-not-empty": (
        ["ingest", "@unknown.csv", "--out", "@full"],
        ["full", "not empty", "--force"],
    ),
    "wlm-syntax": (
        ["wlm", "check", "@syntax.json"],
        ["syntax.json", "not valid JSON", "line 1 column 26", "expected"],
    ),
    "wlm-over-limit": (
        ["wlm", "check", "@over.json"],
        ["over.json", "[0].query_concurrency", "60", "1 to 50"],
    ),
    "wlm-directory": (
        ["wlm", "check", "@folder.csv"],
        ["folder.csv", "is a directory; expected a file"],
    ),
    "simulate-wlm-directory": (
        ["simulate", "--workload", "@w", "--wlm", "@folder.csv", "--out", "@o"],
        ["folder.csv", "is a directory"],
    ),
    "simulate-settings-unknown-key": (
        [
            "simulate",
            "--workload",
            "@w",
            "--wlm",
            "@wlm.json",
            "--settings",
            "@unknown_key.toml",
            "--out",
            "@o",
        ],
        ["unknown_key.toml", "node_colour", "expected one of"],
    ),
    "simulate-settings-bad-value": (
        [
            "simulate",
            "--workload",
            "@w",
            "--wlm",
            "design",
            "--settings",
            "@bad_value.toml",
            "--out",
            "@o",
        ],
        ["bad_value.toml", "node_count", "-2"],
    ),
    "simulate-settings-syntax": (
        [
            "simulate",
            "--workload",
            "@w",
            "--wlm",
            "design",
            "--settings",
            "@syntax.toml",
            "--out",
            "@o",
        ],
        ["syntax.toml", "not valid TOML"],
    ),
    "simulate-settings-latin1": (
        [
            "simulate",
            "--workload",
            "@w",
            "--wlm",
            "design",
            "--settings",
            "@latin1.toml",
            "--out",
            "@o",
        ],
        ["latin1.toml", "\\xe9", "expected a UTF-8 TOML file"],
    ),
    "simulate-settings-directory": (
        [
            "simulate",
            "--workload",
            "@w",
            "--wlm",
            "design",
            "--settings",
            "@folder.csv",
            "--out",
            "@o",
        ],
        ["folder.csv", "is a directory"],
    ),
    "simulate-alarm-period": (
        [
            "simulate",
            "--workload",
            "@w",
            "--wlm",
            "design",
            "--alarms",
            "@period.json",
            "--out",
            "@o",
        ],
        ["period.json", "Period", "45", "multiple of 60"],
    ),
    "simulate-out-not-empty": (
        ["simulate", "--workload", "@w", "--wlm", "design", "--out", "@full"],
        ["full", "not empty", "--force"],
    ),
    "simulate-workload-corrupt-parquet": (
        [
            "simulate",
            "--workload",
            "@corrupt.parquet",
            "--wlm",
            "design",
            "--out",
            "@o",
        ],
        ["corrupt.parquet", "unreadable parquet", "expected a parquet file written by"],
    ),
    "generate-fault-past-horizon": (
        ["generate", "--days", "2", "--fault", "copy_error:2", "--out", "@o"],
        ["--fault", "copy_errors", "day 2", "2-day horizon", "0..1"],
    ),
    "generate-spec-directory": (
        ["generate", "--spec", "@folder.csv", "--out", "@o"],
        ["folder.csv", "is a directory"],
    ),
    "generate-spec-syntax": (
        ["generate", "--spec", "@syntax.json", "--out", "@o"],
        ["syntax.json", "line 1, column 26", "not JSON", "expected a spec.json"],
    ),
    "alarms-period": (
        ["alarms", "--alarms", "@period.json", "--metrics", "@bad_ts.csv"],
        ["period.json", "Period", "45", "multiple of 60"],
    ),
    "alarms-latin1-definitions": (
        ["alarms", "--alarms", "@latin1_alarm.json", "--metrics", "@bad_ts.csv"],
        ["latin1_alarm.json", "\\xe9", "expected UTF-8"],
    ),
    "alarms-directory-definitions": (
        ["alarms", "--alarms", "@folder.csv", "--metrics", "@bad_ts.csv"],
        ["folder.csv", "is a directory"],
    ),
    "alarms-metrics-bad-timestamp": (
        ["alarms", "--alarms", "@alarm.json", "--metrics", "@bad_ts.csv"],
        ["bad_ts.csv", "row 2", "'yesterday'", "ISO 8601"],
    ),
    "alarms-metrics-latin1": (
        ["alarms", "--alarms", "@alarm.json", "--metrics", "@latin1_metrics.csv"],
        ["latin1_metrics.csv", "\\xe9", "expected a UTF-8"],
    ),
    "alarms-metrics-truncated-gzip": (
        ["alarms", "--alarms", "@alarm.json", "--metrics", "@truncated_metrics.csv.gz"],
        ["truncated_metrics.csv.gz", "unreadable CSV", "expected"],
    ),
    "alarms-metrics-corrupt-parquet": (
        ["alarms", "--alarms", "@alarm.json", "--metrics", "@corrupt.parquet"],
        ["corrupt.parquet", "unreadable parquet", "expected"],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_one_line_naming_the_file(
    case: str, files: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv, fragments = CASES[case]
    line = _error(capsys, [str(files / a[1:]) if a[:1] == "@" else a for a in argv])
    assert line.startswith(f"dpcsim {argv[0]}: error: ")
    for fragment in fragments:
        assert fragment in line, (fragment, line)


def test_simulate_checks_its_inputs_before_creating_out(
    files: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = files / "never"
    argv = [
        "simulate",
        "--workload",
        str(files / "w"),
        "--wlm",
        str(files / "syntax.json"),
        "--out",
        str(out),
    ]
    assert "syntax.json" in _error(capsys, argv)
    assert not out.exists()


def test_permission_error_names_the_file(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def refuse(path: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr("dpcsim.cli.wlm.read_wlm_config", refuse)
    line = _error(capsys, ["wlm", "check", "secret/wlm.json"])
    assert line == (
        "dpcsim wlm: error: secret/wlm.json: permission denied; "
        "expected a file you can read or write"
    )


def test_other_os_errors_are_one_line_with_exit_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def full_disk(path: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr("dpcsim.cli.wlm.read_wlm_config", full_disk)
    assert main(["wlm", "check", "wlm.json"]) == 1
    err = capsys.readouterr().err
    assert err == "dpcsim wlm: error: wlm.json: No space left on device\n"


def test_negative_range_extra_is_a_usage_error(
    files: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "alarms",
        "--alarms",
        "design",
        "--metrics",
        str(files),
        "--range-extra",
        "-1",
    ]
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "--range-extra: '-1'; expected an integer >= 0" in err


def test_no_progress_bars_when_stderr_is_not_a_terminal(
    files: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Not --quiet: the bars are off only because capsys is not a terminal.
    argv = ["ingest", str(files / "latin1.csv"), "--strict", "--out", str(files / "o")]
    line = _error(capsys, argv)
    assert "\r" not in line
    assert "%|" not in line


def test_a_bar_closed_by_an_error_erases_its_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def fail_half_way() -> None:
        with _progress.steps_bar(3, "x", enabled=True) as bar:
            bar.update()
            raise ValueError

    with pytest.raises(ValueError):
        fail_half_way()
    err = capsys.readouterr().err
    # Only carriage returns: the error message that follows starts a clean line.
    assert "\n" not in err
    assert err.endswith("\r")

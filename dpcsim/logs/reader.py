"""Read one export file: detect its table and return its rows, rejects and warnings.

:func:`read_export` is the single entry point for every format (CSV, gzip CSV,
parquet, Step Functions JSON). It does not join tables across files or build the
final workload; that is :mod:`dpcsim.logs.ingest`'s job.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import pandas as pd

from dpcsim.logs.combine import combine_logs
from dpcsim.logs.ddl_text import read_ddl_text
from dpcsim.logs.query_metrics import METRIC_TABLES, read_query_metrics
from dpcsim.logs.redset import read_redset
from dpcsim.logs.rejects import empty_rejects
from dpcsim.logs.side_tables import read_load_errors, read_stepfunctions
from dpcsim.logs.source import parse_file, read_json, sniff
from dpcsim.logs.stl_wlm_query import read_stl_wlm_query
from dpcsim.logs.stl_wlm_rule_action import read_stl_wlm_rule_action
from dpcsim.logs.svl_qlog import read_qlog
from dpcsim.logs.sys_query_history import read_sys_query_history

__all__ = ["QUERY_TABLES", "ReadResult", "read_export"]

#: Tables whose rows are queries (the rest are users and side tables).
QUERY_TABLES: Final = (
    "svl_qlog",
    "stl_query",
    "stl_wlm_query",
    "sys_query_history",
    "redset",
)
_KINDS: Final = {
    "svl_qlog": "qlog",
    "stl_query": "qlog",
    "stl_wlm_query": "attempts",
    "sys_query_history": "queries",
    "redset": "queries",
    "stl_load_errors": "load_errors",
    "stl_wlm_rule_action": "rule_actions",
    "stl_ddltext": "ddl",
    "stepfunctions_executions": "elt_runs",
    **dict.fromkeys(METRIC_TABLES, "metrics"),
}


@dataclass(frozen=True, slots=True)
class ReadResult:
    """One file's accepted rows, rejected rows and warnings.

    Attributes
    ----------
    table
        Detected table: ``svl_qlog``, ``stl_query``, ``stl_wlm_query``,
        ``sys_query_history``, ``redset``, ``stl_load_errors``,
        ``stl_wlm_rule_action``, ``stepfunctions_executions``, ``stl_ddltext``,
        ``svl_query_metrics_summary``, ``svl_query_summary``,
        ``sys_query_detail``, ``users``, ``pg_group``, ``user_groups`` or
        ``role_groups``.
    kind
        What ``rows`` holds: ``qlog`` (query-log rows), ``attempts`` (WLM
        attempts), ``queries`` (canonical columns), ``metrics`` (per-query
        memory, spill and QMR metrics), ``rule_actions`` (QMR actions,
        :mod:`dpcsim.logs.stl_wlm_rule_action`), ``ddl`` (statements of
        STL_DDLTEXT, :mod:`dpcsim.logs.ddl_text`), ``load_errors``,
        ``elt_runs`` or ``users`` (the parsed columns as read).
    source
        The file.
    rows
        Accepted rows.
    rejects
        Rejected rows (``source_file, source_row, reason, raw``).
    rows_read
        Data rows in the file (= accepted + rejected).
    warnings
        Messages about approximations (for example upper-bound execution times).
    """

    table: str
    kind: str
    source: str
    rows: pd.DataFrame
    rejects: pd.DataFrame
    rows_read: int
    warnings: tuple[str, ...] = field(default=())

    def queries(self) -> pd.DataFrame:
        """This file's rows as canonical query columns (query tables only).

        Raises
        ------
        ValueError
            When the table holds no queries.
        """
        if self.kind == "queries":
            return self.rows
        if self.kind == "qlog":
            return combine_logs(self.rows, None)[0]
        if self.kind == "attempts":
            return combine_logs(None, self.rows)[0]
        raise ValueError(f"{self.source}: {self.table} holds no queries")


def read_export(path: Path | str, *, strict: bool = False) -> ReadResult:
    """Read one AWS export, detecting the table from its header.

    Parameters
    ----------
    path
        CSV (``psql --csv`` or ``UNLOAD ... FORMAT CSV HEADER``), gzip CSV,
        parquet, or ``aws stepfunctions list-executions`` JSON.
    strict
        Raise :class:`~dpcsim.errors.InputError` at the first bad row instead of
        rejecting it.

    Raises
    ------
    InputError
        Empty file, undecodable bytes, unknown table (the message lists the
        columns seen and the closest known table), missing required column, or
        (strict) a bad row.
    """
    path = Path(path)
    fmt = sniff(path)
    if fmt == "json":
        rows, rejects = read_stepfunctions(read_json(path), path, strict=strict)
        return _result("stepfunctions_executions", str(path), rows, rejects)
    parsed = parse_file(path, fmt)
    table = parsed.spec.name
    if table in ("svl_qlog", "stl_query"):
        rows, rejects = read_qlog(parsed, strict=strict)
    elif table == "stl_wlm_query":
        rows, rejects = read_stl_wlm_query(parsed, strict=strict)
    elif table == "sys_query_history":
        rows, rejects = read_sys_query_history(parsed, strict=strict)
    elif table == "redset":
        rows, rejects = read_redset(parsed, strict=strict)
    elif table == "stl_load_errors":
        rows, rejects = read_load_errors(parsed, strict=strict)
    elif table == "stl_wlm_rule_action":
        rows, rejects = read_stl_wlm_rule_action(parsed, strict=strict)
    elif table == "stl_ddltext":
        # Text pieces are joined per statement: count the file's rows.
        rows, rejects = read_ddl_text(parsed, strict=strict)
        return ReadResult(table, "ddl", str(path), rows, rejects, len(parsed.frame))
    elif table in METRIC_TABLES:
        # Step rows are aggregated per query: count the file's rows, not the output.
        rows, rejects = read_query_metrics(parsed, strict=strict)
        return ReadResult(table, "metrics", str(path), rows, rejects, len(parsed.frame))
    else:
        return ReadResult(
            table, "users", str(path), parsed.frame, empty_rejects(), len(parsed.frame)
        )
    return _result(table, str(path), rows, rejects)


def _result(
    table: str, source: str, rows: pd.DataFrame, rejects: pd.DataFrame
) -> ReadResult:
    """Assemble a ReadResult with the table's warnings."""
    warnings: list[str] = []
    if table in ("svl_qlog", "stl_query") and len(rows):
        warnings.append(
            f"{source}: {table} elapsed time includes queueing; without STL_WLM_QUERY "
            f"the execution time of its {len(rows)} queries is an upper bound"
        )
    if table == "redset" and len(rows):
        warnings.append(
            f"{source}: Redset has no WLM queue; query groups follow the DPC rule in "
            "dpcsim.logs.redset (vacuum/analyze -> dpc_admin, mostly-write users -> "
            "dpc_elt + label elt, others -> dpc_learners)"
        )
    return ReadResult(
        table,
        _KINDS[table],
        source,
        rows,
        rejects,
        len(rows) + len(rejects),
        tuple(warnings),
    )

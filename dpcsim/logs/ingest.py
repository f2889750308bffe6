"""Ingest a set of exports into one canonical workload, with rejects and a summary.

:func:`ingest` reads every file (:func:`dpcsim.logs.reader.read_export`), joins
the query logs with STL_WLM_QUERY (:mod:`dpcsim.logs.combine`), rejects rows that
repeat a query id across files, attaches users and groups, gives each abort its
``stop_cause`` (:mod:`dpcsim.logs.stop_causes`: STL_WLM_RULE_ACTION, the recorded
WLM configuration's timeouts, ``statement_timeout``), sorts by arrival, and,
given a WLM configuration, routes each query to its queue with
:func:`dpcsim.wlm.routing.route_workload`. Every row read is either accepted or
rejected with a reason: ``rows_read == accepted + sum(rejected_by_reason)``.
Writing the outputs is the CLI's job (:mod:`dpcsim.cli.ingest`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import pandas as pd
import pyarrow as pa

from dpcsim.errors import InputError
from dpcsim.logs.combine import NOT_REPLAYED, combine_with_exclusions
from dpcsim.logs.cs_eligibility import cs_eligibility, reason_counts
from dpcsim.logs.ddl_text import ddl_starts
from dpcsim.logs.query_metrics import attach_metrics
from dpcsim.logs.reader import ReadResult, read_export
from dpcsim.logs.rejects import empty_rejects, rejects_frame
from dpcsim.logs.sql_type import partial_evidence
from dpcsim.logs.stl_wlm_rule_action import RULE_ACTION_DTYPES
from dpcsim.logs.stop_causes import cause_counts, stop_causes
from dpcsim.logs.users import UserDirectory, apply_users, read_role_groups, read_users
from dpcsim.schema import (
    ELT_RUN_DTYPES,
    LOAD_ERROR_DTYPES,
    NO_WLM_EVIDENCE,
    Workload,
    empty_frame,
    empty_workload,
    validate_workload,
)

if TYPE_CHECKING:
    from dpcsim.wlm.config import WLMConfig
    from dpcsim.wlm.routing import RoutingResult

__all__ = ["IngestResult", "IngestSummary", "expand_paths", "ingest", "load_logs"]


@dataclass(frozen=True, slots=True, kw_only=True)
class IngestSummary:
    """Counts that account for every row read.

    Attributes
    ----------
    rows_read
        Data rows over all query and side-table files.
    accepted
        Rows kept (folded restarts count as accepted).
    rejected_by_reason
        Rejected rows per reason.
    queries
        Canonical queries (one per task).
    warnings
        Approximations and fallbacks, each with its count.
    per_queue
        Queries per queue (routed when a WLM config was given, else observed;
        ``<unknown>`` when neither).
    per_path
        Queries per routing path (empty without a WLM config).
    per_file
        File -> (table, rows read, rejected).
    cs_ineligible_by_reason
        Queries kept off Concurrency Scaling per reason
        (:mod:`dpcsim.logs.cs_eligibility`), and those without SQL text.
    not_replayed
        Queries read correctly but left out of the replay, per reason (system and
        maintenance service classes, leader-node statements, stored-procedure
        CALL rows); they are in ``rejects.csv`` with a ``not replayed:`` reason.
    stop_causes
        Aborted queries per ``stop_cause`` (:mod:`dpcsim.logs.stop_causes`);
        printed when the exports showed a WLM cause for any of them.
    """

    rows_read: int
    accepted: int
    rejected_by_reason: dict[str, int]
    queries: int
    warnings: tuple[str, ...] = ()
    per_queue: dict[str, int] = field(default_factory=dict)
    per_path: dict[str, int] = field(default_factory=dict)
    per_file: dict[str, tuple[str, int, int]] = field(default_factory=dict)
    cs_ineligible_by_reason: dict[str, int] = field(default_factory=dict)
    not_replayed: dict[str, int] = field(default_factory=dict)
    stop_causes: dict[str, int] = field(default_factory=dict)

    def lines(self) -> list[str]:
        """The summary as printable lines."""
        rejected = sum(self.rejected_by_reason.values())
        out = [
            f"rows read: {self.rows_read} "
            f"(accepted {self.accepted} + rejected {rejected})"
        ]
        out += [
            f"  {f}: {t}, {n} rows, {r} rejected"
            for f, (t, n, r) in self.per_file.items()
        ]
        out += [
            f"  rejected, {k}: {v}" for k, v in sorted(self.rejected_by_reason.items())
        ]
        out += [
            f"  not replayed (takes no user-queue slot), {k}: {v}"
            for k, v in sorted(self.not_replayed.items())
        ]
        out.append(f"queries: {self.queries}")
        if self.per_queue:
            out.append("  per queue: " + _counts(self.per_queue))
        # Paths no query took are left out: the counts still sum to the queries.
        paths = {k: v for k, v in self.per_path.items() if v}
        if paths:
            out.append("  per routing path: " + _counts(paths))
        if self.cs_ineligible_by_reason:
            out.append(
                "  not scaling-eligible: " + _counts(self.cs_ineligible_by_reason)
            )
        if set(self.stop_causes) - {NO_WLM_EVIDENCE}:
            out.append("  aborted, by stop cause: " + _counts(self.stop_causes))
        out += [f"warning: {w}" for w in self.warnings]
        return out


def _counts(counts: Mapping[str, int]) -> str:
    """``name count, name count, ...`` in the mapping's order."""
    return ", ".join(f"{k} {v}" for k, v in counts.items())


@dataclass(frozen=True, slots=True, kw_only=True)
class IngestResult:
    """What :func:`ingest` returns.

    Attributes
    ----------
    workload
        Canonical queries plus the ELT-run and load-error side tables.
    rejects
        Rejected rows: ``source_file, source_row, reason, raw``.
    summary
        Row accounting and per-queue / per-path counts.
    superusers
        Superuser names from the users export (for routing).
    """

    workload: Workload
    rejects: pd.DataFrame
    summary: IngestSummary
    superusers: frozenset[str] = frozenset()


#: ``statement_timeout``'s largest value [ms] (the parameter's allowed range).
_MAX_STATEMENT_TIMEOUT_MS: Final = 2147483647


def ingest(
    paths: Sequence[Path | str],
    *,
    users: Path | str | Iterable[Path | str] | UserDirectory | None = None,
    role_groups: Mapping[str, Iterable[str]] | Path | str | None = None,
    wlm: Path | str | WLMConfig | None = None,
    recorded: Path | str | WLMConfig | None = None,
    statement_timeout_ms: int = 0,
    strict: bool = False,
    progress: bool = False,
) -> IngestResult:
    """Read exports into one canonical workload.

    Parameters
    ----------
    paths
        Export files (query logs, STL_WLM_RULE_ACTION, STL_LOAD_ERRORS, Step
        Functions JSON; user exports given here are used as ``users``), or
        folders of them (UNLOAD part files).
    users
        User/group exports or a ready :class:`UserDirectory`.
    role_groups
        IAM role -> groups (mapping or ``role,group`` CSV).
    wlm
        ``wlm_json_configuration`` file or a :class:`~dpcsim.wlm.config.WLMConfig`:
        route every query to its queue.
    recorded
        The configuration the log was recorded under (file or config): its
        queues' ``max_execution_time`` tell a WLM timeout from a user's cancel
        (``stop_cause``, :mod:`dpcsim.logs.stop_causes`). None: no abort is
        put down to a WLM timeout.
    statement_timeout_ms
        The recorded cluster's ``statement_timeout`` [ms]; 0 (unknown or off):
        no abort is put down to it.
    strict
        Raise at the first bad row instead of rejecting.
    progress
        Show a progress bar over the files.

    Raises
    ------
    InputError
        Bad files (see :func:`~dpcsim.logs.reader.read_export`), or no paths.
    """
    if not paths:
        raise InputError("no export files given; expected at least one log file")
    if not 0 <= statement_timeout_ms <= _MAX_STATEMENT_TIMEOUT_MS:
        raise InputError(
            f"statement_timeout_ms={statement_timeout_ms!r}; expected 0 (unknown or "
            f"off) or a timeout up to {_MAX_STATEMENT_TIMEOUT_MS} [ms]",
            location="statement_timeout_ms",
        )
    paths = expand_paths(paths)
    from tqdm import tqdm  # here: reading a canonical workload does not need it

    # The context manager erases the bar before an InputError reaches the caller.
    with tqdm(
        paths, desc="ingest", unit="file", disable=not progress, leave=False
    ) as bar:
        results = [read_export(p, strict=strict) for p in bar]
    user_files = [r.source for r in results if r.kind == "users"]
    directory = _directory(users, user_files, role_groups)
    parts = {
        k: [r for r in results if r.kind == k]
        for k in ("qlog", "attempts", "queries", "rule_actions")
    }
    _refuse_mixed_id_spaces(results)
    extra_rejects: list[pd.DataFrame] = []
    qlog_parts, text_warnings = _merge_qlog_tables(parts["qlog"])
    qlog = _dedupe(qlog_parts, ["query_id"], strict, extra_rejects)
    attempts = _dedupe(
        parts["attempts"], ["query_id", "service_class"], strict, extra_rejects
    )
    combined, warnings, not_replayed = combine_with_exclusions(qlog, attempts)
    warnings = text_warnings + warnings
    extra_rejects.append(not_replayed)
    frames = [combined] if len(combined.columns) else []
    frames += [r.rows for r in parts["queries"]]
    queries = _unique_queries(frames, strict, extra_rejects)
    # The query rows are in ``queries`` now: the files' frames go (the summary
    # reads their counts, not their rows), so they are not held to the end.
    del qlog, qlog_parts, combined, frames
    results = _without_rows(results, ("qlog", "queries"))
    parts["qlog"] = parts["queries"] = []
    if directory is not None and len(queries):
        queries = apply_users(queries, directory)
    queries = attach_metrics(queries, [r.rows for r in results if r.kind == "metrics"])
    causes: dict[str, int] = {}
    if len(queries):
        queries, causes, more = _stop_causes(
            queries, parts["rule_actions"], attempts, recorded, statement_timeout_ms
        )
        warnings += more
    del attempts
    results = _without_rows(results, ("attempts",))
    parts.clear()
    warnings += _order_warning(queries)
    warnings += _partial_warning(queries)
    workload = Workload(
        queries=validate_workload(queries) if len(queries) else empty_workload(),
        elt_runs=_side(results, "elt_runs", ELT_RUN_DTYPES, "start_at"),
        load_errors=_side(results, "load_errors", LOAD_ERROR_DTYPES, "error_at"),
    )
    ddl = ddl_starts([r.rows for r in results if r.kind == "ddl"])
    workload, cs_reasons = _classify_cs(workload, ddl)
    supers = directory.superusers if directory is not None else frozenset()
    per_path: dict[str, int] = {}
    if wlm is not None and len(workload.queries):
        workload, per_path = _route(workload, wlm, supers)
    rejects = pd.concat(
        [empty_rejects(), *[r.rejects for r in results], *extra_rejects],
        ignore_index=True,
    )
    summary = _summary(results, rejects, workload, warnings, per_path)
    summary = replace(summary, cs_ineligible_by_reason=cs_reasons, stop_causes=causes)
    return IngestResult(
        workload=workload, rejects=rejects, summary=summary, superusers=supers
    )


def _without_rows(
    results: list[ReadResult], kinds: tuple[str, ...]
) -> list[ReadResult]:
    """``results`` with the rows of ``kinds`` dropped (counts and rejects kept)."""
    return [
        replace(r, rows=r.rows.iloc[0:0]) if r.kind in kinds else r for r in results
    ]


def load_logs(
    paths: Sequence[Path | str],
    wlm: WLMConfig | None = None,
    *,
    recorded: WLMConfig | None = None,
    statement_timeout_ms: int = 0,
) -> tuple[Workload, RoutingResult | None, int]:
    """A canonical workload, or exports ingested: the workload, routing, rejects.

    One ``workload.parquet`` (or a folder holding one) is read as it is and not
    routed (the engine routes it). Anything else is ingested (:func:`ingest`);
    with ``wlm`` its routing honours the superusers the users export names.
    ``recorded`` and ``statement_timeout_ms`` (the recorded configuration and
    ``statement_timeout`` [ms]) tell timeouts from user cancels as
    :func:`ingest` does; ``wlm`` is the configuration routed under, which need
    not be the recorded one, so it is never used for that.

    Returns
    -------
    tuple
        The workload, its routing under ``wlm`` (None for a canonical workload
        or without ``wlm``) and the number of rejected rows.

    Raises
    ------
    FileNotFoundError
        A path that does not exist.
    InputError
        No export files, or bad ones.
    """
    from dpcsim.logs.store import read_workload
    from dpcsim.wlm.routing import route_workload

    given = [Path(p) for p in paths]
    for path in given:
        if not path.exists():
            raise FileNotFoundError(2, "No such file or directory", str(path))
    first = given[0]
    canonical = first.suffix == ".parquet" or (first / "workload.parquet").is_file()
    if len(given) == 1 and canonical:
        return read_workload(first), None, 0
    files = [f for p in given for f in _visible_files(p)]
    if not files:
        raise InputError("no export files found; expected log files", source=str(first))
    ingested = ingest(
        files, wlm=wlm, recorded=recorded, statement_timeout_ms=statement_timeout_ms
    )
    routing = None
    if wlm is not None:
        routing = route_workload(
            wlm, ingested.workload.queries, superusers=ingested.superusers
        )
    return ingested.workload, routing, len(ingested.rejects)


def _visible_files(path: Path) -> list[Path]:
    """A file itself, or the visible files directly inside a directory, sorted."""
    if not path.is_dir():
        return [path]
    return sorted(
        p for p in path.iterdir() if p.is_file() and not p.name.startswith(".")
    )


def expand_paths(paths: Sequence[Path | str]) -> list[Path]:
    """Files of ``paths``, a folder standing for the files in it (sorted by name).

    ``UNLOAD`` writes a folder of part files (``0000_part_00``, ...); dot files,
    ``_SUCCESS``-style markers and UNLOAD's ``manifest`` are not exports.

    Raises
    ------
    InputError
        A path that does not exist, or a folder with no export files.
    """
    out: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files = sorted(
                p
                for p in path.iterdir()
                if p.is_file()
                and not p.name.startswith((".", "_"))
                and not p.name.endswith("manifest")
            )
            if not files:
                raise InputError(
                    "folder holds no export files; expected UNLOAD part files or "
                    "CSV exports",
                    source=str(path),
                )
            out += files
        elif not path.exists():
            raise InputError("no such file; expected an export file", source=str(path))
        else:
            out.append(path)
    return out


def _refuse_mixed_id_spaces(results: list[ReadResult]) -> None:
    """SYS_QUERY_HISTORY's ``query_id`` is not STL/SVL's ``query``: never mix them."""
    sys_files = [r.source for r in results if r.table == "sys_query_history"]
    stl_files = [
        r.source
        for r in results
        if r.table in ("svl_qlog", "stl_query", "stl_wlm_query", "stl_wlm_rule_action")
    ]
    if sys_files and stl_files:
        raise InputError(
            "SYS_QUERY_HISTORY's query_id is another id space than the query column "
            "of SVL_QLOG/STL_QUERY/STL_WLM_QUERY/STL_WLM_RULE_ACTION "
            f"({', '.join(stl_files)}): the same "
            "statement would be counted twice or joined to the wrong one; expected "
            "either SYS_QUERY_HISTORY alone or the STL/SVL tables, in separate "
            "ingest runs",
            source=sys_files[0],
        )


def _merge_qlog_tables(
    results: list[ReadResult],
) -> tuple[list[ReadResult], list[str]]:
    """SVL_QLOG and STL_QUERY rows of the same query: keep the longer text.

    SVL_QLOG keeps 60 characters of the SQL, STL_QUERY up to 4000; a query in
    both is one query, whatever the order the files were given in.
    """
    tables = {r.table for r in results}
    if not {"svl_qlog", "stl_query"} <= tables:
        return results, []
    frame = pd.concat([r.rows for r in results], ignore_index=True)
    length = frame["text"].astype("string").str.len().fillna(-1).to_numpy()
    from_stl = np.concatenate(
        [np.full(len(r.rows), r.table == "stl_query") for r in results]
    )
    order = np.lexsort((~from_stl, -length))  # longest text first, STL_QUERY on ties
    ranked = frame.iloc[order]
    table_of = np.concatenate([np.full(len(r.rows), r.table) for r in results])[order]
    # Only pairs across the two tables merge; repeats within one table stay repeats.
    key = (
        ranked["query_id"].astype("string")
        + "|"
        + pd.Series(table_of, index=ranked.index)
    )
    within = key.duplicated(keep="first").to_numpy()
    across = ranked["query_id"].duplicated(keep="first").to_numpy() & ~within
    merged = int(across.sum())
    kept = ranked.loc[~across].sort_index(kind="stable")
    first = results[0]
    combined = ReadResult(
        "svl_qlog+stl_query",
        "qlog",
        first.source,
        kept.reset_index(drop=True),
        first.rejects,
        len(kept),
    )
    msg = (
        [
            f"{merged} queries are in both SVL_QLOG and STL_QUERY: one row each, "
            "with the longer SQL text"
        ]
        if merged
        else []
    )
    return [combined], msg


def _directory(
    users: Any, user_files: list[str], role_groups: Any
) -> UserDirectory | None:
    """Build the user directory from the inputs (None when there is nothing)."""
    if isinstance(users, UserDirectory):
        if role_groups is None:
            return users
        roles = {**users.role_groups, **read_role_groups(role_groups)}
        return UserDirectory(
            names=users.names,
            groups=users.groups,
            superusers=users.superusers,
            role_groups=roles,
        )
    files: list[Path | str] = list(user_files)
    if users is not None:
        files += [users] if isinstance(users, Path | str) else list(users)
    if not files and role_groups is None:
        return None
    return read_users(files, role_groups=role_groups)


def _dedupe(
    results: list[ReadResult],
    keys: list[str],
    strict: bool,
    rejects: list[pd.DataFrame],
) -> pd.DataFrame | None:
    """Concatenate same-kind files, rejecting rows whose key an earlier file had."""
    if not results:
        return None
    if len(results) == 1:
        return results[0].rows
    frame = pd.concat([r.rows for r in results], ignore_index=True)
    dup = frame.duplicated(keys, keep="first").to_numpy()
    if dup.any():
        rejects.append(_duplicate_rejects(frame.loc[dup], strict))
    return frame.loc[~dup].reset_index(drop=True)


def _unique_queries(
    frames: list[pd.DataFrame], strict: bool, rejects: list[pd.DataFrame]
) -> pd.DataFrame:
    """Concatenate canonical parts, rejecting repeated query ids across tables."""
    if not frames:
        return pd.DataFrame()
    frame = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    dup = frame["query_id"].duplicated(keep="first").to_numpy()
    if dup.any():
        rejects.append(_duplicate_rejects(frame.loc[dup], strict))
        frame = frame.loc[~dup].reset_index(drop=True)
    return _fill_defaults(frame)


#: Values for cells a table does not have, after tables are concatenated.
_DEFAULTS: dict[str, object] = {
    "user_id": 0,
    "query_group": "default",
    "exec_is_upper_bound": False,
    "slot_count": 1,
    "aborted": False,
    "cache_hit": False,
    "ran_on_cs": False,
}


def _fill_defaults(frame: pd.DataFrame) -> pd.DataFrame:
    """Fill cells left empty by concatenating tables with different columns."""
    out = frame.copy(deep=False)
    if "task_id" in out:
        out["task_id"] = out["task_id"].fillna(out["query_id"])
    for col, value in _DEFAULTS.items():
        if col in out and bool(out[col].isna().any()):
            out[col] = out[col].fillna(value)  # type: ignore[arg-type]
    return out


def _duplicate_rejects(rows: pd.DataFrame, strict: bool) -> pd.DataFrame:
    """Rejects for rows repeating a query id seen in an earlier file."""
    first = rows.iloc[0]
    if strict:
        raise InputError(
            f"duplicate query id: query={first['query_id']} was already read from an "
            "earlier file; expected each query id once",
            source=str(first["source_file"]),
            location=f"row {first['source_row']}, column 'query'",
        )
    shown = rows.drop(columns=["source_file", "source_row"]).astype("string").fillna("")
    return rejects_frame(
        source_file=rows["source_file"].astype("string").to_numpy(),
        source_row=rows["source_row"].to_numpy(dtype="int64"),
        column="query",
        reason="duplicate query id",
        raw=shown.agg(",".join, axis=1).to_numpy(),
    )


def _partial_warning(queries: pd.DataFrame) -> list[str]:
    """Count statements typed from partial evidence (text cut inside a comment)."""
    if not len(queries) or "query_text" not in queries:
        return []
    text = pa.array(queries["query_text"].astype("string").array, type=pa.string())
    cut = partial_evidence(text)
    if not cut:
        return []
    return [
        f"{cut} statements were classified from partial evidence: their logged text "
        "ends inside a leading comment (a dbt JSON comment cut at SVL_QLOG's 60 "
        "characters), so the dbt node type decided where the comment names it, "
        "else 'other'; give STL_QUERY or SYS_QUERY_HISTORY for the full text"
    ]


def _order_warning(queries: pd.DataFrame) -> list[str]:
    """Count rows that arrived before their predecessor (they get sorted)."""
    if not len(queries):
        return []
    arrival = queries["arrival_at"].to_numpy(dtype="datetime64[us]")
    back = int(np.count_nonzero(arrival[1:] < arrival[:-1]))
    return [f"{back} rows were out of arrival order; sorted by arrival"] if back else []


def _side(
    results: list[ReadResult], kind: str, dtypes: dict[str, str], key: str
) -> pd.DataFrame:
    """Concatenate a side table over files, sorted by time."""
    frames = [r.rows for r in results if r.kind == kind]
    if not frames:
        return empty_frame(dtypes)
    frame = pd.concat(frames, ignore_index=True).astype(dtypes)
    return frame.sort_values(key, kind="stable").reset_index(drop=True)


def _stop_causes(
    queries: pd.DataFrame,
    rule_results: list[ReadResult],
    attempts: pd.DataFrame | None,
    recorded: Any,
    statement_timeout_ms: int,
) -> tuple[pd.DataFrame, dict[str, int], list[str]]:
    """Set ``stop_cause`` from the exports' evidence; count the causes."""
    from dpcsim.wlm.io import read_wlm_config

    config = read_wlm_config(recorded) if isinstance(recorded, Path | str) else recorded
    frames = [r.rows for r in rule_results]
    actions = (
        pd.concat(frames, ignore_index=True).astype(RULE_ACTION_DTYPES)
        if frames
        else None
    )
    causes, warnings = stop_causes(
        queries,
        rule_actions=actions,
        attempts=attempts,
        recorded=config,
        statement_timeout_ms=statement_timeout_ms,
    )
    out = queries.copy(deep=False)
    out["stop_cause"] = causes
    return out, cause_counts(causes), warnings


def _classify_cs(workload: Workload, ddl: pd.Series) -> tuple[Workload, dict[str, int]]:
    """Set ``cs_eligible`` from the SQL and the log; count the reasons.

    ``ddl``: first DDL start per transaction id from STL_DDLTEXT.
    """
    frame = workload.queries
    if not len(frame):
        return workload, {}
    eligible, reason = cs_eligibility(frame, ddl_starts=ddl if len(ddl) else None)
    queries = frame.copy(deep=False)
    queries["cs_eligible"] = eligible
    counts = reason_counts(reason, frame["query_text"])
    return replace(workload, queries=queries), counts


def _route(
    workload: Workload, wlm: Any, superusers: frozenset[str]
) -> tuple[Workload, dict[str, int]]:
    """Route queries with the WLM config; return the routed workload and path counts."""
    from dpcsim.wlm.io import read_wlm_config
    from dpcsim.wlm.routing import route_workload

    config = read_wlm_config(wlm) if isinstance(wlm, Path | str) else wlm
    routing = route_workload(config, workload.queries, superusers=superusers)
    queries = workload.queries.copy(deep=False)
    queries["queue"] = pd.Series(
        np.asarray(routing.queue, dtype=object), dtype="string"
    )
    routed = Workload(
        queries=queries, elt_runs=workload.elt_runs, load_errors=workload.load_errors
    )
    return routed, {str(k): int(v) for k, v in routing.counts.items()}


def _summary(
    results: list[ReadResult],
    rejects: pd.DataFrame,
    workload: Workload,
    warnings: list[str],
    per_path: dict[str, int],
) -> IngestSummary:
    """Account for every row read."""
    counted = [r for r in results if r.kind != "users"]
    rows_read = sum(r.rows_read for r in counted)
    reasons = rejects["reason"].astype(str)
    skipped = reasons.str.startswith(NOT_REPLAYED).to_numpy()
    by_reason = dict(Counter(reasons[~skipped]))
    not_replayed = {
        k[len(NOT_REPLAYED) :]: v for k, v in Counter(reasons[skipped]).items()
    }
    real = rejects.loc[~skipped]
    queue = workload.queries["queue"].astype("string").fillna("<unknown>")
    file_rejects: dict[str, int] = {
        str(k): int(v) for k, v in real["source_file"].value_counts().items()
    }
    return IngestSummary(
        rows_read=rows_read,
        accepted=rows_read - len(real),
        rejected_by_reason=by_reason,
        queries=len(workload.queries),
        # Query-log warnings come from the join, which knows whether WLM rows exist.
        warnings=tuple(
            w for r in results if r.kind not in ("qlog", "attempts") for w in r.warnings
        )
        + tuple(warnings),
        per_queue={
            str(k): int(v)
            for k, v in queue.value_counts(sort=False).sort_index().items()
        },
        per_path=per_path,
        not_replayed=not_replayed,
        per_file={
            r.source: (r.table, r.rows_read, file_rejects.get(r.source, 0))
            for r in counted
        },
    )

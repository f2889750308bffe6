"""What every command replaying a workload must say about where it came from.

Facts about an ingested workload that change how far a replay can be trusted are
stored in the canonical workload itself (``exec_is_upper_bound`` per query), so
they survive ``workload.parquet``; :func:`replay_warnings` turns them into the
messages ``simulate`` and every later command prints on each run.
:func:`routing_report` does the same for routing: the paths the queries took
(as ``ingest --wlm`` prints them) and a warning when the configuration's user
groups or roles match none of the workload's users, so every query fell to the
default queue without a word.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

import pandas as pd

from dpcsim.errors import InputError

if TYPE_CHECKING:
    from dpcsim.wlm.config import WLMConfig
    from dpcsim.wlm.routing import RoutingResult

__all__ = ["replay_warnings", "require_queries", "routing_report"]


def require_queries(queries: pd.DataFrame, source: str) -> None:
    """Refuse to replay a workload with no queries (header only, all rejected).

    Raises
    ------
    InputError
        ``no queries to replay``, naming ``source``.
    """
    if not len(queries):
        raise InputError(
            "no queries to replay: the workload is empty (a header-only export, "
            "or every row rejected: see rejects.csv of dpcsim ingest); expected "
            "at least one query",
            source=source,
        )


def replay_warnings(queries: pd.DataFrame) -> list[str]:
    """Warnings a replay of ``queries`` must print (empty when there are none).

    Examples
    --------
    >>> q = pd.DataFrame({"exec_is_upper_bound": [True, False, True]})
    >>> replay_warnings(q)[0].split(":")[0]
    '2 of 3 queries have exec_s from SVL_QLOG/STL_QUERY elapsed time alone'
    """
    out: list[str] = []
    if "exec_is_upper_bound" in queries.columns and len(queries):
        upper = int(queries["exec_is_upper_bound"].to_numpy(dtype=bool).sum())
        if upper:
            out.append(
                f"{upper} of {len(queries)} queries have exec_s from SVL_QLOG/"
                "STL_QUERY elapsed time alone: it includes the original queueing, "
                "so their execution times are upper bounds (give STL_WLM_QUERY "
                "to ingest for the queue/execution split)"
            )
    return out


def routing_report(
    config: WLMConfig,
    queries: pd.DataFrame,
    *,
    superusers: Collection[str] = (),
    routing: RoutingResult | None = None,
) -> tuple[list[str], list[str]]:
    """(lines, warnings) describing how ``queries`` route under ``config``.

    ``lines`` gives queries per routing path (paths no query took left out);
    ``warnings`` says when the configuration names user groups or roles and no
    query matched any of them: every such query went to the default queue.
    """
    from dpcsim.wlm.routing import route_workload

    result = routing or route_workload(config, queries, superusers=superusers)
    taken = {k: v for k, v in result.counts.items() if v}
    lines = ["routing paths: " + ", ".join(f"{k} {v}" for k, v in taken.items())]
    warnings: list[str] = []
    groups = sorted({g for q in config.queues for g in q.user_group})
    roles = sorted({r for q in config.queues for r in q.user_role})
    matched = result.counts.get("user_group", 0) + result.counts.get("user_role", 0)
    if (groups or roles) and len(queries) and not matched:
        known = _distinct(queries, "user_groups")
        named = ", ".join([*groups, *roles][:6])
        seen = ", ".join(known[:6]) if known else "none (no users export given?)"
        default_n = result.counts.get("default_no_match", 0) + result.counts.get(
            "default_no_groups", 0
        )
        warnings.append(
            f"the WLM configuration's user groups/roles ({named}) match none of the "
            f"workload's users (their groups: {seen}); {default_n} of "
            f"{len(queries)} queries fell to the default queue"
        )
    return lines, warnings


def _distinct(queries: pd.DataFrame, column: str) -> list[str]:
    """Distinct comma-separated names in a column, sorted."""
    if column not in queries.columns:
        return []
    values = queries[column].dropna().astype(str).unique()
    names = {n.strip() for v in values for n in v.split(",") if n.strip()}
    return sorted(names)

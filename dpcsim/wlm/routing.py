"""Queue assignment exactly as Redshift does it, for one query or a whole workload.

Redshift's rules (Developer Guide, "WLM queue assignment rules"):

1. A superuser whose query group is ``superuser`` runs in the superuser queue
   (returned as index -1).
2. Otherwise the query runs in the **first queue in array order** where one of
   the user's groups (or roles) matches the queue's ``user_group``
   (``user_role``) list, **or** the session's query group matches its
   ``query_group`` list. There is no precedence of user group over query group.
3. Otherwise it runs in the default queue, the last one.

Matching ignores case. With a ``*_wild_card`` flag set, ``*`` matches any run of
characters and ``?`` exactly one; every other character, ``[`` included, is
literal (Redshift has no character classes). Without the flag a name matches
only itself. A hop (:func:`next_matching_queue`) goes to the next matching queue
after the current one and never falls back to the default queue.

:func:`route_workload` routes a canonical workload frame. Where the log has a
user's groups (``user_groups`` not NA) it applies the rules above. Where it
does not, it falls back in this documented order: the observed service class
(6+i manual or 100+i auto means queue i, 5 the superuser queue; 14 = SQA does
not tell the queue, so the fallback continues), then a query-group match, then
the default queue. Each row's path is reported (:data:`PATHS`).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

import numpy as np
import pandas as pd

from dpcsim.wlm.config import SUPERUSER_QUEUE, QueueConfig, WLMConfig

__all__ = [
    "PATHS",
    "RoutingResult",
    "compile_pattern",
    "next_matching_queue",
    "route",
    "route_workload",
    "split_groups",
]

#: How a row was routed, in report order. When one queue matches on several
#: lists, the label is query_group, then user_group, then user_role.
PATHS: Final = (
    "superuser",
    "query_group",
    "user_group",
    "user_role",
    "observed_service_class",
    "default_no_match",
    "default_no_groups",
)
_PATH_CODE: Final = {p: i for i, p in enumerate(PATHS)}


@dataclass(frozen=True)
class RoutingResult:
    """Queue of every workload row and how it was chosen.

    Attributes
    ----------
    queue_index
        int64 per row: index into ``config.queues``, -1 for the superuser queue.
    queue
        Queue name per row (``superuser`` for -1), string dtype, the frame's index.
    path
        One of :data:`PATHS` per row, string dtype.
    counts
        Rows per path, every path listed (zeros included).
    """

    queue_index: np.ndarray
    queue: pd.Series
    path: pd.Series
    counts: dict[str, int]


def route(
    config: WLMConfig,
    *,
    user_groups: Sequence[str] | None,
    query_group: str | None,
    user_roles: Sequence[str] = (),
    is_superuser: bool = False,
) -> int:
    """Return the queue index a query runs in (-1 = superuser queue).

    Parameters
    ----------
    config
        The WLM configuration.
    user_groups
        The user's database groups (a comma-separated string is split); None
        when unknown (treated as none).
    query_group
        The session's ``query_group`` label; None when not set.
    user_roles
        The user's roles, matched against ``user_role``.
    is_superuser
        Whether the user is a superuser.

    Examples
    --------
    >>> from dpcsim.wlm.config import QueueConfig
    >>> cfg = WLMConfig(queues=(QueueConfig(name="dba", user_group=("dba?1",),
    ...     user_group_wild_card=True), QueueConfig(name="Default queue")))
    >>> route(cfg, user_groups=["DBA11"], query_group=None)
    0
    >>> route(cfg, user_groups=["dba12"], query_group=None)
    1
    """
    if is_superuser and _is_superuser_label(query_group):
        return -1
    groups, roles = _as_names(user_groups), _as_names(user_roles)
    found = _first_match(config, 0, groups, query_group, roles)
    return config.default_index if found is None else found[0]


def next_matching_queue(
    config: WLMConfig,
    after: int,
    *,
    user_groups: Sequence[str] | None,
    query_group: str | None,
    user_roles: Sequence[str] = (),
) -> int | None:
    """Return the next matching queue after index ``after``, or None (cancel).

    A hop never falls back to the default queue: with no later match, Redshift
    cancels the query.
    """
    if not 0 <= after < len(config.queues):
        raise ValueError(
            f"after={after}: expected a queue index in 0..{len(config.queues) - 1}"
        )
    groups, roles = _as_names(user_groups), _as_names(user_roles)
    found = _first_match(config, after + 1, groups, query_group, roles)
    return None if found is None else found[0]


def route_workload(
    config: WLMConfig, queries: pd.DataFrame, *, superusers: Collection[str] = ()
) -> RoutingResult:
    """Route every row of a canonical workload frame.

    Uses ``user_groups`` (comma-separated, NA = unknown), ``query_group``,
    ``user_name``, ``service_class`` and, when present, ``user_roles``; missing
    columns count as unknown. Routing runs once per distinct combination of
    these values, so a million rows take a fraction of a second.

    Parameters
    ----------
    config
        The WLM configuration.
    queries
        Canonical workload frame (see :mod:`dpcsim.schema`).
    superusers
        User names that are superusers.

    Returns
    -------
    RoutingResult
        Per-row queue index, name and path, plus the count per path.
    """
    n = len(queries)
    groups = _column(queries, "user_groups", n)
    qgroup = _column(queries, "query_group", n)
    roles = _column(queries, "user_roles", n)
    g_codes, g_uniq = pd.factorize(groups, use_na_sentinel=True)
    q_codes, q_uniq = pd.factorize(qgroup, use_na_sentinel=True)
    r_codes, r_uniq = pd.factorize(roles, use_na_sentinel=True)
    su = _superuser_rows(queries, superusers, q_codes, q_uniq, n)
    sc = _service_class(queries, n)
    sc[g_codes >= 0] = -2  # the observed class only matters when groups are unknown
    codes = _combine([g_codes, q_codes, r_codes, sc, su.astype(np.int64)])
    first = _first_rows(codes)  # one row per combination
    index = np.empty(len(first), dtype=np.int64)
    path = np.empty(len(first), dtype=np.int64)
    for k, row in enumerate(first):
        i, p = _route_row(
            config,
            groups=None if g_codes[row] < 0 else str(g_uniq[g_codes[row]]),
            query_group=None if q_codes[row] < 0 else str(q_uniq[q_codes[row]]),
            roles=None if r_codes[row] < 0 else str(r_uniq[r_codes[row]]),
            service_class=None if sc[row] < 0 else int(sc[row]),
            superuser=bool(su[row]),
        )
        index[k], path[k] = i, _PATH_CODE[p]
    return _result(config, index[codes], path[codes], queries.index)


def split_groups(value: str | None) -> tuple[str, ...]:
    """Split a comma-separated ``user_groups`` value into stripped names."""
    if not value:
        return ()
    return tuple(s.strip() for s in value.split(",") if s.strip())


def compile_pattern(names: Sequence[str], wild_card: bool) -> re.Pattern[str] | None:
    """Compile names into one case-insensitive full-match pattern (None if empty).

    With ``wild_card``, ``*`` is any run and ``?`` one character; everything
    else (``[`` included) is literal.
    """
    if not names:
        return None
    parts = [_translate(n) if wild_card else re.escape(n) for n in names]
    return re.compile("(?:" + "|".join(parts) + ")", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class _QueueMatcher:
    """Compiled patterns of one queue."""

    user_group: re.Pattern[str] | None
    user_role: re.Pattern[str] | None
    query_group: re.Pattern[str] | None


def _translate(pattern: str) -> str:
    """Redshift wildcard -> regex: only ``*`` and ``?`` are special."""
    return "".join(
        ".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern
    )


@lru_cache(maxsize=64)
def _matchers(config: WLMConfig) -> tuple[_QueueMatcher, ...]:
    """Compile every queue's patterns once per configuration."""
    return tuple(_matcher(q) for q in config.queues)


def _matcher(q: QueueConfig) -> _QueueMatcher:
    """Compile one queue's three lists."""
    return _QueueMatcher(
        user_group=compile_pattern(q.user_group, q.user_group_wild_card),
        user_role=compile_pattern(q.user_role, q.user_role_wild_card),
        query_group=compile_pattern(q.query_group, q.query_group_wild_card),
    )


def _first_match(
    config: WLMConfig,
    start: int,
    groups: Sequence[str],
    query_group: str | None,
    roles: Sequence[str],
) -> tuple[int, str] | None:
    """First queue at or after ``start`` that matches, with the matching list."""
    matchers = _matchers(config)
    for i in range(start, len(matchers)):
        m = matchers[i]
        if (
            m.query_group
            and query_group is not None
            and m.query_group.fullmatch(query_group)
        ):
            return i, "query_group"
        if m.user_group and any(m.user_group.fullmatch(g) for g in groups):
            return i, "user_group"
        if m.user_role and any(m.user_role.fullmatch(r) for r in roles):
            return i, "user_role"
    return None


def _as_names(value: Sequence[str] | str | None) -> Sequence[str]:
    """Names from a sequence, or from a comma-separated string (as in the log)."""
    if value is None:
        return ()
    return split_groups(value) if isinstance(value, str) else value


def _is_superuser_label(query_group: str | None) -> bool:
    """The query group that sends a superuser's query to the superuser queue."""
    return query_group is not None and query_group.strip().casefold() == "superuser"


def _route_row(
    config: WLMConfig,
    *,
    groups: str | None,
    query_group: str | None,
    roles: str | None,
    service_class: int | None,
    superuser: bool,
) -> tuple[int, str]:
    """Route one distinct combination; return (queue index, path)."""
    if superuser:
        return -1, "superuser"
    role_names = split_groups(roles)
    if groups is not None:
        found = _first_match(config, 0, split_groups(groups), query_group, role_names)
        return (
            found if found is not None else (config.default_index, "default_no_match")
        )
    if service_class is not None:
        observed = config.queue_for_service_class(service_class)
        if observed is not None:
            return observed, "observed_service_class"
    found = _first_match(config, 0, (), query_group, role_names)
    return found if found is not None else (config.default_index, "default_no_groups")


def _column(queries: pd.DataFrame, name: str, n: int) -> pd.Series:
    """A string column, or all-NA when the frame lacks it."""
    if name in queries.columns:
        return queries[name].astype("string")
    return (
        pd.Series(pd.NA, index=queries.index, dtype="string")
        if n
        else pd.Series([], dtype="string")
    )


def _superuser_rows(
    queries: pd.DataFrame,
    superusers: Collection[str],
    q_codes: np.ndarray,
    q_uniq: object,
    n: int,
) -> np.ndarray:
    """Rows of a superuser whose query group is ``superuser``."""
    flagged = "is_superuser" in queries.columns and bool(
        queries["is_superuser"].to_numpy(dtype=bool, na_value=False).any()
    )
    if not (superusers or flagged) or "user_name" not in queries.columns:
        return np.zeros(n, dtype=bool)
    labels = np.array([_is_superuser_label(str(v)) for v in q_uniq])  # type: ignore[attr-defined]
    by_label = np.zeros(n, dtype=bool)
    known = q_codes >= 0
    by_label[known] = labels[q_codes[known]]
    is_su = (
        queries["user_name"].isin(list(superusers)).to_numpy(dtype=bool, na_value=False)
    )
    if "is_superuser" in queries.columns:
        is_su = is_su | queries["is_superuser"].to_numpy(dtype=bool, na_value=False)
    return by_label & is_su


def _service_class(queries: pd.DataFrame, n: int) -> np.ndarray:
    """Observed service class as int64, -1 where unknown."""
    if "service_class" not in queries.columns:
        return np.full(n, -1, dtype=np.int64)
    sc = pd.to_numeric(queries["service_class"], errors="coerce").astype("Int64")
    return sc.to_numpy(dtype=np.int64, na_value=-1)


def _combine(parts: list[np.ndarray]) -> np.ndarray:
    """Dense int64 code per distinct tuple of the given code arrays.

    Codes are numbered in order of first appearance (as ``pd.factorize``).
    """
    key = np.zeros(len(parts[0]), dtype=np.int64)
    for codes in parts:
        codes = codes.astype(np.int64)
        shifted = codes - codes.min() if len(codes) else codes
        width = int(shifted.max(initial=0)) + 1
        if width == 1:
            continue  # a constant part leaves the (already dense) key as it is
        key = key * width + shifted
        key = pd.factorize(key)[0].astype(np.int64)
    return key


def _first_rows(codes: np.ndarray) -> np.ndarray:
    """First row of each code, by code: ``np.unique(codes, return_index=True)[1]``.

    The codes are numbered in order of first appearance (:func:`_combine`), so
    code k first appears where the running maximum first reaches k: one
    linear pass instead of a sort.
    """
    if not codes.size:
        return np.zeros(0, dtype=np.int64)
    new = np.empty(codes.size, dtype=bool)
    new[0] = True
    new[1:] = codes[1:] > np.maximum.accumulate(codes)[:-1]
    return np.flatnonzero(new)


def _result(
    config: WLMConfig, index: np.ndarray, path: np.ndarray, row_index: pd.Index
) -> RoutingResult:
    """Assemble per-row names and paths and the per-path counts."""
    # Taking from a small string Series is ~30x faster than casting 1M objects.
    names = pd.Series([*config.queue_names, SUPERUSER_QUEUE], dtype="string")
    queue = names.take(np.where(index < 0, len(names) - 1, index))
    queue.index = row_index
    path_s = pd.Series(list(PATHS), dtype="string").take(path)
    path_s.index = row_index
    tally = (
        np.bincount(path, minlength=len(PATHS))
        if len(path)
        else np.zeros(len(PATHS), dtype=np.int64)
    )
    counts = {p: int(tally[i]) for i, p in enumerate(PATHS)}
    return RoutingResult(
        queue_index=index.astype(np.int64), queue=queue, path=path_s, counts=counts
    )

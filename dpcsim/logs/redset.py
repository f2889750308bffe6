"""Redset per-query exports (parquet or CSV) as canonical queries with DPC queues.

Redset (amazon-science/redset) is anonymised: it has no SQL text, user names,
groups or WLM queue. Units: ``*_duration_ms`` [ms], ``mbytes_*`` [MB];
``arrival_timestamp`` UTC. One file must hold one cluster (``instance_id``),
because query ids are unique per cluster only.

Rule turning a Redset cluster into the DPC queues (``batch`` / ``adhoc`` /
``admin``): Redset carries only ``query_type`` and an anonymous ``user_id``, so

1. ``vacuum`` and ``analyze`` statements are maintenance, run by the DQ and
   VACUUM Lambdas: user group ``dpc_admin`` (queue ``admin``), query group
   ``default``;
2. otherwise, a user is an ELT service user when at least half of its
   statements are writes (``copy``, ``insert``, ``update``, ``delete``,
   ``ctas``, ``unload``): all its statements (reads included: dbt tests) get
   user group ``dpc_elt`` and query group ``elt`` (queue ``batch``);
3. everything else (users who mostly read) is a learner: user group
   ``dpc_learners``, query group ``default`` (the default queue ``adhoc``).

The group names are those of :mod:`dpcsim.designs.dpc_wlm`. ``user_name`` is
``redset:<user_id>``. ``feature_fingerprint`` is the fingerprint;
``was_aborted`` / ``was_cached`` -> ``aborted`` / ``cache_hit``.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd

from dpcsim.errors import InputError
from dpcsim.logs.rejects import Checks
from dpcsim.logs.source import Parsed, as_int64, constant_strings
from dpcsim.logs.sql_type import statement_types_from_query_type

__all__ = ["ELT_SHARE", "read_redset", "redset_query_groups"]

#: Share of write statements above which a Redset user counts as an ELT user.
ELT_SHARE: Final = 0.5
_WRITES: Final = ("copy", "insert", "update", "delete", "ctas", "unload")
_MAINTENANCE: Final = ("vacuum", "analyze")


def read_redset(
    parsed: Parsed, *, strict: bool = False
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Normalise a parsed Redset export into canonical query rows.

    Raises
    ------
    InputError
        When the file mixes several clusters (``instance_id``).
    """
    f = parsed.frame
    if "instance_id" in f:
        ids = f["instance_id"].dropna().unique()
        if len(ids) > 1:
            raise InputError(
                f"holds {len(ids)} clusters (instance_id {sorted(ids)[:5]}...); "
                "expected one cluster's queries: filter by instance_id first",
                source=parsed.source,
                location="column 'instance_id'",
            )
    checks = Checks(parsed, strict)
    checks.require(
        ("query_id", "arrival_timestamp", "execution_duration_ms", "user_id")
    )
    for col in ("queue_duration_ms", "execution_duration_ms", "compile_duration_ms"):
        if col in f:
            checks.add(
                f[col].to_numpy(dtype="float64", na_value=np.nan) < 0,
                col,
                "negative duration",
                f"{col} >= 0 [ms]",
            )
    checks.unique("query_id", "each query_id once per cluster")
    ok, rejects = checks.finish()
    return _canonical(parsed).loc[ok].reset_index(drop=True), rejects


def redset_query_groups(
    statement_type: pd.Series, user_id: pd.Series
) -> tuple[pd.Series, pd.Series]:
    """(query group, user groups) per Redset query under the module's DPC rule."""
    writes = statement_type.isin(_WRITES).astype("float64")
    share = writes.groupby(user_id.to_numpy()).transform("mean").to_numpy()
    elt = share >= ELT_SHARE
    maintenance = statement_type.isin(_MAINTENANCE).to_numpy()
    groups = np.where(elt, "dpc_elt", "dpc_learners").astype(object)
    groups[maintenance] = "dpc_admin"
    labels = np.where(elt & ~maintenance, "elt", "default")
    index = statement_type.index
    return (
        pd.Series(labels, index=index, dtype="string"),
        pd.Series(groups, index=index, dtype="string"),
    )


def _canonical(parsed: Parsed) -> pd.DataFrame:
    """Canonical columns from the typed Redset columns."""
    f = parsed.frame
    n = len(f)
    users = as_int64(f["user_id"])
    types = statement_types_from_query_type(f["query_type"], None)
    labels, groups = redset_query_groups(types, pd.Series(users, index=f.index))

    def num(col: str, scale: float) -> np.ndarray:
        if col not in f:
            return np.full(n, np.nan)
        return np.asarray(f[col].to_numpy(dtype="float64", na_value=np.nan)) * scale

    def flag(col: str) -> np.ndarray:
        if col not in f:
            return np.zeros(n, bool)
        return np.asarray(f[col].fillna(False).to_numpy(dtype=bool))

    fingerprint = (
        f["feature_fingerprint"].astype("string")
        if "feature_fingerprint" in f
        else pd.Series(pd.NA, index=f.index, dtype="string")
    )
    return pd.DataFrame(
        {
            "query_id": as_int64(f["query_id"]),
            "arrival_at": f["arrival_timestamp"],
            "user_id": users,
            "user_name": pd.Series(users, index=f.index).map("redset:{}".format),
            "user_groups": groups,
            "query_group": labels,
            "statement_type": types,
            "exec_s": num("execution_duration_ms", 1e-3),
            "queue_s": num("queue_duration_ms", 1e-3),
            "aborted": flag("was_aborted"),
            "cache_hit": flag("was_cached"),
            "fingerprint": fingerprint.mask(fingerprint == ""),
            "scanned_mb": num("mbytes_scanned", 1.0),
            "spilled_mb": num("mbytes_spilled", 1.0),
            "source_file": constant_strings(parsed.source, n),
            "source_row": parsed.source_rows(),
        }
    )

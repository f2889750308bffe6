"""Scheduled maintenance in ``admin``: weekly VACUUM, monthly ANALYZE COMPRESSION.

The VACUUM Lambda (``IAMR:dpc-vacuum-lambda``) runs every Sunday at 04:00 JST.
For each table it estimates the REINDEX time (the table's base time times the
data growth); when the estimate exceeds the spec's ``vacuum_budget_s`` it runs
``vacuum delete only`` instead, which reclaims deleted rows without re-sorting
(about a quarter of the time). That is the design's "VACUUM DELETE when it takes
too long", decided before the statement is issued. VACUUM takes two slots
(``wlm_query_slot_count = 2``). On the first Sunday of a month the same Lambda
then runs ``analyze compression`` on the same tables.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd

from dpcsim.workload.catalog import VACUUM_TABLES, VACUUM_USER
from dpcsim.workload.rows import Rows
from dpcsim.workload.service import lognormal
from dpcsim.workload.spec import DPCWorkloadSpec

__all__ = ["VACUUM_SLOTS", "maintenance", "vacuum_plan"]

#: Slots a VACUUM takes (the Lambda sets wlm_query_slot_count).
VACUUM_SLOTS: Final = 2
#: VACUUM DELETE ONLY time relative to REINDEX.
DELETE_ONLY_RATIO: Final = 0.25
#: Median ANALYZE COMPRESSION time per table at data growth 1 [s].
ANALYZE_COMPRESSION_S: Final = 150.0
_SUNDAY: Final = 6
_START_S: Final = 4 * 3600.0


def vacuum_plan(data_growth: float, budget_s: float) -> list[tuple[str, str, float]]:
    """The Lambda's decision per table: (table, mode, estimated time [s]).

    ``mode`` is ``reindex`` when the REINDEX estimate fits the budget, else
    ``delete only`` (whose estimate is then a quarter of the REINDEX one).

    Examples
    --------
    >>> [mode for _, mode, _ in vacuum_plan(1.0, 1800.0)][:2]
    ['reindex', 'reindex']
    >>> vacuum_plan(2.0, 1800.0)[0][1]
    'delete only'
    """
    plan = []
    for table, base_s in VACUUM_TABLES:
        est = base_s * data_growth
        if est <= budget_s:
            plan.append((table, "reindex", est))
        else:
            plan.append((table, "delete only", est * DELETE_ONLY_RATIO))
    return plan


def maintenance(spec: DPCWorkloadSpec, rows: Rows, rng: np.random.Generator) -> None:
    """Add the VACUUM and ANALYZE COMPRESSION statements of the horizon to ``rows``."""
    first = pd.Timestamp(spec.start_date)
    for day in range(spec.days):
        date = first + pd.Timedelta(days=day)
        if date.weekday() != _SUNDAY:
            continue
        t = day * 86_400.0 + _START_S
        for table, mode, est in vacuum_plan(spec.data_growth, spec.vacuum_budget_s):
            e = float(lognormal(est, 0.2, 1, rng)[0])
            text = f"vacuum {mode} {table}"
            rows.add(
                t_s=t,
                exec_s=e,
                statement_type="vacuum",
                user_name=VACUUM_USER,
                query_text=text,
                fingerprint=text,
                query_group="maintenance",
                slot_count=VACUUM_SLOTS,
                mem_scale_mb=300.0,
            )
            t += e + 1.0
        if date.day <= 7:
            for table, _ in VACUUM_TABLES:
                e = float(
                    lognormal(ANALYZE_COMPRESSION_S * spec.data_growth, 0.3, 1, rng)[0]
                )
                text = f"analyze compression {table}"
                rows.add(
                    t_s=t,
                    exec_s=e,
                    statement_type="analyze",
                    user_name=VACUUM_USER,
                    query_text=text,
                    fingerprint=text,
                    query_group="maintenance",
                    mem_scale_mb=300.0,
                )
                t += e + 1.0

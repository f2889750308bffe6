"""Number formatting shared by the report's sections (values with units and CIs)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "as_flag",
    "as_flags",
    "as_float",
    "as_int",
    "ci",
    "config_changes",
    "not_injected",
    "num",
    "row_of",
    "wait_stats",
    "wlm_rows",
]


def as_float(value: Any) -> float:
    """A table cell as a float (pandas types its cells too loosely for mypy)."""
    return float(value)


def as_flag(value: Any) -> bool:
    """A CSV boolean cell: True/False, true/false, t/f, 1/0, yes/no."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "t", "1", "yes")
    return bool(value) and value == value  # NaN is not true


def as_flags(values: pd.Series) -> np.ndarray:
    """:func:`as_flag` of every cell, as a boolean array."""
    return np.array([as_flag(v) for v in values], dtype=bool)


def as_int(value: Any) -> int:
    """A table cell holding a whole number as an int."""
    return int(float(value))


def num(value: Any, digits: int = 1, unit: str = "") -> str:
    """``value`` rounded to ``digits``, with ``unit``; "n/a" for missing values."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return "n/a"
    if math.isnan(x):
        return "n/a"
    text = f"{x:,.{digits}f}"
    return f"{text} {unit}".rstrip() if unit else text


def ci(value: Any, low: Any, high: Any, digits: int = 1, unit: str = "") -> str:
    """ "value [low, high] unit" (a 95 % interval), or the value alone."""
    body = num(value, digits)
    if num(low, digits) != "n/a" and num(high, digits) != "n/a":
        body += f" [{num(low, digits)}, {num(high, digits)}]"
    return f"{body} {unit}".rstrip() if unit else body


def not_injected(table: pd.DataFrame, key: str) -> str | None:
    """The incidents a workload could not take, per ``key`` (an alarm or a
    fault), from a table's optional ``not_injected`` column; None if none."""
    if "not_injected" not in table.columns:
        return None
    why = table["not_injected"].astype("string").fillna("")
    hit = table.loc[why != ""]
    if hit.empty:
        return None
    lines = sorted({f"{k}: {w}" for k, w in zip(hit[key], why[why != ""], strict=True)})
    return "Not injected (the log or the settings cannot take them): " + "; ".join(
        lines
    )


def row_of(frame: pd.DataFrame, column: str, key: Any) -> pd.Series | None:
    """The first row whose ``column`` equals ``key``, or None."""
    rows = frame[frame[column].astype(str) == str(key)]
    return None if rows.empty else rows.iloc[0]


def wlm_rows(wlm_json: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    """Per queue: slots, memory, scaling, QMR rules, groups, as short texts."""
    queues: dict[str, dict[str, str]] = {}
    for k, queue in enumerate(wlm_json):
        if queue.get("short_query_queue"):
            queues["(SQA)"] = {
                "slots": "on",
                "memory": "",
                "scaling": "",
                "rules": "",
                "groups": "",
            }
            continue
        name = str(queue.get("name", f"queue {k + 1}"))
        rules = "; ".join(
            f"{r.get('rule_name')}: "
            + " and ".join(
                f"{p.get('metric_name')} {p.get('operator')} {p.get('value')}"
                for p in r.get("predicate", [])
            )
            + f" -> {r.get('action')}"
            for r in queue.get("rules", [])
        )
        auto = queue.get("auto_wlm") or queue.get("queue_type") == "auto"
        queues[name] = {
            "slots": "auto" if auto else str(queue.get("query_concurrency", "")),
            "memory": "auto" if auto else f"{queue.get('memory_percent_to_use', '')} %",
            "scaling": str(queue.get("concurrency_scaling", "off")),
            "rules": rules or "none",
            "groups": ", ".join(
                [*queue.get("user_group", []), *queue.get("query_group", [])]
            ),
        }
    return queues


def wait_stats(queries: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Per queue: queries, wait p50/p95/p99/max [s] and queries run on scaling."""
    stats: dict[str, dict[str, float]] = {}
    for queue, rows in queries.groupby("queue", sort=True, observed=True):
        wait_s = rows["queue_s"].to_numpy(dtype=np.float64)
        wait_s = wait_s[np.isfinite(wait_s)]
        found = {
            "queries": float(len(rows)),
            "cs": float((rows["ran_on"].astype(str) == "cs").sum()),
        }
        for p in (50, 95, 99):
            found[f"p{p}"] = float(np.percentile(wait_s, p)) if wait_s.size else np.nan
        found["max"] = float(wait_s.max()) if wait_s.size else np.nan
        stats[str(queue)] = found
    return stats


def config_changes(
    current: list[dict[str, Any]], recommended: list[dict[str, Any]]
) -> tuple[list[list[str]], int]:
    """One row per queue: setting cells "was -> now" where they differ.

    Returns the rows (queue, slots, memory, scaling, QMR rules) and the number
    of settings that change.
    """
    was, now = wlm_rows(current), wlm_rows(recommended)
    rows, changed = [], 0
    for queue in [*was, *(q for q in now if q not in was)]:
        cells = [queue]
        for key in ("slots", "memory", "scaling", "rules"):
            a = was.get(queue, {}).get(key, "(no queue)")
            b = now.get(queue, {}).get(key, "(no queue)")
            changed += a != b
            cells.append(a if a == b else f"{a} → {b}")
        rows.append(cells)
    return rows, changed

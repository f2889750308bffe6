"""The text tables ``dpcsim simulate``, ``demo`` and ``alarms`` print."""

from __future__ import annotations

from typing import Any

import pandas as pd

__all__ = ["PERCENTILES", "format_alarm_summary", "format_table"]

#: Wait percentiles reported per queue [%].
PERCENTILES = (50, 90, 99)


def format_table(summary: dict[str, Any]) -> str:
    """Render the per-queue summary as a fixed-width text table.

    ``stopped`` counts queries WLM ended (QMR abort, timeout or hop cancel);
    ``failed`` counts errors (the log's own aborts, and slot counts no queue has).
    The waits are queue waits [s]; ``max`` shows a tail the percentiles hide.
    """
    header = (
        f"{'queue':<10} {'arrived':>8} {'completed':>9} {'stopped':>8} "
        f"{'failed':>7} {'wait p50':>9} {'p90':>8} {'p99':>8} {'max':>8} "
        f"{'on cs':>7} {'on sqa':>7}"
    )
    lines = [header, "-" * len(header)]
    rows = dict(summary["by_queue"])
    rows["(all)"] = summary["all_queues"]
    for name, row in rows.items():
        stopped = row["aborted"] + row["canceled"]
        keys = [f"p{p}" for p in PERCENTILES] + ["max"]
        waits = [_fmt_s(row["wait_s"].get(k)) for k in keys]
        lines.append(
            f"{name:<10} {row['arrived']:>8} {row['completed']:>9} {stopped:>8} "
            f"{row['failed']:>7} {waits[0]:>9} {waits[1]:>8} {waits[2]:>8} "
            f"{waits[3]:>8} {row['ran_on'].get('cs', ''):>7} "
            f"{row['ran_on'].get('sqa', ''):>7}"
        )
    lines.append(
        "stopped: ended by WLM (QMR abort, timeout); failed: errors; "
        "wait: queue time [s]"
    )
    lines.append(_scaling_line(summary["scaling"]))
    return "\n".join(lines)


def _scaling_line(scaling: dict[str, Any]) -> str:
    """Concurrency Scaling activations, billed seconds and cost [USD]."""
    text = (
        f"concurrency scaling: {scaling['activations']} activations, "
        f"{scaling['billed_s']:.0f} s billed"
    )
    free_s = scaling.get("free_credit_used_s")
    if isinstance(free_s, int | float):
        text += f" ({free_s:.0f} s from free credits)"
    if "cost_usd" in scaling:
        text += f", cost {scaling['cost_usd']:.2f} USD"
    return text


def format_alarm_summary(summary: pd.DataFrame) -> str:
    """One line per alarm: final state, transitions to ALARM, hours in ALARM."""
    lines = [
        f"{'alarm':<22} {'final state':<18} {'->ALARM':>7} {'h in ALARM':>10}"
        "  first ALARM (UTC)"
    ]
    for row in summary.to_dict("records"):
        first = row["first_alarm_at"]
        when = "-" if pd.isna(first) else pd.Timestamp(first).strftime("%Y-%m-%d %H:%M")
        hours = float(row["time_in_alarm_s"]) / 3600
        lines.append(
            f"{row['alarm_name']:<22} {row['final_state']:<18} "
            f"{int(row['transitions_to_alarm']):>7} {hours:>10.1f}  {when}"
        )
    return "\n".join(lines)


def _fmt_s(value: float | None) -> str:
    """A wait [s] for the table."""
    return "-" if value is None else f"{value:.1f}s"

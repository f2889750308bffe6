"""The text tables ``dpcsim simulate``, ``demo`` and ``alarms`` print."""

from __future__ import annotations

import math

import pandas as pd

from dpcsim.run import PERCENTILES, ScalingSummary

__all__ = ["PERCENTILES", "format_alarm_summary", "format_table"]


def format_table(queues: pd.DataFrame, scaling: ScalingSummary) -> str:
    """Render :meth:`dpcsim.run.Run.queue_table` as a fixed-width text table.

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
    keys = [f"wait_p{p}_s" for p in PERCENTILES] + ["wait_max_s"]
    for row in queues.to_dict("records"):
        stopped = int(row["aborted"]) + int(row["canceled"])
        waits = [_fmt_s(row[k]) for k in keys]
        lines.append(
            f"{row['queue']:<10} {int(row['arrived']):>8} "
            f"{int(row['completed']):>9} {stopped:>8} "
            f"{int(row['failed']):>7} {waits[0]:>9} {waits[1]:>8} {waits[2]:>8} "
            f"{waits[3]:>8} {int(row['on_cs']):>7} {int(row['on_sqa']):>7}"
        )
    lines.append(
        "stopped: ended by WLM (QMR abort, timeout); failed: errors; "
        "wait: queue time [s]"
    )
    lines.append(_scaling_line(scaling))
    return "\n".join(lines)


def _scaling_line(scaling: ScalingSummary) -> str:
    """Concurrency Scaling activations, billed seconds and cost [USD]."""
    return (
        f"concurrency scaling: {scaling.activations} activations, "
        f"{scaling.billed_s:.0f} s billed "
        f"({scaling.free_credit_used_s:.0f} s from free credits), "
        f"cost {scaling.cost_usd:.2f} USD"
    )


def format_alarm_summary(summary: pd.DataFrame) -> str:
    """One line per alarm: final state, transitions to ALARM, hours in ALARM.

    An alarm the data cannot evaluate (its ``note``, e.g. "not evaluated: no
    storage data") shows the note instead.
    """
    lines = [
        f"{'alarm':<22} {'final state':<18} {'->ALARM':>7} {'h in ALARM':>10}"
        "  first ALARM (UTC)"
    ]
    for row in summary.to_dict("records"):
        note = row.get("note")
        if isinstance(note, str) and note:
            lines.append(f"{row['alarm_name']:<22} {note}")
            continue
        first = row["first_alarm_at"]
        when = "-" if pd.isna(first) else pd.Timestamp(first).strftime("%Y-%m-%d %H:%M")
        hours = float(row["time_in_alarm_s"]) / 3600
        lines.append(
            f"{row['alarm_name']:<22} {row['final_state']:<18} "
            f"{int(row['transitions_to_alarm']):>7} {hours:>10.1f}  {when}"
        )
    return "\n".join(lines)


def _fmt_s(value: float) -> str:
    """A wait [s] for the table ("-" for NaN: no query)."""
    return "-" if math.isnan(value) else f"{value:.1f}s"

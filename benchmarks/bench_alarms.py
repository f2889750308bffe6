"""Alarm evaluation speed: the design's five alarms over 90 days of one-minute data.

The fast evaluator runs on the full span (target: under 1 s). The brute-force
reference (one evaluation at a time, :mod:`dpcsim.alarms.reference`) runs in the
same process on a shorter span, because it takes minutes on the full one; its
time is extrapolated per evaluation to the full span and the ratio is given.
Both are checked to agree on the shorter span.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from dpcsim.alarms import STATE_NAMES, design_alarm_specs, evaluate_alarms
from dpcsim.alarms.reference import reference_evaluate
from dpcsim.metrics.datapoints import concat_datapoints, make_datapoints


def design_metrics(
    days: int, rng: np.random.Generator | int | None = 0
) -> pd.DataFrame:
    """One-minute datapoints of every metric the design's alarms read.

    Parameters
    ----------
    days
        Span [days].
    rng
        Seed or generator.
    """
    rng = np.random.default_rng(rng)
    n = days * 1440
    stamps = pd.date_range("2024-01-01", periods=n, freq="min", tz="UTC")
    minute = np.arange(n)
    cluster = {"ClusterIdentifier": "dpc-learning"}
    # ELT delay: resets daily at 03:00 (a sawtooth in minutes).
    delay = ((minute - 180) % 1440).astype(float)
    copy_err = rng.random(n) < 0.0005
    queue = rng.poisson(np.where(minute % 1440 < 240, 12, 2))
    frames = [
        make_datapoints(
            stamps,
            delay,
            namespace="Custom/DPC",
            metric_name="ELTExecutionDelay",
            dimensions={"Environment": "prod", "Definition": "StepFunctionsCompletion"},
        ),
        make_datapoints(
            stamps[copy_err],
            np.ones(int(copy_err.sum())),
            namespace="Custom/DPC",
            metric_name="CopyErrorCount",
        ),
        make_datapoints(
            stamps,
            np.linspace(60.0, 85.0, n) + rng.normal(0, 0.5, n),
            namespace="AWS/Redshift",
            metric_name="PercentageDiskSpaceUsed",
            dimensions=cluster,
        ),
        make_datapoints(
            stamps,
            queue,
            namespace="AWS/Redshift",
            metric_name="WLMQueueLength",
            dimensions={**cluster, "QueueName": "batch"},
        ),
        make_datapoints(
            stamps,
            rng.poisson(0.4, n),
            namespace="Custom/DPC",
            metric_name="WLMFailedQueries",
            dimensions=cluster,
        ),
        make_datapoints(
            stamps,
            rng.poisson(10, n),
            namespace="Custom/DPC",
            metric_name="WLMAttemptedQueries",
            dimensions=cluster,
        ),
    ]
    return concat_datapoints(frames)


def run(quick: bool) -> list[str]:
    """Time the fast evaluator and the reference; return the report lines."""
    days = 7 if quick else 90
    ref_hours = 6 if quick else 72
    alarms = design_alarm_specs()
    data = design_metrics(days)
    best = np.inf
    for _ in range(3):
        started = time.perf_counter()
        result = evaluate_alarms(alarms, data)
        best = min(best, time.perf_counter() - started)
    evaluations = len(result.history)
    short = data[
        data["timestamp"] < data["timestamp"].min() + pd.Timedelta(hours=ref_hours)
    ]
    started = time.perf_counter()
    ref = [reference_evaluate(a, short) for a in alarms]
    ref_s = time.perf_counter() - started
    ref_evals = sum(len(r) for r in ref)
    fast_short = evaluate_alarms(alarms, short)
    agree = [s for r in ref for _, s in r] == fast_short.history["state"].astype(
        str
    ).tolist()
    ref_full_s = ref_s / ref_evals * evaluations
    assert set(result.history["state"].astype(str)) <= set(STATE_NAMES)
    return [
        f"alarms: 5 design alarms, {days} days of 1-min data "
        f"({len(data):,} datapoints), {evaluations:,} evaluations",
        f"  fast evaluator      {best:8.3f} s  (best of 3; target < 1 s for 90 days)",
        f"  reference           {ref_s:8.3f} s  on {ref_hours} h "
        f"({ref_evals:,} evaluations); extrapolated per evaluation to {days} days: "
        f"{ref_full_s:,.0f} s",
        f"  speed-up            {ref_full_s / best:8.0f} x  "
        f"(reference agrees with fast on the {ref_hours} h span: {agree})",
    ]


if __name__ == "__main__":
    for line in run(quick=False):
        print(line)

"""One run -> its outcome metrics, in the ``metric.<name>`` naming of results.parquet.

:func:`simulate_outcomes` is the only place a sweep runs a simulation: the
engine, the CloudWatch datapoints and the alarm evaluation, exactly the calls
``dpcsim simulate`` makes, then :func:`outcome_metrics` reduces the run to
numbers. Metric names (units in the names):

- ``wait_p50_s.<queue>``, ``wait_p95_s.<queue>``, ``wait_p99_s.<queue>``:
  queue-wait percentiles per final queue [s] (0 for a queue without queries);
- ``latency_p95_s.adhoc`` (every queue): arrival to end, p95 [s];
- ``elt_lateness_min``: the latest night's ELT finish after the window end
  [min] (0 when every night finished inside its window), ``elt_finish_min``:
  mean minutes from window start to the night's last ELT statement,
  ``elt_on_time``: the share of nights finished inside the window;
- ``alarm_transitions.<alarm>``, ``alarm_time_in_alarm_s.<alarm>`` [s];
- ``failure_ratio``: (aborted + canceled + failed) / arrived,
  ``wlm_failure_ratio``: aborted (WLM timeout or QMR abort) / arrived;
- ``scaling_s``: billed Concurrency Scaling [s]; ``cost_usd``: cost after
  free credits [USD];
- ``qmr_aborted``, ``evicted`` (from SQA), ``canceled``: counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from dpcsim.alarms.history import alarm_counts
from dpcsim.designs import DPC_ELT, ELTContract
from dpcsim.engine import ClusterSettings, WLMSchedule
from dpcsim.engine.records import OUTCOMES, RunCodes
from dpcsim.run import Run
from dpcsim.schema import Workload
from dpcsim.wlm import RoutingResult, WLMConfig
from dpcsim.workload.whatif import elt_mask

__all__ = ["EltWindow", "outcome_metrics", "simulate_outcomes"]


@dataclass(frozen=True, slots=True, kw_only=True)
class EltWindow:
    """The ELT contract's window: local ``"HH:MM"`` start and end, IANA zone."""

    start: str = "02:00"
    end: str = "09:00"
    timezone: str = "Asia/Tokyo"

    def minutes(self) -> tuple[int, int]:
        """Start and end [min after local midnight]; an end before the start is
        the next day."""
        h0, m0 = (int(x) for x in self.start.split(":"))
        h1, m1 = (int(x) for x in self.end.split(":"))
        start, end = h0 * 60 + m0, h1 * 60 + m1
        return start, end if end > start else end + 1440


def simulate_outcomes(
    workload: Workload,
    config: WLMConfig,
    settings: ClusterSettings,
    *,
    seed: int,
    routing: RoutingResult | None = None,
    alarms: Sequence[Any] | None = None,
    window: EltWindow | None = None,
    elt_ids: np.ndarray | None = None,
    recorded: WLMConfig | None = None,
    schedule: WLMSchedule | None = None,
    elt: ELTContract = DPC_ELT,
) -> dict[str, float]:
    """Simulate one run and return its outcome metrics (see module docstring).

    Parameters
    ----------
    workload, config, settings
        What to replay, under which WLM configuration and cluster settings.
    seed
        Engine seed.
    routing
        Precomputed routing of ``workload`` under ``config``'s queue list.
    alarms
        Alarm specs to evaluate (None: none).
    window
        The ELT window (default 02:00-09:00 Asia/Tokyo).
    elt_ids
        Query ids of the ELT's statements (default: ``elt``'s, from
        :func:`~dpcsim.workload.whatif.elt_mask`).
    recorded
        The configuration the log was recorded under (None: ``config``).
    schedule
        A time-of-day WLM schedule whose static part is ``config`` (None: none).
    elt
        The design's ELT contract (default the DPC design's).
    """
    run = simulate_run(
        workload,
        config,
        settings,
        seed=seed,
        routing=routing,
        alarms=alarms,
        recorded=recorded,
        schedule=schedule,
    )
    if elt_ids is None:
        mask = elt_mask(workload.queries, elt)
        elt_ids = workload.queries["query_id"].to_numpy()[mask]
    return outcome_metrics(run, config.queue_names, window or EltWindow(), elt_ids)


def simulate_run(
    workload: Workload,
    config: WLMConfig,
    settings: ClusterSettings,
    *,
    seed: int,
    routing: RoutingResult | None = None,
    alarms: Sequence[Any] | None = None,
    recorded: WLMConfig | None = None,
    schedule: WLMSchedule | None = None,
) -> Run:
    """The engine run, its CloudWatch datapoints and alarm evaluation."""
    return Run.simulate(
        workload,
        config,
        settings,
        rng=seed,
        routing=routing,
        alarms=list(alarms) if alarms else (),
        recorded=recorded,
        schedule=schedule,
    )


def outcome_metrics(
    run: Run, queues: Sequence[str], window: EltWindow, elt_ids: np.ndarray
) -> dict[str, float]:
    """Reduce a run to its outcome metrics (names without the ``metric.`` prefix)."""
    q: pd.DataFrame = run.records.queries
    out: dict[str, float] = {}
    codes = run.records.codes
    if codes is not None and len(codes.queue) != len(q):
        codes = None  # the frame changed since the engine made it
    wait = q["queue_s"].to_numpy(dtype=np.float64)
    latency = (q["end_s"] - q["arrival_s"]).to_numpy(dtype=np.float64)
    for name in queues:
        mask = _is_queue(q, codes, name)
        w = wait[mask & np.isfinite(wait)]
        lat = latency[mask & np.isfinite(latency)]
        for p in (50, 95, 99):
            out[f"wait_p{p}_s.{name}"] = float(np.percentile(w, p)) if w.size else 0.0
        out[f"latency_p95_s.{name}"] = (
            float(np.percentile(lat, 95)) if lat.size else 0.0
        )
    out.update(_elt(q, run.records.start_at, window, elt_ids))
    if codes is not None:
        by_code = np.bincount(codes.outcome, minlength=len(OUTCOMES))
        count = dict(zip(OUTCOMES, by_code.tolist(), strict=True))
        aborted = codes.outcome == OUTCOMES.index("aborted")
    else:
        outcome = q["outcome"].astype(str).to_numpy()
        count = {o: int((outcome == o).sum()) for o in OUTCOMES}
        aborted = outcome == "aborted"
    arrived = max(len(q), 1)
    failed = count["aborted"] + count["canceled"] + count["failed"]
    out["failure_ratio"] = float(failed / arrived)
    out["wlm_failure_ratio"] = float(count["aborted"] / arrived)
    scaling = run.records.summary.get("scaling", {})
    out["scaling_s"] = float(scaling.get("billed_s", 0.0))
    out["cost_usd"] = float(scaling.get("cost_usd", 0.0))
    qmr = aborted & _mentions_abort(q) if "qmr_actions" in q else np.zeros(0)
    out["qmr_aborted"] = float(np.sum(qmr))
    out["evicted"] = float(q["sqa_evicted"].to_numpy(bool).sum())
    out["canceled"] = float(count["canceled"])
    if run.alarm_run is not None:
        # From the states: the summary frame would only be built to be read.
        for states in run.alarm_run.states:
            transitions, in_alarm_s = alarm_counts(states)
            out[f"alarm_transitions.{states.name}"] = float(transitions)
            out[f"alarm_time_in_alarm_s.{states.name}"] = in_alarm_s
    return out


def _is_queue(q: pd.DataFrame, codes: RunCodes | None, name: str) -> np.ndarray:
    """Rows whose final queue is ``name``: from the engine's codes when given."""
    if codes is None:
        return np.asarray(q["queue"].astype(str).to_numpy() == name, dtype=bool)
    if name not in codes.names:
        return np.zeros(len(q), dtype=bool)
    return np.asarray(codes.queue == codes.names.index(name), dtype=bool)


def _mentions_abort(q: pd.DataFrame) -> np.ndarray:
    """Rows whose QMR actions name an ``abort`` (compared in Arrow; null: no)."""
    actions = pa.array(q["qmr_actions"])
    found = pc.fill_null(pc.match_substring(actions, "abort"), False)
    return np.asarray(found.to_numpy(zero_copy_only=False), dtype=bool)


def _elt(
    q: pd.DataFrame, start_at: pd.Timestamp, window: EltWindow, elt_ids: np.ndarray
) -> dict[str, float]:
    """Nightly ELT finish against its window."""
    # Only the two columns: taking every column of the ELT rows cost more
    # than the rest of this function.
    mask = q["query_id"].isin(elt_ids).to_numpy()
    if not mask.any():
        return {"elt_lateness_min": 0.0, "elt_finish_min": 0.0, "elt_on_time": 1.0}
    w_start, w_end = window.minutes()
    base = pd.Timestamp(start_at)
    arrival = base + pd.to_timedelta(q["arrival_s"].to_numpy()[mask], unit="s")
    end = base + pd.to_timedelta(q["end_s"].to_numpy()[mask], unit="s")
    local_arrival = pd.DatetimeIndex(arrival).tz_convert(window.timezone)
    # A night belongs to the window it opens in: statements before the window
    # start (a late run of the previous night) count for the previous night.
    night = (local_arrival - pd.Timedelta(minutes=w_start)).normalize()
    frame = pd.DataFrame({"night": night, "end": pd.DatetimeIndex(end)})
    finish = frame.groupby("night", sort=True)["end"].max()
    nights = pd.DatetimeIndex(finish.index)
    window_start = nights + pd.Timedelta(minutes=w_start)
    window_end = nights + pd.Timedelta(minutes=w_end)
    finish_utc = pd.DatetimeIndex(finish.to_numpy()).tz_localize(None)
    start_utc = pd.DatetimeIndex(window_start).tz_convert("UTC").tz_localize(None)
    end_utc = pd.DatetimeIndex(window_end).tz_convert("UTC").tz_localize(None)
    late_min = np.maximum((finish_utc - end_utc).total_seconds() / 60.0, 0.0)
    finish_min = (finish_utc - start_utc).total_seconds() / 60.0
    return {
        "elt_lateness_min": float(np.max(late_min)),
        "elt_finish_min": float(np.mean(finish_min)),
        "elt_on_time": float(np.mean(late_min <= 0.0)),
    }

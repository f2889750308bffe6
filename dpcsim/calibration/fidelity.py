"""How far to trust the model on a cluster: replay its log under the recording
configuration and compare the simulated waits with the logged ones.

Per queue (the logged queue, else the one the replay routed to) and for all
queues, :func:`replay_fidelity` gives observed and simulated wait percentiles
p50/p95/p99 and maximum [s], the mean and largest absolute error per query
[s] and the share of queries within 1 s of their logged wait [%], over the
queries whose wait the log has. The verdict is one of

* ``exact``: every wait reproduced within :data:`EXACT_TOLERANCE_S` (the
  exports' microsecond rounding);
* ``good``: at least :data:`GOOD_WITHIN_1S_PCT` % within 1 s and every queue's
  p95 within 1 s or 10 % of the logged one;
* ``fair``: at least :data:`FAIR_WITHIN_1S_PCT` % within 1 s;
* ``poor``: otherwise.

The replay runs under the given settings, with a ``[contention]`` table applied
on top when one is passed; the result says which. :func:`dpcsim.calibration.calibrate`
passes none: with observed demands any curve replays the recording's execution
times, but SQA's dynamic maximum and learned predictions are taken on solo work
and move with the curve, so only the recording's own settings reproduce its SQA
decisions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd

from dpcsim.engine import ClusterSettings, simulate
from dpcsim.schema import Workload
from dpcsim.wlm import RoutingResult, WLMConfig

__all__ = [
    "EXACT_TOLERANCE_S",
    "FIDELITY_COLUMNS",
    "Fidelity",
    "replay_fidelity",
    "settings_with_contention",
]

EXACT_TOLERANCE_S: Final = 1e-3
GOOD_WITHIN_1S_PCT: Final = 99.0
FAIR_WITHIN_1S_PCT: Final = 90.0
_P95_SLACK_S: Final = 1.0
_P95_SLACK_REL: Final = 0.10
#: Row label of the all-queues row.
ALL_QUEUES: Final = "all"
#: Columns of ``fidelity.csv``, in order.
FIDELITY_COLUMNS: Final = (
    "queue",
    "queries",
    "observed_p50_s",
    "simulated_p50_s",
    "observed_p95_s",
    "simulated_p95_s",
    "observed_p99_s",
    "simulated_p99_s",
    "observed_max_s",
    "simulated_max_s",
    "mae_s",
    "max_abs_error_s",
    "within_1s_pct",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Fidelity:
    """The replay's agreement with the log.

    Attributes
    ----------
    table
        One row per queue, then ``all`` (:data:`FIDELITY_COLUMNS`).
    level
        ``exact``, ``good``, ``fair`` or ``poor``.
    verdict
        One line saying how the replay compares.
    contention
        How the replay modelled contention.
    without_logged_wait
        Queries left out because the log has no wait for them.
    """

    table: pd.DataFrame
    level: str
    verdict: str
    contention: str
    without_logged_wait: int

    def to_csv(self) -> str:
        """``fidelity.csv`` text (fixed float format, same bytes for same inputs)."""
        text: str = self.table.to_csv(
            index=False, float_format="%.6f", lineterminator="\n"
        )
        return text


def settings_with_contention(
    settings: ClusterSettings | None, contention: dict[str, Any] | None
) -> tuple[ClusterSettings, str]:
    """``settings`` with a ``[contention]`` table applied.

    Returns the settings and a note saying which contention the replay used.
    """
    base = settings or ClusterSettings()
    if contention is None:
        return base, (
            f"as in the given settings ({base.contention_model}, sigma "
            f"{base.contention_sigma}, kappa {base.contention_kappa})"
        )
    merged = ClusterSettings.from_dict(
        {**base.to_dict(), "contention": dict(contention)}, source="<calibration>"
    )
    return merged, (
        f"usl sigma={contention['sigma']!r} kappa={contention['kappa']!r}, "
        f"demand={contention['demand']}"
    )


def replay_fidelity(
    workload: Workload,
    config: WLMConfig,
    settings: ClusterSettings | None = None,
    *,
    routing: RoutingResult | None = None,
    contention: dict[str, Any] | None = None,
    seed: int = 0,
) -> Fidelity:
    """Replay ``workload`` under ``config`` and compare waits with the log's.

    Parameters
    ----------
    workload
        The logged workload (``queue_s`` the logged waits [s]).
    config
        The recording configuration (given, or rebuilt from the log).
    settings
        Cluster settings; None = defaults.
    routing
        Routing of the workload's rows; None routes by the configuration's rules.
    contention
        A ``[contention]`` table to replay with (see :func:`settings_with_contention`).
    seed
        Seed of the engine.
    """
    replay_settings, note = settings_with_contention(settings, contention)
    result = simulate(workload, config, replay_settings, rng=seed, routing=routing)
    logged = workload.queries
    sim = result.queries.set_index("query_id")
    ids = logged["query_id"].to_numpy()
    sim_wait = sim["queue_s"].reindex(ids).to_numpy(dtype=np.float64)
    obs_wait = logged["queue_s"].to_numpy(dtype=np.float64, na_value=np.nan)
    sim_queue = sim["first_queue"].astype("string").reindex(ids).to_numpy()
    queue = logged["queue"].astype("string")
    label = np.where(queue.isna().to_numpy(), sim_queue, queue.fillna("").to_numpy())
    label = label.astype(str)
    have = np.isfinite(obs_wait) & np.isfinite(sim_wait)
    rows = [
        _row(
            str(name),
            obs_wait[have & (label == name)],
            sim_wait[have & (label == name)],
        )
        for name in sorted(set(label[have].tolist()))
    ]
    rows.append(_row(ALL_QUEUES, obs_wait[have], sim_wait[have]))
    table = pd.DataFrame(rows, columns=list(FIDELITY_COLUMNS))
    level, verdict = _verdict(table)
    return Fidelity(
        table=table,
        level=level,
        verdict=verdict,
        contention=note,
        without_logged_wait=int(np.sum(~np.isfinite(obs_wait))),
    )


def _row(name: str, observed: np.ndarray, simulated: np.ndarray) -> dict[str, Any]:
    """The fidelity figures of one group of queries."""
    out: dict[str, Any] = {"queue": name, "queries": int(observed.size)}
    if observed.size == 0:
        return out | dict.fromkeys(FIDELITY_COLUMNS[2:], np.nan)
    for p in (50, 95, 99):
        out[f"observed_p{p}_s"] = float(np.percentile(observed, p))
        out[f"simulated_p{p}_s"] = float(np.percentile(simulated, p))
    out["observed_max_s"] = float(observed.max())
    out["simulated_max_s"] = float(simulated.max())
    error = np.abs(simulated - observed)
    out["mae_s"] = float(error.mean())
    out["max_abs_error_s"] = float(error.max())
    out["within_1s_pct"] = float(100.0 * np.mean(error <= 1.0))
    return out


def _verdict(table: pd.DataFrame) -> tuple[str, str]:
    """The level and the one-line verdict of a fidelity table."""
    total = table[table["queue"] == ALL_QUEUES].iloc[0]
    queues = table[table["queue"] != ALL_QUEUES]
    n = int(total["queries"])
    if n == 0:
        return "poor", "fidelity: poor - the log has no queue waits to compare with"
    gap = (queues["simulated_p95_s"] - queues["observed_p95_s"]).abs()
    slack = np.maximum(_P95_SLACK_S, _P95_SLACK_REL * queues["observed_p95_s"])
    worst = queues.iloc[int(np.argmax((gap / slack).to_numpy()))]
    within = float(total["within_1s_pct"])
    if float(total["max_abs_error_s"]) <= EXACT_TOLERANCE_S:
        return "exact", (
            f"fidelity: exact - all {n:,} logged waits reproduced within "
            f"{EXACT_TOLERANCE_S * 1000:g} ms by the replay under the recording "
            "configuration"
        )
    if within >= GOOD_WITHIN_1S_PCT and bool((gap <= slack).all()):
        level = "good"
    elif within >= FAIR_WITHIN_1S_PCT:
        level = "fair"
    else:
        level = "poor"
    return level, (
        f"fidelity: {level} - {within:.1f}% of {n:,} queries within 1 s of their "
        f"logged wait, mean absolute error {float(total['mae_s']):.3g} s; furthest "
        f"queue {worst['queue']}: p95 wait {float(worst['simulated_p95_s']):.3g} s "
        f"simulated vs {float(worst['observed_p95_s']):.3g} s logged"
    )

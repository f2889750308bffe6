"""What a cluster's WLM log would show for a workload: a replay's observed columns.

A generated workload has exact execution times but no queue times or service
classes; a real STL_WLM_QUERY has both. :func:`observed_wlm_columns` replays
the workload under a WLM configuration and returns the columns the log would
have recorded (see :func:`dpcsim.workload.observe_wlm`, which merges them in).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from dpcsim.engine import ClusterSettings, simulate
from dpcsim.schema import Workload
from dpcsim.wlm import WLMConfig
from dpcsim.wlm.limits import SQA_SERVICE_CLASS

__all__ = ["observed_wlm_columns"]


def observed_wlm_columns(
    workload: Workload,
    config: WLMConfig,
    settings: ClusterSettings | None = None,
    *,
    rng: int,
) -> pd.DataFrame:
    """Observed WLM columns from a simulation of ``workload`` under ``config``.

    Parameters
    ----------
    workload
        The workload to replay.
    config
        The WLM configuration the log is observed under.
    settings
        The recording cluster's settings; None is the defaults. The
        workload's ``exec_s`` are solo work: the recording run replays them
        with these settings' contention (``demand = "solo"``, logged
        arrivals), so the logged ``exec_s`` are what a cluster with that
        contention would measure.
    rng
        Engine seed.

    Returns
    -------
    pandas.DataFrame
        ``query_id``, ``queue_s`` [s] (all attempts), ``exec_s`` [s] (the
        final attempt), ``service_class`` (14 for SQA), ``queue``,
        ``ran_on_cs`` and ``sqa_queue_s`` / ``sqa_exec_s`` [s] (an SQA attempt
        the query was evicted from, NaN when none), one row per query.
    """
    recording = replace(settings or ClusterSettings(), contention_demand="solo")
    result = simulate(workload, config, recording, rng=rng, replay="open")
    rec = result.queries.drop_duplicates("query_id", keep="first")
    classes = {
        name: config.service_class(i) for i, name in enumerate(config.queue_names)
    }
    service_class = rec["queue"].map(classes).astype("Int64")
    ran_on = rec["ran_on"].astype(str).to_numpy()
    service_class = service_class.mask(ran_on == "sqa", SQA_SERVICE_CLASS)
    exec_s = rec["exec_s"].to_numpy(dtype=np.float64)
    # An SQA eviction is two attempts in STL_WLM_QUERY: the SQA one ran from its
    # first start for the SQA maximum (eviction is in real time), then the
    # query waited in its queue and ran its final attempt.
    evicted = rec["sqa_evicted"].to_numpy(dtype=bool)
    sqa_max_s = result.summary["sqa"]["max_s"]
    sqa_exec_s = np.where(evicted, sqa_max_s if sqa_max_s is not None else 0.0, np.nan)
    sqa_queue_s = np.where(
        evicted,
        rec["start_s"].to_numpy(dtype=np.float64)
        - rec["arrival_s"].to_numpy(dtype=np.float64),
        np.nan,
    )
    exec_s = np.where(evicted, exec_s - np.nan_to_num(sqa_exec_s), exec_s)
    return pd.DataFrame(
        {
            "query_id": rec["query_id"].to_numpy(dtype=np.int64),
            "queue_s": rec["queue_s"].to_numpy(dtype=np.float64),
            # A cache hit does no work: it keeps its generated time.
            "exec_s": np.where(
                rec["cache_hit"].to_numpy(dtype=bool),
                workload.queries.set_index("query_id")
                .loc[rec["query_id"], "exec_s"]
                .to_numpy(dtype=np.float64),
                exec_s,
            ),
            "service_class": service_class.to_numpy(),
            "queue": rec["queue"].astype("string").to_numpy(),
            "ran_on_cs": ran_on == "cs",
            "sqa_queue_s": sqa_queue_s,
            "sqa_exec_s": sqa_exec_s,
        }
    )

"""What-if experiments: sweeps with confidence, alarm tuning, recommendations.

- :mod:`~dpcsim.experiments.space`: the space file (decisions, scenarios,
  assumptions) and stable run keys;
- :mod:`~dpcsim.experiments.replicate`: bootstrap and regenerated weeks with
  common random numbers;
- :mod:`~dpcsim.experiments.outcomes`: one run -> its outcome metrics;
- :mod:`~dpcsim.experiments.stats`: intervals, the sequential rule, paired
  differences;
- :mod:`~dpcsim.experiments.store`: the atomic per-run parquet store;
- :mod:`~dpcsim.experiments.execute`: local pool or Dask execution;
- :mod:`~dpcsim.experiments.tuning`: alarm tuning;
- :mod:`~dpcsim.experiments.recommend`: the recommendation.
"""

from __future__ import annotations

from dpcsim.experiments.execute import SweepContext, SweepReport, run_sweep, run_task
from dpcsim.experiments.outcomes import EltWindow, simulate_outcomes
from dpcsim.experiments.space import Objectives, Space, read_space, space_from_dict

__all__ = [
    "EltWindow",
    "Objectives",
    "Space",
    "SweepContext",
    "SweepReport",
    "read_space",
    "run_sweep",
    "run_task",
    "simulate_outcomes",
    "space_from_dict",
]

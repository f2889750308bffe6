"""Calibration: fit the cluster's contention curve from its own log, and measure
how far a replay of the log under its recording configuration can be trusted.

:func:`fit_contention` fits the Universal Scalability Law's ``sigma`` and
``kappa`` to the logged execution times (same query shape at different logged
concurrencies), with robust profile-likelihood intervals, and keeps the
defaults when the log cannot identify the curve.
:func:`reconstruct_wlm_config` rebuilds the recording WLM configuration from
STL_WLM_QUERY's service classes;
:func:`replay_fidelity` replays the log through the engine and compares the
waits. :func:`calibrate` does all three, as ``dpcsim calibrate`` does.
"""

from __future__ import annotations

from dpcsim.calibration.calibrate import Calibration, calibrate
from dpcsim.calibration.concurrency import (
    ConcurrencyProfile,
    ExecutionIntervals,
    build_profile,
    execution_intervals,
    max_overlap,
    solo_work_s,
)
from dpcsim.calibration.defaults import ContentionDefaults, contention_defaults
from dpcsim.calibration.estimate import ContentionFit, fit_contention
from dpcsim.calibration.fidelity import Fidelity, replay_fidelity
from dpcsim.calibration.fit import CurveFit
from dpcsim.calibration.reconstruct import (
    Reconstruction,
    reconstruct_wlm_config,
    routing_by_service_class,
)
from dpcsim.calibration.usl import usl_slowdown, usl_throughput

__all__ = [
    "Calibration",
    "ConcurrencyProfile",
    "ContentionDefaults",
    "ContentionFit",
    "CurveFit",
    "ExecutionIntervals",
    "Fidelity",
    "Reconstruction",
    "build_profile",
    "calibrate",
    "contention_defaults",
    "execution_intervals",
    "fit_contention",
    "max_overlap",
    "reconstruct_wlm_config",
    "replay_fidelity",
    "routing_by_service_class",
    "solo_work_s",
    "usl_slowdown",
    "usl_throughput",
]

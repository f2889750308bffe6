"""``calibrate``: the contention fit and the replay fidelity of one log, together."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from dpcsim.calibration.estimate import ContentionFit, fit_contention
from dpcsim.calibration.fidelity import Fidelity, replay_fidelity
from dpcsim.calibration.reconstruct import (
    Reconstruction,
    reconstruct_wlm_config,
    routing_by_service_class,
)
from dpcsim.engine import ClusterSettings
from dpcsim.schema import Workload
from dpcsim.wlm import RoutingResult, WLMConfig

__all__ = ["Calibration", "calibrate"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Calibration:
    """Everything ``dpcsim calibrate`` writes.

    Attributes
    ----------
    fit
        The contention fit (``settings.toml``, ``fit.json``).
    fidelity
        The replay's agreement with the log (``fidelity.csv``, the verdict).
    config
        The configuration the replay used.
    reconstruction
        How ``config`` was rebuilt from the log; None when it was given.
    """

    fit: ContentionFit
    fidelity: Fidelity
    config: WLMConfig
    reconstruction: Reconstruction | None

    def fit_json(self) -> str:
        """``fit.json`` text: the fit, plus how the fidelity replay was run."""
        body = self.fit.to_dict()
        body["replay"] = {
            "config": "reconstructed from the log" if self.reconstruction else "given",
            "reconstruction_notes": (
                list(self.reconstruction.notes) if self.reconstruction else []
            ),
            "contention": self.fidelity.contention,
            "fidelity": self.fidelity.level,
            "verdict": self.fidelity.verdict,
        }
        return json.dumps(_finite(body), indent=2, sort_keys=True) + "\n"


def calibrate(
    workload: Workload,
    *,
    config: WLMConfig | None = None,
    settings: ClusterSettings | None = None,
    routing: RoutingResult | None = None,
    seed: int = 0,
    n_boot: int = 100,
    source: str = "<workload>",
) -> Calibration:
    """Fit contention from ``workload`` and replay it under its recording config.

    Parameters
    ----------
    workload
        The logged workload.
    config
        The recording WLM configuration; None rebuilds it from the log's
        service classes (:func:`reconstruct_wlm_config`) and routes by them.
    settings
        Cluster settings the log was recorded under (None = defaults): the
        replay runs under them, not under the fitted curve (see below).
    routing
        Routing of the rows under a given ``config``; None routes by its rules.
    seed
        Seed of the bootstrap and of the engine.
    n_boot
        Bootstrap refits for the intervals.
    source
        Name of the workload in error messages.

    Notes
    -----
    The fidelity replay uses the recording's settings, ``[contention]``
    included, because with ``demand = "observed"`` the curve only converts
    logged times into solo work and back, and SQA decides on solo work: its
    dynamic maximum (p70 of the eligible queries' solo work + 2 s) and its
    learned predictions (mean solo work of a shape) move with the curve. A
    replay under another curve (the fitted one) changes SQA decisions the log
    does not show and so differs from it for reasons no replay of the
    recording can confirm; the fitted curve is in ``fit``.
    """
    fit = fit_contention(workload.queries, n_boot=n_boot, seed=seed)
    reconstruction = None
    if config is None:
        reconstruction = reconstruct_wlm_config(workload.queries, source=source)
        config = reconstruction.config
        routing = routing_by_service_class(config, workload.queries)
    fidelity = replay_fidelity(
        workload,
        config,
        settings,
        routing=routing,
        seed=seed,
    )
    return Calibration(
        fit=fit, fidelity=fidelity, config=config, reconstruction=reconstruction
    )


def _finite(value: Any) -> Any:
    """JSON-safe: NaN and infinities become null."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, float) and (
        value != value or value in (float("inf"), float("-inf"))
    ):
        return None
    return value

"""Execution times and resource figures per statement class.

Execution time (the service demand on the main cluster) is drawn from a
lognormal mixture per class: a single exponential cannot give the fleet's shape
(median tens of milliseconds, mean seconds, p99 minutes; see
``workload-calibration.md``). The class parameters here, together with the
volumes in :mod:`dpcsim.workload.elt` and :mod:`dpcsim.workload.adhoc`, are what
the calibration tests hold to the published figures. Memory, scan and spill
figures follow from the execution time so that long queries are also the
memory-hungry ones; their scale (:data:`MEMORY_SCALE`) is calibrated so that the
spill at the DPC design's slot memory over the data scanned matches Redset's
fleet-wide median hour, spilled / scanned = 0.39 (van Renen et al., "Why TPC is
not enough: an analysis of the Amazon Redshift fleet", VLDB 2024; data set
amazon-science/redset; the figure as tabulated in workload-calibration.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np

__all__ = [
    "MEMORY_SCALE",
    "MIXTURES",
    "SLOT_MEMORY_MB",
    "LogNormalMix",
    "lognormal",
    "resources",
]

#: Slot memory at which generated spill is recorded [MB]: a ``batch`` slot of
#: the DPC design (50 % of 2 x ra3.xlplus = 65,536 MB, over 8 slots).
SLOT_MEMORY_MB: Final = 4096.0

#: Multiplier of every class's ``mem_scale_mb``: chosen so that the spill at
#: :data:`SLOT_MEMORY_MB` over the data scanned is Redset's fleet median hour
#: (spilled / scanned = 0.39; p10 0.23, p90 0.64: van Renen et al., VLDB 2024,
#: amazon-science/redset, in workload-calibration.md "Memory: scanned and
#: spilled data"). On the bundled sample it gives 0.39 with about 3 % of the
#: queries spilling, the long dbt models, learner joins and VACUUMs.
MEMORY_SCALE: Final = 4.3


@dataclass(frozen=True, slots=True, kw_only=True)
class LogNormalMix:
    """A mixture of lognormal components.

    Attributes
    ----------
    weights
        Component probabilities (sum to 1).
    medians_s
        Component medians [s].
    sigmas
        Component log-space standard deviations.
    """

    weights: tuple[float, ...]
    medians_s: tuple[float, ...]
    sigmas: tuple[float, ...]

    def __post_init__(self) -> None:
        n = len(self.weights)
        if not (n == len(self.medians_s) == len(self.sigmas)) or n == 0:
            raise ValueError(
                "weights, medians_s and sigmas must be non-empty and of equal "
                f"length; got {len(self.weights)}, {len(self.medians_s)}, "
                f"{len(self.sigmas)}"
            )
        if abs(sum(self.weights) - 1.0) > 1e-9 or min(self.weights) < 0:
            raise ValueError(f"weights={self.weights}; expected non-negative, sum 1")
        if min(self.medians_s) <= 0 or min(self.sigmas) < 0:
            raise ValueError("medians_s must be > 0 and sigmas >= 0")

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Draw ``n`` execution times [s]."""
        comp = rng.choice(len(self.weights), size=n, p=np.asarray(self.weights))
        med = np.asarray(self.medians_s)[comp]
        sig = np.asarray(self.sigmas)[comp]
        return np.asarray(med * np.exp(sig * rng.standard_normal(n)))


#: Mixtures of the statement classes that are not tied to a catalogue entry.
MIXTURES: Final[dict[str, LogNormalMix]] = {
    # Learners' SELECTs that miss the result cache: quick lookups, exercise
    # aggregations, a heavy minority of joins over the facts, rare monsters.
    "adhoc": LogNormalMix(
        weights=(0.51, 0.3, 0.16, 0.03),
        medians_s=(0.035, 0.25, 0.8, 100.0),
        sigmas=(0.6, 0.7, 0.8, 0.9),
    ),
    # Answered from the result cache: a leader-node lookup.
    "cached": LogNormalMix(weights=(1.0,), medians_s=(0.002,), sigmas=(0.5,)),
    "dq_select": LogNormalMix(weights=(1.0,), medians_s=(0.25,), sigmas=(0.8,)),
    "small_insert": LogNormalMix(weights=(1.0,), medians_s=(0.012,), sigmas=(0.4,)),
    "ddl": LogNormalMix(weights=(1.0,), medians_s=(0.008,), sigmas=(0.5,)),
    "analyze": LogNormalMix(weights=(1.0,), medians_s=(1.5,), sigmas=(0.8,)),
    "unload": LogNormalMix(weights=(1.0,), medians_s=(80.0,), sigmas=(0.3,)),
}


def lognormal(
    median_s: np.ndarray | float, sigma: float, n: int, rng: np.random.Generator
) -> np.ndarray:
    """Draw ``n`` lognormal execution times around ``median_s`` [s]."""
    return np.asarray(median_s * np.exp(sigma * rng.standard_normal(n)))


def resources(
    exec_s: np.ndarray,
    rng: np.random.Generator,
    *,
    mem_scale_mb: float | np.ndarray = 120.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Memory, scan and spill figures consistent with the execution times.

    Memory grows sub-linearly with execution time (``mem ~ exec^0.45``, scaled
    by :data:`MEMORY_SCALE`); a query whose memory exceeds
    :data:`SLOT_MEMORY_MB` spills the excess, as the engine's spill model has
    it (:mod:`dpcsim.engine.memory`).

    Parameters
    ----------
    exec_s
        Execution times [s].
    rng
        Random generator.
    mem_scale_mb
        Memory of a one-second query of this class [MB].

    Returns
    -------
    mem_mb, scanned_mb, spilled_mb : numpy.ndarray
        Working memory wanted [MB], data scanned [MB], data spilled [MB].
    """
    n = exec_s.size
    base = np.maximum(exec_s, 1e-3)
    mem_mb = MEMORY_SCALE * mem_scale_mb * base**0.45 * rng.lognormal(0.0, 0.4, n)
    mem_mb = np.clip(mem_mb, 8.0, 250_000.0)
    scanned_mb = base * 180.0 * rng.lognormal(0.0, 0.7, n)
    spilled_mb = np.maximum(mem_mb - SLOT_MEMORY_MB, 0.0)
    return mem_mb, scanned_mb, spilled_mb

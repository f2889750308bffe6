"""The contention defaults a calibration keeps when the log cannot identify the curve.

They are the ``[contention]`` table of ``dpcsim/data/cluster_defaults.toml``
(published Redshift concurrency measurements, cited there). A package whose
defaults file has no such table falls back to no contention
(``sigma = kappa = 0``: total throughput grows linearly with concurrency, the
fixed-demand replay), and says so in the ``source``.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from typing import Any, Final

__all__ = ["ContentionDefaults", "contention_defaults"]

_DEFAULTS_FILE: Final = "cluster_defaults.toml"


@dataclass(frozen=True, slots=True, kw_only=True)
class ContentionDefaults:
    """Default USL coefficients and where they come from.

    Attributes
    ----------
    sigma, kappa
        USL contention and coherency (>= 0).
    source
        ``dpcsim/data/cluster_defaults.toml [contention]``, or the fallback's
        explanation.
    """

    sigma: float
    kappa: float
    source: str


def contention_defaults(text: str | None = None) -> ContentionDefaults:
    """Read the ``[contention]`` defaults shipped with the package.

    Parameters
    ----------
    text
        TOML text to read instead of the package's ``cluster_defaults.toml``.
    """
    if text is None:
        path = resources.files("dpcsim") / "data" / _DEFAULTS_FILE
        text = path.read_text("utf-8")
    table: Any = tomllib.loads(text).get("contention")
    if isinstance(table, dict) and "sigma" in table and "kappa" in table:
        return ContentionDefaults(
            sigma=float(table["sigma"]),
            kappa=float(table["kappa"]),
            source=f"dpcsim/data/{_DEFAULTS_FILE} [contention]",
        )
    return ContentionDefaults(
        sigma=0.0,
        kappa=0.0,
        source=f"no contention: dpcsim/data/{_DEFAULTS_FILE} has no [contention] "
        "table (sigma = kappa = 0 replays logged execution times as fixed demands)",
    )

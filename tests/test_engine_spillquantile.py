"""Exact quantiles of spilled values equal ``numpy.quantile`` bit for bit."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

import dpcsim.engine.spillquantile as spillquantile
from dpcsim.engine.spillquantile import SpilledValues


def _values(rng: np.random.Generator, kind: str, n: int) -> np.ndarray:
    if kind == "lognormal":
        return rng.lognormal(0.0, 2.0, n)
    if kind == "ties":  # few distinct values: the selected rank sits in a run
        return rng.integers(0, 3, n).astype("float64")
    if kind == "signed":  # negatives, zeros of both signs, rounding ties
        v = np.round(rng.normal(0.0, 3.0, n), 1)
        v[rng.random(n) < 0.1] = -0.0
        return v
    return rng.uniform(-1e300, 1e300, n)  # the full exponent range


@pytest.mark.parametrize("kind", ["lognormal", "ties", "signed", "wide"])
@pytest.mark.parametrize("q", [0.0, 0.33, 0.5, 0.7, 1.0])
def test_quantile_equals_numpy(monkeypatch, kind, q):
    # Small blocks: a value's key is read across many blocks and passes.
    monkeypatch.setattr(spillquantile, "BLOCK", 257)
    rng = np.random.default_rng(zlib.crc32(f"{kind}{q}".encode()))
    for n in (1, 2, 3, 10, 999, 4000):
        v = _values(rng, kind, n)
        with SpilledValues() as spill:
            for part in np.array_split(v, 4):
                spill.add(part)
            got = spill.quantile(q)
        assert got == float(np.quantile(v, q)), (kind, q, n)


def test_nan_and_empty():
    with SpilledValues() as spill:
        with pytest.raises(ValueError, match="no values"):
            spill.quantile(0.7)
        spill.add(np.array([1.0, np.nan, 3.0]))
        assert np.isnan(spill.quantile(0.7))

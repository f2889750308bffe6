"""An exact quantile of more values than memory should hold, spilled to disk.

:class:`SpilledValues` appends float64 values to an unnamed temporary file
(8 B per value on disk, none in memory) and :meth:`SpilledValues.quantile`
returns exactly what ``numpy.quantile(values, q)`` (``method="linear"``)
returns for all of them, reading the file in blocks: each of the two order
statistics the interpolation needs is found by a radix select over the
values' order-preserving 64-bit keys, 16 bits per pass (at most four passes
each), so memory is one block plus a 65,536-bin count, whatever the count.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from types import TracebackType
from typing import Final

import numpy as np

__all__ = ["SpilledValues"]

#: Values read per block [values] (8 MiB).
BLOCK: Final = 1 << 20
_DIGIT_BITS: Final = 16
_SIGN: Final = np.uint64(1 << 63)


class SpilledValues:
    """Float64 values kept in a temporary file; exact quantiles of them.

    Examples
    --------
    >>> with SpilledValues() as spill:
    ...     spill.add(np.array([5.0, 1.0, 4.0, 2.0, 3.0]))
    ...     spill.quantile(0.7)
    3.8
    """

    def __init__(self) -> None:
        # Closed by close() / the with-block of this object, not a local one.
        self.file = tempfile.TemporaryFile()  # noqa: SIM115
        self.n = 0
        self.has_nan = False

    def add(self, values: np.ndarray) -> None:
        """Append ``values`` (converted to float64)."""
        v = np.ascontiguousarray(values, dtype=np.float64)
        self.has_nan = self.has_nan or bool(np.isnan(v).any())
        self.file.write(v.tobytes())
        self.n += v.size

    def quantile(self, q: float) -> float:
        """``numpy.quantile`` of every value added (NaN if any is NaN)."""
        if self.n == 0:
            raise ValueError("no values: the quantile of nothing is undefined")
        if self.has_nan:
            return float("nan")
        # numpy's linear method: virtual index (n - 1) q, then a lerp between
        # the order statistics on either side; a two-value array at gamma
        # reproduces that lerp bit for bit.
        virtual = np.float64(self.n - 1) * np.float64(q)
        below = int(np.floor(virtual))
        gamma = float(virtual - np.floor(virtual))
        a = self._select(below)
        b = self._select(min(below + 1, self.n - 1))
        return float(np.quantile(np.array([a, b]), gamma))

    def _select(self, rank: int) -> float:
        """The value of 0-based ``rank`` in sorted order."""
        prefix, known = np.uint64(0), 0  # top ``known`` bits of the key
        while known < 64:
            shift = 64 - known - _DIGIT_BITS
            counts = np.zeros(1 << _DIGIT_BITS, dtype=np.int64)
            for keys in self._keys():
                if known:
                    keys = keys[(keys >> np.uint64(64 - known)) == prefix]
                digit = (keys >> np.uint64(shift)) & np.uint64((1 << _DIGIT_BITS) - 1)
                counts += np.bincount(digit.astype(np.int64), minlength=counts.size)
            cum = np.cumsum(counts)
            d = int(np.searchsorted(cum, rank, side="right"))
            rank -= int(cum[d - 1]) if d else 0
            prefix = (prefix << np.uint64(_DIGIT_BITS)) | np.uint64(d)
            known += _DIGIT_BITS
        return float(_from_key(np.array([prefix], dtype=np.uint64))[0])

    def _keys(self) -> Iterator[np.ndarray]:
        """Order-preserving uint64 keys of the values, block by block."""
        self.file.seek(0)
        while True:
            raw = self.file.read(BLOCK * 8)
            if not raw:
                return
            yield _to_key(np.frombuffer(raw, dtype=np.float64))

    def close(self) -> None:
        """Remove the file."""
        self.file.close()

    def __enter__(self) -> SpilledValues:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _to_key(v: np.ndarray) -> np.ndarray:
    """Keys whose unsigned order is the floats' order (-0.0 before +0.0)."""
    bits = v.view(np.uint64)
    negative = (bits & _SIGN) != 0
    return np.where(negative, ~bits, bits | _SIGN)


def _from_key(k: np.ndarray) -> np.ndarray:
    """The floats of :func:`_to_key` keys."""
    positive = (k & _SIGN) != 0
    bits = np.where(positive, k & ~_SIGN, ~k)
    return bits.view(np.float64)

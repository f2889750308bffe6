"""A column-wise accumulator for generated statements.

The ELT, learner and maintenance generators add statements in blocks (a COPY
burst, one dbt model's chain, a day of learners) as arrays; :class:`Rows` keeps
the blocks and concatenates them once. Times are seconds from the horizon start;
:mod:`dpcsim.workload.generate` turns them into the canonical frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import pandas as pd

__all__ = ["ROW_COLUMNS", "Rows", "offset"]

#: Internal columns and their dtypes (``t_s`` [s] from the horizon start).
ROW_COLUMNS: Final[dict[str, str]] = {
    "t_s": "float64",
    "exec_s": "float64",
    "statement_type": "string",
    "user_name": "string",
    "query_group": "string",
    "query_text": "string",
    "fingerprint": "string",
    "aborted": "bool",
    "cache_hit": "bool",
    "slot_count": "int64",
    "mem_scale_mb": "float64",
    "session": "int64",
    "cs_eligible": "bool",
}


class Rows:
    """Blocks of statements, appended with :meth:`add`, joined by :meth:`frame`."""

    def __init__(self) -> None:
        self._blocks: list[dict[str, Any]] = []
        self.count = 0
        self.sessions = 0

    def new_sessions(self, k: int = 1) -> int:
        """Reserve ``k`` session ids; return the first (ids are 0, 1, ...)."""
        first = self.sessions
        self.sessions += k
        return first

    def add(
        self,
        *,
        t_s: np.ndarray | float,
        exec_s: np.ndarray | float,
        statement_type: Sequence[str] | str,
        user_name: Sequence[str] | str,
        query_text: Sequence[str] | str,
        fingerprint: Sequence[str] | str,
        query_group: str = "default",
        aborted: np.ndarray | bool = False,
        cache_hit: np.ndarray | bool = False,
        slot_count: int = 1,
        mem_scale_mb: float = 120.0,
        session: np.ndarray | int = -1,
        cs_eligible: bool = True,
    ) -> np.ndarray:
        """Append a block; scalars broadcast. Return the block's row numbers.

        ``session`` is the id (:meth:`new_sessions`) of the session that issues
        the statements, -1 for none.
        """
        n = max(np.size(t_s), np.size(exec_s))
        if not isinstance(query_text, str):
            n = max(n, len(query_text))
        block = {
            "t_s": t_s,
            "exec_s": exec_s,
            "statement_type": statement_type,
            "user_name": user_name,
            "query_group": query_group,
            "query_text": query_text,
            "fingerprint": fingerprint,
            "aborted": aborted,
            "cache_hit": cache_hit,
            "slot_count": slot_count,
            "mem_scale_mb": mem_scale_mb,
            "session": session,
            "cs_eligible": cs_eligible,
        }
        self._blocks.append({k: _broadcast(v, n) for k, v in block.items()})
        rows = np.arange(self.count, self.count + n)
        self.count += n
        return rows

    def frame(self) -> pd.DataFrame:
        """All blocks as one frame with :data:`ROW_COLUMNS` dtypes."""
        if not self._blocks:
            return pd.DataFrame({c: pd.Series(dtype=t) for c, t in ROW_COLUMNS.items()})
        data = {
            col: pd.Series(np.concatenate([b[col] for b in self._blocks]), dtype=dtype)
            for col, dtype in ROW_COLUMNS.items()
        }
        return pd.DataFrame(data)


def _broadcast(value: Any, n: int) -> np.ndarray:
    """Return ``value`` as an array of length ``n`` (scalars repeated)."""
    if isinstance(value, str):
        out = np.empty(n, dtype=object)
        out[:] = value
        return out
    if np.ndim(value) == 0:
        return np.full(n, value)
    arr = np.asarray(value, dtype=object if not isinstance(value, np.ndarray) else None)
    if arr.shape[0] != n:
        raise ValueError(f"block column has {arr.shape[0]} values; expected {n}")
    return arr


def offset(t_s: pd.Series | np.ndarray) -> pd.TimedeltaIndex:
    """Seconds from the horizon start -> timedeltas rounded to the microsecond.

    Every generated timestamp goes through here, so a load error's time equals
    its COPY's arrival exactly.
    """
    us = np.round(np.asarray(t_s, dtype=np.float64) * 1e6)
    return pd.to_timedelta(us, unit="us")

"""Session-aware replay: a session issues its next statement after the last returns.

An open-loop replay submits every statement at its logged instant, so under a
slower configuration statements of one session (a dbt thread, a Step Functions
branch, a learner at a notebook) pile up instead of waiting for each other.
Session replay chains them: within a session, ordered by logged arrival, a
statement arrives at the previous statement's simulated end plus the logged
*think time* (its logged arrival minus the previous statement's logged end,
``arrival + queue_s + exec_s``; unknown ``queue_s`` counts as 0). A session's
first statement keeps its logged arrival. A statement that the log shows
arriving before the previous one ended (think time < 0: the session ran them
concurrently) is not chained: it keeps its logged arrival and starts a new chain.
The engine serves a result-cache hit at once, so the chain measures think time
from a hit's start (:func:`dpcsim.engine.simulate.chained_end_s`), and from
the end of the final attempt of a query evicted from SQA.
Replaying a log under the configuration that recorded it thus reproduces the
logged arrivals.
"""

from __future__ import annotations

from typing import Final, Literal

import numpy as np

__all__ = ["REPLAY_MODES", "Replay", "session_chain"]

Replay = Literal["session", "open"]
#: ``session`` chains statements of known sessions; ``open`` replays the logged
#: arrivals as they are.
REPLAY_MODES: Final = ("session", "open")


def session_chain(
    arrival_s: np.ndarray, logged_end_s: np.ndarray, session: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(successor, think_s)`` per query (engine order = arrival order).

    Parameters
    ----------
    arrival_s, logged_end_s
        Logged arrival and end [s] per query, ``arrival_s`` non-decreasing.
    session
        Session code per query, -1 when unknown.

    Returns
    -------
    successor
        Index of the statement that follows each query in its session, or -1.
    think_s
        Logged think time [s] before each chained statement (0 elsewhere).

    >>> succ, think = session_chain(np.array([0.0, 5.0, 6.0]),
    ...                             np.array([4.0, 9.0, 7.0]), np.array([0, 0, -1]))
    >>> succ.tolist(), think.tolist()
    ([1, -1, -1], [0.0, 1.0, 0.0])
    """
    n = arrival_s.size
    succ = np.full(n, -1, np.int64)
    think = np.zeros(n, np.float64)
    known = np.flatnonzero(session >= 0)
    if known.size < 2:
        return succ, think
    # Within a session, in arrival (= index) order.
    order = known[np.lexsort((known, session[known]))]
    same = session[order[1:]] == session[order[:-1]]
    prev, nxt = order[:-1][same], order[1:][same]
    gap = arrival_s[nxt] - logged_end_s[prev]
    chained = gap >= 0.0
    succ[prev[chained]] = nxt[chained]
    think[nxt[chained]] = gap[chained]
    return succ, think

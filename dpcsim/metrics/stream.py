"""The datapoints of a streamed run, accumulated slice by slice in fixed memory.

:class:`StreamMetrics` takes the slices of :func:`dpcsim.engine.simulate_stream`
(consecutive query rows, their state-change log and the workload rows they
replayed) and keeps, per series, only per-minute (or per 5-minute period)
accumulators: memory grows with the run's span in minutes, not with its number
of queries, and no per-query array outlives its slice (with the storage model
on, the completed COPY and VACUUM rows it reads are kept: a few per ELT run;
the mart table of each distinct SQL text is remembered, up to 200,000 texts).
:meth:`StreamMetrics.finish` returns the same datapoints frame
:func:`dpcsim.metrics.build_metrics` returns for the whole run (instant
sampling, the CLI's), value for value and in the same order, so
``metrics.parquet`` is byte-identical (tested).

Why it is exact. Every per-minute gauge is a step function sampled at minute
starts, and every count or sum is added per minute or period in the query
order of the whole run:

* a grid instant ``g`` is final once a slice ends after it: later slices hold
  only events after the previous slice's last event (the stream cuts where the
  system is empty), so the state at ``g`` and every last write before ``g``
  are known; instants after a slice's last event take the carried state;
* ``ConcurrencyScalingSeconds`` is the difference of the running integral of
  the processing-cluster step function; the integral's cumulative sum is
  carried across slices and continued in the same order (``numpy.cumsum`` adds
  sequentially), so each partial sum is the whole run's;
* 5-minute sums are added with ``numpy.add.at`` in row order, the order
  ``numpy.bincount`` adds them in over the whole run;
* ELT stop shifts keep the maximum simulated and logged ELT end per Step
  Functions run (a maximum does not depend on order).

Assumptions of the streamed form: ``query_id`` is unique within the workload
(the in-memory path takes the first row of a repeated id over the whole log,
the stream within its slice), and the sampling is ``instant``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

import numpy as np
import pandas as pd

from dpcsim.designs import ELTContract
from dpcsim.engine.records import StateLog
from dpcsim.metrics.custom import (
    CUSTOM_NAMESPACE,
    FAILED_OUTCOMES,
    WLM_CAUSED_OUTCOMES,
    elt_delay_points,
)
from dpcsim.metrics.elt import mart_tables, step_functions_delay_min
from dpcsim.metrics.points import concat_points, points, sort_points
from dpcsim.metrics.records import RunRecords
from dpcsim.metrics.redshift import aws_points, disk_datapoints
from dpcsim.metrics.series import (
    MINUTE_S,
    bin_counts,
    minute_grid,
    period_index,
)
from dpcsim.metrics.storage import StorageSettings

__all__ = ["StreamMetrics"]

_PERIOD_S: Final = 300
#: Distinct SQL texts whose mart table is remembered across slices.
_TEXT_CACHE: Final = 200_000
#: Workload columns the accumulator reads from a slice's rows.
ROW_COLUMNS: Final = (
    "query_id",
    "arrival_at",
    "queue_s",
    "exec_s",
    "query_group",
    "query_text",
    "scanned_mb",
)
#: Statement types the storage model reads (kept for completed queries only).
_STORAGE_KINDS: Final = ("copy", "vacuum")


class _Grid:
    """Minute starts as :func:`~dpcsim.metrics.series.minute_grid` has them."""

    def __init__(self, start_at: pd.Timestamp) -> None:
        self.start_at = start_at
        self.first = start_at.floor("min")
        self.g0 = float(self.points(0, 1)[0])

    def points(self, a: int, b: int) -> np.ndarray:
        """Grid instants ``a .. b-1`` [s from ``start_at``]."""
        if b <= a:
            return np.zeros(0)
        stamps = pd.date_range(
            self.first + pd.Timedelta(minutes=a), periods=b - a, freq="min"
        )
        return np.asarray((stamps - self.start_at).total_seconds(), dtype="float64")

    def count_upto(self, bound: float) -> int:
        """Number of grid instants at or before ``bound`` [s]."""
        if not np.isfinite(bound) or bound < self.g0:
            return 0
        k = int(np.floor((bound - self.g0) / MINUTE_S)) + 1
        while k > 0 and self.points(k - 1, k)[0] > bound:
            k -= 1
        while self.points(k, k + 1)[0] <= bound:
            k += 1
        return k


_EMPTY: Final = np.zeros(0)


class _Step:
    """A right-continuous step function (0 before its first change) at the grid."""

    def __init__(self) -> None:
        self.carry = 0.0
        self.blocks: list[np.ndarray] = []
        self.done = 0

    def advance(self, grid: _Grid, k: int, t: np.ndarray, v: np.ndarray) -> None:
        """Final values up to grid instant ``k``; ``t, v``: this slice's steps."""
        if k > self.done:
            g = grid.points(self.done, k)
            idx = np.searchsorted(t, g, side="right") - 1
            taken = v[np.clip(idx, 0, None)] if v.size else 0.0
            self.blocks.append(np.where(idx >= 0, taken, self.carry))
            self.done = k
        if t.size:
            self.carry = float(v[-1])

    def values(self, grid: _Grid, k: int) -> np.ndarray:
        """All ``k`` values (the carried state after the last change)."""
        self.advance(grid, k, _EMPTY, _EMPTY)
        return np.concatenate([np.zeros(0), *self.blocks])[:k]


class _Integral:
    """Running integral of a step function at ``grid + shift`` [value x s]."""

    def __init__(self, shift: float) -> None:
        self.shift = shift
        self.last: tuple[float, float, float] | None = None  # t, v, cum
        self.blocks: list[np.ndarray] = []
        self.done = 0
        self.any = False

    def advance(self, grid: _Grid, k: int, t: np.ndarray, v: np.ndarray) -> None:
        """Final integrals up to grid instant ``k``; ``t, v``: this slice's steps."""
        cum = _EMPTY
        if t.size:
            self.any = True
            inc = v[:-1] * np.diff(t)
            if self.last is None:
                cum = np.concatenate([[0.0], np.cumsum(inc)])
            else:
                t0, v0, c0 = self.last
                lead = np.array([c0, v0 * (t[0] - t0)])
                cum = np.cumsum(np.concatenate([lead, inc]))[1:]
        if k > self.done:
            x = grid.points(self.done, k) + self.shift
            idx = np.searchsorted(t, x, side="right") - 1
            safe = np.clip(idx, 0, None)
            inside = cum[safe] + v[safe] * (x - t[safe]) if t.size else np.zeros(x.size)
            if self.last is None:
                before = np.zeros(x.size)
            else:
                t0, v0, c0 = self.last
                before = c0 + v0 * (x - t0)
            self.blocks.append(np.where(idx >= 0, inside, before))
            self.done = k
        if t.size:
            self.last = (float(t[-1]), float(v[-1]), float(cum[-1]))

    def values(self, grid: _Grid, k: int) -> np.ndarray:
        """All ``k`` integrals."""
        self.advance(grid, k, _EMPTY, _EMPTY)
        return np.concatenate([np.zeros(0), *self.blocks])[:k]


class _Bins:
    """Growable per-bin float sums and integer counts (bins from 0)."""

    def __init__(self) -> None:
        self.sums = np.zeros(1024)
        self.counts = np.zeros(1024, dtype=np.int64)

    def add(self, k: np.ndarray, w: np.ndarray | None = None) -> None:
        """Add ``w`` (None: counts only) at bins ``k`` (in this order)."""
        if not k.size:
            return
        need = int(k.max()) + 1
        if need > self.sums.size:
            size = max(need, 2 * self.sums.size)
            self.sums = np.concatenate([self.sums, np.zeros(size - self.sums.size)])
            self.counts = np.concatenate(
                [self.counts, np.zeros(size - self.counts.size, dtype=np.int64)]
            )
        if w is not None:
            np.add.at(self.sums, k, w)
        np.add.at(self.counts, k, 1)

    def take(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Sums and counts of bins ``0 .. n-1``."""
        sums, counts = np.zeros(n), np.zeros(n, dtype=np.int64)
        m = min(n, self.sums.size)
        sums[:m], counts[:m] = self.sums[:m], self.counts[:m]
        return sums, counts


class _Mart:
    """Last completed write per mart table, and the stalest one at the grid."""

    def __init__(self) -> None:
        self.last: dict[str, float] = {}
        self.blocks: list[np.ndarray] = []
        self.done = 0

    def advance(self, grid: _Grid, k: int, table: np.ndarray, end: np.ndarray) -> None:
        """Final oldest-last-write values up to grid instant ``k``."""
        order = np.argsort(end, kind="stable")
        table, end = table[order], end[order]
        if k > self.done:
            g = grid.points(self.done, k)
            oldest = np.full(g.size, np.inf)
            names = set(self.last) | set(table.tolist())
            for name in sorted(names):
                ends = end[table == name]
                idx = np.searchsorted(ends, g, side="right") - 1
                carry = self.last.get(name, np.inf)
                taken = ends[np.clip(idx, 0, None)] if ends.size else carry
                oldest = np.minimum(oldest, np.where(idx >= 0, taken, carry))
            self.blocks.append(oldest)
            self.done = k
        for name, t in zip(table.tolist(), end.tolist(), strict=True):
            self.last[name] = t

    def values(self, grid: _Grid, k: int) -> np.ndarray:
        """Oldest last write at each of ``k`` grid instants (inf: none known)."""
        self.advance(grid, k, np.zeros(0, dtype=object), _EMPTY)
        return np.concatenate([np.zeros(0), *self.blocks])[:k]


class StreamMetrics:
    """Every datapoint of a streamed run, from its slices (see the module docstring).

    Parameters
    ----------
    elt
        The design's ELT contract (queue and query group of the ELT).
    cluster_id, environment
        ``ClusterIdentifier`` and ``Environment`` dimension values.
    queues
        Queue names to publish even if unused.
    elt_runs, load_errors
        The workload's side tables (canonical form, UTC times).
    storage
        The storage model to run, or None (no ``PercentageDiskSpaceUsed``).
    elt_cadence_min
        The ELT's schedule interval [min] (see :mod:`dpcsim.metrics.custom`).
    end_at
        Last instant to cover [UTC]; default the run's last activity.
    copy_error_default
        ``defaultValue`` of the ``CopyErrorCount`` metric filter (None: only
        minutes with errors).

    Examples
    --------
    >>> acc = StreamMetrics(elt=d.elt, cluster_id="c", environment="prod",
    ...                     elt_runs=w.elt_runs, load_errors=w.load_errors)
    ... # doctest: +SKIP
    >>> acc.add(queries, timeline, scaling, rows)  # doctest: +SKIP
    >>> datapoints = acc.finish()  # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        elt: ELTContract,
        cluster_id: str,
        environment: str,
        elt_runs: pd.DataFrame,
        load_errors: pd.DataFrame,
        queues: Iterable[str] = (),
        storage: StorageSettings | None = None,
        elt_cadence_min: float = 1440.0,
        end_at: pd.Timestamp | None = None,
        copy_error_default: float | None = None,
    ) -> None:
        self.copy_error_default = copy_error_default
        self.elt, self.cluster_id, self.environment = elt, cluster_id, environment
        self.queues = tuple(queues)
        self.storage, self.cadence_min, self.end_at = storage, elt_cadence_min, end_at
        self.raw_elt, self.raw_errors = elt_runs, load_errors
        self.grid: _Grid | None = None
        self.start_at: pd.Timestamp | None = None
        self.horizon = 0.0
        self.queued: dict[str, _Step] = {}
        self.running: dict[str, _Step] = {}
        self.carry_q: dict[str, tuple[float, float]] = {}  # queued, running_cs
        self.total_queued = _Step()
        self.active = _Step()
        self.busy_lo, self.busy_hi = _Integral(0.0), _Integral(MINUTE_S)
        self.totals = (0.0, 0.0)  # cluster-wide queued, running_cs
        self.period_queues: set[str] = set()
        self.waits: dict[str, _Bins] = {}
        self.durations: dict[str, _Bins] = {}
        self.failed, self.caused, self.attempted = _Bins(), _Bins(), _Bins()
        self.mart = _Mart()
        self.texts: dict[str, Any] = {}
        self.storage_rows: list[pd.DataFrame] = []
        self.elt_sim: np.ndarray = np.zeros(0)
        self.elt_log: np.ndarray = np.zeros(0)
        self.elt_seen: np.ndarray = np.zeros(0, dtype=bool)

    def _start(self, start_at: pd.Timestamp) -> None:
        """Fix the clock at the first slice; convert the side tables to [s]."""
        self.start_at = pd.Timestamp(start_at)
        self.grid = _Grid(self.start_at)
        runs = self.raw_elt
        self.elt_runs = pd.DataFrame(
            {
                "run_id": runs["run_id"].astype("string").to_numpy(),
                "status": runs["status"].astype("string").to_numpy(),
                "start_s": _seconds(runs["start_at"], self.start_at),
                "stop_s": _seconds(runs["stop_at"], self.start_at),
            }
        )
        n = len(self.elt_runs)
        self.elt_sim, self.elt_log = np.full(n, np.nan), np.full(n, np.nan)
        self.elt_seen = np.zeros(n, dtype=bool)
        self.error_s = _seconds(self.raw_errors["error_at"], self.start_at)
        p0 = self.grid.first.timestamp()
        self.p0 = int(p0) // _PERIOD_S

    def add(
        self,
        queries: pd.DataFrame,
        timeline: pd.DataFrame | StateLog,
        scaling: pd.DataFrame,
        rows: pd.DataFrame,
        start_at: pd.Timestamp,
    ) -> None:
        """Add one slice: its query records, state changes, activations, rows.

        ``timeline`` is the slice's timeline frame or the engine's
        :class:`~dpcsim.engine.records.StateLog` of it (no strings).

        ``rows`` are the workload rows the slice replayed (columns
        :data:`ROW_COLUMNS`; ``query_text`` may be categorical).
        """
        if self.grid is None:
            self._start(start_at)
        assert self.grid is not None
        arrival = queries["arrival_s"].to_numpy(dtype="float64")
        end = queries["end_s"].to_numpy(dtype="float64")
        t_tl = np.asarray(
            timeline.t_s if isinstance(timeline, StateLog) else timeline["t_s"],
            dtype="float64",
        )
        bound = _nanmax(arrival, end, t_tl, scaling["end_s"].to_numpy(dtype="float64"))
        self.horizon = max(self.horizon, bound)
        k = self.grid.count_upto(bound)
        self._gauges(timeline, k, bound)
        codes, uniques = pd.factorize(queries["outcome"], sort=False)
        outcome = (codes, [str(u) for u in uniques])
        wlm = ~queries["cache_hit"].to_numpy(bool)
        completed = _is(outcome, ("completed",))
        self._periods(queries, wlm, completed)
        self._failures(end, outcome, wlm)
        text = self._rows(queries, rows)
        self._marts(queries, text, k, completed)
        self._elt(queries, rows)
        if self.storage is not None:
            self._storage(queries, rows)

    def _gauges(self, tl: pd.DataFrame | StateLog, k: int, bound: float) -> None:
        """Queue gauges, cluster-wide totals and the processing clusters."""
        assert self.grid is not None
        grid = self.grid
        t, codes, names, columns = _log_arrays(tl)
        queued, running, running_cs, clusters = columns
        d_queued, d_cs = np.zeros(t.size), np.zeros(t.size)
        # Only queues with a change are series (as in the whole run's timeline).
        # The samplers take raw rows: the last row at or before an instant is
        # the last one at its time, what step_function's "last wins" keeps.
        present = np.flatnonzero(np.bincount(codes, minlength=len(names)))
        code_of = {names[c]: int(c) for c in present.tolist()}
        for name in code_of:
            self.queued.setdefault(name, _Step())
            self.running.setdefault(name, _Step())
        for name, step in self.queued.items():
            if name not in code_of:
                step.advance(grid, k, _EMPTY, _EMPTY)
                self.running[name].advance(grid, k, _EMPTY, _EMPTY)
                continue
            mine = codes == code_of[name]
            whole = len(code_of) == 1
            rows_t = t if whole else t[mine]
            q_v = queued if whole else queued[mine]
            step.advance(grid, k, rows_t, q_v)
            self.running[name].advance(
                grid, k, rows_t, running if whole else running[mine]
            )
            if mine.any():
                cq, cc = self.carry_q.get(name, (0.0, 0.0))
                d_queued[mine] = np.diff(q_v, prepend=cq)
                cs_v = running_cs[mine]
                d_cs[mine] = np.diff(cs_v, prepend=cc)
                self.carry_q[name] = (float(q_v[-1]), float(cs_v[-1]))
        tq, tc = self.totals
        total_q = tq + np.cumsum(d_queued)
        total_cs = tc + np.cumsum(d_cs)
        if t.size:
            self.totals = (float(total_q[-1]), float(total_cs[-1]))
        self.total_queued.advance(grid, k, t, total_q)
        # Raw rows again: a row followed by one at the same instant adds
        # v * 0 = 0 to the integral, an exact no-op, so the partial sums are
        # those of the collapsed step function.
        both = np.minimum(total_cs, clusters)
        t_u = t
        self.active.advance(grid, k, t_u, both)
        self.busy_lo.advance(grid, k, t_u, both)
        # g + 60 is final when g + 60 is: a margin keeps the count conservative.
        self.busy_hi.advance(grid, grid.count_upto(bound - 61.0), t_u, both)

    def _periods(
        self, queries: pd.DataFrame, wlm: np.ndarray, done: np.ndarray
    ) -> None:
        """5-minute wait and duration sums per queue (epoch-aligned periods).

        ``wlm``: the queries that went through WLM (not result-cache hits);
        ``done``: the completed ones.
        """
        start_s = queries["start_s"].to_numpy(dtype="float64")
        end_s = queries["end_s"].to_numpy(dtype="float64")
        arrival = queries["arrival_s"].to_numpy(dtype="float64")
        started = np.isfinite(start_s) & wlm
        done = done & started
        codes, names = pd.factorize(queries["queue"].astype("string"), sort=False)
        for i in np.unique(codes[wlm & (codes >= 0)]).tolist():
            name = str(names[i])
            self.period_queues.add(name)
            mine = codes == i
            sel = mine & started
            _add_inside(
                self.waits.setdefault(name, _Bins()),
                self._period(start_s[sel]),
                (start_s - arrival)[sel] * 1e3,
            )
            sel = mine & done
            _add_inside(
                self.durations.setdefault(name, _Bins()),
                self._period(end_s[sel]),
                (end_s - start_s)[sel] * 1e6,
            )

    def _period(self, t: np.ndarray) -> np.ndarray:
        """Period number of each instant from the run's first period."""
        assert self.start_at is not None
        of = period_index(t, self.start_at, _PERIOD_S)
        return (of // _PERIOD_S).astype(np.int64) - self.p0

    def _failures(
        self, end_s: np.ndarray, outcome: tuple[np.ndarray, list[str]], wlm: np.ndarray
    ) -> None:
        """Finished, failed and WLM-caused failures per minute of finish."""
        assert self.grid is not None
        for bins, keep in (
            (self.failed, _is(outcome, FAILED_OUTCOMES) & wlm),
            (self.caused, _is(outcome, WLM_CAUSED_OUTCOMES) & wlm),
            (self.attempted, wlm),
        ):
            t = end_s[keep]
            t = t[np.isfinite(t)]
            k = np.floor((t - self.grid.g0) / MINUTE_S).astype("int64")
            bins.add(k[k >= 0])

    def _rows(self, queries: pd.DataFrame, rows: pd.DataFrame) -> pd.Series:
        """The mart table each slice query writes, by position in ``queries``."""
        text = rows["query_text"]
        if isinstance(text.dtype, pd.CategoricalDtype):
            cats = pd.Series(text.cat.categories, dtype="string")
            found = self._tables_of(cats)
            table = found.array.take(text.cat.codes.to_numpy(), allow_fill=True)
        else:
            table = mart_tables(text).array
        wanted = queries["query_id"].to_numpy(dtype="int64")
        logged = rows["query_id"].to_numpy(dtype="int64")
        if not np.array_equal(wanted, logged):
            index = pd.Index(logged)
            first = ~index.duplicated(keep="first")
            found = index[first].get_indexer(wanted)
            positions = np.flatnonzero(first)
            where = np.where(found >= 0, positions[np.clip(found, 0, None)], -1)
            table = table.take(where, allow_fill=True)
        return pd.Series(table, dtype="string")

    def _tables_of(self, texts: pd.Series) -> pd.Series:
        """:func:`~dpcsim.metrics.elt.mart_tables` of distinct texts, remembered.

        A stream's row groups repeat the same few thousand statement shapes;
        the regex runs once per text. The memory is capped (cleared past
        :data:`_TEXT_CACHE` texts) so a log of all-distinct texts stays flat.
        """
        cache = self.texts
        distinct = texts.dropna().unique().tolist()
        new = [t for t in distinct if t not in cache]
        if len(cache) + len(new) > _TEXT_CACHE:
            cache.clear()
            new = distinct
        if new:
            found = mart_tables(pd.Series(new, dtype="string"))
            cache.update(zip(new, found.tolist(), strict=True))
        values = [cache.get(t) if isinstance(t, str) else None for t in texts.tolist()]
        return pd.Series(values, dtype="string")

    def _marts(
        self, queries: pd.DataFrame, table: pd.Series, k: int, done: np.ndarray
    ) -> None:
        """Completed mart writes of the slice into the stalest-table series."""
        assert self.grid is not None
        end_s = queries["end_s"].to_numpy(dtype="float64")
        keep = done & table.notna().to_numpy(bool) & np.isfinite(end_s)
        names = table.str.lower().to_numpy(dtype=object)[keep]
        self.mart.advance(self.grid, k, names, end_s[keep])

    def _elt(self, queries: pd.DataFrame, rows: pd.DataFrame) -> None:
        """Latest simulated and logged end of each Step Functions run's ELT queries."""
        assert self.start_at is not None
        if not len(self.elt_runs):
            return
        arrival = _seconds(rows["arrival_at"], self.start_at)
        queue_s = np.nan_to_num(rows["queue_s"].to_numpy(dtype="float64"), nan=0.0)
        logged = pd.DataFrame(
            {
                "query_id": rows["query_id"].to_numpy(dtype="int64"),
                "query_group": rows["query_group"].astype("string").to_numpy(),
                "arrival_s": arrival,
                "end_s": arrival + queue_s + rows["exec_s"].to_numpy(dtype="float64"),
            }
        )
        sim = queries[["query_id", "queue", "end_s"]].rename(columns={"end_s": "sim_s"})
        merged = logged.merge(sim, on="query_id", how="inner")
        is_elt = merged["queue"].eq(self.elt.queue).fillna(False)
        if self.elt.query_group is not None:
            is_elt = (
                merged["query_group"].eq(self.elt.query_group).fillna(False) | is_elt
            )
        elt = merged.loc[is_elt.to_numpy(bool)]
        at = elt["arrival_s"].to_numpy()
        sim_s, log_s = elt["sim_s"].to_numpy(), elt["end_s"].to_numpy()
        runs = self.elt_runs
        for i, (lo, hi) in enumerate(
            zip(runs["start_s"].to_numpy(), runs["stop_s"].to_numpy(), strict=True)
        ):
            if not np.isfinite(hi):
                continue
            inside = (at >= lo) & (at <= hi)
            if inside.any():
                self.elt_seen[i] = True
                self.elt_sim[i] = np.fmax(
                    self.elt_sim[i], np.fmax.reduce(sim_s[inside])
                )
                self.elt_log[i] = np.fmax(
                    self.elt_log[i], np.fmax.reduce(log_s[inside])
                )

    def _storage(self, queries: pd.DataFrame, rows: pd.DataFrame) -> None:
        """Keep the completed COPY and VACUUM rows the storage model reads."""
        keep = queries["outcome"].eq("completed").to_numpy(bool) & queries[
            "statement_type"
        ].isin(_STORAGE_KINDS).to_numpy(bool)
        if not keep.any():
            return
        scanned = rows["scanned_mb"].to_numpy(dtype="float64", na_value=np.nan)
        if not np.array_equal(
            queries["query_id"].to_numpy(np.int64), rows["query_id"].to_numpy(np.int64)
        ):
            lookup = pd.Series(scanned, index=rows["query_id"].to_numpy(np.int64))
            lookup = lookup[~lookup.index.duplicated(keep="first")]
            scanned = lookup.reindex(queries["query_id"].to_numpy(np.int64)).to_numpy()
        self.storage_rows.append(
            pd.DataFrame(
                {
                    "statement_type": queries["statement_type"].to_numpy(dtype=object)[
                        keep
                    ],
                    "outcome": queries["outcome"].to_numpy(dtype=object)[keep],
                    "end_s": queries["end_s"].to_numpy(dtype="float64")[keep],
                    "scanned_mb": scanned[keep],
                }
            )
        )

    def finish(self) -> pd.DataFrame:
        """The run's datapoints (as :func:`dpcsim.metrics.build_metrics` gives)."""
        if self.grid is None:
            raise ValueError("no slice was added: a streamed run has queries")
        assert self.start_at is not None
        grid = self.grid
        stops = self._shifted_stops()
        horizon = _nanmax(np.array([self.horizon]), stops, self.error_s)
        stamps, grid_s = minute_grid(self.start_at, max(horizon, 0.0), self.end_at)
        n = len(grid_s)
        frames = [self._gauge_points(stamps, n), self._period_points(stamps)]
        dims = {"ClusterIdentifier": self.cluster_id}
        active = self.active.values(grid, n)
        seconds = self.busy_hi.values(grid, n) - self.busy_lo.values(grid, n)
        if not self.busy_lo.any:
            seconds = np.zeros(n)
        frames.append(
            concat_points(
                [
                    aws_points(
                        stamps,
                        active,
                        "ConcurrencyScalingActiveClusters",
                        dims,
                        "Count",
                    ),
                    aws_points(
                        stamps, seconds, "ConcurrencyScalingSeconds", dims, "Count"
                    ),
                ]
            )
        )
        if self.storage is not None:
            frames.append(self._disk_points(stamps, grid_s))
        frames.append(self._custom_points(stamps, grid_s, stops))
        return sort_points(concat_points(frames, consume=True), consume=True)

    def _gauge_points(self, stamps: pd.DatetimeIndex, n: int) -> pd.DataFrame:
        assert self.grid is not None
        names = sorted(set(self.queued) | set(self.queues))
        frames = []
        for steps, metric in (
            (self.queued, "WLMQueueLength"),
            (self.running, "WLMRunningQueries"),
        ):
            for name in names:
                step = steps.get(name)
                values = np.zeros(n) if step is None else step.values(self.grid, n)
                dims = {"ClusterIdentifier": self.cluster_id, "QueueName": name}
                frames.append(aws_points(stamps, values, metric, dims, "Count"))
        frames.append(
            aws_points(
                stamps,
                self.total_queued.values(self.grid, n),
                "WLMQueueLength",
                {"ClusterIdentifier": self.cluster_id},
                "Count",
            )
        )
        return concat_points(frames)

    def _period_points(self, stamps: pd.DatetimeIndex) -> pd.DataFrame:
        first, last = (
            int(s.timestamp()) // _PERIOD_S * _PERIOD_S for s in stamps[[0, -1]]
        )
        periods = np.arange(first, last + 1, _PERIOD_S, dtype="float64")
        period_at = pd.to_datetime(periods, unit="s", utc=True)
        skip = first // _PERIOD_S - self.p0
        frames = []
        for name in sorted(self.period_queues | set(self.queues)):
            waits = self.waits.get(name, _Bins())
            durs = self.durations.get(name, _Bins())
            w_sum, w_cnt = _window(waits, skip, periods.size)
            d_sum, d_cnt = _window(durs, skip, periods.size)
            with np.errstate(invalid="ignore", divide="ignore"):
                wait = np.where(w_cnt > 0, w_sum / np.maximum(w_cnt, 1), np.nan)
                dur = np.where(d_cnt > 0, d_sum / np.maximum(d_cnt, 1), np.nan)
            rate = d_cnt.astype("float64") / float(_PERIOD_S)
            dims = {"ClusterIdentifier": self.cluster_id, "QueueName": name}
            for metric, values, unit in (
                ("WLMQueueWaitTime", wait, "Milliseconds"),
                ("WLMQueryDuration", dur, "Microseconds"),
                ("WLMQueriesCompletedPerSecond", rate, "Count/Second"),
            ):
                ok = np.isfinite(values)
                frames.append(aws_points(period_at[ok], values[ok], metric, dims, unit))
        return concat_points(frames)

    def _disk_points(
        self, stamps: pd.DatetimeIndex, grid_s: np.ndarray
    ) -> pd.DataFrame:
        assert self.storage is not None
        assert self.start_at is not None
        empty: dict[str, list[object]] = {
            "statement_type": [],
            "outcome": [],
            "end_s": [],
            "scanned_mb": [],
        }
        queries = (
            pd.concat(self.storage_rows, ignore_index=True)
            if self.storage_rows
            else pd.DataFrame(empty)
        )
        none = pd.DataFrame()
        records = RunRecords(
            queries=queries,
            timeline=none,
            scaling=none,
            elt_runs=none,
            load_errors=none,
            start_at=self.start_at,
        )
        return disk_datapoints(
            records, stamps, grid_s, cluster_id=self.cluster_id, storage=self.storage
        )

    def _shifted_stops(self) -> np.ndarray:
        """ELT stops moved as :func:`dpcsim.metrics.elt.shift_elt_runs` moves them."""
        stop = self.elt_runs["stop_s"].to_numpy(dtype="float64").copy()
        for i in np.flatnonzero(self.elt_seen):
            stop[i] = stop[i] + self.elt_sim[i] - self.elt_log[i]
        return stop

    def _custom_points(
        self, stamps: pd.DatetimeIndex, grid_s: np.ndarray, stops: np.ndarray
    ) -> pd.DataFrame:
        assert self.grid is not None
        n = len(grid_s)
        runs = self.elt_runs.copy()
        runs["stop_s"] = stops
        oldest = self.mart.values(self.grid, n)
        mart = np.where(np.isfinite(oldest), (grid_s - oldest) / 60.0, np.nan)
        ages = {
            "StepFunctionsCompletion": step_functions_delay_min(runs, grid_s),
            "MartTableUpdate": mart,
        }
        frames = elt_delay_points(stamps, ages, self.environment, self.cadence_min)
        dims = {"ClusterIdentifier": self.cluster_id}
        for name, bins in (
            ("WLMFailedQueries", self.failed),
            ("WLMCausedFailedQueries", self.caused),
            ("WLMAttemptedQueries", self.attempted),
        ):
            counts = bins.take(n)[1].astype("float64")
            frames.append(
                points(
                    stamps,
                    counts,
                    namespace=CUSTOM_NAMESPACE,
                    metric_name=name,
                    dimensions=dims,
                    unit="Count",
                )
            )
        frames.append(self._copy_errors(stamps, grid_s))
        return concat_points(frames)

    def _copy_errors(
        self, stamps: pd.DatetimeIndex, grid_s: np.ndarray
    ) -> pd.DataFrame:
        """``CopyErrorCount`` as the metric filter publishes it."""
        counts = bin_counts(self.error_s, grid_s)
        keep = counts > 0
        values = counts
        if self.copy_error_default is not None:
            keep = np.ones(counts.size, dtype=bool)
            values = np.where(counts > 0, counts, float(self.copy_error_default))
        return points(
            stamps[keep],
            values[keep],
            namespace=CUSTOM_NAMESPACE,
            metric_name="CopyErrorCount",
            dimensions=None,
            unit="Count",
        )


def _is(factorized: tuple[np.ndarray, list[str]], values: Iterable[str]) -> np.ndarray:
    """Rows of a factorized column whose value is one of ``values``."""
    codes, names = factorized
    wanted = [i for i, name in enumerate(names) if name in set(values)]
    return np.isin(codes, wanted)


def _log_arrays(
    tl: pd.DataFrame | StateLog,
) -> tuple[np.ndarray, np.ndarray, list[str], list[np.ndarray]]:
    """Times, queue codes, queue names and the four state columns of a timeline."""
    cols = ("queued", "running", "running_cs", "cs_clusters")
    if isinstance(tl, StateLog):
        codes = np.asarray(tl.queue, dtype=np.int64)
        names = list(tl.names)
        values = [np.asarray(getattr(tl, c), dtype="float64") for c in cols]
        return np.asarray(tl.t_s, dtype="float64"), codes, names, values
    codes, uniques = pd.factorize(tl["queue"].astype("string"), sort=False)
    values = [tl[c].to_numpy(dtype="float64") for c in cols]
    names = [str(u) for u in uniques]
    return tl["t_s"].to_numpy(dtype="float64"), codes, names, values


def _add_inside(bins: _Bins, k: np.ndarray, w: np.ndarray) -> None:
    """Add ``w`` at bins ``k``, leaving out events before the first bin."""
    inside = k >= 0
    bins.add(k[inside], w[inside])


def _window(bins: _Bins, skip: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Sums and counts of ``n`` bins from bin ``skip``."""
    sums, counts = bins.take(skip + n)
    return sums[skip:], counts[skip:]


def _nanmax(*arrays: np.ndarray) -> float:
    """Largest finite value of the arrays (0 when none)."""
    best = 0.0
    for a in arrays:
        finite = a[np.isfinite(a)]
        if finite.size:
            best = max(best, float(finite.max()))
    return best


def _seconds(stamps: pd.Series, start_at: pd.Timestamp) -> np.ndarray:
    """UTC timestamps -> float seconds from ``start_at`` (NaT -> NaN)."""
    delta = pd.to_datetime(stamps, utc=True) - start_at
    return delta.dt.total_seconds().to_numpy(dtype="float64", na_value=np.nan)

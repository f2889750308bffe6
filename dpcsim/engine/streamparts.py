"""Parts of the streaming replay: ordered chunk input and the running summary.

:class:`ChunkSource` turns the caller's chunks into canonical rows in arrival
order and hands them out window by window; :class:`Totals` adds up the summary
of each final slice (see :mod:`dpcsim.engine.stream`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import pandas as pd

from dpcsim.engine.inputs import QueryArrays, arrival_us, prepare
from dpcsim.engine.quantiles import LogHistogram
from dpcsim.engine.queues import QueueTables
from dpcsim.engine.records import Recorder, RunCodes
from dpcsim.engine.result import percentiles, summarize
from dpcsim.engine.scaling import Bill, bill
from dpcsim.engine.settings import ClusterSettings
from dpcsim.engine.simulate import (
    demand_arrays,
    is_observed,
    logged_end_s,
    logged_executions,
    memory_demand_arrays,
    scaled_work,
    sqa_max_eligible,
)
from dpcsim.engine.solowindows import WindowedSolo, settled
from dpcsim.engine.spillquantile import SpilledValues
from dpcsim.engine.sqa import DYNAMIC_QUANTILE, dynamic_max_of_p70, dynamic_max_s
from dpcsim.errors import InputError
from dpcsim.schema import COLUMNS, Workload, validate_workload
from dpcsim.wlm import WLMConfig

__all__ = ["Chunk", "ChunkSource", "Totals", "dynamic_sqa_max_s"]

Chunk = Workload | pd.DataFrame


class ChunkSource:
    """Canonical, ordered rows from the chunks, taken window by window."""

    def __init__(self, chunks: Iterable[Chunk]) -> None:
        self.it: Iterator[Chunk] = iter(chunks)
        self.pending: list[pd.DataFrame] = []
        self.n_pending = 0
        self.done = False
        self.last: tuple[int, int] | None = None
        self.index = 0

    def take(self, n: int) -> pd.DataFrame:
        """Return the first ``n`` pending rows (fewer at the end of the input)."""
        while self.n_pending < n and not self.done:
            self._pull()
        if not self.pending:
            return pd.DataFrame()
        frame = (
            self.pending[0]
            if len(self.pending) == 1
            else pd.concat(self.pending, ignore_index=True)
        )
        self.pending = [frame] if len(frame) else []
        return frame.iloc[:n]

    def drop(self, n: int) -> None:
        """Forget the first ``n`` pending rows (they are final)."""
        rest = self.pending[0].iloc[n:].reset_index(drop=True)
        self.pending = [rest] if len(rest) else []
        self.n_pending -= n

    def _pull(self) -> None:
        """Read, validate and order the next chunk."""
        chunk = next(self.it, None)
        self.index += 1
        if chunk is None:
            self.done = True
            return
        frame = chunk.queries if isinstance(chunk, Workload) else chunk
        where = f"<chunk {self.index}>"
        if any(c not in frame.columns for c in COLUMNS):
            try:
                frame = validate_workload(frame)
            except ValueError as err:
                raise InputError(str(err), source=where) from None
        if not len(frame):
            return
        us = arrival_us(frame["arrival_at"])
        qid = frame["query_id"].to_numpy(np.int64)
        order = np.lexsort((qid, us))
        first = (int(us[order[0]]), int(qid[order[0]]))
        if self.last is not None and first < self.last:
            raise InputError(
                f"first row (arrival {pd.Timestamp(first[0], unit='us', tz='UTC')}, "
                f"query_id {first[1]}) precedes the previous chunk's last row "
                f"(query_id {self.last[1]}); expected chunks in arrival order",
                source=where,
            )
        self.last = (int(us[order[-1]]), int(qid[order[-1]]))
        self.pending.append(frame.iloc[order].reset_index(drop=True))
        self.n_pending += len(frame)


class Totals:
    """The run's summary, accumulated slice by slice."""

    def __init__(self, keep_waits: bool, *, histogram: bool = False) -> None:
        self.keep_waits = keep_waits and not histogram
        #: Queue index -> wait histogram (key -1: all queues), when streaming
        #: quantiles replace the kept waits.
        self.histograms: dict[int, LogHistogram] | None = {} if histogram else None
        self.counts: dict[str, Any] = {}
        self.queue: list[np.ndarray] = []
        self.queue_s: list[np.ndarray] = []

    def add(
        self, rec: Recorder, arrays: QueryArrays, cut: int, names: tuple[str, ...]
    ) -> None:
        """Add queries ``[0, cut)`` of a window run (after its final outcomes)."""
        codes = rec.codes(names, arrays.cache_hit)
        part = {
            f: getattr(codes, f)[:cut]
            for f in (
                "queue",
                "outcome",
                "ran_on",
                "queue_s",
                "cache_hit",
                "sqa_evicted",
                "hops",
                "attempts",
            )
        }
        qmr = sum(1 for i in rec.qmr if i < cut)
        sliced = RunCodes(names=codes.names, qmr_queries=qmr, **part)
        empty = pd.DataFrame({"busy_s": [], "billed_s": []})
        no_bill = bill([], min_billed_s=0.0, credit_start_s=0.0, credit_cap_s=0.0,
                       price_per_s=0.0)  # fmt: skip
        _merge(self.counts, summarize(sliced, empty, no_bill, None))
        if self.keep_waits:
            self.queue.append(part["queue"].copy())
            self.queue_s.append(part["queue_s"].copy())
        if self.histograms is not None:
            hists = self.histograms
            hists.setdefault(-1, LogHistogram()).add(part["queue_s"])
            for q in np.unique(part["queue"]).tolist():
                hists.setdefault(int(q), LogHistogram()).add(
                    part["queue_s"][part["queue"] == q]
                )

    def summary(
        self,
        names: tuple[str, ...],
        sqa_max_s: float | None,
        scaling: pd.DataFrame,
        money: Bill,
    ) -> dict[str, Any]:
        """Return the whole run's summary (the same dict ``simulate()`` gives)."""
        out = dict(self.counts) or _empty_counts(names)
        queue = np.concatenate(self.queue) if self.queue else np.zeros(0, np.int8)
        queue_s = np.concatenate(self.queue_s) if self.queue_s else np.zeros(0)
        none = percentiles(np.zeros(0))
        out["wait_s"] = percentiles(queue_s) if self.keep_waits else none
        by_queue = out.get("by_queue", {})
        for name, entry in by_queue.items():
            sel = queue_s[queue == names.index(name)] if self.keep_waits else None
            entry["wait_s"] = none if sel is None else percentiles(sel)
        if self.histograms is not None:
            empty = LogHistogram()
            out["wait_s"] = self.histograms.get(-1, empty).summary()
            for name, entry in by_queue.items():
                hist = self.histograms.get(names.index(name), empty)
                entry["wait_s"] = hist.summary()
        out["by_queue"] = dict(sorted(by_queue.items()))
        out["sqa"]["max_s"] = None if sqa_max_s is None else float(sqa_max_s)
        out["scaling"] = {
            "activations": len(scaling),
            "busy_s": float(scaling["busy_s"].sum()),
            "billed_s": float(scaling["billed_s"].sum()),
            "free_credit_used_s": float(money.free_used_s),
            "paid_s": float(money.paid_s),
            "cost_usd": float(money.cost_usd),
        }
        return out


def _merge(into: dict[str, Any], part: dict[str, Any]) -> None:
    """Add the integer counts of summary ``part`` into ``into`` (in place)."""
    for key, value in part.items():
        if isinstance(value, dict):
            _merge(into.setdefault(key, {}), value)
        elif isinstance(value, int) and not isinstance(value, bool):
            into[key] = into.get(key, 0) + value
        else:
            into.setdefault(key, value)


def _empty_counts(codes: tuple[str, ...]) -> dict[str, Any]:
    """Summary counts of a run without queries."""
    z8 = np.zeros(0, np.int8)
    empty = RunCodes(
        names=codes, queue=z8, outcome=z8, ran_on=z8, queue_s=np.zeros(0),
        cache_hit=np.zeros(0, bool), sqa_evicted=z8, hops=np.zeros(0, np.int16),
        attempts=np.zeros(0, np.int64), qmr_queries=0,
    )  # fmt: skip
    no_bill = bill([], min_billed_s=0.0, credit_start_s=0.0, credit_cap_s=0.0,
                   price_per_s=0.0)  # fmt: skip
    return summarize(empty, pd.DataFrame({"busy_s": [], "billed_s": []}), no_bill, None)


def dynamic_sqa_max_s(
    chunks: Iterable[Chunk],
    config: WLMConfig,
    settings: ClusterSettings | None = None,
) -> float:
    """First pass: the dynamic SQA maximum [s] of a chunked workload.

    Equal to what :func:`~dpcsim.engine.simulate` computes for the concatenated
    workload under ``settings`` (None: the logged execution times, as with
    solo demands or no contention model). Under shared capacity with
    ``demand = "observed"`` the maximum comes from the solo demands, as in
    :func:`~dpcsim.engine.simulate`: the pass converts the logged times
    window by window (:class:`~dpcsim.engine.solowindows.WindowedSolo`), each
    window's queries once every logged execution they overlap has been read.
    The execution times of the SQA-eligible queries go to a temporary file
    (8 B each on disk, none held in memory) and their p70 is selected exactly
    from it (:class:`~dpcsim.engine.spillquantile.SpilledValues`).
    """
    observed = settings is not None and is_observed(settings)
    with SpilledValues() as spill:
        if observed:
            assert settings is not None
            for demand_s, eligible in _observed_demands(chunks, config, settings):
                spill.add(demand_s[eligible])
        for chunk in () if observed else chunks:
            frame = chunk.queries if isinstance(chunk, Workload) else chunk
            if any(c not in frame.columns for c in COLUMNS):
                frame = validate_workload(frame)
            arrays = prepare(frame, config, None)
            if settings is not None:  # the engine's demands (work_scale)
                arrays = scaled_work(arrays, settings)
            spill.add(arrays.exec_s[sqa_max_eligible(arrays, config)])
        if spill.n == 0:
            return dynamic_max_s(np.zeros(0))
        return dynamic_max_of_p70(spill.quantile(DYNAMIC_QUANTILE))


def _observed_demands(
    chunks: Iterable[Chunk], config: WLMConfig, settings: ClusterSettings
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Solo demands [s] of a chunked log and their SQA eligibility, in slices.

    Rows wait in a buffer until every logged execution they overlap has been
    read: the slice ends before the first query whose predecessors have not
    all ended (in the log) by the buffer's last arrival.
    """
    tables = QueueTables.from_config(config, settings)
    solo = WindowedSolo(settings.contention_sigma, settings.contention_kappa)
    pending: pd.DataFrame | None = None
    origin_us: int | None = None
    items = iter(chunks)
    done = False
    while not done:
        chunk = next(items, None)
        done = chunk is None
        if chunk is not None:
            frame = chunk.queries if isinstance(chunk, Workload) else chunk
            if any(c not in frame.columns for c in COLUMNS):
                frame = validate_workload(frame)
            pending = frame if pending is None else pd.concat([pending, frame])
        if pending is None or not len(pending):
            continue
        if origin_us is None:
            first = int(arrival_us(pending["arrival_at"].iloc[:1])[0])
            origin_us = first - first % 60_000_000
        arrays = prepare(pending, config, None, origin_us=origin_us)
        arrays = memory_demand_arrays(arrays, config, None, settings)
        demand = demand_arrays(arrays, config, tables, settings, convert=solo.work)
        if done:
            cut = arrays.n
        else:
            ok = settled(logged_end_s(arrays), arrays.arrival_s[-1])
            # The first query not settled and all after it wait for more rows.
            cut = int(np.argmin(ok)) if not bool(ok.all()) else arrays.n
        if cut == 0:
            continue
        yield demand.exec_s[:cut], sqa_max_eligible(arrays, config)[:cut]
        start, end, cluster, query = logged_executions(arrays)
        at = arrays.arrival_s[cut] if cut < arrays.n else np.inf
        emitted = query < cut
        solo.cut(at, start[emitted], end[emitted], cluster[emitted])
        pending = pending.iloc[cut:]

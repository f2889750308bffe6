"""The WLM engine: a fast SimPy model of Redshift workload management.

:func:`simulate` runs a canonical workload through a
:class:`~dpcsim.wlm.WLMConfig` on a cluster described by
:class:`ClusterSettings` (read from TOML with :func:`read_cluster_settings`) and
returns a :class:`SimResult`; :func:`simulate_stream` gives the same results
slice by slice for a workload read in chunks, in memory bounded by the busy
periods rather than the run length. The semantics follow the facts sheet, section 2;
each module's docstring documents its part of the model.

Shared cluster capacity (:mod:`dpcsim.engine.contention`, ``[contention]`` in
the settings): every query running on a cluster shares its throughput by the
Universal Scalability Law, by (weighted) processor sharing on a virtual clock
per cluster; ``model = "none"`` replays fixed demands. Session-aware replay
(:mod:`dpcsim.engine.sessions`): a session's next statement arrives after the
previous one ends plus the logged think time (``replay="open"`` keeps the
logged arrivals). A time-of-day WLM schedule (:class:`WLMSchedule`,
``simulate(..., schedule=...)``) switches the dynamic WLM properties every
simulated day, with AWS's documented transition (:mod:`dpcsim.engine.switching`).

What the engine takes from SimPy, and what it does itself:

* From SimPy (pinned to 4.1.x): the ``Environment`` and its event queue, a heap
  of ``(time, priority, id, event)`` entries, and with it the event ordering
  semantics: by time, then priority, then scheduling order. Concurrency
  Scaling's start delays and idle stops are SimPy timeouts with callbacks
  (:mod:`dpcsim.engine.scaling`).
* Itself: the driver inlines ``Environment.step`` (it sets ``env._now`` and
  pops ``env._queue``) and pushes its own entries onto the same heap with ids
  from ``env._eid``, in SimPy's entry shape, so they interleave with SimPy's
  events exactly as SimPy would order them: a query's end (an ``int``), an
  interrupt or a queue timeout (tuples, :mod:`dpcsim.engine.actions`), a
  cluster clock's next finish and a session's next arrival. These private
  internals are checked by ``tests/test_engine_simpy_internals.py``. The plain
  path (:mod:`dpcsim.engine.plain`) owns its heap and uses no SimPy at all;
  long plain runs take its loops compiled (:mod:`dpcsim.engine.plaincompiled`).
"""

from __future__ import annotations

from dpcsim.engine.contention import observed_to_solo, usl_throughput
from dpcsim.engine.result import SimResult, elt_finish_times
from dpcsim.engine.schedule import WLMSchedule
from dpcsim.engine.settings import ClusterSettings, read_cluster_settings
from dpcsim.engine.simulate import simulate, solo_demand_s
from dpcsim.engine.stream import dynamic_sqa_max_s, simulate_stream

__all__ = [
    "ClusterSettings",
    "SimResult",
    "WLMSchedule",
    "dynamic_sqa_max_s",
    "elt_finish_times",
    "observed_to_solo",
    "read_cluster_settings",
    "simulate",
    "simulate_stream",
    "solo_demand_s",
    "usl_throughput",
]

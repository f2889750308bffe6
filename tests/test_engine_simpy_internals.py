"""The SimPy internals the engine relies on (simpy is pinned to 4.1.x for them).

The engine's driver inlines ``Environment.step`` (see ``dpcsim/engine/__init__.py``):
it pushes its own ``(time, priority, id, item)`` entries onto ``env._queue``,
draws ids from ``env._eid``, sets ``env._now``, and expects SimPy's own events to
sit in the same heap with the same tuple shape and order. If a SimPy release
changes any of that, these tests fail before the engine silently misorders events.
"""

from __future__ import annotations

import heapq
import itertools

import simpy
from simpy.events import NORMAL, URGENT


def test_version_is_the_tested_minor() -> None:
    assert simpy.__version__.startswith("4.1."), simpy.__version__


def test_environment_has_the_private_fields_the_engine_uses() -> None:
    env = simpy.Environment()
    assert isinstance(env._queue, list)
    assert isinstance(env._eid, itertools.count)
    assert env._now == 0
    env._now = 2.5
    assert env.now == 2.5


def test_timeout_entry_shape_and_order() -> None:
    # env.timeout(d) pushes (now + d, NORMAL, next id, event); URGENT < NORMAL.
    env = simpy.Environment()
    assert URGENT < NORMAL
    ev = env.timeout(3.0, value="x")
    (entry,) = env._queue
    assert entry[0] == 3.0
    assert entry[1] == NORMAL
    assert entry[3] is ev
    assert ev._value == "x"
    # An id drawn by the engine orders after SimPy's own, at equal times.
    mine = (3.0, NORMAL, next(env._eid), 7)
    heapq.heappush(env._queue, mine)
    assert heapq.heappop(env._queue) is entry
    assert heapq.heappop(env._queue) == mine


def test_callbacks_list_is_what_step_runs() -> None:
    env = simpy.Environment()
    seen: list[object] = []
    ev = env.timeout(1.0, value=5)
    ev.callbacks.append(lambda e: seen.append(e._value))
    # The engine's inlined step: pop, set the clock, run the callbacks.
    now, _, _, event = heapq.heappop(env._queue)
    env._now = now
    callbacks, event.callbacks = event.callbacks, None
    for cb in callbacks:
        cb(event)
    assert seen == [5]
    assert env.now == 1.0

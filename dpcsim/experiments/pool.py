"""The local sweep pool: worker processes that survive the death of one of them.

:class:`WorkerPool` starts ``workers`` processes (forked from a fork server,
see :mod:`dpcsim.workerserver`), sends each the sweep context once, then hands
out chunks of a task's decisions one at a time. A worker sends each run's row
back as soon as it finishes, so the driver always knows which run a worker is
in. When a worker dies (SIGKILL, the OOM killer, a crash in native code) its
finished runs are already back; the run it was in and the rest of its chunk go
back to the front of the queue and a fresh process takes its place. A run
whose worker dies :data:`MAX_WORKER_DEATHS` times is given back as a failed
row whose error names the exit (signal or code) and the run's key and seed, so
the sweep completes; no run is sent back twice and none is lost.

Chunks shrink as the sweep ends (a share of the runs left per worker, at most
``per_task`` decisions), so both workers stay busy to the last run; a worker
is preferably given more of the replication it already built, and otherwise
one that no other worker has built.
"""

from __future__ import annotations

import contextlib
import json
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any

from dpcsim.workerserver import freeze_loaded, start_worker_server, worker_context

__all__ = [
    "MAX_START_FAILURES",
    "MAX_WORKER_DEATHS",
    "WorkerPool",
    "chunk_size",
    "describe_exit",
]

#: Deaths of its worker after which a run is recorded failed instead of retried.
MAX_WORKER_DEATHS = 2

#: Chunks aim at this share of the runs left per worker (guided scheduling).
_CHUNK_SHARE = 0.5

#: Workers dying before they are ready (a broken installation) stop the pool
#: after this many in a row.
MAX_START_FAILURES = 3

_READY = "ready"

Rows = Callable[[Any, Any], Iterator[dict[str, Any]]]
Failed = Callable[[Any, dict[str, Any], str], dict[str, Any]]


@dataclass(slots=True)
class _Chunk:
    """Decisions of one task sent (or to be sent) to one worker."""

    task: Any
    deaths: list[str] = field(default_factory=list)  # of its first decision

    @property
    def affinity(self) -> tuple[int, str, str]:
        t = self.task
        return (
            t.replication,
            json.dumps(t.scenario, sort_keys=True),
            json.dumps(t.assumption, sort_keys=True),
        )


@dataclass(slots=True)
class _Worker:
    process: BaseProcess
    conn: Connection
    chunk: _Chunk | None = None
    received: int = 0
    last: tuple[int, str, str] | None = None
    ready: bool = False


def _serve(conn: Connection, rows: Rows, ctx: Any) -> None:
    """A worker's loop: receive a task, send each row, until told to stop."""
    # Ctrl-C is the driver's to handle: it stops the workers itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # What is loaded now lives as long as the worker (freeze_loaded says why).
    freeze_loaded()
    with contextlib.suppress(OSError):  # without a driver, recv() ends it
        conn.send(_READY)  # imports done: a death from now on is a run's
    while True:
        try:
            task = conn.recv()
        except EOFError:  # the driver is gone
            return
        if task is None:
            return
        try:
            for row in rows(task, ctx):
                conn.send(row)
        except OSError:  # the driver died mid-task (a SIGKILL): nothing to tell
            return


def _main_script_hint() -> str:
    """Why workers started from a script may die: the script runs again.

    Workers import the driver's main module as ``__mp_main__`` (Python's
    ``spawn`` and ``forkserver`` start methods do), so a script that starts
    a sweep at import starts it again in every worker, which then fails.
    Empty when the driver is not a script (``python -m``, a notebook, a REPL).
    """
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if path is None or getattr(main, "__spec__", None) is not None:
        return ""
    return (
        f"; each worker imports the main script {path} again, so a script "
        'must start the sweep under `if __name__ == "__main__":`'
    )


def chunk_size(left: int, workers: int, per_task: int) -> int:
    """Decisions in the next chunk: a share of the ``left`` runs per worker."""
    return max(1, min(per_task, int(left * _CHUNK_SHARE / max(1, workers))))


def describe_exit(exitcode: int | None) -> str:
    """``killed by signal SIGKILL`` or ``exit code 3`` for a process's exit code."""
    if exitcode is None:
        return "exit status unknown"
    if exitcode < 0:
        try:
            return f"killed by signal {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exit code {exitcode}"


class WorkerPool:
    """``workers`` spawned processes running ``rows(task, ctx)``.

    Parameters
    ----------
    workers
        Number of processes.
    rows
        A module-level function yielding one row per decision of a task, in
        the task's order (picklable by reference).
    ctx
        Sent to each worker once, at start.
    failed_row
        ``failed_row(task, decision, error)``: the row recorded for a run
        whose worker died :data:`MAX_WORKER_DEATHS` times.
    per_task
        Largest chunk, in decisions.
    preload
        The module the fork server imports before forking workers (default
        ``rows``' own module).
    """

    def __init__(
        self,
        workers: int,
        rows: Rows,
        ctx: Any,
        *,
        failed_row: Failed,
        per_task: int,
        preload: str | None = None,
    ):
        preload = preload or rows.__module__
        self._mp = worker_context(preload)
        self._rows, self._ctx = rows, ctx
        self._failed_row = failed_row
        self._per_task = max(1, per_task)
        self._start_failures = 0
        self.deaths = 0  # worker processes that died, over the pool's life
        self._size = max(1, workers)
        # Started on the first run(): a new fork server preloads the sweep
        # (about 0.5 s) meanwhile, while the driver does its own preparing.
        self._workers: list[_Worker] = []
        start_worker_server(preload)

    def _start(self) -> _Worker:
        ours, theirs = self._mp.Pipe(duplex=True)
        process = self._mp.Process(
            target=_serve, args=(theirs, self._rows, self._ctx), daemon=True
        )
        process.start()
        theirs.close()
        return _Worker(process=process, conn=ours)

    def run(self, tasks: Sequence[Any]) -> Iterator[dict[str, Any]]:
        """Yield every row of ``tasks``, each run exactly once, as runs finish."""
        pending = [_Chunk(t) for t in tasks if t.decisions]
        if not self._workers:
            self._workers = [self._start() for _ in range(self._size)]
        while True:
            for i, w in enumerate(self._workers):
                if w.chunk is None and pending:
                    if not w.process.is_alive():  # died idle: nothing to redo
                        started = self._said_ready(w)
                        exit_text = self._replace(i)
                        if not started:
                            self._start_failed(exit_text)
                        w = self._workers[i]
                    self._send(w, self._next_chunk(w, pending))
            busy = [w for w in self._workers if w.chunk is not None]
            if not busy:
                return
            waits = [w.conn for w in busy] + [w.process.sentinel for w in busy]
            ready = set(wait(waits))
            for i, w in enumerate(list(self._workers)):
                if w.chunk is None:
                    continue
                if w.conn in ready:
                    yield from self._receive(w)
                if w.chunk is not None and (
                    w.process.sentinel in ready or not w.process.is_alive()
                ):
                    yield from self._receive(w)  # rows sent before it died
                    if w.chunk is not None:
                        yield from self._died(i, w, pending)

    def _next_chunk(self, w: _Worker, pending: list[_Chunk]) -> _Chunk:
        """Take the next chunk from ``pending``.

        Preferably of the replication the worker already built; failing that,
        of one no other worker is building (each replication prepared once,
        not once per worker); failing that, the first.
        """
        taken = {o.last for o in self._workers if o is not w}
        mine = [c for c in pending if c.affinity == w.last]
        free = [c for c in pending if c.affinity not in taken]
        pick = (mine or free or pending)[0]
        left = sum(len(c.task.decisions) for c in pending)
        size = chunk_size(left, len(self._workers), self._per_task)
        size = min(size, len(pick.task.decisions))
        if pick.deaths:  # a run that killed a worker goes alone
            size = 1
        decisions = pick.task.decisions
        if size == len(decisions):
            pending.remove(pick)
            return pick
        head = _Chunk(replace(pick.task, decisions=decisions[:size]), pick.deaths)
        pick.task = replace(pick.task, decisions=decisions[size:])
        pick.deaths = []
        return head

    def _send(self, w: _Worker, chunk: _Chunk) -> None:
        w.chunk, w.received, w.last = chunk, 0, chunk.affinity
        with contextlib.suppress(OSError):  # already dead: its sentinel says so
            w.conn.send(chunk.task)

    def _receive(self, w: _Worker) -> Iterator[dict[str, Any]]:
        """Yield the rows waiting on ``w``'s pipe."""
        assert w.chunk is not None
        while w.chunk is not None:
            try:
                if not w.conn.poll():
                    return
                row = w.conn.recv()
            except (EOFError, OSError):  # died mid-message: that row is lost
                return
            if not isinstance(row, dict):  # the start-up message
                self._mark_ready(w)
                continue
            w.received += 1
            if w.received == len(w.chunk.task.decisions):
                w.chunk = None
            yield row

    def _died(
        self, i: int, w: _Worker, pending: list[_Chunk]
    ) -> Iterator[dict[str, Any]]:
        """Requeue (or fail) what ``w`` had not finished; start a new worker."""
        assert w.chunk is not None
        exit_text = self._replace(i)
        task = w.chunk.task
        left = task.decisions[w.received :]
        if not w.ready:  # died starting up: no run's fault
            pending.insert(0, w.chunk)
            self._start_failed(exit_text)
            return
        deaths = (w.chunk.deaths if w.received == 0 else []) + [
            f"worker process {w.process.pid} {exit_text}"
        ]
        if len(deaths) >= MAX_WORKER_DEATHS:
            error = (
                f"WorkerDied: the worker process running this run died "
                f"{len(deaths)} times ({'; '.join(deaths)})"
            )
            yield self._failed_row(task, left[0], error)
            left = left[1:]
            deaths = []
        if left:
            pending.insert(0, _Chunk(replace(task, decisions=left), deaths))

    def _said_ready(self, w: _Worker) -> bool:
        """Whether an idle worker had finished starting (read its message)."""
        with contextlib.suppress(EOFError, OSError):
            while not w.ready and w.conn.poll():
                if w.conn.recv() == _READY:
                    self._mark_ready(w)
        return w.ready

    def _mark_ready(self, w: _Worker) -> None:
        """``w`` has started: a death from now on is a run's, and a started
        worker ends a run of start failures."""
        w.ready = True
        self._start_failures = 0

    def _start_failed(self, exit_text: str) -> None:
        """Count a worker that died starting; stop the pool at the limit."""
        self._start_failures += 1
        if self._start_failures >= MAX_START_FAILURES:
            self.close()
            raise RuntimeError(
                f"sweep worker processes die while starting "
                f"({self._start_failures} in a row, last {exit_text})"
                + _main_script_hint()
            )

    def _replace(self, i: int) -> str:
        """Start a new worker in place of the dead one at ``i``; describe its exit."""
        old = self._workers[i]
        old.process.join()
        old.conn.close()
        self.deaths += 1
        self._workers[i] = self._start()
        return describe_exit(old.process.exitcode)

    def close(self) -> None:
        """Stop every worker (idle ones finish nothing more)."""
        for w in self._workers:
            with contextlib.suppress(OSError):
                w.conn.send(None)
        for w in self._workers:
            w.process.join(timeout=2)
            if w.process.is_alive():
                w.process.kill()
                w.process.join()
            w.conn.close()

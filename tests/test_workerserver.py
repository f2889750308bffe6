"""Local sweep workers fork from a server that has the sweep imported."""

from __future__ import annotations

import json
import subprocess
import sys
from multiprocessing import forkserver

import pytest

from dpcsim.cli._workers import start_local_workers
from dpcsim.workerserver import SWEEP_MODULE, worker_context


def test_the_server_preloads_the_module_of_the_sweeps_worker_function() -> None:
    context = worker_context(SWEEP_MODULE)
    assert context.get_start_method() == "forkserver"
    assert forkserver._forkserver._preload_modules == [SWEEP_MODULE]


# What a forked worker inherits: the worker function's module, the parquet
# reader and the loaded botocore model, none of them loaded by a first task.
PRELOADED = """
import importlib, json, sys
from dpcsim.workerserver import SWEEP_MODULE
before = {m: m in sys.modules for m in ("dpcsim.experiments.execute", "botocore")}
preload = importlib.import_module(SWEEP_MODULE)
from dpcsim.alarms import aws_model
print(json.dumps({"before": before,
                  "worker": preload.iter_task.__module__
                  == "dpcsim.experiments.execute",
                  "dataset": "pyarrow.dataset" in sys.modules,
                  "model": aws_model._shapes.cache_info().currsize}))
"""


def test_the_preload_holds_the_worker_function_and_what_a_first_run_loads() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PRELOADED], capture_output=True, text=True, check=True
    )
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["before"] == {"dpcsim.experiments.execute": False, "botocore": False}
    assert found["worker"]
    assert found["dataset"]
    assert found["model"] == 1


# A fresh interpreter: the module imports nothing of the sweep, and the server
# starts on request, once, preloading the sweep.
FRESH = """
import json, sys
from multiprocessing import forkserver
import dpcsim.workerserver as ws
heavy = ("dpcsim.experiments", "pandas")
before = sorted(m for m in sys.modules if m.startswith(heavy))
assert forkserver._forkserver._forkserver_pid is None
ws.start_worker_server()
pid = forkserver._forkserver._forkserver_pid
ws.start_worker_server()
print(json.dumps({"imported": before, "pid": pid,
                  "again": forkserver._forkserver._forkserver_pid,
                  "preload": forkserver._forkserver._preload_modules}))
"""


def test_starting_the_server_is_cheap_to_ask_for_and_happens_once() -> None:
    done = subprocess.run(
        [sys.executable, "-c", FRESH], capture_output=True, text=True, check=True
    )
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["imported"] == []
    assert isinstance(found["pid"], int)
    assert found["again"] == found["pid"]
    assert found["preload"] == [SWEEP_MODULE]


@pytest.mark.parametrize(
    ("workers", "scheduler", "starts"),
    [(2, None, True), (1, None, False), (0, None, False), (4, "tcp://x:8786", False)],
)
def test_a_command_starts_the_server_only_for_local_workers(
    monkeypatch: pytest.MonkeyPatch,
    workers: int,
    scheduler: str | None,
    starts: bool,
) -> None:
    calls: list[str] = []
    monkeypatch.setattr(
        "dpcsim.workerserver.start_worker_server",
        lambda module=SWEEP_MODULE: calls.append(module),
    )
    start_local_workers(workers, scheduler)
    assert calls == ([SWEEP_MODULE] if starts else [])

"""The engine's speed-ups leave every per-query record unchanged.

Golden hashes of ``simulate(...).queries`` were computed on the engine before
its hot paths were vectorised and inlined (the DPC design, seed 0, on the
bundled sample and on a generated 2-day workload; session and open replay;
shared capacity with observed demands, the spill model and the learned SQA
predictor, and ``[contention] model = "none"``). Any change in a record's
value, order or dtype changes its hash. The vectorised spill arithmetic is
also checked against the scalar :func:`~dpcsim.engine.memory.spill_factor`,
query by query, bit for bit.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pandas.util import hash_pandas_object

from dpcsim import logs
from dpcsim.designs import load_design
from dpcsim.engine import ClusterSettings, simulate
from dpcsim.engine.cluster import Engine
from dpcsim.engine.inputs import prepare
from dpcsim.engine.memory import spill_factor
from dpcsim.engine.queues import QueueTables
from dpcsim.engine.simulate import in_memory_demand_s
from dpcsim.schema import Workload
from dpcsim.workload import DPCWorkloadSpec, generate_dpc_workload

SAMPLE_DIR = Path(__file__).resolve().parents[1] / "dpcsim" / "sample"

#: sha256 of the records before the speed-ups (see the module docstring).
GOLDEN = {
    "sample/session/usl": (
        "9b9e02d95b366bcba048d9b854b06744b082ccc60c2b2e7d40e4d49b4dc7828d"
    ),
    "sample/session/none": (
        "6c95659eb669ef0637b6e81f8ff87439bcafede59f9e3cd657d01b2091782114"
    ),
    "sample/open/usl": (
        "d9a7704366c4170a0008aeccd9c9c71c8ad027c9f4bf70a17d70e7946c86315c"
    ),
    "sample/open/none": (
        "ba505bb9158720836616213fe67043677106c946c3745b7e705ff1f2ff7e8a94"
    ),
    "gen2d/session/usl": (
        "654781170272efaf07e6aa72851e7782b2f9724c389f5395f81ba2ded5d6fb3c"
    ),
    "gen2d/session/none": (
        "6a8514a0598a56cb3e143469a274c7595efa52acf8e69b02c0beff93ab4bc94c"
    ),
    "gen2d/open/usl": (
        "8325e130f0ba18f377f06f0d5da6e3455a67918cb95b2244643d3d93d2cf81ea"
    ),
    "gen2d/open/none": (
        "b77138d2badf9d2fa964812689213b9b9a53e80e50b21ad4264975c08d6815d5"
    ),
}


def records_hash(frame: pd.DataFrame) -> str:
    """sha256 over every value (with the index), column names and dtypes."""
    digest = hashlib.sha256(hash_pandas_object(frame, index=True).to_numpy().tobytes())
    digest.update(",".join(map(str, frame.columns)).encode())
    digest.update(",".join(map(str, frame.dtypes)).encode())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def workloads() -> dict[str, Workload]:
    return {
        "sample": logs.read_workload(SAMPLE_DIR),
        "gen2d": generate_dpc_workload(DPCWorkloadSpec(days=2), rng=7),
    }


@pytest.mark.parametrize("key", sorted(GOLDEN))
def test_records_match_the_engine_before_the_speed_ups(
    key: str, workloads: dict[str, Workload]
) -> None:
    name, replay, model = key.split("/")
    settings = (
        ClusterSettings()
        if model == "usl"
        else ClusterSettings(contention_model="none")
    )
    result = simulate(
        workloads[name],
        load_design("dpc").wlm,
        settings,
        rng=0,
        replay=replay,  # type: ignore[arg-type]
    )
    assert records_hash(result.queries) == GOLDEN[key]


def test_vectorised_spill_matches_the_scalar_factor(
    workloads: dict[str, Workload],
) -> None:
    config = load_design("dpc").wlm
    settings = ClusterSettings()
    arrays = prepare(workloads["sample"], config, None)
    tables = QueueTables.from_config(config, settings)
    assert (arrays.mem_mb > 0.0).sum() > 1000  # the spill model is exercised
    demand = np.linspace(1.0, 2.0, arrays.n)
    expected = demand.copy()
    for i in np.flatnonzero((arrays.mem_mb > 0.0) & ~arrays.logged_on_sqa):
        held = tables.slot_mem_mb[int(arrays.queue[i])] * int(arrays.slots[i])
        expected[i] /= spill_factor(
            held, float(arrays.mem_mb[i]), settings.spill_penalty
        )
    got = in_memory_demand_s(demand, arrays, None, None, tables, settings)
    assert got.tobytes() == expected.tobytes()
    assert not np.array_equal(got, demand)
    eng = Engine(arrays, tables, settings, None)
    first = [eng.spill(i, int(arrays.queue[i])) for i in range(arrays.n)]
    assert np.asarray(eng.fac0).tobytes() == np.asarray(first).tobytes()

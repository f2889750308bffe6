"""Memory demand from logged spill, for logs without working memory.

Redset (``mbytes_spilled``) and SYS_QUERY_DETAIL (``spilled_block_*``) give a
query's spill but not its memory: a query that spilled X MB holding M MB at
recording is taken to want M + X, one that did not spill
``unspilled_memory_share`` x M (:func:`dpcsim.engine.memory.memory_from_spill`).
Queries here run one at a time, so under shared capacity each one's solo work is
its logged time and every expected execution follows from the spill model by
hand: ``exec = in-memory time * (1 + max(0, 1 - held / wanted))``.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dpcsim import logs
from dpcsim.designs.dpc_wlm import dpc_design_config
from dpcsim.engine import ClusterSettings, simulate
from dpcsim.engine.simulate import memory_demand_arrays, prepare_inputs
from dpcsim.schema import Workload
from dpcsim.wlm import WLMConfig

REDSET_HEADER = (
    "instance_id,cluster_size,user_id,database_id,query_id,arrival_timestamp,"
    "compile_duration_ms,queue_duration_ms,execution_duration_ms,"
    "feature_fingerprint,was_aborted,was_cached,cache_source_query_id,query_type,"
    "num_permanent_tables_accessed,num_external_tables_accessed,"
    "num_system_tables_accessed,read_table_ids,write_table_ids,mbytes_scanned,"
    "mbytes_spilled,num_joins,num_scans,num_aggregations\n"
)
#: (query_id, minute, execution [ms], query_type, user, mbytes_spilled or "").
REDSET_ROWS = (
    (1, 0, 10000.0, "insert", 11, "1000.0"),  # spilled 1000 MB in batch
    (2, 1, 8000.0, "insert", 11, "0.0"),  # did not spill
    (3, 2, 6000.0, "ctas", 11, ""),  # no spill figure: no memory demand
    (4, 3, 4000.0, "select", 11, "250.0"),  # an ELT read (dbt test) in batch
    (5, 4, 3000.0, "select", 22, "0.0"),  # a learner in adhoc
)
#: Batch's slot memory under the design (8 slots, 50 % of 2 x ra3.xlplus) [MB].
BATCH_SLOT_MB = 2 * 32 * 1024 * 0.5 / 8


def _redset(tmp_path: Path, *, spill: bool = True) -> Workload:
    lines = [REDSET_HEADER]
    for qid, minute, ms, qtype, user, spilled in REDSET_ROWS:
        write = "12" if qtype in ("insert", "ctas") else ""
        lines.append(
            f"7,2.0,{user},0,{qid},2024-03-01 00:{minute:02d}:00.000000,10.0,0.0,"
            f"{ms},fp_{qid},0,0,,{qtype},1,0,0,10,{write},100.0,"
            f"{spilled if spill else ''},0,1,0\n"
        )
    path = tmp_path / "redset.csv"
    path.write_text("".join(lines), encoding="utf-8")
    return logs.ingest([path]).workload


def _batch_slots(slots: int) -> WLMConfig:
    design = dpc_design_config()
    queues = tuple(
        replace(q, query_concurrency=slots) if q.name == "batch" else q
        for q in design.queues
    )
    return replace(design, queues=queues)


def _exec(workload: Workload, config: WLMConfig, **kw: object) -> pd.Series:
    settings = kw.pop("settings", None)
    result = simulate(workload, config, settings, rng=0, **kw)  # type: ignore[arg-type]
    return result.queries.set_index("query_id")["exec_s"]


@pytest.fixture
def redset(tmp_path: Path) -> Workload:
    return _redset(tmp_path)


def test_redset_spill_gives_memory_at_the_recorded_slot_memory(
    redset: Workload,
) -> None:
    q = redset.queries.set_index("query_id")
    assert q["mem_mb"].isna().all()  # Redset has no working memory
    arrays = prepare_inputs(redset, dpc_design_config())
    filled = memory_demand_arrays(arrays, dpc_design_config(), None, ClusterSettings())
    mem = dict(zip(arrays.query_id.tolist(), filled.mem_mb.tolist(), strict=True))
    assert mem[1] == BATCH_SLOT_MB + 1000.0
    assert mem[2] == pytest.approx(0.1 * BATCH_SLOT_MB)
    assert np.isnan(mem[3])
    assert mem[4] == BATCH_SLOT_MB + 250.0
    adhoc_slot_mb = 2 * 32 * 1024 * 0.3 / 5
    assert mem[5] == pytest.approx(0.1 * adhoc_slot_mb)
    # The input arrays are only read.
    assert np.isnan(arrays.mem_mb).all()


def test_replay_under_the_recording_reproduces_redset_times(redset: Workload) -> None:
    logged = redset.queries.set_index("query_id")["exec_s"]
    got = _exec(redset, dpc_design_config())
    assert np.abs(got - logged.reindex(got.index)).max() < 1e-9


def test_memory_what_ifs_follow_the_spill_model(redset: Workload) -> None:
    recorded = dpc_design_config()
    logged = redset.queries.set_index("query_id")["exec_s"]
    want = {1: BATCH_SLOT_MB + 1000.0, 4: BATCH_SLOT_MB + 250.0}
    in_memory = {i: logged[i] / (1 + 1 - BATCH_SLOT_MB / want[i]) for i in want}
    # Five batch slots: 6553.6 MB each, enough for both spilling queries.
    roomy = _exec(redset, _batch_slots(5), recorded=recorded)
    for i in want:
        assert roomy[i] == pytest.approx(in_memory[i], rel=1e-12)
    # Sixteen: 2048 MB each, both spill more; the queries that did not spill
    # want 10 % of 4096 MB and still fit; query 3 has no memory demand.
    tight = _exec(redset, _batch_slots(16), recorded=recorded)
    for i in want:
        assert tight[i] == pytest.approx(
            in_memory[i] * (2 - 2048.0 / want[i]), rel=1e-12
        )
    for i in (2, 3, 5):
        assert tight[i] == pytest.approx(logged[i], rel=1e-12)
    # unspilled_memory_share = 1: a query that did not spill wanted all 4096 MB.
    upper = ClusterSettings(unspilled_memory_share=1.0)
    pessimistic = _exec(redset, _batch_slots(16), recorded=recorded, settings=upper)
    assert pessimistic[2] == pytest.approx(logged[2] * 1.5, rel=1e-12)
    assert pessimistic[3] == pytest.approx(logged[3], rel=1e-12)


def test_without_spill_figures_memory_changes_nothing(tmp_path: Path) -> None:
    bare = _redset(tmp_path, spill=False)
    logged = bare.queries.set_index("query_id")["exec_s"]
    tight = _exec(bare, _batch_slots(16), recorded=dpc_design_config())
    assert np.abs(tight - logged.reindex(tight.index)).max() < 1e-9


SQH_HEADER = (
    "user_id,user_name,query_id,transaction_id,session_id,database_name,start_time,"
    "end_time,elapsed_time,status,result_cache_hit,queue_time,execution_time,"
    "query_text,query_label,query_type,error_message,returned_rows,returned_bytes,"
    "redshift_version\n"
)
DETAIL_HEADER = (
    "user_id,query_id,child_query_sequence,stream_id,segment_id,step_id,"
    "step_name,table_id,table_name,is_rrscan,start_time,end_time,duration,alert,"
    "input_bytes,input_rows,output_bytes,output_rows,blocks_read,blocks_write,"
    "local_read_io,remote_read_io,spilled_block_local_disk,"
    "spilled_block_remote_disk\n"
)


def test_sys_query_detail_spill_gives_memory(tmp_path: Path) -> None:
    history = tmp_path / "sys_query_history.csv"
    history.write_text(
        SQH_HEADER + "100,IAMR:dpc-dbt,11,901,77,dpc,2024-03-01 12:00:00.000000,"
        "2024-03-01 12:00:20.000000,20000000,success,f,0,20000000,"
        '"insert into mart.m\nselect a.id, sum(b.v)\nfrom stage.a a join stage.b b '
        'using (id)\ngroup by 1",elt,INSERT,,0,0,1.0.62312\n'
        + "100,IAMR:dpc-dbt,12,902,77,dpc,2024-03-01 12:01:00.000000,"
        "2024-03-01 12:01:05.000000,5000000,success,f,0,5000000,"
        "insert into mart.n select * from stage.c,elt,INSERT,,0,0,1.0.62312\n"
        + "100,IAMR:dpc-dbt,13,903,77,dpc,2024-03-01 12:02:00.000000,"
        "2024-03-01 12:02:05.000000,5000000,success,f,0,5000000,"
        "insert into mart.o select * from stage.d,elt,INSERT,,0,0,1.0.62312\n",
        encoding="utf-8",
    )
    detail = tmp_path / "sys_query_detail.csv"
    step = (
        "100,{q},1,{stream},0,{step},{name},,,f,2024-03-01 12:00:01.000000,"
        "2024-03-01 12:00:02.000000,1000000,,0,0,0,0,{read},0,0,0,{local},{remote}\n"
    )
    # query 11: a scan, then a hash and an aggregate that spill; 12: no spill.
    steps = [
        (11, 0, 0, "scan", 64, 0, ""),
        (11, 1, 2, "hash", 0, 700, 300),
        (11, 2, 1, "aggr", 0, 24, 0),
        (12, 0, 0, "scan", 8, 0, 0),
    ]
    detail.write_text(
        DETAIL_HEADER
        + "".join(
            step.format(q=q, stream=m, step=k, name=name, read=r, local=lo, remote=re)
            for q, m, k, name, r, lo, re in steps
        ),
        encoding="utf-8",
    )
    workload = logs.ingest([history, detail]).workload
    q = workload.queries.set_index("query_id")
    assert q.loc[11, "spilled_mb"] == 1024.0  # 700 + 300 + 24 blocks of 1 MB
    assert q["mem_mb"].isna().all()
    config = dpc_design_config()
    arrays = prepare_inputs(workload, config)
    filled = memory_demand_arrays(arrays, config, None, ClusterSettings())
    mem = dict(zip(arrays.query_id.tolist(), filled.mem_mb.tolist(), strict=True))
    assert mem[11] == BATCH_SLOT_MB + 1024.0
    assert mem[12] == pytest.approx(0.1 * BATCH_SLOT_MB)
    assert np.isnan(mem[13])  # no SYS_QUERY_DETAIL rows: spill unknown
    # A recording under auto WLM has no slot memory to start from.
    auto = dpc_design_config(mode="auto")
    auto_arrays = prepare_inputs(workload, auto)
    assert memory_demand_arrays(auto_arrays, auto, None, ClusterSettings()) is (
        auto_arrays
    )


def test_stream_replay_estimates_the_same_memory(redset: Workload) -> None:
    # With fixed demands the windowed replay is exact: the estimate must be
    # made there too, from the same recorded slot memory.
    from dpcsim.engine import simulate_stream
    from dpcsim.wlm.config import SQAConfig

    config = replace(
        _batch_slots(16), sqa=SQAConfig(enabled=True, max_execution_time=5000)
    )
    fixed = ClusterSettings(contention_model="none")
    whole = _exec(redset, config, settings=fixed, replay="open")
    parts: list[pd.DataFrame] = []
    simulate_stream(
        [redset.queries],
        config,
        fixed,
        rng=0,
        sink=lambda r: parts.append(r.queries),
        sqa_max_s=5.0,
    )
    streamed = pd.concat(parts).set_index("query_id")["exec_s"]
    assert streamed.to_dict() == whole.to_dict()
    # No recorded configuration given (the windowed replay takes none): the
    # simulated one, 2048 MB a slot, is taken as the recording's, so query 1
    # wanted 2048 + 1000 MB; its fixed demand (the logged time) is slowed.
    assert whole[1] == pytest.approx(10.0 * (2 - 2048.0 / (2048.0 + 1000.0)))

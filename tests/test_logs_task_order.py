"""Folding WLM attempts into tasks does not depend on the order rows come in.

Exports list attempts in (task, start, query) order, and the fold then skips
its sort; any other order is sorted first. Both must give the same tasks.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dpcsim.logs import read_export
from dpcsim.logs.stl_wlm_query import (
    ATTEMPT_DTYPES,
    SQA_SERVICE_CLASS,
    _in_key_order,
    tasks_from_attempts,
)

T0 = pd.Timestamp("2024-03-01 12:00:00", tz="UTC")


def _attempts(rng: np.random.Generator, n_tasks: int) -> pd.DataFrame:
    """Tasks of one to three attempts: WLM restarts and SQA evictions.

    An evicted SQA attempt and its requeued attempt may share a start time, so
    the service-class key decides their order.
    """
    rows = []
    query = 5_000
    for task in range(1_000, 1_000 + n_tasks):
        start = T0 + pd.Timedelta(seconds=int(rng.integers(0, 3_600)))
        for k in range(int(rng.integers(1, 4))):
            sqa = k == 0 and rng.random() < 0.5
            last = k == 2 or rng.random() < 0.4
            rows.append(
                {
                    "query_id": query,
                    "task_id": task,
                    "user_id": 100,
                    "service_class": SQA_SERVICE_CLASS if sqa else 6 + k % 3,
                    "slot_count": 1,
                    "start_at": start
                    + pd.Timedelta(seconds=k * int(rng.integers(0, 2))),
                    "queue_s": float(rng.integers(0, 5)),
                    "exec_s": float(rng.integers(1, 9)),
                    "final_state": "Completed" if last else "Evicted",
                    "service_class_name": "sqa" if sqa else f"q{6 + k % 3}",
                    "source_file": "stl_wlm_query.csv",
                    "source_row": len(rows) + 1,
                }
            )
            query += 1
            if last:
                break
    return pd.DataFrame(rows).astype(ATTEMPT_DTYPES)


def _key_sorted(frame: pd.DataFrame) -> pd.DataFrame:
    not_sqa = (frame["service_class"] != SQA_SERVICE_CLASS).to_numpy(bool)
    order = frame.assign(_k=not_sqa).sort_values(
        ["task_id", "start_at", "query_id", "_k"], kind="stable"
    )
    return order.drop(columns="_k").reset_index(drop=True)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_tasks_are_the_same_in_export_order_and_shuffled(seed: int) -> None:
    rng = np.random.default_rng(seed)
    exported = _key_sorted(_attempts(rng, 300))
    shuffled = exported.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    assert not _in_key_order(
        [shuffled[k] for k in ("task_id", "start_at", "query_id")]
        + [pd.Series(shuffled["service_class"] != SQA_SERVICE_CLASS)]
    )
    tasks = tasks_from_attempts(exported)
    pd.testing.assert_frame_equal(tasks, tasks_from_attempts(shuffled))
    # The fixture folds restarts and SQA evictions, not only one-attempt tasks.
    assert (tasks["attempts"] > 1).any()
    assert tasks["sqa_evicted"].any()


def test_key_order_check_reads_every_key_and_refuses_nulls() -> None:
    task = pd.Series([1, 1, 2, 2])
    when = pd.Series(pd.to_datetime([3, 3, 1, 2], unit="s", utc=True))
    assert _in_key_order([task, when, pd.Series([1, 2, 3, 4])])
    assert not _in_key_order([task, when, pd.Series([2, 1, 3, 4])])  # third key
    assert not _in_key_order([task, when[::-1].reset_index(drop=True)])
    assert _in_key_order([pd.Series([2, 1])[::-1].reset_index(drop=True)])
    assert not _in_key_order([pd.Series([1, None, 2], dtype="Int64")])


def _wlm_row(task: int, query: int, service_class: int, second: int) -> str:
    at = f"2024-03-01 12:00:{second:02d}.000000"
    name = {6: "batch", 7: "adhoc", 14: "Short query queue"}[service_class]
    return (
        f"100,{3000 + task},{task},{query},{service_class},1,{at},{at},{at},0,{at},"
        f"{at},1000000,{at},{'Completed':<16},0,{'n/a':<20},{name:<64}\n"
    )


@pytest.mark.parametrize("reverse", [False, True])
def test_duplicate_attempts_are_rejected_in_any_row_order(tmp_path, reverse) -> None:
    header = (
        "userid,xid,task,query,service_class,slot_count,service_class_start_time,"
        "queue_start_time,queue_end_time,total_queue_time,exec_start_time,"
        "exec_end_time,total_exec_time,service_class_end_time,final_state,"
        "est_peak_mem,query_priority,service_class_name\n"
    )
    rows = [
        _wlm_row(1, 11, 14, 1),  # an SQA attempt ...
        _wlm_row(1, 11, 7, 2),  # ... and its requeue: same query, other class
        _wlm_row(2, 12, 6, 3),
        _wlm_row(2, 12, 6, 4),  # the same (query, service_class) again
        _wlm_row(3, 13, 6, 5),
        _wlm_row(4, 13, 7, 6),  # query 13 again, in a second task
        _wlm_row(5, 14, 6, 7),
    ]
    order = rows[::-1] if reverse else rows
    path = tmp_path / "stl_wlm_query.csv"
    path.write_text(header + "".join(order))
    result = read_export(path)
    # The later of two copies goes, counting data records as the file holds
    # them: rows 4 and 6 in this order, rows 5 and 3 reversed.
    repeated = {3, 5} if reverse else {4, 6}
    assert set(result.rejects["reason"]) == {"duplicate query id"}
    assert set(result.rejects["source_row"]) == repeated
    assert len(result.rows) + len(result.rejects) == len(rows)

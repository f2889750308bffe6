"""The canonical workload contract: dtypes, defaults, order and rejected values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dpcsim.schema import COLUMNS, DTYPES, Workload, empty_workload, validate_workload

T0 = pd.Timestamp("2024-03-01 12:00:30.5", tz="UTC")


def frame(**columns):
    base = {
        "query_id": [2, 1, 3],
        "arrival_at": [T0 + pd.Timedelta(seconds=s) for s in (5, 0, 5)],
        "statement_type": ["select", "copy", "insert"],
        "exec_s": [1.0, 2.0, 0.0],
    }
    base.update(columns)
    return pd.DataFrame(base)


def test_fills_every_column_with_its_dtype_and_sorts_by_arrival():
    out = validate_workload(frame())
    assert tuple(out.columns) == COLUMNS
    assert {c: str(t) for c, t in out.dtypes.items()} == {
        c: str(pd.Series(dtype=t).dtype) for c, t in DTYPES.items()
    }
    assert out["query_id"].tolist() == [1, 2, 3]
    # source_row keeps the row's position in the input, not the sorted one
    assert out["source_row"].tolist() == [2, 1, 3]
    assert out["task_id"].tolist() == out["query_id"].tolist()
    assert out["query_group"].eq("default").all()
    assert out["slot_count"].eq(1).all()


def test_a_missing_flag_is_false_not_true():
    out = validate_workload(frame(aborted=[True, np.nan, None]))
    assert out.set_index("query_id")["aborted"].to_dict() == {
        1: False,
        2: True,
        3: False,
    }


@pytest.mark.parametrize(
    ("column", "values", "message"),
    [
        ("exec_s", [1.0, -0.5, 0.0], "exec_s=-0.5"),
        ("exec_s", [1.0, np.nan, 0.0], "exec_s=nan"),
        ("statement_type", ["select", "merge", "copy"], "statement_type='merge'"),
        ("query_id", [1, 1, 3], "query_id=1 repeats"),
    ],
)
def test_bad_values_name_the_row_and_value(column, values, message):
    with pytest.raises(ValueError, match="row 2") as err:
        validate_workload(frame(**{column: values}))
    assert message in str(err.value)


def test_missing_required_column_is_named():
    with pytest.raises(ValueError, match="exec_s"):
        validate_workload(frame().drop(columns="exec_s"))


def test_workload_start_is_the_first_arrival_floored_to_the_minute():
    w = Workload(queries=validate_workload(frame()))
    assert w.start_at == pd.Timestamp("2024-03-01 12:00", tz="UTC")
    assert w.elt_runs.empty
    assert w.load_errors.empty
    assert empty_workload().empty


def test_outcome_vocabulary_is_defined_once():
    """The engine codes outcomes and locations in the schema's order."""
    from dpcsim.engine import records
    from dpcsim.schema import FAILED_OUTCOMES, OUTCOMES, RAN_ON

    assert records.OUTCOMES == OUTCOMES
    assert records.LOCATIONS == RAN_ON
    assert "completed" not in FAILED_OUTCOMES
    assert set(FAILED_OUTCOMES) | {"completed"} == set(OUTCOMES)


def test_one_sqa_service_class():
    from dpcsim.logs import stl_wlm_query
    from dpcsim.wlm import limits

    assert stl_wlm_query.SQA_SERVICE_CLASS is limits.SQA_SERVICE_CLASS == 14


def test_an_abort_without_a_stop_cause_has_no_wlm_evidence():
    out = validate_workload(
        frame(aborted=[True, False, True], stop_cause=[None, None, "wlm_timeout"])
    )
    causes = out.set_index("query_id")["stop_cause"].fillna("<NA>").to_dict()
    assert causes == {1: "<NA>", 2: "user_or_error", 3: "wlm_timeout"}
    # A frame without the column (a workload written before it existed).
    old = validate_workload(frame(aborted=[False, True, False]))
    causes = old.set_index("query_id")["stop_cause"].fillna("<NA>").to_dict()
    assert causes == {1: "user_or_error", 2: "<NA>", 3: "<NA>"}


@pytest.mark.parametrize(
    ("aborted", "causes", "message"),
    [
        ([False, True, False], [None, "timeout", None], "stop_cause='timeout'"),
        ([False, False, False], [None, "qmr_abort", None], "not aborted"),
    ],
)
def test_bad_stop_causes_name_the_row(aborted, causes, message):
    with pytest.raises(ValueError, match="row 2") as err:
        validate_workload(frame(aborted=aborted, stop_cause=causes))
    assert message in str(err.value)


def test_every_stop_cause_replays_as_a_failed_outcome():
    from dpcsim.schema import FAILED_OUTCOMES, STOP_CAUSE_OUTCOMES, STOP_CAUSES

    assert tuple(STOP_CAUSE_OUTCOMES) == STOP_CAUSES
    assert set(STOP_CAUSE_OUTCOMES.values()) == set(FAILED_OUTCOMES)

"""The evaluator against the worked examples of the CloudWatch User Guide.

Each vector of ``fixtures/alarms/doc_examples.json`` is checked three ways: the
vectorised decision on its evaluation range, the brute-force reference decision,
and an end-to-end evaluation of a 5-minute series whose last five periods are
the vector.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from dpcsim.alarms import STATE_NAMES, EvaluationOptions, parse_alarm
from dpcsim.alarms.evaluate import decide, evaluate_alarm, resolve_retain
from dpcsim.alarms.reference import reference_decide, reference_evaluate
from dpcsim.metrics.datapoints import make_datapoints

DOC = json.loads(
    (Path(__file__).parent / "fixtures/alarms/doc_examples.json").read_text()
)
MODES = ("missing", "ignore", "breaching", "notBreaching")
CASES = [(v, mode) for v in DOC["vectors"] for mode in MODES]


def _range(points: str) -> list[bool | None]:
    """Newest-first evaluation range from the doc's oldest-first notation."""
    code = {"0": False, "X": True, "-": None}
    return [code[p] for p in reversed(points.split())]


def _fast(points: list[bool | None], m: int, n: int, mode: str, prior: str) -> str:
    real = np.array([[p is not None for p in points]])
    breach = np.array([[bool(p) for p in points]])
    decided = decide(real, breach, m=m, n=n, treat=mode)
    # Prepend the prior state as an earlier decision, then resolve RETAIN.
    seq = np.concatenate(([STATE_NAMES.index(prior)], decided)).astype(np.int8)
    return STATE_NAMES[int(resolve_retain(seq)[-1])]


@pytest.mark.parametrize(("vector", "mode"), CASES, ids=lambda x: str(x)[:40])
@pytest.mark.parametrize("prior", STATE_NAMES)
def test_decision_matches_doc(vector: dict[str, Any], mode: str, prior: str) -> None:
    expected = prior if vector[mode] == "RETAIN" else vector[mode]
    points = _range(vector["points"])
    assert len(points) == DOC["evaluation_range"]
    m, n = vector["m"], vector["n"]
    assert _fast(points, m, n, mode, prior) == expected, vector["source"]
    assert reference_decide(points, m=m, n=n, treat=mode, current=prior) == expected


@pytest.mark.parametrize("guard", DOC["guards"], ids=lambda g: g["points"])
def test_premature_guards(guard: dict[str, Any]) -> None:
    points = _range(guard["points"])
    for mode in guard["modes"]:
        for prior in ("OK", "INSUFFICIENT_DATA"):
            assert _fast(points, guard["m"], guard["n"], mode, prior) != guard["not"]


def _alarm(m: int, n: int, mode: str) -> Any:
    return parse_alarm(
        {
            "AlarmName": "doc",
            "Namespace": "Test",
            "MetricName": "m",
            "Statistic": "Maximum",
            "Period": 300,
            "EvaluationPeriods": n,
            "DatapointsToAlarm": m,
            "Threshold": 5,
            "ComparisonOperator": "GreaterThanThreshold",
            "TreatMissingData": mode,
        }
    )


@pytest.mark.parametrize(("vector", "mode"), CASES, ids=lambda x: str(x)[:40])
def test_end_to_end_series(vector: dict[str, Any], mode: str) -> None:
    """Five 5-minute periods after an anchor datapoint a day earlier."""
    base = pd.Timestamp("2024-05-01T12:00:00Z")
    anchor = base - pd.Timedelta(days=1)
    stamps, values = [anchor], [0.0]
    for i, p in enumerate(vector["points"].split()):
        if p != "-":
            stamps.append(base + pd.Timedelta(minutes=5 * i + 2))
            values.append(10.0 if p == "X" else 0.0)
    data = make_datapoints(stamps, values, namespace="Test", metric_name="m")
    end = base + pd.Timedelta(minutes=25)
    span = (int(anchor.value // 1000), int(end.value // 1000) - 1)
    alarm = _alarm(vector["m"], vector["n"], mode)
    result = evaluate_alarm(
        alarm, data, options=EvaluationOptions(range_extra=2), span_us=span
    )
    assert result.instants_us[-1] == end.value // 1000
    states = [STATE_NAMES[s] for s in result.states]
    expected = states[-2] if vector[mode] == "RETAIN" else vector[mode]
    assert states[-1] == expected, vector["source"]
    ref = reference_evaluate(
        alarm, pd.concat([data, _end_marker(end)], ignore_index=True)
    )
    assert [s for _, s in ref][-len(states) :] == states


def _end_marker(end: pd.Timestamp) -> pd.DataFrame:
    """A datapoint of another metric that stretches the reference's span to ``end``."""
    return make_datapoints(
        [end - pd.Timedelta(microseconds=1)], [0.0], namespace="X", metric_name="y"
    )


def test_doc_vector_count() -> None:
    assert len(DOC["vectors"]) == 13


def test_a_range_longer_than_int16_counts_its_periods_exactly() -> None:
    # 40,000 real periods, only the oldest 5,000 breaching; M = 1. The newest
    # N = 33,000 hold no breach (OK); the newest 36,000 hold 1,000 (ALARM). A
    # count of periods that wrapped at 32,767 would take the oldest ones into
    # the newest N and alarm in both cases.
    width = 40_000
    real = np.ones((1, width), dtype=bool)
    breach = np.zeros((1, width), dtype=bool)
    breach[0, 35_000:] = True  # column 0 is the newest period
    points = breach[0].tolist()
    for n, expected in ((33_000, "OK"), (36_000, "ALARM")):
        got = decide(real, breach, m=1, n=n, treat="missing")
        assert got.tolist() == [STATE_NAMES.index(expected)], n
        assert reference_decide(points, m=1, n=n, treat="missing", current="OK") == (
            expected
        )

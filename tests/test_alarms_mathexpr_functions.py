"""Metric math IF, MIN, MAX, AVG, SUM, comparison and logical operators.

Expected values are the worked examples of CloudWatch's "Using metric math"
page (Comparison and logical operators; Using IF expressions), where ``-`` is
a timestamp without a value (NaN here).
"""

from __future__ import annotations

import numpy as np
import pytest

from dpcsim.alarms.mathexpr import evaluate, parse_expression
from dpcsim.errors import InputError

NA = np.nan


def _eval(text: str, **series: list[float]) -> np.ndarray:
    env = {k: np.array(v, dtype=np.float64) for k, v in series.items()}
    length = len(next(iter(env.values())))
    return evaluate(parse_expression(text), env, length)


def _same(got: np.ndarray, want: list[float]) -> bool:
    return bool(np.array_equal(got, np.array(want), equal_nan=True))


def test_comparisons_follow_the_documented_example() -> None:
    m1, m2 = [30, 20, 0, 0], [20, NA, 20, NA]
    assert _same(_eval("metric1 < metric2", metric1=m1, metric2=m2), [0, 0, 1, 0])
    assert _same(_eval("metric1 >= 30", metric1=m1, metric2=m2), [1, 0, 0, 0])


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("IF(metric1, metric2, metric3)", [30, 0, 20, NA, NA]),
        ("IF(metric1, 5, metric3)", [5, 5, 20, NA, NA]),
        ("IF(metric1, metric2, 5)", [30, 0, 5, 5, NA]),
    ],
)
def test_if_follows_the_documented_tables(text: str, want: list[float]) -> None:
    got = _eval(
        text,
        metric1=[1, 1, 0, 0, NA],
        metric2=[30, NA, 0, 0, 30],
        metric3=[0, 0, 20, NA, 20],
    )
    assert _same(got, want)


def test_if_without_false_value_drops_false_points() -> None:
    got = _eval("IF(m1 < 400, m1)", m1=[100, 500, NA, 399])
    assert _same(got, [100, NA, NA, 399])


def test_minimum_volume_guard() -> None:
    """The failure-ratio guard: no ratio in an hour with fewer than 20 queries."""
    got = _eval(
        "IF(attempted >= 20, failed / attempted, 0)",
        failed=[1, 3, 0, NA],
        attempted=[4, 60, 0, 30],
    )
    assert _same(got, [0, 0.05, 0, 0])


def test_logical_operators_both_spellings() -> None:
    a, b = [1, 0, 2, 0], [1, 1, 0, 0]
    for text in ("a AND b", "a && b"):
        assert _same(_eval(text, a=a, b=b), [1, 0, 0, 0])
    for text in ("a OR b", "a || b"):
        assert _same(_eval(text, a=a, b=b), [1, 1, 1, 0])
    # Comparisons bind tighter than AND, AND tighter than OR.
    assert _same(_eval("a > 0 AND b > 0 OR a == 2", a=a, b=b), [1, 0, 1, 0])
    assert _same(_eval("a != 0", a=a, b=b), [1, 0, 1, 0])
    assert _same(_eval("a <= 1", a=a, b=b), [1, 1, 0, 1])


def test_reducers_of_one_series_are_scalars_over_present_points() -> None:
    m = [4, NA, 1, 7]
    assert _same(_eval("m - MIN(m)", m=m), [3, NA, 0, 6])
    assert _same(_eval("MAX(m) + 0 * m", m=m), [7, NA, 7, 7])
    assert _same(_eval("m / AVG(m)", m=m), [1, NA, 0.25, 1.75])
    assert _same(_eval("SUM(m) + 0 * m", m=m), [12, NA, 12, 12])


def test_reducers_of_an_array_are_series_missing_as_zero() -> None:
    a, b = [1, NA, NA, 4], [3, 2, NA, 0]
    assert _same(_eval("SUM([a, b])", a=a, b=b), [4, 2, NA, 4])
    assert _same(_eval("AVG([a, b])", a=a, b=b), [2, 1, NA, 2])
    assert _same(_eval("MAX([a, b])", a=a, b=b), [3, 2, NA, 4])
    assert _same(_eval("MIN([a, b])", a=a, b=b), [1, 0, NA, 0])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("IF(a)", "IF takes 2 to 3"),
        ("ABS([a, a])", "does not take an array"),
        ("a AND", "expected more input"),
        ("a = 1", "unexpected"),
    ],
)
def test_errors(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_expression(text)

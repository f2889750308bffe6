"""Metrics of an alarm: MetricStat / MetricDataQuery parsing and validation.

Shared by :mod:`dpcsim.alarms.spec` for single-metric alarms (``Namespace``,
``MetricName``, ``Dimensions``, ``Period``, ``Statistic``) and metric-math alarms
(``Metrics``: Ids ``^[a-z][a-zA-Z0-9_]*$`` and unique, exactly one ReturnData
true and set explicitly, at most 10 MetricStat and 10 Expression queries, one
period, Expression <= 2048 characters and parseable, no reference cycles).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from dpcsim.alarms.mathexpr import Node, parse_expression, referenced_ids
from dpcsim.errors import InputError
from dpcsim.metrics.datapoints import dimensions_key
from dpcsim.metrics.statistics import BASIC_STATISTICS, parse_percentile

__all__ = [
    "SINGLE_METRIC_KEYS",
    "Ctx",
    "MetricQuery",
    "MetricStatSpec",
    "evaluation_order",
    "get_int",
    "parse_math_queries",
    "parse_single_metric",
]

_ID = re.compile(r"^[a-z][a-zA-Z0-9_]*$")

SINGLE_METRIC_KEYS: Final = (
    "Namespace",
    "MetricName",
    "Dimensions",
    "Period",
    "Unit",
    "Statistic",
    "ExtendedStatistic",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricStatSpec:
    """One metric and how to summarise it per period."""

    namespace: str
    metric_name: str
    dimensions: str  # canonical "Name=Value;..." (see dpcsim.metrics.datapoints)
    period_s: int
    stat: str  # a basic statistic or pNN

    def __post_init__(self) -> None:
        if self.period_s <= 0:
            raise InputError(f"period {self.period_s} [s]: expected > 0")


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricQuery:
    """One MetricDataQuery of a metric-math alarm."""

    id: str
    metric_stat: MetricStatSpec | None = None
    expression: str | None = None
    return_data: bool = False
    label: str | None = None

    def __post_init__(self) -> None:
        if (self.metric_stat is None) == (self.expression is None):
            raise InputError(f"query {self.id!r}: exactly one of MetricStat/Expression")


class Ctx:
    """Error context: the file and the alarm being parsed."""

    def __init__(self, source: str, where: str) -> None:
        self.source, self.where = source, where

    def fail(self, field_name: str, message: str) -> InputError:
        return InputError(
            message, source=self.source, location=f"{self.where} {field_name}"
        )


def get_int(req: Mapping[str, Any], key: str, ctx: Ctx, *, minimum: int = 1) -> int:
    """An integer field (CloudFormation writes numbers as strings too)."""
    raw = req[key]
    try:
        value = int(str(raw)) if not isinstance(raw, bool) else None
    except ValueError:
        value = None
    if value is None or value < minimum:
        raise ctx.fail(key, f"bad value {raw!r}: expected an integer >= {minimum}")
    return value


def _check_period(period: int, key: str, ctx: Ctx) -> None:
    if period not in (10, 20, 30) and period % 60 != 0:
        raise ctx.fail(
            key, f"bad value {period}: expected 10, 20, 30 or a multiple of 60 [s]"
        )


def _statistic(req: Mapping[str, Any], ctx: Ctx, *, stat_key: str = "Statistic") -> str:
    """The Statistic or ExtendedStatistic of a single-metric alarm."""
    stat, ext = req.get(stat_key), req.get("ExtendedStatistic")
    if (stat is None) == (ext is None):
        raise ctx.fail(
            stat_key, "exactly one of Statistic / ExtendedStatistic is required"
        )
    if stat is not None:
        if stat not in BASIC_STATISTICS:
            raise ctx.fail(
                stat_key, f"bad value {stat!r}: expected one of {BASIC_STATISTICS}"
            )
        return str(stat)
    if not isinstance(ext, str) or parse_percentile(ext) is None:
        raise ctx.fail(
            "ExtendedStatistic",
            f"bad or unsupported value {ext!r}: dpcsim evaluates percentiles pNN "
            "(e.g. p99, p99.9); trimmed/winsorized statistics are not supported",
        )
    return ext


def _dimensions(raw: Any, ctx: Ctx, key: str) -> str:
    if raw is None:
        return ""
    if not isinstance(raw, list):
        raise ctx.fail(key, f"bad value {raw!r}: expected a list of {{Name, Value}}")
    if len(raw) > 30:
        raise ctx.fail(key, f"{len(raw)} dimensions: at most 30 are allowed")
    out: dict[str, str] = {}
    for i, d in enumerate(raw):
        ok = isinstance(d, dict) and isinstance(d.get("Name"), str) and "Value" in d
        if (
            not ok
            or not 1 <= len(d["Name"]) <= 255
            or not 1 <= len(str(d["Value"])) <= 1024
        ):
            raise ctx.fail(
                f"{key}[{i}]",
                f"bad value {d!r}: expected Name (1-255) and Value (1-1024)",
            )
        if d["Name"] in out:
            raise ctx.fail(f"{key}[{i}]", f"dimension {d['Name']!r} given twice")
        out[d["Name"]] = str(d["Value"])
    try:
        return dimensions_key(out)
    except InputError as exc:
        raise ctx.fail(key, str(exc)) from exc


def parse_single_metric(req: Mapping[str, Any], ctx: Ctx) -> MetricStatSpec:
    for key in ("Namespace", "MetricName"):
        value = req.get(key)
        if (
            not isinstance(value, str)
            or not 1 <= len(value) <= 255
            or value.startswith(":")
        ):
            raise ctx.fail(
                key, f"bad value {value!r}: expected a string of 1-255 chars"
            )
    if "Period" not in req:
        raise ctx.fail("Period", "required for a single-metric alarm")
    period = get_int(req, "Period", ctx)
    _check_period(period, "Period", ctx)
    return MetricStatSpec(
        namespace=req["Namespace"],
        metric_name=req["MetricName"],
        dimensions=_dimensions(req.get("Dimensions"), ctx, "Dimensions"),
        period_s=period,
        stat=_statistic(req, ctx),
    )


def _query(raw: Any, i: int, ctx: Ctx) -> MetricQuery:
    where = f"Metrics[{i}]"
    if not isinstance(raw, dict):
        raise ctx.fail(where, f"bad value {raw!r}: expected a MetricDataQuery object")
    qid = raw.get("Id")
    if not isinstance(qid, str) or not _ID.match(qid) or len(qid) > 255:
        raise ctx.fail(
            f"{where}.Id", f"bad value {qid!r}: expected ^[a-z][a-zA-Z0-9_]*$"
        )
    if "ReturnData" not in raw:
        raise ctx.fail(
            f"{where}.ReturnData", "must be set explicitly (true on exactly one)"
        )
    if not isinstance(raw["ReturnData"], bool):
        raise ctx.fail(
            f"{where}.ReturnData", f"bad value {raw['ReturnData']!r}: expected bool"
        )
    stat_raw, expr = raw.get("MetricStat"), raw.get("Expression")
    if (stat_raw is None) == (expr is None):
        raise ctx.fail(where, "exactly one of MetricStat / Expression is required")
    if expr is not None:
        if not isinstance(expr, str) or not 1 <= len(expr) <= 2048:
            raise ctx.fail(
                f"{where}.Expression", "expected a string of 1-2048 characters"
            )
        return MetricQuery(id=qid, expression=expr, return_data=raw["ReturnData"])
    if not isinstance(stat_raw, dict) or not isinstance(stat_raw.get("Metric"), dict):
        raise ctx.fail(f"{where}.MetricStat", "expected {Metric: {...}, Period, Stat}")
    metric = stat_raw["Metric"]
    sub = Ctx(ctx.source, f"{ctx.where} {where}.MetricStat")
    spec = parse_single_metric(
        {**metric, "Period": stat_raw.get("Period"), "Statistic": stat_raw.get("Stat")}
        if parse_percentile(str(stat_raw.get("Stat"))) is None
        else {
            **metric,
            "Period": stat_raw.get("Period"),
            "ExtendedStatistic": stat_raw["Stat"],
        },
        sub,
    )
    return MetricQuery(id=qid, metric_stat=spec, return_data=raw["ReturnData"])


def parse_math_queries(
    req: Mapping[str, Any], ctx: Ctx
) -> tuple[tuple[MetricQuery, ...], int]:
    raw = req["Metrics"]
    clash = [k for k in SINGLE_METRIC_KEYS if k in req]
    if clash:
        raise ctx.fail("Metrics", f"cannot be combined with {clash}")
    if not isinstance(raw, list) or not 1 <= len(raw) <= 20:
        raise ctx.fail("Metrics", "expected a list of 1-20 MetricDataQuery objects")
    queries = tuple(_query(q, i, ctx) for i, q in enumerate(raw))
    # "as many as 10 structures that contain a MetricStat parameter ..., and as
    # many as 10 structures that contain the Expression parameter"
    # (MetricDataQuery, PutMetricAlarm).
    for kind, count in (
        ("MetricStat", sum(q.metric_stat is not None for q in queries)),
        ("Expression", sum(q.expression is not None for q in queries)),
    ):
        if count > 10:
            raise ctx.fail("Metrics", f"{count} {kind} queries: at most 10 {kind}")
    ids = [q.id for q in queries]
    if len(set(ids)) != len(ids):
        raise ctx.fail("Metrics", f"Ids must be unique, got {ids}")
    returning = [q.id for q in queries if q.return_data]
    if len(returning) != 1:
        raise ctx.fail(
            "Metrics", f"exactly one ReturnData must be true, got {returning}"
        )
    try:
        evaluation_order(queries)
    except InputError as exc:
        raise ctx.fail("Metrics", str(exc)) from None
    periods = {q.metric_stat.period_s for q in queries if q.metric_stat is not None}
    if len(periods) != 1:
        raise ctx.fail(
            "Metrics", f"all metrics need one MetricStat and the same period: {periods}"
        )
    return queries, periods.pop()


def evaluation_order(
    queries: tuple[MetricQuery, ...],
) -> list[tuple[MetricQuery, Node | None]]:
    """Queries with their parsed expressions, each after the ids it uses.

    Raises
    ------
    InputError
        On a syntax error, a reference to an unknown Id, or a cycle.
    """
    by_id = {q.id: q for q in queries}
    parsed: dict[str, Node | None] = {}
    for q in queries:
        if q.expression is None:
            parsed[q.id] = None
            continue
        node = parse_expression(q.expression)
        unknown = referenced_ids(node) - set(by_id)
        if unknown:
            raise InputError(
                f"query {q.id!r}: expression refers to unknown Id(s) {sorted(unknown)}"
            )
        parsed[q.id] = node
    order: list[tuple[MetricQuery, Node | None]] = []
    state: dict[str, int] = {}  # 1 = visiting, 2 = done

    def visit(qid: str, path: tuple[str, ...]) -> None:
        if state.get(qid) == 2:
            return
        if state.get(qid) == 1:
            raise InputError(
                f"expressions refer to each other in a cycle: {' -> '.join(path)}"
            )
        state[qid] = 1
        node = parsed[qid]
        for ref in sorted(referenced_ids(node)) if node is not None else []:
            visit(ref, (*path, ref))
        state[qid] = 2
        order.append((by_id[qid], node))

    for q in queries:
        visit(q.id, (q.id,))
    return order

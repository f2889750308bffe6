"""PutMetricAlarm requests to emit: tuning applied, evidence, SNS, offline checks.

:func:`read_tuning` reads ``recommend/alarm_tuning.csv`` (one row per evaluated
variant of an alarm; the row with ``selected`` true is the one to deploy).
:func:`tune_alarm` applies a row to a request: ``Threshold``, the period (on
the metric, or on every ``MetricStat`` of a metric-math alarm, which must share
one period), ``EvaluationPeriods``, ``DatapointsToAlarm`` and
``TreatMissingData``; metric-math expressions are carried unchanged, so a
failure ratio with a minimum-volume guard arrives as the alarm spec itself
(``--alarms FILE`` or the recommendation's ``alarms``) and leaves as given.
:func:`with_evidence` adds the simulated evidence (false alarms per week with
its confidence interval, detection delay, missed incidents) to
``AlarmDescription``, cut to its 1,024-character limit. :func:`with_topic`
points every action list at the SNS topic ARN.

:func:`check_alarm_request` is the offline check of one request: botocore's
validator on the ``PutMetricAlarm`` input shape, dpcsim's parser
(:func:`dpcsim.alarms.parse_alarm`: exactly one of ``MetricName`` /
``Metrics``, exactly one ``ReturnData: true``, Period 10/20/30 or a multiple
of 60, Period x EvaluationPeriods within 7 days and within 1 day under an
hour, query ids ``^[a-z][A-Za-z0-9_]*$``, enums, ...) and the metric catalogue
(:mod:`dpcsim.emit.catalog`: real names and dimension sets only).
:func:`round_trip` evaluates the source and the emitted alarms on the same
datapoints and reports every instant where their states differ.
"""

from __future__ import annotations

import copy
import csv
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from dpcsim.alarms import AlarmSpec, evaluate_alarms, parse_alarm
from dpcsim.alarms.spec import TREAT_MISSING_DATA
from dpcsim.emit.botocheck import validate_input
from dpcsim.emit.catalog import check_metric
from dpcsim.errors import InputError
from dpcsim.experiments.tuning import TUNING_COLUMNS, TUNING_REQUIRED_COLUMNS

__all__ = [
    "MAX_DESCRIPTION_CHARS",
    "TUNING_COLUMNS",
    "TuningRow",
    "alarm_file_name",
    "check_alarm_request",
    "read_tuning",
    "round_trip",
    "selected_tuning",
    "tune_alarm",
    "with_evidence",
    "with_topic",
]

MAX_DESCRIPTION_CHARS: Final = 1024
_TRUE: Final = ("true", "t", "1", "yes")
_FALSE: Final = ("false", "f", "0", "no", "")


@dataclass(frozen=True, slots=True, kw_only=True)
class TuningRow:
    """One row of ``alarm_tuning.csv``: an alarm variant and its evidence.

    Attributes
    ----------
    alarm
        AlarmName the row tunes.
    threshold, period_s, evaluation_periods, datapoints_to_alarm,
    treat_missing_data
        The alarm settings of the variant (Period [s]).
    variant
        The recommender's name for the variant.
    false_alarms_per_week, fa_ci_low, fa_ci_high
        Simulated false alarms per week and its confidence interval.
    detection_delay_min
        Simulated delay from an incident's start to ALARM [min] (NaN if none).
    missed, incidents
        Incidents the variant missed, out of the simulated ones.
    selected
        True for the variant to deploy.
    """

    alarm: str
    threshold: float
    period_s: int
    evaluation_periods: int
    datapoints_to_alarm: int
    treat_missing_data: str
    variant: str
    false_alarms_per_week: float
    fa_ci_low: float
    fa_ci_high: float
    detection_delay_min: float
    missed: int
    incidents: int
    selected: bool


def read_tuning(path: str | Path) -> list[TuningRow]:
    """Read ``alarm_tuning.csv``; every bad cell raises naming row and column.

    Raises
    ------
    InputError
        A missing column, an unparseable number or flag, or two selected rows
        for one alarm.
    """
    path = Path(path)
    source = str(path)
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = sorted(set(TUNING_REQUIRED_COLUMNS) - set(reader.fieldnames or ()))
        if missing:
            raise InputError(
                f"missing column(s) {missing}; expected {list(TUNING_COLUMNS)}",
                source=source,
            )
        rows = [_tuning_row(raw, source, n) for n, raw in enumerate(reader, start=2)]
    chosen = [r.alarm for r in rows if r.selected]
    dupes = sorted({a for a in chosen if chosen.count(a) > 1})
    if dupes:
        raise InputError(
            f"more than one selected row for alarm(s) {dupes}; expected one each",
            source=source,
        )
    return rows


def selected_tuning(rows: Sequence[TuningRow]) -> dict[str, TuningRow]:
    """The selected row per alarm name."""
    return {r.alarm: r for r in rows if r.selected}


def tune_alarm(request: Mapping[str, Any], row: TuningRow) -> dict[str, Any]:
    """Apply a tuning row's settings to a PutMetricAlarm request (a copy)."""
    out = copy.deepcopy(dict(request))
    out["Threshold"] = float(row.threshold)
    out["EvaluationPeriods"] = int(row.evaluation_periods)
    out["DatapointsToAlarm"] = int(row.datapoints_to_alarm)
    out["TreatMissingData"] = row.treat_missing_data
    if "Metrics" in out:
        for query in out["Metrics"]:
            if "MetricStat" in query:
                query["MetricStat"]["Period"] = int(row.period_s)
    else:
        out["Period"] = int(row.period_s)
    return out


def with_evidence(
    request: Mapping[str, Any], row: TuningRow | None, *, extra: str = ""
) -> dict[str, Any]:
    """Append the simulated evidence to ``AlarmDescription`` (<= 1,024 chars).

    The evidence goes last and is kept whole; the design's own description is
    shortened (with an ellipsis) when both do not fit.
    """
    out = dict(request)
    base = str(out.get("AlarmDescription", "")).strip()
    parts = []
    if row is not None:
        delay = (
            "no detection"
            if math.isnan(row.detection_delay_min)
            else f"{row.detection_delay_min:.1f} min"
        )
        parts.append(
            f"Simulated evidence ({row.variant}): {row.false_alarms_per_week:.2f} "
            f"false alarms/week (CI {row.fa_ci_low:.2f}-{row.fa_ci_high:.2f}), "
            f"detection delay {delay}, missed {row.missed} of {row.incidents} "
            "incidents."
        )
    if extra:
        parts.append(extra.strip())
    evidence = " ".join(parts)
    if not evidence:
        out["AlarmDescription"] = base[:MAX_DESCRIPTION_CHARS]
        return out
    room = MAX_DESCRIPTION_CHARS - len(evidence) - 1
    if room <= 1:
        out["AlarmDescription"] = evidence[:MAX_DESCRIPTION_CHARS]
        return out
    if len(base) > room:
        base = base[: room - 1].rstrip() + "…"
    out["AlarmDescription"] = f"{base} {evidence}".strip()
    return out


def with_topic(request: Mapping[str, Any], topic_arn: str) -> dict[str, Any]:
    """Point every non-empty action list at ``topic_arn`` (AlarmActions always)."""
    if not re.fullmatch(
        r"arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}", topic_arn
    ):
        raise InputError(
            f"SNS topic ARN {topic_arn!r}: expected arn:aws:sns:REGION:ACCOUNT:NAME"
        )
    out = dict(request)
    for key in ("OKActions", "InsufficientDataActions"):
        if out.get(key):
            out[key] = [topic_arn]
    out["AlarmActions"] = [topic_arn]
    return out


def check_alarm_request(request: Mapping[str, Any], *, source: str) -> AlarmSpec:
    """Check one PutMetricAlarm request offline; return its parsed spec.

    Raises
    ------
    InputError
        botocore's report, the first broken PutMetricAlarm rule, or a metric
        that is not published, naming ``source`` and the field.
    """
    validate_input("cloudwatch", "PutMetricAlarm", request, source=source)
    spec = parse_alarm(request, source=source, where="alarm")
    if spec.metric is not None:
        dims = [d["Name"] for d in request.get("Dimensions", [])]
        check_metric(
            str(request["Namespace"]),
            str(request["MetricName"]),
            dims,
            where=f"{source} MetricName",
        )
    for i, query in enumerate(request.get("Metrics", [])):
        stat = query.get("MetricStat")
        if stat is not None:
            metric = stat["Metric"]
            check_metric(
                str(metric["Namespace"]),
                str(metric["MetricName"]),
                [d["Name"] for d in metric.get("Dimensions", [])],
                where=f"{source} Metrics[{i}].MetricStat",
            )
    if request.get("TreatMissingData", "missing") not in TREAT_MISSING_DATA:
        raise InputError("TreatMissingData: bad value", source=source)
    return spec


def round_trip(
    source: Sequence[AlarmSpec], emitted: Sequence[AlarmSpec], datapoints: pd.DataFrame
) -> list[str]:
    """Evaluate both alarm sets on ``datapoints``; list every disagreement.

    Returns
    -------
    list of str
        One line per alarm whose state history differs (empty: they fire at
        exactly the same instants), or that is missing from one side.
    """
    by_name = {a.name: a for a in emitted}
    problems = [f"{a.name}: not emitted" for a in source if a.name not in by_name]
    pairs = [(a, by_name[a.name]) for a in source if a.name in by_name]
    if not pairs or datapoints.empty:
        return problems
    before = evaluate_alarms([a for a, _ in pairs], datapoints)
    after = evaluate_alarms([b for _, b in pairs], datapoints)
    h0, h1 = before.history, after.history
    for a, _b in pairs:
        s0 = h0[h0["alarm_name"] == a.name]
        s1 = h1[h1["alarm_name"] == a.name]
        same = len(s0) == len(s1) and bool(
            np.array_equal(s0["state"].to_numpy(), s1["state"].to_numpy())
            and np.array_equal(
                s0["evaluated_at"].to_numpy(), s1["evaluated_at"].to_numpy()
            )
        )
        if not same:
            problems.append(
                f"{a.name}: the emitted alarm's states differ from the source's "
                f"({len(s0)} vs {len(s1)} evaluations)"
            )
    return problems


def alarm_file_name(name: str) -> str:
    """``alarms/<name>.json`` with characters outside ``A-Za-z0-9._-`` as ``_``."""
    return "alarms/" + re.sub(r"[^A-Za-z0-9._-]", "_", name) + ".json"


def _tuning_row(raw: Mapping[str, str | None], source: str, line: int) -> TuningRow:
    """Parse one CSV row (``line`` counts the header as line 1)."""

    def cell(col: str) -> str:
        return (raw.get(col) or "").strip()

    def fail(col: str, expected: str) -> InputError:
        return InputError(
            f"column {col} = {cell(col)!r}: expected {expected}",
            source=source,
            location=f"line {line}",
        )

    def number(col: str, *, blank_nan: bool = False) -> float:
        text = cell(col)
        if text == "" and blank_nan:
            return math.nan
        try:
            return float(text)
        except ValueError:
            raise fail(col, "a number") from None

    def integer(col: str) -> int:
        value = number(col)
        if not value.is_integer() or value < 0:
            raise fail(col, "a whole number >= 0")
        return int(value)

    flag = cell("selected").lower()
    if flag not in _TRUE + _FALSE:
        raise fail("selected", "true or false")
    treat = cell("treat_missing_data")
    if treat not in TREAT_MISSING_DATA:
        raise fail("treat_missing_data", f"one of {list(TREAT_MISSING_DATA)}")
    if not cell("alarm"):
        raise fail("alarm", "an AlarmName")
    return TuningRow(
        alarm=cell("alarm"),
        threshold=number("threshold"),
        period_s=integer("period_s"),
        evaluation_periods=integer("evaluation_periods"),
        datapoints_to_alarm=integer("datapoints_to_alarm"),
        treat_missing_data=treat,
        variant=cell("variant") or "selected",
        false_alarms_per_week=number("false_alarms_per_week"),
        fa_ci_low=number("fa_ci_low"),
        fa_ci_high=number("fa_ci_high"),
        detection_delay_min=number("detection_delay_min", blank_nan=True),
        missed=integer("missed"),
        incidents=integer("incidents"),
        selected=flag in _TRUE,
    )

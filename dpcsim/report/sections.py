"""The report's sections 1–6 and 8, each computed from the run folder's files.

Every number and conclusion here is read or derived from the run folder (see
:mod:`dpcsim.report.folder`); nothing is written by hand. A section whose input
is missing says which command produces it. Section 7 (corrections to the
design) lives in :mod:`dpcsim.report.corrections`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from dpcsim.report import figures
from dpcsim.report.document import Card, Code, Figure, Note, Paragraph, Section, Table
from dpcsim.report.folder import PRODUCERS, RunFolder
from dpcsim.report.formatting import ci, config_changes, num, row_of, wait_stats

__all__ = [
    "RISK_GROWTH",
    "SECTION_TITLES",
    "ReportContext",
    "alarms_section",
    "deploy_section",
    "elt_section",
    "runbook_section",
    "split_section",
    "summary_section",
    "trust_section",
]

#: Section headings, in order (the browser test checks every one is shown).
SECTION_TITLES = (
    "Summary",
    "How far to trust this",
    "Open question 1: ELTExecutionDelay",
    "Open question 2: the 50/30/20 split",
    "The alarms",
    "Open question 3: the runbook platform",
    "Corrections to the design",
    "The deployable files and reproducibility",
)
#: Risk of the recommendation from its smallest headroom [growth factor]:
#: below the first value "high" (a target fails within 20 % growth), below the
#: second "medium", else "low". A stated rule of this report, not AWS's.
RISK_GROWTH = (1.2, 1.5)
#: Runbook steps of the design that each injected fault kind exercises, matched
#: on the fault's name (lower case substring).
RUNBOOK_STEPS = (
    ("copy", "COPY error: fix the S3 file, re-run the load"),
    ("dbt", "dbt failure: fix the SQL, dbt run --select <model>, re-run"),
    ("partial", "partial load: re-run the load, then dbt"),
    ("step", "late or failed Step Functions run: re-run Step Functions"),
    ("late", "late or failed Step Functions run: re-run Step Functions"),
    ("storage", "storage: move unloaded data to Spectrum, VACUUM"),
    ("spike", "WLM backlog: pause adhoc, favour batch"),
    ("stuck", "WLM backlog: pause adhoc, favour batch"),
)
_METRICS = (
    ("metric.elt_lateness_min", "ELT lateness", "min"),
    ("metric.wait_p95_s.adhoc", "adhoc p95 wait", "s"),
    ("metric.cost_usd", "scaling cost", "USD"),
)


@dataclass(frozen=True, slots=True)
class ReportContext:
    """The run folder plus what several sections derive from it."""

    folder: RunFolder
    current_wlm: list[dict[str, Any]] | None
    recommended_wlm: list[dict[str, Any]] | None
    baseline_id: str | None
    recommended_id: str | None

    @classmethod
    def from_folder(cls, folder: RunFolder) -> ReportContext:
        """Collect the two WLM configurations and the two config ids."""
        design = (folder.run or {}).get("design", {}) if folder.run else {}
        current = design.get("wlm_json") if isinstance(design, dict) else None
        rec = folder.recommend.recommendation if folder.recommend else {}
        recommended = rec.get("recommended", {}).get("wlm_json") if rec else None
        return cls(
            folder=folder,
            current_wlm=current,
            recommended_wlm=recommended,
            baseline_id=rec.get("baseline_config_id") if rec else None,
            recommended_id=rec.get("recommended_config_id") if rec else None,
        )


def missing(part: str) -> Note:
    """The note a section shows when ``part`` of the run folder is missing."""
    return Note(f"{part}/ is missing from this run folder; it is written by: "
                f"{PRODUCERS[part]}")  # fmt: skip


def figure_block(
    draw: Callable[..., Any],
    *args: Any,
    caption: str,
    size: tuple[float, float] = (10, 4),
    **kwargs: Any,
) -> Figure:
    """A figure block drawn by ``draw(ax, *args, **kwargs)`` when rendered."""

    def render() -> bytes:
        fig = figures.figure(*size)
        draw(fig.add_subplot(), *args, **kwargs)
        return figures.to_png(fig)

    return Figure(render, caption)


def summary_section(ctx: ReportContext) -> Section:
    """1. The recommendation, current against recommended, evidence, risk, cost."""
    section = Section(1, SECTION_TITLES[0])
    rec = ctx.folder.recommend
    if rec is None:
        section.blocks.append(missing("recommend"))
        if ctx.folder.baseline is not None:
            section.blocks.append(_evidence_window(ctx))
        return section
    verdict = rec.recommendation["verdict"]
    holds = bool(verdict.get("holds"))
    section.blocks.append(Paragraph(str(verdict.get("text", ""))))
    cards = [
        Card("finding", "the design holds" if holds else "the design does not hold",
             f"configuration {ctx.baseline_id}", "good" if holds else "bad"),  # fmt: skip
        Card("recommended", str(ctx.recommended_id),
             f"up to {rec.recommendation['recommended'].get('max_concurrency_scaling_clusters')}"
             " Concurrency Scaling clusters"),
        _risk_card(ctx),
        _cost_card(ctx),
    ]
    if ctx.folder.baseline is not None:
        cards.append(_evidence_window(ctx))
    section.blocks.append(cards)
    section.blocks.append("Current against recommended configuration")
    section.blocks.append(_config_table(ctx))
    section.blocks.append("The evidence in three lines")
    section.blocks.extend(Paragraph(line) for line in _evidence_lines(ctx))
    section.blocks.append("Assumptions that could change the answer")
    section.blocks.append(_assumption_table(ctx))
    return section


def _evidence_window(ctx: ReportContext) -> Card:
    base = ctx.folder.baseline
    assert base is not None
    start = pd.Timestamp(base.summary["start_at"])
    end_s = float(np.nanmax(base.queries["end_s"].to_numpy(float)))
    end = start + pd.Timedelta(seconds=end_s)
    days = end_s / 86400
    return Card("evidence window", f"{days:.1f} days",
                f"{start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC, "
                f"{base.summary['queries']['arrived']:,} queries")  # fmt: skip


def _risk_card(ctx: ReportContext) -> Card:
    rec = ctx.folder.recommend
    assert rec is not None
    rows = rec.headroom[rec.headroom["config_id"].astype(str) == str(ctx.recommended_id)]
    if rows.empty:
        return Card("risk", "unknown", "headroom.csv has no row for the recommendation")
    first = rows.sort_values("growth_at_failure").iloc[0]
    growth = float(first["growth_at_failure"])
    level = "high" if growth < RISK_GROWTH[0] else "medium" if growth < RISK_GROWTH[1] else "low"
    tone = {"high": "bad", "medium": "warn", "low": "good"}[level]
    return Card("risk", level,
                f"{first['target']} first fails at "
                f"{ci(growth, first['ci_low'], first['ci_high'], 2)}x load", tone)  # fmt: skip


def _cost_card(ctx: ReportContext) -> Card:
    rec = ctx.folder.recommend
    assert rec is not None
    base = row_of(rec.pareto, "config_id", ctx.baseline_id)
    new = row_of(rec.pareto, "config_id", ctx.recommended_id)
    if base is None or new is None:
        return Card("cost", "n/a", "pareto.csv lacks the baseline or recommendation")
    delta = float(new["cost_usd"]) - float(base["cost_usd"])
    return Card("cost (scaling, per simulated week)", f"{num(new['cost_usd'], 2)} USD",
                f"{delta:+.2f} USD against the design's {num(base['cost_usd'], 2)}",
                "warn" if delta > 0 else "good")  # fmt: skip


def _config_table(ctx: ReportContext) -> Table | Note:
    if ctx.current_wlm is None or ctx.recommended_wlm is None:
        return Note("run.json has no design.wlm_json, or recommendation.json no "
                    "recommended.wlm_json: the configurations cannot be compared")  # fmt: skip
    rows, changed = config_changes(ctx.current_wlm, ctx.recommended_wlm)
    return Table(["queue", "slots", "memory", "Concurrency Scaling", "QMR rules"], rows,
                 caption=f"design (current) → recommended: {changed} settings change")  # fmt: skip


def _evidence_lines(ctx: ReportContext) -> list[str]:
    rec = ctx.folder.recommend
    assert rec is not None
    base = row_of(rec.pareto, "config_id", ctx.baseline_id)
    new = row_of(rec.pareto, "config_id", ctx.recommended_id)
    if base is None or new is None:
        return ["pareto.csv has no row for the baseline or the recommendation."]
    lines = []
    for column, label, unit, digits in (
        ("elt_lateness_min", "ELT lateness", "min", 1),
        ("adhoc_p95_wait_s", "adhoc p95 wait", "s", 1),
        ("cost_usd", "Concurrency Scaling cost", "USD/week", 2),
    ):
        lines.append(
            f"{label}: design {_ci_of(base, column, digits)} -> recommended "
            f"{_ci_of(new, column, digits)} {unit} (95 % intervals)."
        )
    return lines


def _ci_of(row: pd.Series, column: str, digits: int) -> str:
    return ci(row[column], row.get(f"{column}_ci_low"), row.get(f"{column}_ci_high"),
              digits)  # fmt: skip


def _assumption_table(ctx: ReportContext) -> Table | Note:
    if ctx.folder.run is None:
        return Note(f"run.json is missing; it is written by: {PRODUCERS['run.json']}")
    assumptions = ctx.folder.run.get("assumptions", {})
    sensitive = _sensitivity(ctx)
    rows = [[str(k), _short(v), ", ".join(sensitive.get(str(k), [])) or "no"]
            for k, v in sorted(assumptions.items())]  # fmt: skip
    return Table(["assumption (undocumented by AWS)", "value used",
                  "changes a metric beyond its interval"], rows)  # fmt: skip


def _sensitivity(ctx: ReportContext) -> dict[str, list[str]]:
    """Assumption -> metrics of the recommendation whose intervals separate.

    Two assumption values "change" a metric when their 95 % intervals do not
    overlap (stats.csv, the recommended configuration).
    """
    sweep = ctx.folder.sweep
    if sweep is None or ctx.folder.run is None:
        return {}
    stats = sweep.stats[sweep.stats["config_id"].astype(str) == str(ctx.recommended_id)]
    found: dict[str, list[str]] = {}
    for name in ctx.folder.run.get("assumptions", {}):
        for metric, label, _unit in _METRICS:
            rows = stats[stats["metric"] == metric]
            rows = rows[rows["assumption_id"].astype(str).str.startswith(f"{name}=")]
            if len(rows) >= 2 and rows["ci_low"].max() > rows["ci_high"].min():
                found.setdefault(str(name), []).append(label)
    return found


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def trust_section(ctx: ReportContext) -> Section:
    """2. The contention fit, replay fidelity, and sensitivity to assumptions."""
    section = Section(2, SECTION_TITLES[1])
    cal = ctx.folder.calibration
    if cal is None:
        section.blocks.append(missing("calibration"))
    else:
        fit = cal.fit
        identified = bool(fit.get("identified", True))
        section.blocks.append(Paragraph(
            f"Contention fitted from {int(fit['n_queries_used']):,} queries of the log: "
            f"sigma = {ci(fit['sigma'], *fit['sigma_ci'], 3)}, kappa = "
            f"{ci(fit['kappa'], *fit['kappa_ci'], 4)} (95 % intervals)."
            + ("" if identified else " The log cannot identify the curve; the "
               "defaults were kept: " + str(fit.get("message", "")))))  # fmt: skip
        defaults = fit.get("defaults")
        pair = (float(defaults["sigma"]), float(defaults["kappa"])) if defaults else None
        section.blocks.append(figure_block(
            lambda ax, f: figures.plot_contention_fit(ax, f, defaults=pair), fit,
            caption="Fitted contention curve with its 95 % band; points are the "
            "log's measured throughput where fit.json has them."))  # fmt: skip
        section.blocks.append("Replay fidelity on the log (recording configuration)")
        section.blocks.append(Paragraph(_fidelity_text(cal.fidelity)))
        section.blocks.append(_frame_table(cal.fidelity))
    section.blocks.append("Sensitivity of the recommendation to the assumptions")
    section.blocks.extend(_sensitivity_blocks(ctx))
    return section


def _fidelity_text(fidelity: pd.DataFrame) -> str:
    """One line from fidelity.csv: the worst queue by share within 1 s and MAE."""
    parts = []
    if "share_within_1s" in fidelity and not fidelity.empty:
        worst = fidelity.sort_values("share_within_1s").iloc[0]
        parts.append(f"the replay puts {100 * float(worst['share_within_1s']):.1f} % of "
                     f"{worst['queue']}'s queries within 1 s of their logged wait (the "
                     "worst queue)")  # fmt: skip
    if "mae_s" in fidelity and not fidelity.empty:
        parts.append(f"mean absolute error at most {fidelity['mae_s'].max():.2f} s per query")
    if not parts:
        return "fidelity.csv has no share_within_1s or mae_s column to summarise."
    return "Under the configuration that recorded the log, " + "; ".join(parts) + "."


def _sensitivity_blocks(ctx: ReportContext) -> list[Any]:
    sweep = ctx.folder.sweep
    if sweep is None:
        return [missing("sweep")]
    stats = sweep.stats[sweep.stats["config_id"].astype(str) == str(ctx.recommended_id)]
    rows = []
    for metric, label, unit in _METRICS:
        for _, row in stats[stats["metric"] == metric].sort_values("assumption_id").iterrows():
            rows.append([label, str(row["assumption_id"]), str(row["scenario_id"]),
                         ci(row["mean"], row["ci_low"], row["ci_high"], 2, unit),
                         str(int(row["n"]))])  # fmt: skip
    sensitive = _sensitivity(ctx)
    text = ("The verdict is sensitive to: " + "; ".join(
        f"{k} ({', '.join(v)})" for k, v in sorted(sensitive.items())) + "."
        if sensitive else "No assumption tried moves a metric of the recommended "
        "configuration outside another value's 95 % interval.")  # fmt: skip
    failed = int((sweep.results["status"] != "ok").sum())
    text += f" The sweep ran {len(sweep.results):,} runs; {failed} failed."
    return [Paragraph(text),
            Table(["metric", "assumption", "scenario", "mean [95 % CI]", "runs"], rows)]


def _frame_table(frame: pd.DataFrame) -> Table:
    def cell(v: Any) -> str:
        return num(v, 2) if isinstance(v, float | np.floating) else str(v)

    return Table([str(c) for c in frame.columns],
                 [[cell(v) for v in row] for row in frame.itertuples(index=False)])  # fmt: skip


def elt_section(ctx: ReportContext) -> Section:
    """3. Both ELTExecutionDelay definitions under injected faults; the choice."""
    section = Section(3, SECTION_TITLES[2])
    rec = ctx.folder.recommend
    elt = rec.elt_delay if rec is not None else None
    if elt is None:
        section.blocks.append(missing("recommend"))
    else:
        best, reason = _best_definition(elt)
        section.blocks.append(Paragraph(
            f"Recommended definition: {best} ({reason})."))  # fmt: skip
        rows = [[str(r.definition), str(r.fault), str(int(r.incidents)), str(int(r.missed)),
                 num(r.detection_delay_min, 1), num(r.false_alarms_per_week, 2)]
                for r in elt.sort_values(["fault", "definition"]).itertuples()]  # fmt: skip
        section.blocks.append(Table(["definition", "injected fault", "incidents",
                                     "missed", "detection delay [min]",
                                     "false alarms per week"], rows))  # fmt: skip
        section.blocks.append(figure_block(figures.plot_elt_detection, elt,
                                           caption="Detection delay per injected fault "
                                           "and definition; red labels are missed incidents."))  # fmt: skip
        section.blocks.append(Paragraph(_publish_text(ctx, best)))
    base = ctx.folder.baseline
    if base is None:
        section.blocks.append(missing("baseline"))
        return section
    delay = _elt_series(base.metrics)
    if delay.empty:
        section.blocks.append(Note("baseline/metrics.parquet has no ELTExecutionDelay."))
        return section
    threshold = alarm_threshold(ctx, "ELTExecutionDelay")
    section.blocks.append(_elt_baseline_table(delay, threshold))
    kwargs = {} if threshold is None else {"threshold_min": threshold}
    section.blocks.append(figure_block(
        figures.plot_elt_delay, delay, **kwargs,
        caption="ELTExecutionDelay in the evidence window (the log as recorded, with "
        "its own incidents), both definitions."))  # fmt: skip
    return section


def alarm_threshold(ctx: ReportContext, metric: str) -> float | None:
    """Threshold of the deployable alarm on ``metric``, or None."""
    for doc in ctx.folder.deploy.alarms if ctx.folder.deploy else []:
        if isinstance(doc, dict) and doc.get("MetricName") == metric:
            return float(doc["Threshold"])
    return None


def _elt_baseline_table(delay: pd.DataFrame, threshold: float | None) -> Table:
    rows = []
    for definition, group in delay.groupby("definition", sort=True):
        values = group["value"].to_numpy(float)
        row = [str(definition), num(values.max(), 0)]
        if threshold is not None:
            late = group[values > threshold]
            first = ("never" if late.empty else
                     f"{pd.Timestamp(late['timestamp'].iloc[0]):%Y-%m-%d %H:%M} UTC")  # fmt: skip
            row += [str(len(late)), first]
        rows.append(row)
    columns = ["definition", "worst [min overdue]"]
    if threshold is not None:
        columns += [f"datapoints above {threshold:g} min", "first above"]
    return Table(columns, rows, caption="The evidence window as logged")


def _best_definition(elt: pd.DataFrame) -> tuple[str, str]:
    """Fewest missed incidents, then shortest mean delay, then fewest false alarms."""
    by = elt.groupby("definition").agg(missed=("missed", "sum"),
                                       delay=("detection_delay_min", "mean"),
                                       fa=("false_alarms_per_week", "mean"))  # fmt: skip
    by = by.sort_values(["missed", "delay", "fa"])
    best = by.iloc[0]
    reason = (f"{int(best['missed'])} missed incidents, mean detection delay "
              f"{best['delay']:.1f} min, {best['fa']:.2f} false alarms per week")  # fmt: skip
    if len(by) > 1:
        other = by.iloc[1]
        reason += (f"; {by.index[1]}: {int(other['missed'])} missed, "
                   f"{other['delay']:.1f} min, {other['fa']:.2f} per week")  # fmt: skip
    return str(by.index[0]), reason


def _elt_series(metrics: pd.DataFrame) -> pd.DataFrame:
    rows = metrics[metrics["metric_name"] == "ELTExecutionDelay"]
    definition = rows["dimensions"].astype(str).str.extract(r"Definition=([^;]+)")[0]
    return pd.DataFrame({"timestamp": rows["timestamp"], "definition": definition,
                         "value": rows["value"]}).dropna()  # fmt: skip


def _publish_text(ctx: ReportContext, best: str) -> str:
    dims = "Definition=" + best
    base = ctx.folder.baseline
    if base is not None:
        rows = base.metrics[base.metrics["metric_name"] == "ELTExecutionDelay"]
        if not rows.empty:
            dims = str(rows["dimensions"].iloc[0]).replace(
                str(rows["dimensions"].iloc[0]).split("Definition=")[1].split(";")[0], best)
    return (f"Publish it as Custom/DPC ELTExecutionDelay with dimensions {dims} "
            "(cloudwatch put-metric-data, unit None, minutes overdue) and point the "
            "Alert-ELT-Delay alarm at that dimension set.")  # fmt: skip


def split_section(ctx: ReportContext) -> Section:
    """4. The baseline against the alternatives; queue, wait, alarm plots; headroom."""
    section = Section(4, SECTION_TITLES[3])
    rec, base = ctx.folder.recommend, ctx.folder.baseline
    if rec is None:
        section.blocks.append(missing("recommend"))
    else:
        section.blocks.append(Paragraph(str(rec.recommendation["verdict"].get("text", ""))))
        section.blocks.append(_pareto_table(ctx))
        section.blocks.append(figure_block(
            figures.plot_pareto, rec.pareto, baseline=ctx.baseline_id,
            recommended=ctx.recommended_id,
            caption="Every configuration of the sweep: cost against adhoc p95 wait, "
            "colour ELT lateness."))  # fmt: skip
    if base is None:
        section.blocks.append(missing("baseline"))
    else:
        section.blocks.extend(_baseline_figures(base))
    if rec is not None:
        section.blocks.append("Headroom under growth, and when to resize")
        section.blocks.extend(_headroom_blocks(ctx))
        section.blocks.append("The time-of-day candidate")
        section.blocks.extend(_schedule_blocks(ctx))
    return section


def _pareto_table(ctx: ReportContext) -> Table:
    rec = ctx.folder.recommend
    assert rec is not None
    pareto = rec.pareto.sort_values("cost_usd")
    rows = []
    for _, row in pareto.iterrows():
        role = ("design" if str(row["config_id"]) == str(ctx.baseline_id) else
                "recommended" if str(row["config_id"]) == str(ctx.recommended_id) else "")  # fmt: skip
        rows.append([str(row["config_id"]), role, _ci_of(row, "cost_usd", 2),
                     _ci_of(row, "elt_lateness_min", 1), _ci_of(row, "adhoc_p95_wait_s", 1),
                     "yes" if bool(row["on_front"]) else "",
                     "yes" if bool(row["indistinguishable_from_best"]) else ""])  # fmt: skip
    return Table(["configuration", "", "cost [USD/week]", "ELT lateness [min]",
                  "adhoc p95 wait [s]", "on front", "indistinguishable from best"],
                 rows, caption="95 % intervals in brackets")  # fmt: skip


def _baseline_figures(base: Any) -> list[Any]:
    start_at = str(base.summary["start_at"])
    blocks: list[Any] = ["The design as written: queues, waits, alarms, scaling"]
    waits = [[q, f"{s['queries']:,.0f}", num(s["p50"], 1), num(s["p95"], 1),
              num(s["p99"], 1), num(s["max"], 1)]
             for q, s in wait_stats(base.queries).items()]  # fmt: skip
    blocks.append(Table(["queue", "queries", "wait p50 [s]", "wait p95 [s]",
                         "wait p99 [s]", "wait max [s]"], waits))  # fmt: skip
    if base.timeline is not None:
        blocks.append(figure_block(figures.plot_queue_length, base.timeline, start_at=start_at,
                                   caption="Queued queries per queue, the largest in each "
                                   "hour of the baseline."))  # fmt: skip
        window = _busiest_hour(base.timeline)
        blocks.append(figure_block(figures.plot_queue_length, base.timeline, bin_s=60.0,
                                   start_at=start_at, window_s=window,
                                   caption="Zoom on the hour with the longest queue, "
                                   "minute by minute."))  # fmt: skip
    blocks.append(figure_block(figures.plot_wait_distribution, base.queries,
                               caption="How long queries waited in their WLM queue "
                               "(queries that did not wait are counted in the share)."))  # fmt: skip
    if base.alarm_history is not None:
        n = base.alarm_history["alarm_name"].nunique()
        blocks.append(figure_block(figures.plot_alarm_timeline, base.alarm_history,
                                   caption="The design's alarms evaluated every minute on "
                                   "the baseline's metrics.", size=(10, 1.2 + 0.45 * n)))  # fmt: skip
    if not base.scaling.empty:
        blocks.append(figure_block(figures.plot_scaling_activity, base.scaling, start_at=start_at,
                                   caption="Concurrency Scaling per day in the baseline.",
                                   size=(10, 3.2)))  # fmt: skip
    return blocks


def _busiest_hour(timeline: pd.DataFrame) -> tuple[float, float]:
    """[start, end) [s] of the hour around the longest queue of the timeline."""
    peak_s = float(timeline["t_s"].iloc[int(timeline["queued"].to_numpy().argmax())])
    start_s = max(peak_s - 900.0, 0.0)
    return start_s, start_s + 3600.0


def _headroom_blocks(ctx: ReportContext) -> list[Any]:
    rec = ctx.folder.recommend
    assert rec is not None
    head = rec.headroom
    blocks: list[Any] = [figure_block(figures.plot_headroom, head,
                                      caption="Growth factor at which each objective "
                                      "first fails and each alarm starts firing daily.",
                                      size=(10, 1.5 + 0.5 * head["target"].nunique()))]  # fmt: skip
    queue_alarms = _alarms_on(ctx, "WLMQueueLength")
    for config_id, label in ((ctx.baseline_id, "design"), (ctx.recommended_id, "recommended")):
        rows = head[(head["config_id"].astype(str) == str(config_id)) & (head["kind"] == "alarm")]
        on_queue = rows[rows["target"].astype(str).isin(queue_alarms)]
        if rows.empty:
            continue
        first = (on_queue if not on_queue.empty else rows).sort_values(
            "growth_at_failure").iloc[0]  # fmt: skip
        text = (f"{label} ({config_id}): {first['target']} starts firing daily at "
                f"{ci(first['growth_at_failure'], first['ci_low'], first['ci_high'], 2)}x "
                "the evidence window's load")  # fmt: skip
        if not on_queue.empty:
            text += ("; WLM waiting then is a daily event, the design's trigger to "
                     "resize the cluster")  # fmt: skip
        blocks.append(Paragraph(text + "."))
    return blocks


def _alarms_on(ctx: ReportContext, metric: str) -> set[str]:
    """Names of the deployable alarms on ``metric``."""
    return {str(d.get("AlarmName")) for d in (ctx.folder.deploy.alarms if ctx.folder.deploy else [])
            if isinstance(d, dict) and d.get("MetricName") == metric}  # fmt: skip


def _schedule_blocks(ctx: ReportContext) -> list[Any]:
    rec = ctx.folder.recommend
    assert rec is not None
    found = [r for r in rec.recommendation.get("recommendations", [])
             if "schedule" in str(r.get("id", "")) or "time-of-day" in str(r.get("title", "")).lower()]  # fmt: skip
    if not found:
        return [Note("recommendation.json has no time-of-day schedule record.")]
    return [_record_block(r) for r in found]


def _record_block(record: dict[str, Any]) -> Table:
    rows = [["title", str(record.get("title", ""))],
            ["observation", str(record.get("observation", ""))],
            ["impact", str(record.get("impact_ranking", ""))]]  # fmt: skip
    rows += [["action", str(a.get("text", a)) if isinstance(a, dict) else str(a)]
             for a in record.get("recommended_actions", [])]  # fmt: skip
    rows += [[f"evidence: {k}", _short(v)] for k, v in sorted(record.get("evidence", {}).items())]
    return Table(["", str(record.get("id", ""))], rows)


def alarms_section(ctx: ReportContext) -> Section:
    """5. Tuned alarm settings against the design's, with trade-off curves."""
    section = Section(5, SECTION_TITLES[4])
    base = ctx.folder.baseline
    if base is not None and base.alarm_summary is not None:
        s = base.alarm_summary
        rows = [[str(r.alarm_name), str(int(r.transitions_to_alarm)),
                 num(float(r.time_in_alarm_s) / 60, 0)] for r in s.itertuples()]  # fmt: skip
        section.blocks.append(Table(["alarm (design's setting)", "times to ALARM in the "
                                     "baseline", "minutes in ALARM"], rows,
                                    caption="The design's alarms on the baseline (the log as recorded)."))  # fmt: skip
    rec = ctx.folder.recommend
    if rec is None:
        section.blocks.append(missing("recommend"))
        return section
    tuning = rec.alarm_tuning
    rows = []
    for alarm, group in tuning.groupby("alarm", sort=True):
        for label, pick in (("design", group["variant"].astype(str) == "design"),
                            ("tuned", group["selected"].astype(bool))):  # fmt: skip
            for r in group[pick].itertuples():
                rows.append([str(alarm), label, num(r.threshold, 2), str(int(r.period_s)),
                             f"{int(r.datapoints_to_alarm)} of {int(r.evaluation_periods)}",
                             str(r.treat_missing_data),
                             ci(r.false_alarms_per_week, r.fa_ci_low, r.fa_ci_high, 2),
                             num(r.detection_delay_min, 1),
                             f"{int(r.missed)} of {int(r.incidents)}"])  # fmt: skip
    section.blocks.append(Table(["alarm", "setting", "threshold", "period [s]",
                                 "datapoints", "missing data", "false alarms/week",
                                 "detection delay [min]", "missed"], rows))  # fmt: skip
    alarms = sorted(tuning["alarm"].astype(str).unique())
    section.blocks.append(Figure(lambda: _tradeoff_png(tuning, alarms),
                                 "Trade-off per alarm: false alarms under normal load "
                                 "against detection delay of the injected incidents, over "
                                 "the tuning grid."))  # fmt: skip
    return section


def _tradeoff_png(tuning: pd.DataFrame, alarms: list[str]) -> bytes:
    """One trade-off panel per alarm, two per row."""
    n_rows = (len(alarms) + 1) // 2
    fig = figures.figure(10, 3.2 * n_rows)
    for k, alarm in enumerate(alarms):
        figures.plot_alarm_tradeoff(fig.add_subplot(n_rows, 2, k + 1), tuning, alarm)
    return figures.to_png(fig)


def runbook_section(ctx: ReportContext) -> Section:
    """6. Not a simulation question; the runbook steps the faults exercised."""
    section = Section(6, SECTION_TITLES[5])
    section.blocks.append(Paragraph(
        "Whether the runbook lives in Confluence or Notion is outside what a "
        "simulation can decide: it depends on who reads it at 3 a.m., access and "
        "search, not on WLM behaviour. What the runs can show is which runbook steps "
        "the injected faults exercised and how long recovery took."))  # fmt: skip
    rec = ctx.folder.recommend
    if rec is None or rec.elt_delay is None:
        section.blocks.append(missing("recommend"))
        return section
    rows = []
    for fault, group in rec.elt_delay.groupby("fault", sort=True):
        steps = sorted({s for key, s in RUNBOOK_STEPS if key in str(fault).lower()})
        recovery = num(group["recovery_min"].mean(), 0) if "recovery_min" in group else "n/a"
        rows.append([str(fault), "; ".join(steps) or "(no matching step)",
                     str(int(group["incidents"].max())), recovery])  # fmt: skip
    section.blocks.append(Table(["injected fault", "runbook step exercised",
                                 "incidents", "recovery [min]"], rows))  # fmt: skip
    return section


def deploy_section(ctx: ReportContext) -> Section:
    """8. The deployable files, the commands to apply them, reproducibility."""
    section = Section(8, SECTION_TITLES[7])
    deploy = ctx.folder.deploy
    if deploy is None:
        section.blocks.append(missing("deploy"))
    else:
        section.blocks.append(Table(["file (deploy/)", "SHA-256"],
                                    [[k, v[:16]] for k, v in deploy.files.items()]))  # fmt: skip
        section.blocks.append(Code(_commands(ctx)))
        if _needs_reboot(ctx):
            section.blocks.append(Note(
                "The change touches static WLM properties (the queue list or its "
                "user/query groups): it applies only after a cluster reboot."))  # fmt: skip
    section.blocks.append("Reproducibility")
    section.blocks.append(_reproducibility(ctx))
    return section


def _commands(ctx: ReportContext) -> str:
    deploy = ctx.folder.deploy
    assert deploy is not None
    cluster = _cluster_id(ctx)
    lines = ["# WLM (the whole wlm_json_configuration, one call):",
             "aws redshift modify-cluster-parameter-group "
             "--cli-input-json file://deploy/modify-cluster-parameter-group.json"]  # fmt: skip
    alarms = sorted(k for k in deploy.files if k.startswith("alarms/"))
    if alarms:
        lines.append("# alarms, one PutMetricAlarm request each:")
        lines += [f"aws cloudwatch put-metric-alarm --cli-input-json file://deploy/{a}"
                  for a in alarms]  # fmt: skip
    if "dashboard.json" in deploy.files:
        lines += ["# dashboard:", f"aws cloudwatch put-dashboard --dashboard-name "
                  f"{cluster}-wlm --dashboard-body file://deploy/dashboard.json"]  # fmt: skip
    if "template.yaml" in deploy.files:
        lines += ["# or everything above as one CloudFormation stack:",
                  f"aws cloudformation deploy --template-file deploy/template.yaml "
                  f"--stack-name {cluster}-wlm"]  # fmt: skip
    return "\n".join(lines)


def _cluster_id(ctx: ReportContext) -> str:
    base = ctx.folder.baseline
    if base is not None:
        dims = base.metrics["dimensions"].astype(str).str.extract(
            r"ClusterIdentifier=([^;]+)")[0].dropna()  # fmt: skip
        if not dims.empty:
            return str(dims.iloc[0])
    return "CLUSTER"


def _needs_reboot(ctx: ReportContext) -> bool:
    """Static WLM properties differ: queue names/order or their groups."""
    if ctx.current_wlm is None or ctx.recommended_wlm is None:
        return False

    def static(wlm: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        return [(q.get("name"), tuple(q.get("user_group", [])),
                 tuple(q.get("query_group", []))) for q in wlm]  # fmt: skip

    return static(ctx.current_wlm) != static(ctx.recommended_wlm)


def _reproducibility(ctx: ReportContext) -> Table | Note:
    run = ctx.folder.run
    if run is None:
        return Note(f"run.json is missing; it is written by: {PRODUCERS['run.json']}")
    rows = [["dpcsim version", str(run.get("version", "n/a"))],
            ["seed", str(run.get("seed", "n/a"))]]  # fmt: skip
    rows += [[f"input {k}", str(v)] for k, v in sorted(run.get("input_hashes", {}).items())]
    rows += [[f"setting {k}", _short(v)] for k, v in sorted(run.get("settings", {}).items())]
    rows.append(["rebuild this report", f"dpcsim report {ctx.folder.path.name}"])
    return Table(["", "value"], rows)

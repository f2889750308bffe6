"""Sections 3, 4 and 6: the design's three open questions.

3. ``ELTExecutionDelay``: both definitions under injected faults, the pick;
4. the 50/30/20 split: alternatives with intervals, the baseline's queues,
   waits, alarms and scaling, the Pareto front, headroom, the schedule;
6. the runbook platform: not a simulation question, with what the runs show.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from dpcsim.report import figures
from dpcsim.report.context import (
    SECTION_TITLES,
    ReportContext,
    alarm_threshold,
    alarms_on,
    ci_of,
    config_name,
    config_names,
    design_alarm_threshold,
    figure_block,
    headroom_under,
    missing,
    short,
)
from dpcsim.report.document import Note, Paragraph, Section, Table
from dpcsim.report.formatting import (
    as_flag,
    as_int,
    ci,
    not_injected,
    num,
    wait_stats,
)

#: Bins of the zoomed queue-length figure.
ZOOM_BINS = 120

__all__ = [
    "RUNBOOK_STEPS",
    "elt_section",
    "runbook_section",
    "split_section",
]

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


def elt_section(ctx: ReportContext) -> Section:
    """3. Both ELTExecutionDelay definitions under injected faults; the choice."""
    section = Section(3, SECTION_TITLES[2])
    rec = ctx.folder.recommend
    elt = rec.elt_delay if rec is not None else None
    if elt is None:
        section.blocks.append(missing("recommend"))
    else:
        best, reason = _best_definition(elt)
        section.blocks.append(Paragraph(f"Recommended definition: {best} ({reason})."))
        rows = [
            [
                str(r.definition),
                str(r.fault),
                str(as_int(r.incidents)),
                str(as_int(r.missed)),
                num(r.detection_delay_min, 1),
                num(r.false_alarms_per_week, 2),
            ]
            for r in elt.sort_values(["fault", "definition"]).itertuples()
        ]
        section.blocks.append(
            Table(
                [
                    "definition",
                    "injected fault",
                    "incidents",
                    "missed",
                    "detection delay [min]",
                    "false alarms per week",
                ],
                rows,
            )
        )
        section.blocks.append(
            figure_block(
                figures.plot_elt_detection,
                elt,
                caption="Detection delay per injected fault "
                "and definition; red labels are missed incidents.",
            )
        )
        skipped = not_injected(elt.drop_duplicates("fault"), "fault")
        if skipped is not None:
            section.blocks.append(Note(skipped))
        section.blocks.append(Paragraph(_publish_text(ctx, best)))
    base = ctx.folder.baseline
    if base is None:
        section.blocks.append(missing("baseline"))
        return section
    delay = _elt_series(base.metrics)
    if delay.empty:
        section.blocks.append(
            Note("baseline/metrics.parquet has no ELTExecutionDelay.")
        )
        return section
    # The design's threshold is the one the evidence window is judged by; the
    # tuned one (deploy/) is drawn beside it when it differs.
    tuned = alarm_threshold(ctx, "ELTExecutionDelay")
    design = design_alarm_threshold(ctx, "ELTExecutionDelay")
    threshold = design if design is not None else tuned
    section.blocks.append(_elt_baseline_table(delay, threshold))
    kwargs: dict[str, Any] = {} if threshold is None else {"threshold_min": threshold}
    if design is not None and tuned is not None and tuned != design:
        kwargs["tuned_threshold_min"] = tuned
    section.blocks.append(
        figure_block(
            figures.plot_elt_delay,
            delay,
            **kwargs,
            caption="ELTExecutionDelay in the evidence window (the log as recorded, "
            "with its own incidents), both definitions"
            + (
                f"; red dashed: the design's alarm threshold ({threshold:g} min)"
                if threshold is not None
                else ""
            )
            + (
                f"; purple dash-dotted: the tuned threshold of deploy/ ({tuned:g} min)."
                if "tuned_threshold_min" in kwargs
                else "."
            ),
        )
    )
    return section


def _elt_baseline_table(delay: pd.DataFrame, threshold: float | None) -> Table:
    rows = []
    for definition, group in delay.groupby("definition", sort=True):
        values = group["value"].to_numpy(float)
        row = [str(definition), num(values.max(), 0)]
        if threshold is not None:
            late = group[values > threshold]
            first = (
                "never"
                if late.empty
                else f"{pd.Timestamp(late['timestamp'].iloc[0]):%Y-%m-%d %H:%M} UTC"
            )
            row += [f"{len(late):,}", first]
        rows.append(row)
    columns = ["definition", "worst [min overdue]"]
    if threshold is not None:
        columns += [f"datapoints above {threshold:g} min", "first above"]
    return Table(columns, rows, caption="The evidence window as logged")


def _best_definition(elt: pd.DataFrame) -> tuple[str, str]:
    """Fewest missed incidents, then shortest mean delay, then fewest false alarms."""
    by = elt.groupby("definition").agg(
        missed=("missed", "sum"),
        delay=("detection_delay_min", "mean"),
        fa=("false_alarms_per_week", "mean"),
    )
    by = by.sort_values(["missed", "delay", "fa"])
    best = by.iloc[0]
    missed = int(best["missed"])
    reason = (
        f"{missed} incident{'' if missed == 1 else 's'} missed, mean detection delay "
        f"{best['delay']:.1f} min, {best['fa']:.2f} false alarms per week"
    )
    if len(by) > 1:
        other = by.iloc[1]
        reason += (
            f"; {by.index[1]}: {int(other['missed'])} missed, "
            f"{other['delay']:.1f} min, {other['fa']:.2f} per week"
        )
    return str(by.index[0]), reason


def _elt_series(metrics: pd.DataFrame) -> pd.DataFrame:
    rows = metrics[metrics["metric_name"] == "ELTExecutionDelay"]
    definition = rows["dimensions"].astype(str).str.extract(r"Definition=([^;]+)")[0]
    return pd.DataFrame(
        {
            "timestamp": rows["timestamp"],
            "definition": definition,
            "value": rows["value"],
        }
    ).dropna()


def _publish_text(ctx: ReportContext, best: str) -> str:
    """How to publish the chosen definition: namespace, dimensions, alarm."""
    namespace, dims = "a custom namespace", {"Definition": best}
    base = ctx.folder.baseline
    rows = (
        base.metrics[base.metrics["metric_name"] == "ELTExecutionDelay"]
        if base is not None
        else pd.DataFrame()
    )
    if not rows.empty:
        namespace = str(rows["namespace"].iloc[0])
        cells = str(rows["dimensions"].iloc[0]).split(";")
        dims = {k: v for k, _, v in (c.partition("=") for c in cells)}
        dims["Definition"] = best
    alarms = sorted(alarms_on(ctx, "ELTExecutionDelay")) or ["the ELT delay alarm"]
    text = ",".join(f"Name={k},Value={v}" for k, v in sorted(dims.items()))
    return (
        f"Publish it as {namespace} ELTExecutionDelay (minutes overdue, unit None), "
        f"e.g. aws cloudwatch put-metric-data --namespace {namespace} --metric-name "
        f"ELTExecutionDelay --dimensions {text} --value MINUTES, and point "
        f"{', '.join(alarms)} at Definition={best}."
    )


def split_section(ctx: ReportContext) -> Section:
    """4. The baseline against the alternatives; queue, wait, alarm plots; headroom."""
    section = Section(4, SECTION_TITLES[3])
    rec, base = ctx.folder.recommend, ctx.folder.baseline
    if rec is None:
        section.blocks.append(missing("recommend"))
    else:
        section.blocks.append(
            Paragraph(str(rec.recommendation["verdict"].get("text", "")))
        )
        section.blocks.append(_pareto_table(ctx))
        costless = bool(
            np.nanmax(rec.pareto["cost_usd"].to_numpy(float), initial=0.0) <= 0
        )
        section.blocks.append(
            figure_block(
                figures.plot_pareto,
                rec.pareto,
                baseline=ctx.baseline_id,
                recommended=ctx.recommended_id,
                names=config_names(ctx),
                caption=(
                    "Every configuration of the sweep: ELT lateness against adhoc "
                    "p95 wait. The scaling cost is 0 USD for every configuration "
                    "(no paid Concurrency Scaling), so cost does not separate them."
                    if costless
                    else "Every configuration of the sweep: cost against adhoc p95 "
                    "wait, colour ELT lateness."
                ),
            )
        )
    if base is None:
        section.blocks.append(missing("baseline"))
    else:
        section.blocks.extend(_baseline_figures(base))
    if rec is not None:
        section.blocks.append("Headroom under growth, and when to resize")
        section.blocks.extend(_headroom_blocks(ctx))
        section.blocks.append("The time-of-day candidate")
        section.blocks.extend(_schedule_blocks(ctx))
        incidents = _incident_blocks(ctx)
        if incidents:
            section.blocks.append("Under an incident")
            section.blocks.extend(incidents)
    return section


def _incident_blocks(ctx: ReportContext) -> list[Any]:
    """The recommendation's INCIDENTS record as a table: per injected incident
    and configuration, the service objectives and the alarms that fired."""
    rec = ctx.folder.recommend
    assert rec is not None
    found = [
        r
        for r in rec.recommendation.get("recommendations", [])
        if r.get("id") == "INCIDENTS"
    ]
    if not found:
        return []
    record = found[0]
    rows = []
    for r in record.get("evidence", {}).get("scenarios", []):
        fired = r.get("alarm_transitions", {}) or {}
        rows.append(
            [
                str(r.get("faults", "")),
                config_name(ctx, r.get("config_id", ""))
                + _role(ctx, str(r.get("config_id", ""))),
                num(r.get("elt_on_time"), 2),
                num(r.get("adhoc_p95_wait_s"), 1),
                "yes" if r.get("service_objectives_met") else "no",
                ", ".join(f"{k} ({v:g})" for k, v in sorted(fired.items())) or "none",
            ]
        )
    return [
        Paragraph(str(record.get("observation", ""))),
        Table(
            [
                "incident",
                "configuration",
                "ELT nights on time",
                "adhoc p95 wait [s]",
                "ELT and wait objectives met",
                "alarms that fired (transitions per run)",
            ],
            rows,
        ),
    ]


def _pareto_table(ctx: ReportContext) -> Table:
    rec = ctx.folder.recommend
    assert rec is not None
    pareto = rec.pareto.sort_values("cost_usd")
    changes = _changes_from_design(ctx)
    rows = []
    for _, row in pareto.iterrows():
        role = (
            "design"
            if str(row["config_id"]) == str(ctx.baseline_id)
            else "recommended"
            if str(row["config_id"]) == str(ctx.recommended_id)
            else ""
        )
        rows.append(
            [
                config_name(ctx, row["config_id"]),
                role,
                changes.get(str(row["config_id"]), ""),
                ci_of(row, "cost_usd", 2),
                ci_of(row, "elt_lateness_min", 1),
                ci_of(row, "adhoc_p95_wait_s", 1),
                "yes" if as_flag(row["on_front"]) else "",
                "yes" if as_flag(row["indistinguishable_from_best"]) else "",
                str(row["config_id"]),
            ]
        )
    return Table(
        [
            "configuration",
            "",
            "change from the design",
            "cost [USD/week]",
            "ELT lateness [min]",
            "adhoc p95 wait [s]",
            "on front",
            "indistinguishable from best",
            "key",
        ],
        rows,
        caption="95 % intervals in brackets; key: the configuration's id in the "
        "CSV files",
    )


def _changes_from_design(ctx: ReportContext) -> dict[str, str]:
    """config_id -> its decisions that differ from the design's (sweep results)."""
    sweep = ctx.folder.sweep
    if sweep is None:
        return {}
    results = sweep.results
    columns = [c for c in results.columns if str(c).startswith("decision.")]
    if not columns:
        return {}
    firsts = results.drop_duplicates("config_id").set_index("config_id")[columns]
    if str(ctx.baseline_id) not in firsts.index.astype(str):
        return {}
    base = firsts.loc[firsts.index.astype(str) == str(ctx.baseline_id)].iloc[0]
    out: dict[str, str] = {}
    for config_id, row in firsts.iterrows():
        diff = [
            f"{str(c).removeprefix('decision.')} {base[c]} → {row[c]}"
            for c in columns
            if str(row[c]) != str(base[c])
        ]
        out[str(config_id)] = ", ".join(diff) or "(the design)"
    return out


def _points_text(row: pd.Series) -> str:
    """How many assumption points a headroom.csv row's growth holds under."""
    n = row.get("assumption_points")
    if n is None or not np.isfinite(float(n)) or int(n) <= 1:
        return ""
    finite = np.isfinite(float(row["growth_at_failure"]))
    return (
        f"{', and no earlier' if finite else ','} under any of the {int(n)} "
        "assumption points evaluated"
    )


def _baseline_figures(base: Any) -> list[Any]:
    start_at = str(base.summary["start_at"])
    blocks: list[Any] = ["The design as written: queues, waits, alarms, scaling"]
    waits = [
        [
            q,
            f"{s['queries']:,.0f}",
            num(s["p50"], 1),
            num(s["p95"], 1),
            num(s["p99"], 1),
            num(s["max"], 1),
        ]
        for q, s in wait_stats(base.queries).items()
    ]
    blocks.append(
        Table(
            [
                "queue",
                "queries",
                "wait p50 [s]",
                "wait p95 [s]",
                "wait p99 [s]",
                "wait max [s]",
            ],
            waits,
        )
    )
    timeline, source = _queue_timeline(base)
    if not timeline.empty:
        blocks.append(
            figure_block(
                figures.plot_queue_length,
                timeline,
                start_at=start_at,
                caption="Queued queries per queue, the largest in each "
                f"hour of the baseline (from {source}).",
            )
        )
        window = _busiest_episode(timeline)
        blocks.append(
            figure_block(
                figures.plot_queue_length,
                timeline,
                bin_s=max(round((window[1] - window[0]) / ZOOM_BINS), 1),
                start_at=start_at,
                window_s=window,
                caption="Zoom on the longest queue of the run: the episode around it, "
                f"in {ZOOM_BINS} bins.",
            )
        )
    blocks.append(
        figure_block(
            figures.plot_wait_distribution,
            base.queries,
            caption="How long queries waited in their WLM queue "
            "(queries that did not wait are counted in the share).",
        )
    )
    if base.alarm_history is not None:
        n = base.alarm_history["alarm_name"].nunique()
        blocks.append(
            figure_block(
                figures.plot_alarm_timeline,
                base.alarm_history,
                caption="The design's alarms evaluated every minute on "
                "the baseline's metrics.",
                size=(10, 1.2 + 0.45 * n),
            )
        )
    if not base.scaling.empty:
        blocks.append(
            figure_block(
                figures.plot_scaling_activity,
                base.scaling,
                start_at=start_at,
                caption="Concurrency Scaling per day in the baseline.",
                size=(10, 3.2),
            )
        )
    return blocks


def _queue_timeline(base: Any) -> tuple[pd.DataFrame, str]:
    """Queue lengths as ``t_s, queue, queued`` and the file they come from.

    The engine's timeline.parquet (every state change) when the run wrote it,
    else the per-queue ``WLMQueueLength`` datapoints of metrics.parquet.
    """
    if base.timeline is not None:
        return base.timeline, "timeline.parquet"
    points = base.metrics[base.metrics["metric_name"] == "WLMQueueLength"]
    queue = points["dimensions"].astype(str).str.extract(r"QueueName=([^;]+)")[0]
    points, queue = points[queue.notna()], queue[queue.notna()]
    at = pd.to_datetime(points["timestamp"], utc=True)
    t_s = (at - pd.Timestamp(base.summary["start_at"])).dt.total_seconds()
    frame = pd.DataFrame({"t_s": t_s, "queue": queue, "queued": points["value"]})
    return frame.sort_values(["t_s", "queue"], kind="stable"), "metrics.parquet"


def _busiest_episode(timeline: pd.DataFrame) -> tuple[float, float]:
    """[start, end) [s] around the longest queue: its episode, padded.

    The episode is the stretch of the peak queue's own timeline during which
    it is not empty; half its length is added on each side (at least 2 min).
    """
    k = int(timeline["queued"].to_numpy().argmax())
    rows = timeline[timeline["queue"] == timeline["queue"].iloc[k]]
    t_s = rows["t_s"].to_numpy(float)
    queued = rows["queued"].to_numpy()
    i = int(np.searchsorted(t_s, float(timeline["t_s"].iloc[k]), side="right")) - 1
    first = i
    while first > 0 and queued[first - 1] > 0:
        first -= 1
    last = i
    while last + 1 < len(queued) and queued[last] > 0:
        last += 1
    pad = max((t_s[last] - t_s[first]) / 2, 120.0)
    return max(t_s[first] - pad, 0.0), t_s[last] + pad


def _headroom_blocks(ctx: ReportContext) -> list[Any]:
    rec = ctx.folder.recommend
    assert rec is not None
    head = rec.headroom
    blocks: list[Any] = [
        figure_block(
            figures.plot_headroom,
            head,
            names=config_names(ctx),
            caption="Growth factor at which each objective first fails and each "
            "alarm starts firing daily: the smallest over the assumption points "
            "evaluated (bars), with the base assumptions' value (ticks) where it "
            "is larger.",
            size=(10, 1.5 + 0.5 * head["target"].nunique()),
        )
    ]
    queue_alarms = alarms_on(ctx, "WLMQueueLength")
    for config_id, label in (
        (ctx.baseline_id, "design"),
        (ctx.recommended_id, "recommended"),
    ):
        rows = head[
            (head["config_id"].astype(str) == str(config_id))
            & (head["kind"] == "alarm")
        ]
        on_queue = rows[rows["target"].astype(str).isin(queue_alarms)]
        if rows.empty:
            continue
        first = (
            (on_queue if not on_queue.empty else rows)
            .sort_values("growth_at_failure")
            .iloc[0]
        )
        growth = float(first["growth_at_failure"])
        if not np.isfinite(growth):
            # headroom.csv writes inf when nothing fails within the searched range.
            searched = float(first["ci_low"])
            blocks.append(
                Paragraph(
                    f"{label} ({config_name(ctx, config_id)}): {first['target']} "
                    f"does not fire daily up to {searched:g}x the evidence window's "
                    "load, the largest growth searched"
                    + _points_text(first)
                    + "; no resize is indicated in that range."
                )
            )
            continue
        text = (
            f"{label} ({config_name(ctx, config_id)}): {first['target']} starts "
            "firing daily at "
            f"{ci(first['growth_at_failure'], first['ci_low'], first['ci_high'], 2)}x "
            "the evidence window's load"
            + (headroom_under(first) or _points_text(first))
        )
        if not on_queue.empty:
            text += (
                "; WLM waiting then is a daily event, the design's trigger to "
                "resize the cluster"
            )
        blocks.append(Paragraph(text + "."))
    return blocks


def _role(ctx: ReportContext, config_id: str) -> str:
    """ " (recommended)" / " (design)" after a configuration's name."""
    roles = [
        name
        for name, cid in (
            ("recommended", ctx.recommended_id),
            ("design", ctx.baseline_id),
        )
        if cid == config_id
    ]
    return f" ({', '.join(roles)})" if roles else ""


def _schedule_blocks(ctx: ReportContext) -> list[Any]:
    rec = ctx.folder.recommend
    assert rec is not None
    found = [
        r
        for r in rec.recommendation.get("recommendations", [])
        if "schedule" in str(r.get("id", ""))
        or "time-of-day" in str(r.get("title", "")).lower()
    ]
    if not found:
        return [Note("recommendation.json has no time-of-day schedule record.")]
    return [_record_block(r) for r in found]


def _record_block(record: dict[str, Any]) -> Table:
    rows = [
        ["title", str(record.get("title", ""))],
        ["observation", str(record.get("observation", ""))],
        ["impact", str(record.get("impact_ranking", ""))],
    ]
    rows += [
        ["action", str(a.get("text", a)) if isinstance(a, dict) else str(a)]
        for a in record.get("recommended_actions", [])
    ]
    rows += [
        [f"evidence: {k}", short(v)]
        for k, v in sorted(record.get("evidence", {}).items())
    ]
    return Table(["", str(record.get("id", ""))], rows)


def runbook_section(ctx: ReportContext) -> Section:
    """6. Not a simulation question; the runbook steps the faults exercised."""
    section = Section(6, SECTION_TITLES[5])
    section.blocks.append(
        Paragraph(
            "Whether the runbook lives in Confluence or Notion is outside what a "
            "simulation can decide: it depends on who reads it at 3 a.m., access and "
            "search, not on WLM behaviour. What the runs can show is which runbook "
            "steps "
            "the injected faults exercised and how long recovery took."
        )
    )
    rec = ctx.folder.recommend
    if rec is None or rec.elt_delay is None:
        section.blocks.append(missing("recommend"))
        return section
    # A design may name its own runbook steps (run.json design.runbook_steps:
    # fault keyword -> step); the DPC runbook's are the default.
    design = (ctx.folder.run or {}).get("design", {})
    own = design.get("runbook_steps") if isinstance(design, dict) else None
    runbook = tuple(own.items()) if isinstance(own, dict) else RUNBOOK_STEPS
    rows = []
    for fault, group in rec.elt_delay.groupby("fault", sort=True):
        steps = sorted({s for key, s in runbook if key in str(fault).lower()})
        recovery = (
            num(group["recovery_min"].mean(), 0) if "recovery_min" in group else "n/a"
        )
        rows.append(
            [
                str(fault),
                "; ".join(steps) or "(no matching step)",
                str(int(group["incidents"].max())),
                recovery,
            ]
        )
    section.blocks.append(
        Table(
            ["injected fault", "runbook step exercised", "incidents", "recovery [min]"],
            rows,
        )
    )
    return section

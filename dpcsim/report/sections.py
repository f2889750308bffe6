"""Sections 1 and 2: the summary (first page) and how far to trust it.

The first page follows the capacity recommendations operators know (AWS
Compute Optimizer, the BigQuery slot estimator): current against recommended,
the finding, the evidence window, the risk and the cost; then the intervals,
the assumptions and the calibration. Every number is read or derived from the
run folder (:mod:`dpcsim.report.folder`); a missing input is named with the
command that produces it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from dpcsim.experiments.recommend import assumption_label
from dpcsim.report import figures
from dpcsim.report.context import (
    SECTION_TITLES,
    ReportContext,
    ci_of,
    config_name,
    figure_block,
    headroom_under,
    missing,
    short,
)
from dpcsim.report.document import Card, Note, Paragraph, Section, Table
from dpcsim.report.folder import PRODUCERS
from dpcsim.report.formatting import (
    ci,
    config_changes,
    num,
    row_of,
)

__all__ = [
    "RISK_GROWTH",
    "summary_section",
    "trust_section",
]

#: Risk of the recommendation from its smallest headroom [growth factor]:
#: below the first value "high" (a target fails within 20 % growth), below the
#: second "medium", else "low". A stated rule of this report, not AWS's.
RISK_GROWTH = (1.2, 1.5)


#: recommendation.json key of the recommended scaling-cluster cap.
CS_KEY = "max_concurrency_scaling_clusters"


#: The metrics the sensitivity is read on, as stats.csv names them (the
#: results' ``metric.`` column prefix dropped, see dpcsim.experiments.stats).
_METRICS = (
    ("elt_lateness_min", "ELT lateness", "min"),
    ("wait_p95_s.adhoc", "adhoc p95 wait", "s"),
    ("cost_usd", "scaling cost", "USD"),
)


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
        Card(
            "finding",
            "the design holds" if holds else "the design does not hold",
            config_name(ctx, ctx.baseline_id),
            "good" if holds else "bad",
            key=str(ctx.baseline_id),
        ),
        Card(
            "recommended",
            config_name(ctx, ctx.recommended_id),
            (
                "the design as written; "
                if str(ctx.recommended_id) == str(ctx.baseline_id)
                else ""
            )
            + f"up to {rec.recommendation['recommended'].get(CS_KEY)}"
            " Concurrency Scaling clusters",
            key=str(ctx.recommended_id),
        ),
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
    return Card(
        "evidence window",
        f"{days:.1f} days",
        f"{start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC, "
        f"{base.summary['queries']['arrived']:,} queries",
    )


def _risk_card(ctx: ReportContext) -> Card:
    rec = ctx.folder.recommend
    assert rec is not None
    rows = rec.headroom[
        rec.headroom["config_id"].astype(str) == str(ctx.recommended_id)
    ]
    if rows.empty:
        return Card("risk", "unknown", "headroom.csv has no row for the recommendation")
    first = rows.sort_values("growth_at_failure").iloc[0]
    growth = float(first["growth_at_failure"])
    level = (
        "high"
        if growth < RISK_GROWTH[0]
        else "medium"
        if growth < RISK_GROWTH[1]
        else "low"
    )
    tone = {"high": "bad", "medium": "warn", "low": "good"}[level]
    return Card(
        "risk",
        level,
        f"{first['target']} first fails at "
        f"{ci(growth, first['ci_low'], first['ci_high'], 2)}x load"
        + headroom_under(first),
        tone,
    )


def _cost_card(ctx: ReportContext) -> Card:
    rec = ctx.folder.recommend
    assert rec is not None
    base = row_of(rec.pareto, "config_id", ctx.baseline_id)
    new = row_of(rec.pareto, "config_id", ctx.recommended_id)
    if base is None or new is None:
        return Card("cost", "n/a", "pareto.csv lacks the baseline or recommendation")
    delta = float(new["cost_usd"]) - float(base["cost_usd"])
    return Card(
        "cost (scaling, per simulated week)",
        f"{num(new['cost_usd'], 2)} USD",
        f"{delta:+.2f} USD against the design's {num(base['cost_usd'], 2)}",
        "warn" if delta > 0 else "good",
    )


def _config_table(ctx: ReportContext) -> Table | Note:
    if ctx.current_wlm is None or ctx.recommended_wlm is None:
        return Note(
            "run.json has no design.wlm_json, or recommendation.json no "
            "recommended.wlm_json: the configurations cannot be compared"
        )
    rows, changed = config_changes(ctx.current_wlm, ctx.recommended_wlm)
    return Table(
        ["queue", "slots", "memory", "Concurrency Scaling", "QMR rules"],
        rows,
        caption=f"design (current) → recommended: {changed} settings change",
    )


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
            f"{label}: design {ci_of(base, column, digits)} → recommended "
            f"{ci_of(new, column, digits)} {unit} (95 % intervals)."
        )
    return lines


def _assumption_table(ctx: ReportContext) -> Table | Note:
    if ctx.folder.run is None:
        return Note(f"run.json is missing; it is written by: {PRODUCERS['run.json']}")
    assumptions = ctx.folder.run.get("assumptions", {})
    sensitive = _sensitivity(ctx)
    rows = [
        [str(k), short(v), ", ".join(sensitive.get(str(k), [])) or "no"]
        for k, v in sorted(assumptions.items())
    ]
    return Table(
        [
            "assumption (undocumented by AWS)",
            "value used",
            "changes a metric beyond its interval",
        ],
        rows,
    )


def _sensitivity(ctx: ReportContext) -> dict[str, list[str]]:
    """Assumption -> metrics of the recommendation whose intervals separate.

    A metric "changes" with an assumption when two of the assumption's values
    give 95 % intervals that do not overlap (stats.csv, the recommended
    configuration, within one scenario). An ``assumption_id``'s values come from the
    ``assumption.<name>`` columns of results.parquet, or from ids written
    ``name=value``.
    """
    sweep = ctx.folder.sweep
    if sweep is None or ctx.folder.run is None:
        return {}
    stats = sweep.stats[sweep.stats["config_id"].astype(str) == str(ctx.recommended_id)]
    found: dict[str, list[str]] = {}
    for name in ctx.folder.run.get("assumptions", {}):
        value_of = _assumption_values(sweep.results, str(name))
        for metric, label, _unit in _METRICS:
            rows = stats[stats["metric"] == metric]
            values = rows["assumption_id"].astype(str).map(value_of)
            # Within one scenario (a growth factor, a fault): across scenarios
            # the metric moves with the scenario, not with the assumption.
            for _, within in rows.groupby(rows["scenario_id"].astype(str)):
                groups = within.groupby(values[within.index].to_numpy(), dropna=True)
                if groups.ngroups < 2:
                    continue
                # Each value's interval spans its rows; two values separate
                # when one's lowest bound lies above another's highest.
                low, high = groups["ci_low"].min(), groups["ci_high"].max()
                if low.max() > high.min():
                    found.setdefault(str(name), []).append(label)
                    break
    return found


def _assumption_values(results: pd.DataFrame, name: str) -> dict[str, str]:
    """``assumption_id`` -> the value of assumption ``name`` it stands for."""
    column = f"assumption.{name}"
    if column in results:
        pairs = results[["assumption_id", column]].drop_duplicates("assumption_id")
        return {str(a): str(v) for a, v in pairs.itertuples(index=False)}
    ids = results["assumption_id"].astype(str).unique()
    return {a: a.split("=", 1)[1] for a in ids if a.startswith(f"{name}=")}


def trust_section(ctx: ReportContext) -> Section:
    """2. The contention fit, replay fidelity, and sensitivity to assumptions."""
    section = Section(2, SECTION_TITLES[1])
    cal = ctx.folder.calibration
    if cal is None:
        section.blocks.append(missing("calibration"))
    else:
        fit = cal.fit
        identified = bool(fit.get("identified", True))
        section.blocks.append(
            Paragraph(
                f"Contention fitted from {int(fit['n_queries_used']):,} queries of the "
                "log: "
                f"sigma = {_fit_ci(fit, 'sigma', 3)}, kappa = "
                f"{_fit_ci(fit, 'kappa', 4)} (95 % intervals)."
                + (
                    ""
                    if identified
                    else " The log cannot identify the curve; the "
                    "defaults were kept: " + str(fit.get("message", ""))
                )
            )
        )
        defaults = fit.get("defaults")
        pair = (
            (float(defaults["sigma"]), float(defaults["kappa"])) if defaults else None
        )
        section.blocks.append(
            figure_block(
                lambda ax, f: figures.plot_contention_fit(ax, f, defaults=pair),
                fit,
                caption="Fitted contention curve with its 95 % band; points are the "
                "log's measured throughput where fit.json has them.",
            )
        )
        section.blocks.append("Replay fidelity on the log (recording configuration)")
        section.blocks.append(Paragraph(_fidelity_text(cal.fidelity)))
        section.blocks.append(_frame_table(cal.fidelity))
    section.blocks.append("Sensitivity of the recommendation to the assumptions")
    section.blocks.extend(_sensitivity_blocks(ctx))
    return section


def _fit_ci(fit: dict[str, Any], name: str, digits: int) -> str:
    """A fitted parameter with its interval (fit.json ``<name>_ci``)."""
    low, high = fit[f"{name}_ci"]
    return ci(fit[name], low, high, digits)


def _fidelity_text(fidelity: pd.DataFrame) -> str:
    """One line from fidelity.csv: the worst queue by share within 1 s and MAE."""
    parts = []
    if "share_within_1s" in fidelity and not fidelity.empty:
        worst = fidelity.sort_values("share_within_1s").iloc[0]
        parts.append(
            f"the replay puts {100 * float(worst['share_within_1s']):.1f} % of "
            f"{worst['queue']}'s queries within 1 s of their logged wait (the "
            "worst queue)"
        )
    if "mae_s" in fidelity and not fidelity.empty:
        parts.append(
            f"mean absolute error at most {fidelity['mae_s'].max():.2f} s per query"
        )
    if not parts:
        return "fidelity.csv has no share_within_1s or mae_s column to summarise."
    return "Under the configuration that recorded the log, " + "; ".join(parts) + "."


def _sensitivity_blocks(ctx: ReportContext) -> list[Any]:
    sweep = ctx.folder.sweep
    if sweep is None:
        return [missing("sweep")]
    stats = sweep.stats[sweep.stats["config_id"].astype(str) == str(ctx.recommended_id)]
    assumption = _point_labels(sweep.results, "assumption")
    scenario = _point_labels(sweep.results, "scenario")
    rows = []
    for metric, label, unit in _METRICS:
        within = stats[stats["metric"] == metric]
        cells = [
            (
                assumption.get(str(row["assumption_id"]), str(row["assumption_id"])),
                scenario.get(str(row["scenario_id"]), str(row["scenario_id"])),
                row,
            )
            for _, row in within.iterrows()
        ]
        for point, future, row in sorted(cells, key=lambda c: (c[1], c[0])):
            rows.append(
                [
                    label,
                    point,
                    future,
                    ci(row["mean"], row["ci_low"], row["ci_high"], 2, unit),
                    str(int(row["n"])),
                ]
            )
    sensitive = _sensitivity(ctx)
    text = (
        "The verdict is sensitive to: "
        + "; ".join(f"{k} ({', '.join(v)})" for k, v in sorted(sensitive.items()))
        + "."
        if sensitive
        else "No assumption tried moves a metric of the recommended "
        "configuration outside another value's 95 % interval."
    )
    failed = int((sweep.results["status"] != "ok").sum())
    text += f" The sweep ran {len(sweep.results):,} runs; {failed} failed."
    return [
        Paragraph(text),
        Table(["metric", "assumption", "scenario", "mean [95 % CI]", "runs"], rows),
    ]


def _point_labels(results: pd.DataFrame, kind: str) -> dict[str, str]:
    """``<kind>_id`` -> its values in words: ``growth=1.5 (se5e1a1d750)``.

    From the ``<kind>.<name>`` columns of results.parquet that vary over the
    sweep (a value the whole sweep shares says nothing about a row), written
    as the recommendation writes assumption points
    (:func:`~dpcsim.experiments.recommend.assumption_label`; "base" where the
    point sets none of them). Ids of a table without those columns are left
    as they are (they may already read ``name=value``).
    """
    id_col = f"{kind}_id"
    cols = sorted(c for c in results.columns if c.startswith(f"{kind}."))
    if id_col not in results or not cols:
        return {}
    points = results[[id_col, *cols]].drop_duplicates(id_col)
    varying = [c for c in cols if points[c].nunique(dropna=False) > 1]
    labels = {}
    for record in points.to_dict(orient="records"):
        values = {
            c.split(".", 1)[1]: short(v) if isinstance(v, str) else v
            for c in varying
            if not pd.isna(v := record[c])
        }
        key = str(record[id_col])
        labels[key] = f"{assumption_label(values)} ({key})"
    return labels


def _frame_table(frame: pd.DataFrame) -> Table:
    def cell(v: Any) -> str:
        return num(v, 2) if isinstance(v, float | np.floating) else str(v)

    return Table(
        [str(c) for c in frame.columns],
        [[cell(v) for v in row] for row in frame.itertuples(index=False)],
    )

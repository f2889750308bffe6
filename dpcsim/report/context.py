"""What the report's sections share: headings, the run folder with the two
WLM configurations, the missing-part note and the deferred figure block.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from dpcsim.report import figures
from dpcsim.report.document import Figure, Note
from dpcsim.report.folder import PRODUCERS, RunFolder
from dpcsim.report.formatting import ci

__all__ = [
    "SECTION_TITLES",
    "ReportContext",
    "alarm_threshold",
    "alarms_on",
    "ci_of",
    "config_name",
    "config_names",
    "design_alarm_threshold",
    "figure_block",
    "headroom_under",
    "missing",
    "short",
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
    return Note(
        f"{part}/ is missing from this run folder; it is written by: {PRODUCERS[part]}"
    )


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


def alarm_threshold(ctx: ReportContext, metric: str) -> float | None:
    """Threshold of the deployable alarm on ``metric``, or None."""
    for doc in ctx.folder.deploy.alarms if ctx.folder.deploy else []:
        if isinstance(doc, dict) and doc.get("MetricName") == metric:
            return float(doc["Threshold"])
    return None


def design_alarm_threshold(ctx: ReportContext, metric: str) -> float | None:
    """Threshold of the design's own alarm on ``metric`` (run.json), or None."""
    design = (ctx.folder.run or {}).get("design", {})
    for alarm in design.get("alarms", []) if isinstance(design, dict) else []:
        if isinstance(alarm, dict) and alarm.get("metric_name") == metric:
            return float(alarm["threshold"])
    return None


def config_names(ctx: ReportContext) -> dict[str, str]:
    """``config_id`` -> the configuration in words (recommendation.json
    ``config_names``; empty for a folder written before it had them)."""
    rec = ctx.folder.recommend.recommendation if ctx.folder.recommend else {}
    names = rec.get("config_names", {}) if isinstance(rec, dict) else {}
    return {str(k): str(v) for k, v in names.items()} if isinstance(names, dict) else {}


def config_name(ctx: ReportContext, config_id: Any) -> str:
    """A configuration named by its decisions, or its id when not named."""
    return config_names(ctx).get(str(config_id), str(config_id))


def headroom_under(row: pd.Series) -> str:
    """Which assumption a headroom.csv row's robust growth comes from:
    " under X; G under the base assumptions", or "" when the base decides it."""
    deciding = str(row.get("deciding_assumption", "none"))
    if deciding in ("none", "nan", ""):
        return ""
    base = float(row.get("base_growth_at_failure", float("nan")))
    shown = f"{base:.2f}x" if np.isfinite(base) else "beyond the range searched"
    return f" under {deciding}; {shown} under the base assumptions"


def alarms_on(ctx: ReportContext, metric: str) -> set[str]:
    """Names of the deployable alarms on ``metric``."""
    return {
        str(d.get("AlarmName"))
        for d in (ctx.folder.deploy.alarms if ctx.folder.deploy else [])
        if isinstance(d, dict) and d.get("MetricName") == metric
    }


def ci_of(row: pd.Series, column: str, digits: int) -> str:
    """``column`` of a pareto.csv row with its interval. Every such metric (a
    wait, a lateness, a cost) is at least 0, where a t interval may not be:
    the lower end is shown clipped at 0."""
    low = row.get(f"{column}_ci_low")
    if low is not None and np.isfinite(float(low)):
        low = max(float(low), 0.0)
    return ci(row[column], low, row.get(f"{column}_ci_high"), digits)


def short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."

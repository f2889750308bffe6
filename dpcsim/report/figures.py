"""The report's figures: ``plot_*(ax, data, ...) -> Axes`` and a PNG encoder.

This is the only module of dpcsim that imports matplotlib. Each ``plot_*``
draws one figure's content on an ``Axes`` the caller made (the report, a
notebook, a test) and returns it, so notebooks reuse exactly what the report
shows. The functions take plain DataFrames in the run folder's column names
(see :mod:`dpcsim.report.folder`) and never read files.

Long runs are aggregated before drawing: a one-minute spike on a week-long axis
is narrower than a pixel, so queue lengths are drawn as the maximum per bin and
alarm episodes are drawn at least :data:`MIN_SPAN_FRACTION` of the axis wide,
with their count and duration written beside them.

:func:`figure` makes a figure without pyplot (no global state, Agg canvas) and
:func:`to_png` encodes it with fixed metadata, so the same data give the same
bytes.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from dpcsim.report.formatting import as_flags

__all__ = [
    "STATE_COLORS",
    "figure",
    "plot_alarm_timeline",
    "plot_alarm_tradeoff",
    "plot_contention_fit",
    "plot_elt_delay",
    "plot_elt_detection",
    "plot_headroom",
    "plot_pareto",
    "plot_queue_length",
    "plot_scaling_activity",
    "plot_wait_distribution",
    "to_png",
]

#: Colours of the alarm states (CloudWatch console's: red ALARM, grey no data).
STATE_COLORS: Mapping[str, str] = {
    "OK": "#2ca02c",
    "ALARM": "#d62728",
    "INSUFFICIENT_DATA": "#bdbdbd",
}
#: Narrowest drawn alarm episode, as a share of the time axis (about 3 px at
#: the report's width), so a one-minute ALARM stays visible on a week.
MIN_SPAN_FRACTION = 0.003
#: Resolution of the report's PNGs [dots per inch].
DPI = 100


def figure(width_in: float = 10.0, height_in: float = 4.0) -> Figure:
    """A new figure on an Agg canvas (no pyplot, no global state)."""
    fig = Figure(figsize=(width_in, height_in), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def to_png(fig: Figure) -> bytes:
    """Encode ``fig`` as PNG with fixed metadata (same figure, same bytes)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def plot_queue_length(
    ax: Axes,
    timeline: pd.DataFrame,
    *,
    bin_s: float = 3600.0,
    start_at: str = "",
    window_s: tuple[float, float] | None = None,
) -> Axes:
    """Queued queries per queue: the maximum in each bin, as steps.

    Parameters
    ----------
    timeline
        ``t_s`` [s from the workload start], ``queue``, ``queued`` (queries
        waiting after the change), one row per state change.
    bin_s
        Width of a bin [s]; each bin shows the largest queue length in it.
    start_at
        ISO time of ``t_s = 0``, shown in the axis label.
    window_s
        ``(start, end)`` [s] to zoom on; the whole run when None.
    """
    # A zoom counts minutes from its start; the whole run counts hours.
    scale_s = 60.0 if window_s is not None else 3600.0
    origin_s = window_s[0] if window_s is not None else 0.0
    for queue, rows in timeline.groupby("queue", sort=True, observed=True):
        t_h, peak = _bin_max(rows, bin_s)
        t = (t_h * 3600.0 - origin_s) / scale_s
        if window_s is not None:
            keep = (t_h * 3600 >= window_s[0]) & (t_h * 3600 < window_s[1])
            t, peak = t[keep], peak[keep]
        if not peak.size or peak.max() == 0:
            empty = "never queued" if window_s is None else "none queued here"
            ax.plot([], [], label=f"{queue} ({empty})")
            continue
        ax.step(t, peak, where="post", label=str(queue), linewidth=1.4)
    ax.set_title(f"Queued queries per queue (maximum per {_duration(bin_s)})")
    if window_s is None:
        ax.set_xlabel(_hours_label(start_at))
    else:
        at = pd.Timestamp(start_at) + pd.Timedelta(seconds=window_s[0])
        ax.set_xlabel(f"minutes from {at:%Y-%m-%d %H:%M:%S} UTC")
    ax.set_ylabel("queued queries [count]")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(title="queue", loc="upper right")
    return ax


def _duration(seconds: float) -> str:
    """A bin width in its natural unit."""
    if seconds < 60:
        return f"{seconds:g} s"
    if seconds < 3600:
        return f"{seconds / 60:g} min"
    return f"{seconds / 3600:g} h"


def plot_wait_distribution(
    ax: Axes, queries: pd.DataFrame, *, percentiles: Sequence[float] = (50, 95, 99)
) -> Axes:
    """Share of queries that waited longer than x, per queue (log-log).

    Parameters
    ----------
    queries
        ``queue`` and ``queue_s`` [s] (time in the WLM queue), one row per query.
    percentiles
        Percentiles marked on each curve [%].
    """
    for queue, rows in queries.groupby("queue", sort=True, observed=True):
        wait_s = np.sort(rows["queue_s"].to_numpy(dtype=np.float64))
        wait_s = wait_s[np.isfinite(wait_s)]
        if wait_s.size == 0:
            continue
        share = 1.0 - np.arange(wait_s.size) / wait_s.size
        waited = wait_s > 0
        waited_pct = 100.0 * waited.mean()
        label = f"{queue} ({waited_pct:.1f} % waited)"
        if not waited.any():
            ax.plot([], [], label=f"{queue} (no query waited)")
            continue
        line = ax.step(wait_s[waited], share[waited], where="post", label=label)[0]
        for p in percentiles:
            value = float(np.percentile(wait_s, p))
            if value > 0:
                ax.plot(value, 1 - p / 100, "o", color=line.get_color(), ms=4)
                ax.annotate(
                    f"p{p:g} {value:.0f} s",
                    (value, 1 - p / 100),
                    textcoords="offset points",
                    xytext=(4, 2),
                    fontsize=7,
                    color=line.get_color(),
                )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_title("Queue wait: share of queries waiting longer than x")
    ax.set_xlabel("wait in the WLM queue [s] (log)")
    ax.set_ylabel("share of the queue's queries (log)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(title="queue", loc="lower left", fontsize=8)
    return ax


def plot_alarm_timeline(
    ax: Axes, history: pd.DataFrame, *, tick_s: float = 60.0
) -> Axes:
    """Each alarm's state over time, one row per alarm.

    Parameters
    ----------
    history
        ``alarm_name``, ``evaluated_at`` (ISO UTC), ``state`` (OK, ALARM,
        INSUFFICIENT_DATA): one row per evaluation, as in alarm_history.csv.
    tick_s
        Evaluation interval [s]; an evaluation's state holds for one tick.
    """
    at = pd.to_datetime(history["evaluated_at"], utc=True)
    origin = at.min()
    hours = ((at - origin).dt.total_seconds() / 3600.0).to_numpy()
    total_h = float(hours.max() + tick_s / 3600.0) if len(hours) else 1.0
    min_w = MIN_SPAN_FRACTION * total_h
    names = sorted(history["alarm_name"].astype(str).unique())
    for row, name in enumerate(names):
        mask = (history["alarm_name"] == name).to_numpy()
        states = history["state"].astype(str).to_numpy()[mask]
        for state, start_h, width_h in _runs(hours[mask], states, tick_s / 3600.0):
            width = max(width_h, min_w) if state == "ALARM" else width_h
            ax.broken_barh(
                [(start_h, width)],
                (row - 0.35, 0.7),
                color=STATE_COLORS.get(state, "#7f7f7f"),
            )
        alarm_min = (states == "ALARM").sum() * tick_s / 60.0
        episodes = _count_episodes(states)
        ax.text(
            total_h * 1.01,
            row,
            f"{episodes}× ALARM, {alarm_min:.0f} min",
            va="center",
            fontsize=8,
        )
    ax.set_yticks(range(len(names)), names)
    ax.set_xlim(0, total_h)
    ax.set_ylim(-0.6, len(names) - 0.4)
    ax.invert_yaxis()
    ax.set_xlabel(f"hours from {origin:%Y-%m-%d %H:%M} UTC" if len(hours) else "")
    ax.set_title("Alarm states over time (ALARM episodes drawn at least 3 px wide)")
    handles = [Patch(color=c, label=s) for s, c in STATE_COLORS.items()]
    ax.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.18),
        ncol=3,
        fontsize=8,
    )
    return ax


def plot_scaling_activity(
    ax: Axes, scaling: pd.DataFrame, *, start_at: str, days: int | None = None
) -> Axes:
    """Concurrency Scaling minutes per day: busy and billed.

    Parameters
    ----------
    scaling
        ``start_s`` [s from the workload start], ``busy_s``, ``billed_s`` [s],
        one row per activation (scaling.parquet).
    start_at
        ISO time of ``t_s = 0``.
    days
        Days on the axis (default: up to the last activation).
    """
    day = (scaling["start_s"].to_numpy(dtype=np.float64) // 86400).astype(int)
    n_days = days if days is not None else (int(day.max()) + 1 if day.size else 1)
    busy = np.bincount(day, scaling["busy_s"].to_numpy(float), minlength=n_days)
    billed = np.bincount(day, scaling["billed_s"].to_numpy(float), minlength=n_days)
    x = np.arange(n_days)
    ax.bar(x - 0.2, busy[:n_days] / 60, width=0.4, label="busy (query processing)")
    ax.bar(x + 0.2, billed[:n_days] / 60, width=0.4, label="billed (1-min minimum)")
    counts = np.bincount(day, minlength=n_days)[:n_days]
    for xi, count, top in zip(x, counts, billed[:n_days] / 60, strict=True):
        ax.annotate(
            f"{count} act.",
            (xi, top),
            ha="center",
            fontsize=7,
            textcoords="offset points",
            xytext=(0, 2),
        )
    origin = pd.Timestamp(start_at)
    ax.set_xticks(x, [f"{origin + pd.Timedelta(days=int(d)):%a %m-%d}" for d in x])
    ax.set_title("Concurrency Scaling per day")
    ax.set_ylabel("minutes")
    ax.grid(alpha=0.3, axis="y")
    ax.legend(loc="upper right", fontsize=8)
    return ax


def plot_pareto(
    ax: Axes,
    pareto: pd.DataFrame,
    *,
    baseline: str | None = None,
    recommended: str | None = None,
    names: Mapping[str, str] | None = None,
) -> Axes:
    """Cost against adhoc p95 wait, coloured by ELT lateness, front joined.

    When every configuration costs 0 (no paid Concurrency Scaling), cost
    separates nothing: the axes are then ELT lateness against adhoc p95 wait,
    and the figure says that cost is 0 for every configuration.

    Parameters
    ----------
    pareto
        pareto.csv: ``config_id``, ``cost_usd``, ``adhoc_p95_wait_s`` and
        ``elt_lateness_min`` (each with ``_ci_low``/``_ci_high``), ``on_front``.
    baseline, recommended
        ``config_id`` of the design and of the recommendation, labelled.
    names
        ``config_id`` -> the configuration in words, for the labels (default:
        the id). Each point is labelled when there are at most
        :data:`MAX_POINT_LABELS`; points at the same place share one label.
    """
    names = names or {}
    cost = pareto["cost_usd"].to_numpy(float)
    costless = bool(np.nanmax(cost, initial=0.0) <= 0.0)
    x_column = "elt_lateness_min" if costless else "cost_usd"
    x = pareto[x_column].to_numpy(float)
    y = pareto["adhoc_p95_wait_s"].to_numpy(float)
    xerr = _err(pareto, x_column)
    yerr = _err(pareto, "adhoc_p95_wait_s")
    ax.errorbar(x, y, xerr=xerr, yerr=yerr, fmt="none", ecolor="#999999", lw=0.8)
    lateness = pareto["elt_lateness_min"].to_numpy(float)
    if costless:
        ax.scatter(x, y, color="#1f77b4", s=30, zorder=3, label="configuration")
        ax.text(
            0.01,
            0.99,
            f"Scaling cost 0 USD for all {len(pareto)} configurations "
            "(no paid Concurrency Scaling): cost does not separate them",
            transform=ax.transAxes,
            va="top",
            fontsize=8,
            bbox={"facecolor": "white", "edgecolor": "#cccccc", "alpha": 0.9},
        )
    else:
        points = ax.scatter(
            x, y, c=lateness, cmap="viridis_r", s=30, zorder=3, label="configuration"
        )
        if np.nanmax(lateness, initial=0.0) > np.nanmin(lateness, initial=0.0):
            ax.figure.colorbar(points, ax=ax, label="ELT lateness [min]")
        else:
            # One value: a colour bar would only show a made-up range around it.
            ax.text(
                0.01,
                0.01,
                f"ELT lateness {np.nanmax(lateness, initial=0.0):g} min "
                "for every configuration",
                transform=ax.transAxes,
                fontsize=8,
            )
    front = pareto[as_flags(pareto["on_front"])].sort_values(x_column)
    ax.plot(
        front[x_column],
        front["adhoc_p95_wait_s"],
        "-",
        color="#444444",
        lw=1,
        label="Pareto front",
        zorder=2,
    )
    labelled = len(pareto) <= MAX_POINT_LABELS
    for config_id, marker, text in (
        (baseline, "s", "design"),
        (recommended, "*", "recommended"),
    ):
        row = pareto[pareto["config_id"] == config_id]
        if config_id is None or row.empty:
            continue
        ax.scatter(
            row[x_column],
            row["adhoc_p95_wait_s"],
            marker=marker,
            s=160,
            facecolors="none",
            edgecolors="#d62728",
            lw=1.6,
            zorder=4,
            label=text if labelled else f"{text}: {names.get(config_id, config_id)}",
        )
    if labelled:
        _label_points(ax, pareto, x, y, names)
    # Neither a cost, a lateness nor a wait is below 0 (a t interval may reach
    # there); the axes follow the data however small, and an axis whose values
    # are all 0 is centred on them.
    top = float(np.nanmax(y + (yerr[1] if yerr is not None else 0.0), initial=0.0))
    ax.set_ylim(bottom=0.0, top=top * 1.25 if top > 0 else 1.0)
    right = float(np.nanmax(x + (xerr[1] if xerr is not None else 0.0), initial=0.0))
    ax.set_xlim(*((-0.05 * right, right * 1.15) if right > 0 else (-1.0, 1.0)))
    if costless:
        ax.set_title("ELT lateness against adhoc p95 wait (bars: 95 % intervals)")
        ax.set_xlabel("ELT lateness [min after the window end, latest night]")
    else:
        ax.set_title("Cost against adhoc p95 wait (bars: 95 % intervals)")
        ax.set_xlabel("Concurrency Scaling cost [USD per simulated week]")
    ax.set_ylabel("adhoc p95 wait [s]")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right", fontsize=8)
    return ax


#: Most points :func:`plot_pareto` labels one by one.
MAX_POINT_LABELS = 8


def _label_points(
    ax: Axes,
    pareto: pd.DataFrame,
    x: np.ndarray,
    y: np.ndarray,
    names: Mapping[str, str],
) -> None:
    """Label each point with its configuration; points closer than a few
    percent of the axes' spans share one label (one line per configuration)."""
    span_x = max(float(np.nanmax(x, initial=0.0) - np.nanmin(x, initial=0.0)), 1e-9)
    span_y = max(float(np.nanmax(y, initial=0.0) - np.nanmin(y, initial=0.0)), 1e-9)
    clusters: list[tuple[float, float, list[str]]] = []
    order = np.lexsort((y, x))
    ids = pareto["config_id"].astype(str).to_numpy()
    for i in order:
        label = names.get(ids[i], ids[i])
        for cx, cy, labels in clusters:
            if abs(x[i] - cx) <= 0.03 * span_x and abs(y[i] - cy) <= 0.08 * span_y:
                labels.append(label)
                break
        else:
            clusters.append((float(x[i]), float(y[i]), [label]))
    for cx, cy, labels in clusters:
        ax.annotate(
            "\n".join(labels),
            (cx, cy),
            textcoords="offset points",
            xytext=(8, 4),
            va="bottom",
            fontsize=7,
            color="#333333",
        )


def plot_headroom(
    ax: Axes, headroom: pd.DataFrame, *, names: Mapping[str, str] | None = None
) -> Axes:
    """Growth factor at which each objective fails or alarm fires daily.

    Parameters
    ----------
    headroom
        headroom.csv: ``config_id``, ``target``, ``kind``,
        ``growth_at_failure`` [x today's load], ``ci_low``, ``ci_high`` (the
        robust headroom, drawn as bars) and, when present,
        ``base_growth_at_failure`` (drawn as a tick where it is larger).
    names
        ``config_id`` -> the configuration in words, for the legend.
    """
    names = names or {}
    targets = sorted(headroom["target"].astype(str).unique())
    configs = sorted(headroom["config_id"].astype(str).unique())
    height = 0.8 / max(len(configs), 1)
    values = headroom[["growth_at_failure", "ci_low", "ci_high"]].to_numpy(float)
    finite = values[np.isfinite(values)]
    searched = float(finite.max()) if finite.size else 1.0
    for k, config_id in enumerate(configs):
        rows = headroom[headroom["config_id"] == config_id].set_index("target")
        y = np.arange(len(targets)) + k * height
        growth = np.array([_get(rows, t, "growth_at_failure") for t in targets])
        low = np.array([_get(rows, t, "ci_low") for t in targets])
        high = np.array([_get(rows, t, "ci_high") for t in targets])
        # No failure within the searched range is written as inf: draw the bar
        # to the range's end, hatched, and label it "> end".
        beyond = ~np.isfinite(growth)
        shown = np.where(beyond, searched, growth)
        bars = ax.barh(
            y, shown, height=height * 0.9, label=names.get(config_id, config_id)
        )
        for bar, out_of_range in zip(bars, beyond, strict=True):
            if out_of_range:
                bar.set_hatch("//")
        for yk, value in zip(y[beyond], shown[beyond], strict=True):
            ax.text(value, yk, f" > {searched:g}x", va="center", fontsize=7)
        if "base_growth_at_failure" in rows:
            # The base assumptions' headroom where the robust one is smaller.
            base = np.array([_get(rows, t, "base_growth_at_failure") for t in targets])
            base_shown = np.where(np.isfinite(base), base, searched)
            above = base_shown > shown + 1e-9
            ax.scatter(
                base_shown[above],
                y[above],
                marker="|",
                s=120,
                color="black",
                zorder=4,
                label="base assumptions" if k == 0 and above.any() else None,
            )
        ok = np.isfinite(growth) & np.isfinite(low)
        top = np.where(np.isfinite(high), high, searched)
        ax.errorbar(
            shown[ok],
            y[ok],
            xerr=[
                np.maximum(shown[ok] - low[ok], 0.0),
                np.maximum(top[ok] - shown[ok], 0.0),
            ],
            fmt="none",
            ecolor="black",
            lw=0.8,
            capsize=2,
        )
    ax.axvline(1.0, color="#d62728", ls="--", lw=1, label="today's load")
    ax.set_yticks(np.arange(len(targets)) + 0.4 - height / 2, targets)
    ax.invert_yaxis()
    ax.set_title(
        "Headroom: load growth until each target fails, the least favourable "
        "assumption point (95 % intervals)"
    )
    ax.set_xlabel("growth factor [x the evidence window's load]")
    ax.grid(alpha=0.3, axis="x")
    ax.legend(
        loc="upper center",
        bbox_to_anchor=(0.5, -0.12),
        ncol=2,
        fontsize=8,
        title="configuration",
    )
    return ax


def plot_alarm_tradeoff(ax: Axes, tuning: pd.DataFrame, alarm: str) -> Axes:
    """False alarms per week against detection delay for one alarm's grid.

    Parameters
    ----------
    tuning
        alarm_tuning.csv rows; ``variant`` ``design`` marks the design's
        setting, ``selected`` the chosen one; ``missed`` incidents are shown
        as hollow points.
    """
    rows = tuning[tuning["alarm"] == alarm]
    missed = rows["missed"].to_numpy(float) > 0
    x = rows["detection_delay_min"].to_numpy(float)
    y = rows["false_alarms_per_week"].to_numpy(float)
    yerr = np.vstack(
        [y - rows["fa_ci_low"].to_numpy(float), rows["fa_ci_high"].to_numpy(float) - y]
    )
    ax.errorbar(x, y, yerr=np.clip(yerr, 0, None), fmt="none", ecolor="#bbbbbb")
    order = np.argsort(x[~missed], kind="stable")
    ax.plot(
        x[~missed][order], y[~missed][order], "-", color="#1f77b4", lw=0.8, alpha=0.6
    )
    ax.scatter(x[~missed], y[~missed], s=18, label="catches every incident")
    ax.scatter(
        x[missed],
        y[missed],
        s=18,
        facecolors="none",
        edgecolors="#ff7f0e",
        label="misses an incident",
    )
    for flag, marker, text in (
        ("design", "s", "design's setting"),
        ("selected", "*", "selected"),
    ):
        if flag == "design":
            pick = rows["variant"].astype(str) == "design"
        else:
            pick = pd.Series(as_flags(rows["selected"]), index=rows.index)
        ax.scatter(
            x[pick.to_numpy()],
            y[pick.to_numpy()],
            marker=marker,
            s=140,
            facecolors="none",
            edgecolors="#d62728",
            lw=1.5,
            label=text,
        )
    ax.set_title(alarm, fontsize=10)
    ax.set_xlabel("detection delay [min]")
    ax.set_ylabel("false alarms per week")
    ax.set_ylim(bottom=-0.05 * max(float(np.nanmax(y)) if y.size else 1.0, 1.0))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper right")
    return ax


def plot_elt_delay(
    ax: Axes,
    delay: pd.DataFrame,
    *,
    threshold_min: float = 90.0,
    tuned_threshold_min: float | None = None,
    faults: pd.DataFrame | None = None,
) -> Axes:
    """``ELTExecutionDelay`` over time under each definition, faults marked.

    Parameters
    ----------
    delay
        ``timestamp`` (UTC), ``definition``, ``value`` [min overdue].
    threshold_min
        The design's alarm threshold [min], drawn as a red dashed line.
    tuned_threshold_min
        A tuned threshold [min] (the deployable alarm's), drawn as a separately
        labelled purple dash-dotted line when given.
    faults
        Optional ``at`` (UTC) and ``fault`` of injected incidents, drawn as
        vertical lines.
    """
    for definition, rows in delay.groupby("definition", sort=True):
        ax.plot(
            pd.to_datetime(rows["timestamp"], utc=True),
            rows["value"],
            label=str(definition),
            lw=1.3,
        )
    ax.axhline(
        threshold_min,
        color="#d62728",
        ls="--",
        lw=1,
        label=f"design's alarm threshold {threshold_min:g} min",
    )
    if tuned_threshold_min is not None:
        ax.axhline(
            tuned_threshold_min,
            color="#9467bd",
            ls="-.",
            lw=1.2,
            label=f"tuned threshold {tuned_threshold_min:g} min (deploy/)",
        )
    if faults is not None:
        for _, fault in faults.iterrows():
            at = pd.Timestamp(fault["at"])
            ax.axvline(at, color="#7f7f7f", ls=":", lw=1)  # type: ignore[arg-type]
            ax.annotate(
                str(fault["fault"]),
                (at, ax.get_ylim()[1]),
                rotation=90,
                va="top",
                ha="right",
                fontsize=7,
            )
    ax.set_title("ELTExecutionDelay under both definitions")
    ax.set_xlabel("time [UTC]")
    ax.set_ylabel("minutes overdue [min]")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    return ax


def plot_elt_detection(ax: Axes, elt: pd.DataFrame) -> Axes:
    """Detection delay per injected fault and definition (missed ones marked).

    Parameters
    ----------
    elt
        elt_delay.csv: ``definition``, ``fault``, ``incidents``, ``missed``,
        ``detection_delay_min``.
    """
    faults = sorted(elt["fault"].astype(str).unique())
    definitions = sorted(elt["definition"].astype(str).unique())
    width = 0.8 / max(len(definitions), 1)
    top = float(np.nanmax(elt["detection_delay_min"].to_numpy(float), initial=1.0))
    for k, definition in enumerate(definitions):
        rows = elt[elt["definition"] == definition].set_index("fault")
        x = np.arange(len(faults)) + k * width
        values = np.array([_get(rows, f, "detection_delay_min") for f in faults])
        missed = np.array([_get(rows, f, "missed") for f in faults])
        bars = ax.bar(x, np.nan_to_num(values), width=width * 0.9, label=definition)
        for xi, v, m in zip(x, values, missed, strict=True):
            text = f"missed {m:.0f}" if m > 0 else f"{v:.0f} min"
            ax.annotate(
                text,
                (xi, 0 if np.isnan(v) else v),
                ha="center",
                fontsize=7,
                textcoords="offset points",
                xytext=(0, 2),
                color="#d62728" if m > 0 else bars[0].get_facecolor(),
            )
    ax.set_xticks(np.arange(len(faults)) + 0.4 - width / 2, faults, fontsize=8)
    ax.set_ylim(0, top * 1.2)
    ax.set_title("ELT delay alarm: detection delay per injected fault")
    ax.set_ylabel("detection delay [min]")
    ax.grid(alpha=0.3, axis="y")
    ax.legend(title="definition", fontsize=8)
    return ax


def plot_contention_fit(
    ax: Axes,
    fit: Mapping[str, object],
    *,
    max_concurrency: int = 30,
    defaults: tuple[float, float] | None = None,
) -> Axes:
    """Throughput against concurrency: the fitted curve with its interval.

    The curve is the universal scalability law ``X(n) = n / (1 + sigma (n-1) +
    kappa n (n-1))`` relative to one query alone; the band spans the corners
    of the 95 % intervals of ``sigma`` and ``kappa``.

    Parameters
    ----------
    fit
        fit.json: ``sigma``, ``kappa``, ``sigma_ci``, ``kappa_ci`` and
        optionally ``points`` (``concurrency``, ``relative_throughput``).
    defaults
        ``(sigma, kappa)`` the settings assumed before calibration, drawn dashed.
    """
    n = np.linspace(1, max_concurrency, 200)
    sigma, kappa = float(fit["sigma"]), float(fit["kappa"])  # type: ignore[arg-type]
    ax.plot(n, _usl(n, sigma, kappa), lw=1.8, label=f"fit σ={sigma:.3f}, κ={kappa:.4f}")
    s_ci, k_ci = fit.get("sigma_ci"), fit.get("kappa_ci")
    if isinstance(s_ci, Sequence) and isinstance(k_ci, Sequence):
        corners = [_usl(n, float(s), float(k)) for s in s_ci for k in k_ci]
        ax.fill_between(
            n,
            np.min(corners, axis=0),
            np.max(corners, axis=0),
            alpha=0.25,
            label="95 % interval",
        )
    points = fit.get("points")
    if isinstance(points, Sequence) and points:
        frame = pd.DataFrame(list(points))
        ax.scatter(
            frame["concurrency"],
            frame["relative_throughput"],
            s=12,
            color="black",
            label="measured (log)",
        )
    if defaults is not None:
        ax.plot(
            n,
            _usl(n, *defaults),
            "--",
            color="#7f7f7f",
            label=f"default σ={defaults[0]:g}, κ={defaults[1]:g}",
        )
    ax.plot(n, n, ":", color="#bbbbbb", label="linear (no contention)")
    ax.set_ylim(0, float(_usl(n, sigma, kappa).max()) * 1.6)
    ax.set_title("Contention: cluster throughput against concurrency")
    ax.set_xlabel("queries running at once [count]")
    ax.set_ylabel("throughput [x one query alone]")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    return ax


def _usl(n: np.ndarray, sigma: float, kappa: float) -> np.ndarray:
    """Universal scalability law relative throughput."""
    result: np.ndarray = n / (1 + sigma * (n - 1) + kappa * n * (n - 1))
    return result


def _bin_max(rows: pd.DataFrame, bin_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Bin starts [h] and the largest ``queued`` holding in each bin.

    A state holds from its change to the next one, so a bin's maximum includes
    the value carried in from before it.
    """
    t_s = rows["t_s"].to_numpy(dtype=np.float64)
    queued = rows["queued"].to_numpy(dtype=np.float64)
    n_bins = int(np.ceil((t_s.max() + 1e-9) / bin_s)) + 1 if t_s.size else 1
    peak = np.zeros(n_bins)
    np.maximum.at(peak, (t_s // bin_s).astype(int), queued)
    held = np.searchsorted(t_s, np.arange(n_bins) * bin_s, side="right") - 1
    carried = np.where(held >= 0, queued[np.clip(held, 0, None)], 0.0)
    return np.arange(n_bins) * bin_s / 3600.0, np.maximum(peak, carried)


def _runs(
    hours: np.ndarray, states: np.ndarray, tick_h: float
) -> list[tuple[str, float, float]]:
    """Consecutive evaluations in one state as (state, start [h], width [h])."""
    if states.size == 0:
        return []
    change = np.flatnonzero(states[1:] != states[:-1]) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [states.size]])
    return [
        (str(states[s]), float(hours[s]), float(hours[e - 1] - hours[s] + tick_h))
        for s, e in zip(starts, ends, strict=True)
    ]


def _count_episodes(states: np.ndarray) -> int:
    """Transitions into ALARM (the first evaluation counts when it is ALARM)."""
    alarm = states == "ALARM"
    return int(alarm[:1].sum() + (alarm[1:] & ~alarm[:-1]).sum())


def _err(frame: pd.DataFrame, column: str) -> np.ndarray | None:
    """Asymmetric error bars from ``<column>_ci_low/_ci_high``, if present."""
    low, high = f"{column}_ci_low", f"{column}_ci_high"
    if low not in frame or high not in frame:
        return None
    value = frame[column].to_numpy(float)
    bars = np.vstack(
        [value - frame[low].to_numpy(float), frame[high].to_numpy(float) - value]
    )
    clipped: np.ndarray = np.clip(bars, 0, None)
    return clipped


def _get(rows: pd.DataFrame, key: str, column: str) -> float:
    """``rows.loc[key, column]`` as a float, NaN when absent."""
    if key not in rows.index:
        return float("nan")
    value = rows.loc[key, column]
    if isinstance(value, pd.Series):
        value = value.iloc[0]
    return float(value)  # type: ignore[arg-type]


def _hours_label(start_at: str) -> str:
    """X label of a time axis in hours from the run's start."""
    if not start_at:
        return "hours from the workload start"
    return f"hours from {pd.Timestamp(start_at):%Y-%m-%d %H:%M %Z}".strip()

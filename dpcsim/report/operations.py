"""Sections 5 and 8: the alarms (tuned against the design's) and the
deployable files with the commands to apply them and the reproducibility
footer.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from dpcsim.experiments.tuning import uncaught_alarms
from dpcsim.report import figures
from dpcsim.report.context import (
    SECTION_TITLES,
    ReportContext,
    missing,
    short,
)
from dpcsim.report.document import Code, Figure, Note, Section, Table
from dpcsim.report.folder import PRODUCERS
from dpcsim.report.formatting import (
    as_flags,
    as_float,
    as_int,
    ci,
    not_injected,
    num,
)

__all__ = [
    "alarms_section",
    "deploy_section",
]


def alarms_section(ctx: ReportContext) -> Section:
    """5. Tuned alarm settings against the design's, with trade-off curves."""
    section = Section(5, SECTION_TITLES[4])
    base = ctx.folder.baseline
    if base is not None and base.alarm_summary is not None:
        s = base.alarm_summary
        rows = [
            [
                str(r.alarm_name),
                str(as_int(r.transitions_to_alarm)),
                num(as_float(r.time_in_alarm_s) / 60, 0),
            ]
            for r in s.itertuples()
        ]
        section.blocks.append(
            Table(
                [
                    "alarm (design's setting)",
                    "times to ALARM in the baseline",
                    "minutes in ALARM",
                ],
                rows,
                caption="The design's alarms on the baseline (the log as recorded).",
            )
        )
    rec = ctx.folder.recommend
    if rec is None:
        section.blocks.append(missing("recommend"))
        return section
    tuning = rec.alarm_tuning
    rows = []
    for alarm, group in tuning.groupby("alarm", sort=True):
        for label, pick in (
            ("design", group["variant"].astype(str) == "design"),
            ("tuned", pd.Series(as_flags(group["selected"]), index=group.index)),
        ):
            for r in group[pick].itertuples():
                rows.append(
                    [
                        str(alarm),
                        label,
                        num(r.threshold, 2),
                        str(as_int(r.period_s)),
                        _n_of_m(r.datapoints_to_alarm, r.evaluation_periods),
                        str(r.treat_missing_data),
                        ci(r.false_alarms_per_week, r.fa_ci_low, r.fa_ci_high, 2),
                        num(r.detection_delay_min, 1),
                        f"{as_int(r.missed)} of {as_int(r.incidents)}",
                    ]
                )
    section.blocks.append(
        Table(
            [
                "alarm",
                "setting",
                "threshold",
                "period [s]",
                "datapoints",
                "missing data",
                "false alarms/week",
                "detection delay [min]",
                "missed",
            ],
            rows,
        )
    )
    skipped = not_injected(tuning, "alarm")
    if skipped is not None:
        section.blocks.append(Note(skipped))
    uncaught = _uncaught(tuning)
    if uncaught is not None:
        section.blocks.append(Note(uncaught))
    alarms = sorted(tuning["alarm"].astype(str).unique())
    section.blocks.append(
        Figure(
            lambda: _tradeoff_png(tuning, alarms),
            "Trade-off per alarm: false alarms under normal load "
            "against detection delay of the injected incidents, over "
            "the tuning grid.",
        )
    )
    return section


def _uncaught(tuning: pd.DataFrame) -> str | None:
    """The alarms no setting of the grid lets catch every incident, with the
    value nearest to breaching their incidents brought (None if none)."""
    lines = []
    for u in uncaught_alarms(tuning):
        thresholds = ", ".join(num(t, 2) for t in u.thresholds)
        line = f"{u.alarm} misses an incident at every setting tried " + (
            f"(thresholds {thresholds})"
        )
        if u.nearest is not None:
            # The rows differ in period and statistic window: give the range.
            low, high = u.nearest
            span = num(high, 2) if low == high else f"{num(low, 2)} to {num(high, 2)}"
            line += (
                ": in the incidents missed, its value closest to or past the "
                f"threshold was {span}"
            )
        if u.reasons:
            line += " (" + "; ".join(u.reasons) + ")"
        lines.append(line)
    if not lines:
        return None
    return "No setting caught every injected incident. " + ". ".join(lines) + "."


def _n_of_m(n: Any, m: Any) -> str:
    """ "N of M" datapoints to alarm."""
    return f"{as_int(n)} of {as_int(m)}"


def _tradeoff_png(tuning: pd.DataFrame, alarms: list[str]) -> bytes:
    """One trade-off panel per alarm, two per row."""
    n_rows = (len(alarms) + 1) // 2
    fig = figures.figure(10, 3.2 * n_rows)
    for k, alarm in enumerate(alarms):
        figures.plot_alarm_tradeoff(fig.add_subplot(n_rows, 2, k + 1), tuning, alarm)
    return figures.to_png(fig)


def deploy_section(ctx: ReportContext) -> Section:
    """8. The deployable files, the commands to apply them, reproducibility."""
    section = Section(8, SECTION_TITLES[7])
    deploy = ctx.folder.deploy
    if deploy is None:
        section.blocks.append(missing("deploy"))
    else:
        section.blocks.append(
            Table(
                ["file (deploy/)", "SHA-256"],
                [[k, v[:16]] for k, v in deploy.files.items()],
            )
        )
        section.blocks.append(Code(_commands(ctx)))
        if _needs_reboot(ctx):
            section.blocks.append(
                Note(
                    "The change touches static WLM properties (the queue list or its "
                    "user/query groups): it applies only after a cluster reboot."
                )
            )
    section.blocks.append("Reproducibility")
    section.blocks.append(_reproducibility(ctx))
    return section


def _commands(ctx: ReportContext) -> str:
    deploy = ctx.folder.deploy
    assert deploy is not None
    cluster = _cluster_id(ctx)
    lines = [
        "# WLM (the whole wlm_json_configuration, one call):",
        "aws redshift modify-cluster-parameter-group "
        "--cli-input-json file://deploy/modify-cluster-parameter-group.json",
    ]
    alarms = sorted(k for k in deploy.files if k.startswith("alarms/"))
    if alarms:
        lines.append("# alarms, one PutMetricAlarm request each:")
        lines += [
            f"aws cloudwatch put-metric-alarm --cli-input-json file://deploy/{a}"
            for a in alarms
        ]
    if "dashboard.json" in deploy.files:
        lines += [
            "# dashboard:",
            f"aws cloudwatch put-dashboard --dashboard-name "
            f"{cluster}-wlm --dashboard-body file://deploy/dashboard.json",
        ]
    if "template.yaml" in deploy.files:
        lines += [
            "# or everything above as one CloudFormation stack:",
            f"aws cloudformation deploy --template-file deploy/template.yaml "
            f"--stack-name {cluster}-wlm",
        ]
    return "\n".join(lines)


def _cluster_id(ctx: ReportContext) -> str:
    base = ctx.folder.baseline
    if base is not None:
        dims = (
            base.metrics["dimensions"]
            .astype(str)
            .str.extract(r"ClusterIdentifier=([^;]+)")[0]
            .dropna()
        )
        if not dims.empty:
            return str(dims.iloc[0])
    return "CLUSTER"


def _needs_reboot(ctx: ReportContext) -> bool:
    """Static WLM properties differ: queue names/order or their groups."""
    if ctx.current_wlm is None or ctx.recommended_wlm is None:
        return False

    def static(wlm: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        return [
            (
                q.get("name"),
                tuple(q.get("user_group", [])),
                tuple(q.get("query_group", [])),
            )
            for q in wlm
        ]

    return static(ctx.current_wlm) != static(ctx.recommended_wlm)


def _reproducibility(ctx: ReportContext) -> Table | Note:
    run = ctx.folder.run
    if run is None:
        return Note(f"run.json is missing; it is written by: {PRODUCERS['run.json']}")
    rows = [
        ["dpcsim version", str(run.get("version", "n/a"))],
        ["seed", str(run.get("seed", "n/a"))],
    ]
    rows += [
        [f"input {k}", str(v)] for k, v in sorted(run.get("input_hashes", {}).items())
    ]
    rows += [
        [f"setting {k}", short(v)] for k, v in sorted(run.get("settings", {}).items())
    ]
    rows.append(["rebuild this report", f"dpcsim report {ctx.folder.path.name}"])
    return Table(["", "value"], rows)

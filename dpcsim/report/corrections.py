"""Section 7: corrections to the design, computed from its files and the runs.

Four checks, each from data rather than from prose:

- metric names: every name the design writes (``run.json`` ``design.
  written_metric_names``) and every metric the deployable alarms use is looked
  up in :data:`REDSHIFT_METRICS` (the AWS/Redshift metrics AWS lists); names
  that are not metrics get the replacement in :data:`REPLACEMENTS`;
- priorities under manual WLM: manual queues have slots and no priority
  (``design.queue_priorities`` says what the design wanted), with the waits
  the baseline measured per queue;
- the WLM timeout: queues with ``max_execution_time`` (deprecated) and the QMR
  ``query_execution_time`` rules that replace it;
- Concurrency Scaling placement: which queues may scale, where the baseline's
  queries ran on scaling clusters, and which queue waited most;
- what the baseline run exposed: alarms that fired under normal load.

Facts from the AWS docs as gathered in the project's reference sheet
(redshift-wlm-facts.md sections 0, 4 and 7).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from dpcsim.report.context import SECTION_TITLES, ReportContext, missing
from dpcsim.report.document import Note, Paragraph, Section, Table
from dpcsim.report.formatting import as_float, as_int, num, wait_stats

__all__ = ["REDSHIFT_METRICS", "REPLACEMENTS", "corrections_section"]

#: Metrics of the AWS/Redshift namespace (Management Guide, metrics-listing).
REDSHIFT_METRICS = frozenset(
    {
        "WLMQueueLength",
        "WLMQueueWaitTime",
        "WLMRunningQueries",
        "WLMQueriesCompletedPerSecond",
        "WLMQueryDuration",
        "QueriesCompletedPerSecond",
        "QueryDuration",
        "QueryRuntimeBreakdown",
        "ConcurrencyScalingActiveClusters",
        "ConcurrencyScalingSeconds",
        "MaxConfiguredConcurrencyScalingClusters",
        "PercentageDiskSpaceUsed",
        "RedshiftManagedStorageTotalCapacity",
        "CPUUtilization",
        "NetworkReceiveThroughput",
        "NetworkTransmitThroughput",
        "ReadIOPS",
        "WriteIOPS",
        "ReadLatency",
        "WriteLatency",
        "ReadThroughput",
        "WriteThroughput",
        "CommitQueueLength",
        "DatabaseConnections",
        "HealthStatus",
        "MaintenanceMode",
        "TotalTableCount",
        "NumExceededSchemaQuotas",
        "SchemaQuota",
        "StorageUsed",
        "PercentageQuotaUsed",
    }
)
#: Names designs use that are not CloudWatch metrics, and what to use instead.
REPLACEMENTS: Mapping[str, str] = {
    "WLMRejectedQueries": "no AWS metric (provisioned WLM queues, it does not reject): "
    "publish Custom WLMFailedQueries (aborted + canceled + failed)",
    "WLMAttemptedQueries": "no AWS metric: publish Custom WLMAttemptedQueries, and "
    "alarm on the metric-math ratio failed / attempted",
    "RedshiftStorageCapacity": "AWS/Redshift PercentageDiskSpaceUsed (Percent); "
    "RedshiftManagedStorageTotalCapacity (Megabytes) for RA3 capacity",
    "table_skew_percent": "not a metric: SVV_TABLE_INFO.skew_rows, published as a "
    "custom metric by the data-quality job if it is to alarm",
}


def corrections_section(ctx: ReportContext) -> Section:
    """7. Metric names, priorities, timeouts, scaling placement, run findings."""
    section = Section(7, SECTION_TITLES[6])
    section.blocks.append("Metric names")
    section.blocks.extend(_metric_blocks(ctx))
    if ctx.current_wlm is None:
        section.blocks.append(
            Note(
                "run.json has no design.wlm_json: the WLM checks "
                "need the design's configuration."
            )
        )
    else:
        section.blocks.append("Queue priorities under manual WLM")
        section.blocks.extend(_priority_blocks(ctx))
        section.blocks.append("The WLM timeout")
        section.blocks.extend(_timeout_blocks(ctx.current_wlm))
        section.blocks.append("Concurrency Scaling placement")
        section.blocks.extend(_scaling_blocks(ctx))
    section.blocks.append("What the baseline run exposed")
    section.blocks.extend(_run_findings(ctx))
    return section


def _metric_blocks(ctx: ReportContext) -> list[Any]:
    design = (ctx.folder.run or {}).get("design", {})
    written = [str(n) for n in design.get("written_metric_names", [])]
    used = _alarm_metrics(ctx)
    rows = []
    for name in sorted(set(written) | {n for n, _ in used}):
        namespaces = sorted({ns for n, ns in used if n == name})
        where = ", ".join(namespaces) or "(not deployed)"
        if name in REDSHIFT_METRICS:
            verdict = "real AWS/Redshift metric"
        elif name in REPLACEMENTS:
            verdict = "does not exist: " + REPLACEMENTS[name]
        elif any(not ns.startswith("AWS/") for ns in namespaces):
            verdict = "custom metric: must be published with PutMetricData"
        else:
            verdict = "not an AWS/Redshift metric: publish it as a custom metric"
        rows.append([name, "yes" if name in written else "", where, verdict])
    blocks: list[Any] = []
    if not written:
        blocks.append(
            Note(
                "run.json has no design.written_metric_names: only the "
                "deployable alarms' metrics are checked."
            )
        )
    if not rows:
        return [*blocks, missing("deploy")]
    bad = sum(r[3].startswith("does not") for r in rows)
    blocks.append(Paragraph(f"{bad} of the metric names are not CloudWatch metrics."))
    blocks.append(
        Table(["metric", "in the design", "namespace deployed", "finding"], rows)
    )
    return blocks


def _alarm_metrics(ctx: ReportContext) -> list[tuple[str, str]]:
    """(metric name, namespace) of every metric the deployable alarms use."""
    alarms = ctx.folder.deploy.alarms if ctx.folder.deploy else []
    found = []
    for doc in alarms:
        for alarm in doc if isinstance(doc, list) else [doc]:
            if alarm.get("MetricName"):
                found.append(
                    (str(alarm["MetricName"]), str(alarm.get("Namespace", "")))
                )
            for query in alarm.get("Metrics", []):
                metric = query.get("MetricStat", {}).get("Metric", {})
                if metric.get("MetricName"):
                    found.append(
                        (str(metric["MetricName"]), str(metric.get("Namespace", "")))
                    )
    return found


def _priority_blocks(ctx: ReportContext) -> list[Any]:
    assert ctx.current_wlm is not None
    manual = [
        q
        for q in ctx.current_wlm
        if not q.get("short_query_queue")
        and not q.get("auto_wlm")
        and q.get("queue_type", "manual") == "manual"
    ]
    if not manual:
        return [Paragraph("The design's queues are automatic WLM: priorities apply.")]
    wanted = (ctx.folder.run or {}).get("design", {}).get("queue_priorities", {})
    text = (
        f"{len(manual)} queues are manual WLM. Manual queues have slots and memory "
        "shares but no priority: a waiting query in one queue never overtakes "
        "another queue's, and the only order is the queue list for routing."
    )
    if wanted:
        text += (
            " The design asks for priorities "
            + ", ".join(f"{k} {v}" for k, v in sorted(wanted.items()))
            + "; to get them, either run automatic WLM (priorities, no slot "
            "shares) or give the favoured queue more slots."
        )
    blocks: list[Any] = [Paragraph(text)]
    base = ctx.folder.baseline
    if base is not None:
        rows = [
            [q, str(wanted.get(q, "")), num(s["p95"], 1), num(s["max"], 1)]
            for q, s in wait_stats(base.queries).items()
        ]
        blocks.append(
            Table(
                ["queue", "priority the design wants", "wait p95 [s]", "wait max [s]"],
                rows,
                caption="What the baseline measured with no priorities",
            )
        )
    return blocks


def _timeout_blocks(wlm: list[dict[str, Any]]) -> list[Any]:
    rows = []
    for queue in wlm:
        if queue.get("short_query_queue"):
            continue
        timeout_ms = int(queue.get("max_execution_time", 0) or 0)
        rules = [
            r
            for r in queue.get("rules", [])
            if any(
                p.get("metric_name") == "query_execution_time"
                for p in r.get("predicate", [])
            )
        ]
        qmr = "; ".join(
            f"{r['rule_name']}: query_execution_time "
            + " ".join(
                f"{p['operator']} {p['value']} s"
                for p in r["predicate"]
                if p.get("metric_name") == "query_execution_time"
            )
            + f" -> {r.get('action')}"
            for r in rules
        )
        rows.append(
            [
                str(queue.get("name")),
                f"{timeout_ms} ms (deprecated)" if timeout_ms else "not set",
                qmr or "none",
            ]
        )
    still = [r[0] for r in rows if r[1] != "not set"]
    verdict = (
        f" Still on the deprecated timeout: {', '.join(still)}: replace it by a QMR "
        "abort rule with the same limit in seconds."
        if still
        else " No queue uses it: the design's timeouts are QMR rules."
    )
    return [
        Paragraph(
            "The WLM timeout (max_execution_time, milliseconds of execution) is "
            "deprecated and ignored under automatic WLM; a query monitoring rule "
            "on query_execution_time (seconds) replaces it." + verdict
        ),
        Table(["queue", "WLM timeout", "QMR rule that replaces it"], rows),
    ]


def _scaling_blocks(ctx: ReportContext) -> list[Any]:
    assert ctx.current_wlm is not None
    scaling = {
        str(q.get("name")): str(q.get("concurrency_scaling", "off"))
        for q in ctx.current_wlm
        if not q.get("short_query_queue")
    }
    base = ctx.folder.baseline
    if base is None:
        return [missing("baseline")]
    by_queue = wait_stats(base.queries)
    rows = [
        [
            q,
            mode,
            f"{by_queue.get(q, {}).get('cs', 0):,.0f}",
            num(by_queue.get(q, {}).get("p99"), 1),
            num(by_queue.get(q, {}).get("max"), 1),
        ]
        for q, mode in scaling.items()
    ]
    # The longest single wait: at the sample's load most percentiles are 0 s.
    waits = {q: by_queue[q]["max"] for q in scaling if q in by_queue}
    worst = max(waits, key=lambda q: waits[q]) if waits else None
    text = (
        "Concurrency Scaling is "
        + ", ".join(f"{m} on {q}" for q, m in scaling.items())
        + ". "
        f"Scaling clusters ran "
        f"{sum(s['cs'] for s in by_queue.values()):,.0f} queries in the baseline."
    )
    if worst is not None and scaling.get(worst) == "off" and waits[worst] > 0:
        text += (
            f" The queue with the longest wait ({worst}, {waits[worst]:.1f} s) cannot "
            "scale: scaling is placed where it helps least."
        )
    return [
        Paragraph(text),
        Table(
            [
                "queue",
                "concurrency_scaling",
                "queries run on scaling clusters",
                "wait p99 [s]",
                "wait max [s]",
            ],
            rows,
        ),
    ]


def _run_findings(ctx: ReportContext) -> list[Any]:
    base = ctx.folder.baseline
    if base is None:
        return [missing("baseline")]
    if base.alarm_summary is None:
        return [Note("baseline/ has no alarm_summary.csv (alarms were not evaluated).")]
    fired = base.alarm_summary[base.alarm_summary["transitions_to_alarm"] > 0]
    if fired.empty:
        return [Paragraph("No alarm of the design fired in the baseline.")]
    days = _days(base)
    rows = []
    for r in fired.itertuples():
        per_day = as_int(r.transitions_to_alarm) / days
        rows.append(
            [
                str(r.alarm_name),
                str(as_int(r.transitions_to_alarm)),
                f"{per_day:.1f}",
                num(as_float(r.time_in_alarm_s) / 60, 0),
                "noise unless every firing is an incident" if per_day >= 1 else "",
            ]
        )
    return [
        Paragraph(
            f"The baseline replays the log as recorded ({days:.1f} days, with "
            "whatever incidents it holds). An alarm that goes to ALARM every "
            "day pages someone every day; section 5 weighs each alarm's false "
            "alarms against the incidents it must catch."
        ),
        Table(["alarm", "times to ALARM", "per day", "minutes in ALARM", ""], rows),
    ]


def _days(base: Any) -> float:
    at = (
        pd.to_datetime(base.alarm_history["evaluated_at"], utc=True)
        if base.alarm_history is not None
        else None
    )
    if at is None or at.empty:
        return 1.0
    span_s = float((at.max() - at.min()).total_seconds())
    return max(span_s / 86400, 1.0)

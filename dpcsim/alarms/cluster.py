"""The cluster an alarm set watches: the ``ClusterIdentifier`` its metrics name.

A user back-testing their own PutMetricAlarm definitions on a replay expects
the simulated datapoints to carry their cluster's identifier; otherwise every
alarm matches nothing and sits in INSUFFICIENT_DATA. :func:`alarm_cluster_ids`
collects the identifiers an alarm set names and :func:`resolve_cluster_id`
picks the one a run publishes under.
"""

from __future__ import annotations

from collections.abc import Iterable

from dpcsim.alarms.queries import MetricStatSpec
from dpcsim.alarms.spec import AlarmSpec
from dpcsim.errors import InputError

__all__ = ["alarm_cluster_ids", "alarm_metrics", "resolve_cluster_id"]

#: The dimension that names a Redshift cluster in AWS/Redshift and Custom metrics.
CLUSTER_DIMENSION = "ClusterIdentifier"


def alarm_metrics(alarm: AlarmSpec) -> list[MetricStatSpec]:
    """The metric of a single-metric alarm, or every metric input of a math alarm."""
    if alarm.metric is not None:
        return [alarm.metric]
    return [q.metric_stat for q in alarm.queries if q.metric_stat is not None]


def alarm_cluster_ids(alarms: Iterable[AlarmSpec]) -> dict[str, list[str]]:
    """``ClusterIdentifier`` value -> names of the alarms that use it (sorted)."""
    found: dict[str, set[str]] = {}
    for alarm in alarms:
        for metric in alarm_metrics(alarm):
            for pair in metric.dimensions.split(";"):
                name, _, value = pair.partition("=")
                if name.strip() == CLUSTER_DIMENSION and value.strip():
                    found.setdefault(value.strip(), set()).add(alarm.name)
    return {cid: sorted(names) for cid, names in sorted(found.items())}


def resolve_cluster_id(
    explicit: str | None, alarms: Iterable[AlarmSpec] | None, default: str
) -> str:
    """The ``ClusterIdentifier`` a run publishes under.

    ``explicit`` (``--cluster-id``) wins; else the one identifier the alarms
    name; else ``default`` (the design's).

    Raises
    ------
    InputError
        ``explicit`` is empty, or the alarms name more than one identifier and
        none was given.
    """
    if explicit is not None:
        if not explicit.strip():
            raise InputError(
                f"cluster id {explicit!r}; expected a ClusterIdentifier",
                location="--cluster-id",
            )
        return explicit
    ids = alarm_cluster_ids(alarms or ())
    if len(ids) > 1:
        named = ", ".join(f"{cid!r} ({', '.join(names)})" for cid, names in ids.items())
        raise InputError(
            f"the alarms name {len(ids)} ClusterIdentifiers: {named}; "
            "expected one, or pass --cluster-id",
            location="--cluster-id",
        )
    return next(iter(ids)) if ids else default

"""Which series a metrics build makes: all of them, or only those alarms read.

A sweep's run evaluates its alarms and keeps only outcomes, so it builds only
the series its alarms read (:func:`dpcsim.metrics.build.alarm_datapoints`). A
CloudWatch metric is the namespace, the name and the whole dimension set: an
alarm on ``WLMQueueLength`` with ``ClusterIdentifier`` and ``QueueName=batch``
reads that series only, not the other queues' nor the cluster total.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from dpcsim.metrics.datapoints import dimensions_key

__all__ = ["SeriesSelection"]


class SeriesSelection:
    """The series to build, from ``(namespace, metric)`` pairs (every series
    of that metric) and ``(namespace, metric, dimensions)`` triples (that one
    series; ``dimensions`` canonical, :func:`dimensions_key`)."""

    __slots__ = ("_metrics", "_series")

    def __init__(self, wanted: Collection[tuple[str, ...]]):
        metrics: set[tuple[str, str]] = set()
        series: set[tuple[str, str, str]] = set()
        for item in wanted:
            if len(item) == 2:
                metrics.add((item[0], item[1]))
            elif len(item) == 3:
                series.add((item[0], item[1], item[2]))
            else:
                raise ValueError(
                    f"wanted series {item!r}: expected (namespace, metric) or "
                    f"(namespace, metric, dimensions)"
                )
        self._metrics = frozenset(metrics)
        self._series = frozenset(series)

    def any_of(self, namespace: str, names: Collection[str] | None = None) -> bool:
        """Whether any wanted series is in ``namespace`` (of one of ``names``)."""
        keys = [*self._metrics, *((ns, m) for ns, m, _ in self._series)]
        return any(ns == namespace and (names is None or m in names) for ns, m in keys)

    def metric(self, namespace: str, name: str) -> bool:
        """Whether any series of metric ``name`` is wanted."""
        return (namespace, name) in self._metrics or any(
            ns == namespace and m == name for ns, m, _ in self._series
        )

    def series(
        self, namespace: str, name: str, dimensions: Mapping[str, str] | None
    ) -> bool:
        """Whether the series of ``name`` with exactly ``dimensions`` is wanted."""
        if (namespace, name) in self._metrics:
            return True
        return (namespace, name, dimensions_key(dimensions)) in self._series

"""The metrics an emitted alarm or widget may name: real AWS/Redshift metrics
and the custom ``Custom/DPC`` metrics with their publisher contract.

AWS/Redshift names and dimension sets are those of the Redshift metrics listing
(facts sheet section 4, cross-checked with aws-cdk-lib's canned metrics). An
alarm or widget on a name that is not listed would watch a series that never
exists and stay in INSUFFICIENT_DATA forever, so :func:`check_metric` rejects
it. Custom metrics come from :mod:`dpcsim.metrics.custom`, whose module
docstring is the publisher contract (:func:`publisher_contract`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

from dpcsim.errors import InputError
from dpcsim.metrics import custom

__all__ = [
    "CUSTOM_NAMESPACE",
    "REDSHIFT_METRICS",
    "REDSHIFT_NAMESPACE",
    "check_metric",
    "publisher_contract",
]

REDSHIFT_NAMESPACE: Final = "AWS/Redshift"
CUSTOM_NAMESPACE: Final = custom.CUSTOM_NAMESPACE
_CI: Final = "ClusterIdentifier"
_CLUSTER_ONLY: Final = ((_CI,),)
_PER_NODE: Final = ((_CI,), (_CI, "NodeID"))
#: AWS/Redshift metric -> its dimension sets (sorted names).
REDSHIFT_METRICS: Final[dict[str, tuple[tuple[str, ...], ...]]] = {
    "WLMQueueLength": ((_CI,), (_CI, "QueueName"), (_CI, "service class")),
    "WLMQueueWaitTime": ((_CI, "wlmid"), (_CI, "QueueName"), (_CI, "QueryPriority")),
    "WLMRunningQueries": ((_CI, "wlmid"), (_CI, "QueueName")),
    "WLMQueriesCompletedPerSecond": (
        (_CI, "wlmid"),
        (_CI, "QueueName"),
        (_CI, "NodeID", "wlmid"),
    ),
    "WLMQueryDuration": ((_CI, "wlmid"), (_CI, "QueueName"), (_CI, "NodeID", "wlmid")),
    "QueriesCompletedPerSecond": (
        (_CI, "latency"),
        (_CI, "NodeID", "latency"),
        (_CI, "wlmid"),
    ),
    "QueryDuration": (
        (_CI, "latency"),
        (_CI, "NodeID", "latency"),
        (_CI, "NodeID", "wlmid"),
    ),
    "QueryRuntimeBreakdown": ((_CI, "stage"), (_CI, "NodeID", "stage")),
    "ConcurrencyScalingActiveClusters": _CLUSTER_ONLY,
    "ConcurrencyScalingSeconds": _CLUSTER_ONLY,
    "MaxConfiguredConcurrencyScalingClusters": _CLUSTER_ONLY,
    "PercentageDiskSpaceUsed": _CLUSTER_ONLY,
    "RedshiftManagedStorageTotalCapacity": _CLUSTER_ONLY,
    "CPUUtilization": _PER_NODE,
    "NetworkReceiveThroughput": _PER_NODE,
    "NetworkTransmitThroughput": _PER_NODE,
    "ReadIOPS": _PER_NODE,
    "WriteIOPS": _PER_NODE,
    "ReadLatency": _PER_NODE,
    "WriteLatency": _PER_NODE,
    "ReadThroughput": _PER_NODE,
    "WriteThroughput": _PER_NODE,
    "CommitQueueLength": _CLUSTER_ONLY,
    "DatabaseConnections": _CLUSTER_ONLY,
    "HealthStatus": _CLUSTER_ONLY,
    "MaintenanceMode": _CLUSTER_ONLY,
    "TotalTableCount": _CLUSTER_ONLY,
    "NumExceededSchemaQuotas": _CLUSTER_ONLY,
}


def check_metric(
    namespace: str, metric_name: str, dimension_names: Sequence[str], *, where: str
) -> None:
    """Reject a metric that AWS/Redshift or ``Custom/DPC`` does not publish.

    Parameters
    ----------
    namespace, metric_name
        The metric.
    dimension_names
        Its dimension names (any order); a metric exists only under its exact
        dimension set.
    where
        The file and field, for the error message.

    Raises
    ------
    InputError
        Naming ``where``, the metric and the dimension sets that exist.
    """
    dims = tuple(sorted(dimension_names))
    if namespace == REDSHIFT_NAMESPACE:
        sets = REDSHIFT_METRICS.get(metric_name)
        if sets is None:
            raise InputError(
                f"{namespace} {metric_name!r} is not a Redshift metric; expected one "
                f"of {sorted(REDSHIFT_METRICS)} (or publish it as a custom metric)",
                source=where,
            )
        if dims not in {tuple(sorted(s)) for s in sets}:
            raise InputError(
                f"{namespace} {metric_name} has no dimension set {list(dims)}; it is "
                f"published under {[list(s) for s in sets]}",
                source=where,
            )
        return
    if namespace == CUSTOM_NAMESPACE:
        spec = custom.CUSTOM_METRICS.get(metric_name)
        if spec is None:
            raise InputError(
                f"{namespace} {metric_name!r} has no publisher; dpcsim's custom "
                f"metrics are {sorted(custom.CUSTOM_METRICS)}",
                source=where,
            )
        if dims != tuple(sorted(spec[0])):
            raise InputError(
                f"{namespace} {metric_name} is published with dimensions "
                f"{list(spec[0])}, not {list(dims)}",
                source=where,
            )
        return
    if namespace.startswith("AWS/"):
        raise InputError(
            f"namespace {namespace!r}: dpcsim checks only AWS/Redshift and "
            f"{CUSTOM_NAMESPACE} metrics",
            source=where,
        )


def publisher_contract() -> str:
    """The custom metrics' publisher contract (text of :mod:`dpcsim.metrics.custom`).

    Sphinx roles become plain literals: the text is read in a deploy folder's
    CHANGES.md, not in rendered API docs.
    """
    doc = custom.__doc__ or ""
    start = doc.find("Publisher contract")
    text = doc[start:].strip() if start >= 0 else doc.strip()
    return _SPHINX_ROLE.sub(r"``\1``", text)


#: ``:mod:`x```, ``:func:`~x```, ... (a Sphinx cross-reference role).
_SPHINX_ROLE: Final = re.compile(r":(?:mod|func|class|meth|data|attr):`~?([^`]+)`")

"""CloudWatch series of a run: ``AWS/Redshift`` metrics, ``Custom/DPC`` metrics,
the storage model and the design's dashboard.

Simulated runs (:class:`dpcsim.engine.SimResult`) and observed logs
(:class:`dpcsim.schema.Workload`) go through one code path:
:func:`to_records` -> :class:`RunRecords` -> :func:`build_metrics` (tidy
datapoints, :mod:`dpcsim.metrics.datapoints`). Period statistics are in
:mod:`dpcsim.metrics.statistics`.
"""

from __future__ import annotations

from dpcsim.metrics.build import build_metrics, to_records
from dpcsim.metrics.custom import (
    CUSTOM_METRICS,
    CUSTOM_NAMESPACE,
    ELT_DEFINITIONS,
    FAILED_OUTCOMES,
    custom_datapoints,
)
from dpcsim.metrics.dashboard import (
    DASHBOARD_NAME,
    dpc_design_dashboard,
    validate_dashboard,
    validate_dashboard_name,
)
from dpcsim.metrics.datapoints import (
    DATAPOINT_COLUMNS,
    DATAPOINT_DTYPES,
    OPTIONAL_DATAPOINT_DTYPES,
    concat_datapoints,
    dimensions_key,
    empty_datapoints,
    make_datapoints,
    parse_dimensions,
    read_datapoints_csv,
    read_get_metric_data,
    validate_datapoints,
)
from dpcsim.metrics.elt import (
    MART_WRITE_PATTERN,
    mart_table_writes,
    mart_update_delay_min,
    shift_elt_runs,
    step_functions_delay_min,
)
from dpcsim.metrics.records import (
    MetricInputs,
    RunRecords,
    records_from_sim,
    records_from_workload,
    timeline_from_queries,
)
from dpcsim.metrics.redshift import REDSHIFT_NAMESPACE
from dpcsim.metrics.series import SAMPLINGS, Sampling, minute_grid, sample_step
from dpcsim.metrics.statistics import (
    BASIC_STATISTICS,
    grouped_statistic,
    low_sample_threshold,
    parse_percentile,
    period_statistics,
    statistic_of,
)
from dpcsim.metrics.storage import StorageSettings, storage_used_gb

__all__ = [
    "BASIC_STATISTICS",
    "CUSTOM_METRICS",
    "CUSTOM_NAMESPACE",
    "DASHBOARD_NAME",
    "DATAPOINT_COLUMNS",
    "DATAPOINT_DTYPES",
    "ELT_DEFINITIONS",
    "FAILED_OUTCOMES",
    "MART_WRITE_PATTERN",
    "OPTIONAL_DATAPOINT_DTYPES",
    "REDSHIFT_NAMESPACE",
    "SAMPLINGS",
    "MetricInputs",
    "RunRecords",
    "Sampling",
    "StorageSettings",
    "build_metrics",
    "concat_datapoints",
    "custom_datapoints",
    "dimensions_key",
    "dpc_design_dashboard",
    "empty_datapoints",
    "grouped_statistic",
    "low_sample_threshold",
    "make_datapoints",
    "mart_table_writes",
    "mart_update_delay_min",
    "minute_grid",
    "parse_dimensions",
    "parse_percentile",
    "period_statistics",
    "read_datapoints_csv",
    "read_get_metric_data",
    "records_from_sim",
    "records_from_workload",
    "sample_step",
    "shift_elt_runs",
    "statistic_of",
    "step_functions_delay_min",
    "storage_used_gb",
    "timeline_from_queries",
    "to_records",
    "validate_dashboard",
    "validate_dashboard_name",
    "validate_datapoints",
]

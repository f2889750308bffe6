"""Readers and writers of Amazon Redshift exports, and ingestion into a workload.

This is the only package that knows AWS column names and units (µs durations,
blank-padded ``char(n)`` text, UTC timestamps with µs). Readers detect the table
from the header (:func:`read_export`); :func:`ingest` joins the files into one
canonical :class:`~dpcsim.schema.Workload` with rejects and a summary; writers
produce the same exports from a workload (used by the synthetic generator and by
round-trip tests); :func:`write_workload` / :func:`read_workload` store the
canonical form as parquet.
"""

from __future__ import annotations

from dpcsim.logs.ingest import IngestResult, IngestSummary, ingest, load_logs
from dpcsim.logs.reader import ReadResult, read_export
from dpcsim.logs.sql_type import classify_statements, fingerprints
from dpcsim.logs.store import read_workload, write_workload
from dpcsim.logs.users import UserDirectory, apply_users, read_role_groups, read_users
from dpcsim.logs.writers import (
    write_exports,
    write_stepfunctions_executions,
    write_stl_load_errors,
    write_stl_wlm_query,
    write_svl_qlog,
    write_users,
)

__all__ = [
    "IngestResult",
    "IngestSummary",
    "ReadResult",
    "UserDirectory",
    "apply_users",
    "classify_statements",
    "fingerprints",
    "ingest",
    "load_logs",
    "read_export",
    "read_role_groups",
    "read_users",
    "read_workload",
    "write_exports",
    "write_stepfunctions_executions",
    "write_stl_load_errors",
    "write_stl_wlm_query",
    "write_svl_qlog",
    "write_users",
    "write_workload",
]

"""SQL text and fingerprints of the nightly ELT's statements.

Texts are what the cluster would log (lower case, literals inline); the
fingerprint is the same text with literals replaced by ``?``, which is how
query shapes are counted. dbt models write ``<schema>.<model>`` directly
(``create table mart.x as select ...`` / ``insert into mart.x select ...``), so
a mart's update time can be read off the log.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd

from dpcsim.workload.catalog import DQ_CHECKS, DbtModel, StageTable

__all__ = [
    "FINGERPRINT_AUDIT",
    "FINGERPRINT_UNLOAD",
    "audit_insert",
    "copy",
    "delete_stage",
    "dq_statements",
    "fingerprint_copy",
    "fingerprint_delete_stage",
    "load_errors",
    "microbatch_model",
    "table_model",
    "unload",
]

BUCKET: Final = "s3://dpc-learning-raw"
ARCHIVE: Final = "s3://dpc-learning-archive"
COPY_ROLE: Final = "arn:aws:iam::123456789012:role/dpc-redshift-copy"
FINGERPRINT_UNLOAD: Final = (
    "unload (?) to ? iam_role ? format as parquet partition by (activity_date)"
)
FINGERPRINT_AUDIT: Final = (
    "insert into admin.dbt_model_runs (model, run_date, status, finished_at) "
    "values (?, ?, ?, getdate())"
)
_ARCHIVED: Final = ("fct_learning_activity", "fct_quiz_results", "fct_forum_engagement")

#: STL_LOAD_ERRORS reasons: (err_code, colname, err_reason).
_LOAD_ERRORS: Final = (
    (1207, "learner_id", "Invalid digit, Value 'N', Pos 0, Type: Integer"),
    (1206, "event_at", "Invalid timestamp format or value [YYYY-MM-DD HH24:MI:SS]"),
    (1204, "payload", "String length exceeds DDL length"),
    (1214, "event_type", "Delimiter not found"),
)


def delete_stage(name: str, date: str) -> str:
    """Idempotent reload: remove the night's partition before COPY."""
    return f"delete from stage.{name} where load_date = '{date}'"


def fingerprint_delete_stage(name: str) -> str:
    """Fingerprint of :func:`delete_stage`."""
    return f"delete from stage.{name} where load_date = ?"


def _copy_path(table: StageTable, date: str, k: int) -> str:
    """S3 prefix of COPY ``k`` of ``table`` for ``date``."""
    y, m, d = date.split("-")
    if table.files == 1:
        return f"{BUCKET}/{table.name}/{y}/{m}/{d}/{table.name}.csv.gz"
    return f"{BUCKET}/{table.name}/{y}/{m}/{d}/part-{k:03d}.json.gz"


def copy(table: StageTable, date: str, k: int) -> str:
    """COPY ``k`` of the night into ``stage.<table>``."""
    fmt = (
        "format as json 'auto'"
        if table.fmt == "json"
        else "format as csv ignoreheader 1"
    )
    return (
        f"copy stage.{table.name} from '{_copy_path(table, date, k)}' "
        f"iam_role '{COPY_ROLE}' {fmt} gzip timeformat 'auto'"
    )


def fingerprint_copy(table: StageTable) -> str:
    """Fingerprint of :func:`copy` for ``table``."""
    fmt = "format as json ?" if table.fmt == "json" else "format as csv ignoreheader ?"
    return f"copy stage.{table.name} from ? iam_role ? {fmt} gzip timeformat ?"


def load_errors(
    table: StageTable,
    date: str,
    k: int,
    row: int,
    t_s: float,
    n: int,
    rng: np.random.Generator,
) -> list[dict[str, object]]:
    """``n`` STL_LOAD_ERRORS rows of the failed COPY (``row`` in the accumulator)."""
    code, col, reason = _LOAD_ERRORS[int(rng.integers(len(_LOAD_ERRORS)))]
    lines = np.sort(rng.choice(np.arange(2, 50_000), size=n, replace=False))
    return [
        {
            "row": row,
            "t_s": t_s,
            "filename": _copy_path(table, date, k),
            "line_number": int(line),
            "colname": col,
            "err_code": code,
            "err_reason": reason,
        }
        for line in lines
    ]


def unload(date: str, k: int) -> str:
    """Archive UNLOAD ``k``: a 90-day-old partition of a fact table."""
    table = _ARCHIVED[k % len(_ARCHIVED)]
    day = (pd.Timestamp(date) - pd.Timedelta(days=90 + k // len(_ARCHIVED))).date()
    return (
        f"unload ('select * from mart.{table} where activity_date = ''{day}''') "
        f"to '{ARCHIVE}/{table}/' iam_role '{COPY_ROLE}' format as parquet "
        "partition by (activity_date)"
    )


def _source(name: str) -> str:
    """Relation a model's SQL selects from: a model or a ``stage.*`` table."""
    if name.startswith("stg_"):
        return f"staging.{name}"
    if name.startswith("int_"):
        return f"intermediate.{name}"
    return f"mart.{name}"


def _select(model: DbtModel) -> str:
    """The model's select body (parents joined on the learner/course keys)."""
    if not model.parents:
        return f"select * from stage.{model.name.removeprefix('stg_')}"
    first, *rest = (_source(p) for p in model.parents)
    joins = "".join(f" left join {r} using (learner_id)" for r in rest)
    return f"select {first}.*, getdate() as loaded_at from {first}{joins}"


def table_model(model: DbtModel) -> tuple[list[str], list[str]]:
    """Drop + CTAS + grant of a ``table`` model (texts have no literals)."""
    rel = model.relation
    texts = [
        f"drop table if exists {rel} cascade",
        f"create table {rel} as {_select(model)}",
        f"grant select on {rel} to group dpc_learners",
    ]
    return texts, list(texts)


def microbatch_model(model: DbtModel, date: str, n: int) -> tuple[list[str], list[str]]:
    """Delete + insert per hourly batch over the last ``n`` hours before ``date``."""
    rel = model.relation
    hours = pd.date_range(end=pd.Timestamp(date), periods=n + 1, freq="h")[:-1]
    body = _select(model)
    texts: list[str] = []
    for h in hours.strftime("%Y-%m-%d %H:00:00"):
        texts.append(f"delete from {rel} where event_hour = '{h}'")
        texts.append(f"insert into {rel} {body} where event_hour = '{h}'")
    fps = [
        f"delete from {rel} where event_hour = ?",
        f"insert into {rel} {body} where event_hour = ?",
    ] * n
    return texts, fps


def audit_insert(model: DbtModel, date: str) -> str:
    """dbt's post-hook row in ``admin.dbt_model_runs``."""
    return (
        "insert into admin.dbt_model_runs (model, run_date, status, finished_at) "
        f"values ('{model.relation}', '{date}', 'success', getdate())"
    )


def dq_statements(date: str) -> tuple[list[str], list[str]]:
    """Each DQ check's select and its result insert, in order."""
    texts: list[str] = []
    fps: list[str] = []
    for name, table, predicate in DQ_CHECKS:
        texts.append(f"select count(*) from {table} where {predicate}")
        fps.append(texts[-1])
        texts.append(
            "insert into admin.dq_results (check_name, run_date, failed_rows) "
            f"values ('{name}', '{date}', 0)"
        )
        fps.append(
            "insert into admin.dq_results (check_name, run_date, failed_rows) "
            "values (?, ?, ?)"
        )
    return texts, fps

"""The DPC platform's fixed inventory: users, stage tables, the dbt DAG, DQ checks.

These constants describe *what* the nightly ELT and the learners touch; the
generators in :mod:`dpcsim.workload.elt`, :mod:`dpcsim.workload.adhoc` and
:mod:`dpcsim.workload.maintenance` decide *when* and *how long*. The user ->
group mapping mirrors the WLM design (``dpcsim.designs.dpc_wlm.DPC_ROLE_GROUPS``):
routing by ``user_group`` per IAM role is what the seed asks for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from dpcsim.designs.dpc_wlm import DPC_ROLE_GROUPS, ELT_QUERY_GROUP, LEARNER_GROUP

__all__ = [
    "DBT_MODELS",
    "DBT_USER",
    "DQ_CHECKS",
    "DQ_USER",
    "ELT_QUERY_GROUP",
    "LEARNER_GROUP",
    "ROLE_GROUPS",
    "SFN_USER",
    "STAGE_TABLES",
    "VACUUM_TABLES",
    "VACUUM_USER",
    "DbtModel",
    "StageTable",
    "learner_name",
    "model_index",
]

SFN_USER: Final = "IAMR:dpc-elt-stepfunctions"
DBT_USER: Final = "IAMR:dpc-dbt"
DQ_USER: Final = "IAMR:dpc-dq-lambda"
VACUUM_USER: Final = "IAMR:dpc-vacuum-lambda"

#: Database group of each role's ``IAMR:<role>`` user, from the WLM design.
ROLE_GROUPS: Final[dict[str, str]] = {
    f"IAMR:{role}": group for role, group in DPC_ROLE_GROUPS.items()
}

#: Redshift ``userid`` of the roles; learners start at 200.
ROLE_USER_IDS: Final[dict[str, int]] = {
    SFN_USER: 101,
    DBT_USER: 102,
    DQ_USER: 103,
    VACUUM_USER: 104,
}
LEARNER_FIRST_USER_ID: Final = 200


def learner_name(index: int) -> str:
    """Database user name of learner ``index`` (0-based): ``learner_0001``..."""
    return f"learner_{index + 1:04d}"


@dataclass(frozen=True, slots=True, kw_only=True)
class StageTable:
    """One S3 source loaded by COPY into ``stage.<name>`` each night.

    Attributes
    ----------
    name
        Table name in schema ``stage``.
    files
        COPY statements per night (one per S3 prefix: half-hourly event files or
        one daily snapshot).
    copy_median_s
        Median execution time of one COPY at data growth 1 [s].
    fmt
        ``json`` or ``csv``: the COPY format clause.
    """

    name: str
    files: int
    copy_median_s: float
    fmt: Literal["json", "csv"] = "json"


STAGE_TABLES: Final[tuple[StageTable, ...]] = (
    StageTable(name="activity_events", files=24, copy_median_s=1.8),
    StageTable(name="page_views", files=24, copy_median_s=1.2),
    StageTable(name="login_events", files=12, copy_median_s=0.45),
    StageTable(name="video_events", files=24, copy_median_s=1.5),
    StageTable(name="quiz_submissions", files=24, copy_median_s=0.75),
    StageTable(name="notebook_runs", files=12, copy_median_s=0.9),
    StageTable(name="forum_posts", files=12, copy_median_s=0.45),
    StageTable(name="grade_events", files=12, copy_median_s=0.36),
    StageTable(name="learners", files=1, copy_median_s=1.2, fmt="csv"),
    StageTable(name="courses", files=1, copy_median_s=0.3, fmt="csv"),
    StageTable(name="enrollments", files=1, copy_median_s=0.9, fmt="csv"),
    StageTable(name="lessons", files=1, copy_median_s=0.3, fmt="csv"),
)

Materialization = Literal["table", "microbatch"]


@dataclass(frozen=True, slots=True, kw_only=True)
class DbtModel:
    """One dbt model of the nightly run.

    Attributes
    ----------
    name
        Model name; the relation is ``<schema>.<name>``.
    schema
        ``staging``, ``intermediate`` or ``mart``.
    parents
        Names of the models (or ``stage.<table>`` sources, not listed here) this
        model selects from; a model starts only after all its parent models end.
    materialized
        ``table`` (drop + CTAS + grant) or ``microbatch`` (hourly delete + insert
        batches over the lookback window, as dbt's microbatch strategy issues).
    median_s
        Median execution time of the CTAS, or of one microbatch insert, at data
        growth 1 [s].
    """

    name: str
    schema: Literal["staging", "intermediate", "mart"]
    parents: tuple[str, ...] = ()
    materialized: Materialization = "microbatch"
    median_s: float = 0.05

    @property
    def relation(self) -> str:
        """Fully qualified table name, e.g. ``mart.fct_learning_activity``."""
        return f"{self.schema}.{self.name}"


def _stg(name: str, median_s: float, kind: Materialization = "microbatch") -> DbtModel:
    """A staging model over ``stage.<name>``."""
    return DbtModel(
        name=f"stg_{name}", schema="staging", materialized=kind, median_s=median_s
    )


#: The dbt DAG in topological order (parents before children).
DBT_MODELS: Final[tuple[DbtModel, ...]] = (
    _stg("activity_events", 0.04),
    _stg("page_views", 0.03),
    _stg("login_events", 0.015),
    DbtModel(
        name="int_learning_sessions",
        schema="intermediate",
        parents=("stg_activity_events", "stg_page_views", "stg_login_events"),
        median_s=76.0,
    ),
    _stg("video_events", 0.035),
    _stg("quiz_submissions", 0.02),
    _stg("notebook_runs", 0.02),
    _stg("forum_posts", 0.015),
    _stg("grade_events", 0.015),
    _stg("learners", 2.0, "table"),
    _stg("courses", 0.5, "table"),
    _stg("enrollments", 1.5, "table"),
    _stg("lessons", 0.5, "table"),
    DbtModel(
        name="int_video_progress",
        schema="intermediate",
        parents=("stg_video_events", "stg_lessons"),
        median_s=0.08,
    ),
    DbtModel(
        name="int_quiz_attempts",
        schema="intermediate",
        parents=("stg_quiz_submissions", "stg_grade_events"),
        median_s=0.06,
    ),
    DbtModel(
        name="int_enrollment_status",
        schema="intermediate",
        parents=("stg_enrollments", "stg_learners", "stg_courses"),
        materialized="table",
        median_s=25.0,
    ),
    DbtModel(
        name="fct_learning_activity",
        schema="mart",
        parents=("int_learning_sessions", "int_video_progress", "stg_notebook_runs"),
        median_s=0.5,
    ),
    DbtModel(
        name="fct_quiz_results",
        schema="mart",
        parents=("int_quiz_attempts", "int_enrollment_status"),
        median_s=0.12,
    ),
    DbtModel(
        name="fct_forum_engagement",
        schema="mart",
        parents=("stg_forum_posts", "int_enrollment_status"),
        median_s=0.05,
    ),
    DbtModel(
        name="dim_learner",
        schema="mart",
        parents=("stg_learners", "int_enrollment_status"),
        materialized="table",
        median_s=40.0,
    ),
    DbtModel(
        name="dim_course",
        schema="mart",
        parents=("stg_courses", "stg_lessons"),
        materialized="table",
        median_s=8.0,
    ),
    DbtModel(
        name="agg_course_progress",
        schema="mart",
        parents=("fct_learning_activity", "fct_quiz_results", "dim_course"),
        materialized="table",
        median_s=240.0,
    ),
    DbtModel(
        name="agg_learner_daily",
        schema="mart",
        parents=("fct_learning_activity", "dim_learner"),
        materialized="table",
        median_s=300.0,
    ),
)


def model_index(name: str) -> int:
    """Position of model ``name`` in :data:`DBT_MODELS`; KeyError if unknown."""
    for i, model in enumerate(DBT_MODELS):
        if model.name == name:
            return i
    known = ", ".join(m.name for m in DBT_MODELS)
    raise KeyError(f"unknown dbt model {name!r}; expected one of {known}")


#: Data-quality checks run by the DQ Lambda after the ELT: (name, table, predicate).
DQ_CHECKS: Final[tuple[tuple[str, str, str], ...]] = tuple(
    (f"{table.split('.')[1]}_{check}", table, predicate)
    for table in (
        "mart.fct_learning_activity",
        "mart.fct_quiz_results",
        "mart.fct_forum_engagement",
        "mart.dim_learner",
        "mart.dim_course",
        "mart.agg_course_progress",
        "mart.agg_learner_daily",
    )
    for check, predicate in (
        ("not_null_learner", "learner_id is null"),
        ("not_null_course", "course_id is null"),
        ("freshness", "loaded_at < getdate() - interval '1 day'"),
        ("row_count", "1 = 1"),
        ("duplicates", "dup_rank > 1"),
    )
)

#: Tables the weekly VACUUM Lambda maintains, with their REINDEX time at data
#: growth 1 [s] (interleaved sort keys on the large facts make REINDEX costly).
VACUUM_TABLES: Final[tuple[tuple[str, float], ...]] = (
    ("mart.fct_learning_activity", 1500.0),
    ("mart.fct_quiz_results", 420.0),
    ("mart.agg_learner_daily", 600.0),
    ("intermediate.int_learning_sessions", 900.0),
    ("stage.activity_events", 300.0),
    ("stage.page_views", 240.0),
)

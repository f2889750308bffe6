"""The seed's WLM design (``batch`` / ``adhoc`` / ``admin`` at 50/30/20) as a config.

Decisions, each tied to the seed design (``shared/seed``):

* **Array order ``[batch, admin, adhoc]``, ``adhoc`` is the default queue.**
  Learners are the open-ended population: every new learner account must land
  in ``adhoc`` without a configuration change, and the default (last) queue is
  the only one that catches users no list names. AWS forbids user or query
  groups on the default queue, so ``adhoc`` lists none and takes everyone not
  matched earlier. ``batch`` comes first so an ELT statement labelled ``elt``
  runs in ``batch`` even when issued under an admin role; ``admin`` comes
  before the default so its Lambdas never fall into ``adhoc``.
* **IAM roles map to database groups** (the seed: "``user_group`` mapping per IAM
  role"). Redshift logs an IAM-role session as user ``IAMR:<role>``; each role
  is made a member of one group (:data:`DPC_ROLE_GROUPS`): the Step Functions
  and dbt roles join ``dpc_elt`` (queue ``batch``), the DQ and VACUUM Lambda
  roles join ``dpc_admin`` (queue ``admin``, "only for the DQ and VACUUM
  Lambdas"). Learners are database users in ``dpc_learners``, which no queue
  lists, so they reach the default queue.
* **Query groups.** ``batch`` also matches the label ``elt``, which the ELT sets,
  so logs without users' groups still route ELT statements to ``batch``
  (:func:`dpcsim.wlm.routing.route_workload` falls back to the label). Any
  session may ``SET query_group``, so the label is a routing convenience, not
  access control; ``admin``, the most protected queue, therefore matches its
  group only.
* **Slots and memory.** The seed's percentages are called a *slot* share
  ("スロット比率 50/30/20"), yet the only percentage a manual WLM queue has is
  ``memory_percent_to_use``. Both readings set memory to 50/30/20 and give
  ``adhoc`` 5 slots ("at most 5 concurrent"):

  - ``slot_reading="slots"`` (default, the literal seed): slots 8/3/5
    (batch/admin/adhoc), a 50/19/31 % slot share, so every slot gets about the
    same memory (6.25/6.7/6 %). The cost: 16 slots, one above the AWS
    recommendation of at most 15 in total.
  - ``slot_reading="memory"``: slots 5/3/5 (13 in total, within the
    recommendation); a batch slot gets 10 % of memory, an adhoc slot 6 %.
* **Timeouts** (batch 2 h, adhoc 30 min): by default QMR ``abort`` rules on
  ``query_execution_time`` [s], which AWS recommends over the deprecated WLM
  timeout ``max_execution_time`` [ms]; ``timeouts="wlm"`` or ``"both"`` writes
  the WLM timeout instead or as well. Both count execution time only and spare
  COPY and maintenance statements.
* **Concurrency Scaling** ``auto`` on ``batch`` and ``admin``, ``off`` on
  ``adhoc``, as in the seed. **SQA** on with the dynamic maximum runtime (AWS
  default and recommendation).
* ``mode="auto"`` gives the auto WLM reading of the seed's priority column
  (batch high, adhoc normal for "medium", admin highest); auto WLM has no slots,
  memory shares or WLM timeouts, so "at most 5 concurrent" cannot be expressed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal

from dpcsim.wlm.config import (
    Priority,
    QMRPredicate,
    QMRRule,
    QueueConfig,
    SQAConfig,
    WLMConfig,
)

__all__ = [
    "ADMIN_GROUP",
    "DPC_ROLE_GROUPS",
    "ELT_GROUP",
    "ELT_QUERY_GROUP",
    "LEARNER_GROUP",
    "dpc_design_config",
    "dpc_design_json",
    "groups_for_user",
]

ELT_GROUP: Final = "dpc_elt"
ADMIN_GROUP: Final = "dpc_admin"
LEARNER_GROUP: Final = "dpc_learners"
#: ``SET query_group TO 'elt'`` label of the nightly ELT statements.
ELT_QUERY_GROUP: Final = "elt"
#: IAM role name -> database group (Redshift user ``IAMR:<role>``).
DPC_ROLE_GROUPS: Final[dict[str, str]] = {
    "dpc-elt-stepfunctions": ELT_GROUP,
    "dpc-dbt": ELT_GROUP,
    "dpc-dq-lambda": ADMIN_GROUP,
    "dpc-vacuum-lambda": ADMIN_GROUP,
}
#: Slots per queue (batch, admin, adhoc) for each reading of "50/30/20".
_SLOTS: Final[dict[str, tuple[int, int, int]]] = {
    "slots": (8, 3, 5),
    "memory": (5, 3, 5),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class _QueueSpec:
    """One queue of the seed design, before a reading is chosen."""

    name: str
    user_group: tuple[str, ...]
    query_group: tuple[str, ...]
    concurrency_scaling: Literal["auto", "off"]
    memory_percent: int
    priority: Priority
    timeout_s: int  # 0 = no timeout
    rule_name: str


#: The seed's three queues in array order (the default queue last).
_DESIGN: Final = (
    _QueueSpec(
        name="batch",
        user_group=(ELT_GROUP,),
        query_group=(ELT_QUERY_GROUP,),
        concurrency_scaling="auto",
        memory_percent=50,
        priority="high",
        timeout_s=2 * 3600,
        rule_name="batch_abort_2h",
    ),
    _QueueSpec(
        name="admin",
        user_group=(ADMIN_GROUP,),
        query_group=(),
        concurrency_scaling="auto",
        memory_percent=20,
        priority="highest",
        timeout_s=0,
        rule_name="",
    ),
    _QueueSpec(
        name="adhoc",
        user_group=(),
        query_group=(),
        concurrency_scaling="off",
        memory_percent=30,
        priority="normal",  # the seed's "medium"
        timeout_s=30 * 60,
        rule_name="adhoc_abort_30min",
    ),
)


def dpc_design_config(
    *,
    slot_reading: Literal["slots", "memory"] = "slots",
    timeouts: Literal["qmr", "wlm", "both"] = "qmr",
    mode: Literal["manual", "auto"] = "manual",
) -> WLMConfig:
    """Return the seed's design as a validated :class:`WLMConfig`.

    Parameters
    ----------
    slot_reading
        ``"slots"``: slots 8/3/5 (batch/admin/adhoc) and memory 50/20/30 %;
        ``"memory"``: slots 5/3/5 and the same memory. Ignored when auto.
    timeouts
        Batch 2 h and adhoc 30 min as QMR abort rules (``"qmr"``), as the WLM
        timeout [ms] (``"wlm"``, manual only) or both.
    mode
        ``"manual"`` (the seed's slots) or ``"auto"`` (the seed's priorities).

    Examples
    --------
    >>> cfg = dpc_design_config()
    >>> cfg.queue_names, [q.query_concurrency for q in cfg.queues]
    (('batch', 'admin', 'adhoc'), [8, 3, 5])
    """
    _check_args(slot_reading, timeouts, mode)
    slots = dict(zip(("batch", "admin", "adhoc"), _SLOTS[slot_reading], strict=True))
    queues = tuple(_queue(spec, slots[spec.name], timeouts, mode) for spec in _DESIGN)
    return WLMConfig(queues=queues, sqa=SQAConfig(enabled=True, max_execution_time=0))


def dpc_design_json() -> list[dict[str, Any]]:
    """Return the default design as the AWS ``wlm_json_configuration`` array."""
    return dpc_design_config().to_json()


def groups_for_user(user_name: str) -> tuple[str, ...]:
    """Return the design's database groups of a Redshift user name.

    ``IAMR:<role>`` users get their role's group from :data:`DPC_ROLE_GROUPS`;
    every other user is a learner in ``dpc_learners``.
    """
    name = user_name.strip()
    if name.startswith("IAMR:"):
        group = DPC_ROLE_GROUPS.get(name[len("IAMR:") :])
        return (group,) if group else ()
    return (LEARNER_GROUP,)


def _abort_after(rule_name: str, seconds: int) -> tuple[QMRRule, ...]:
    """One QMR rule: abort when ``query_execution_time`` [s] exceeds ``seconds``."""
    pred = QMRPredicate(metric_name="query_execution_time", operator=">", value=seconds)
    return (QMRRule(rule_name=rule_name, predicate=(pred,), action="abort"),)


def _check_args(slot_reading: str, timeouts: str, mode: str) -> None:
    """Reject unknown readings, timeout forms and modes."""
    if slot_reading not in _SLOTS:
        raise ValueError(f"slot_reading={slot_reading!r}: expected 'slots' or 'memory'")
    if mode not in ("manual", "auto"):
        raise ValueError(f"mode={mode!r}: expected 'manual' or 'auto'")
    if timeouts not in ("qmr", "wlm", "both") or (mode == "auto" and timeouts != "qmr"):
        raise ValueError(
            f"timeouts={timeouts!r} with mode={mode!r}: expected 'qmr', 'wlm' or "
            "'both' (auto WLM ignores the WLM timeout, so only 'qmr')"
        )


def _queue(spec: _QueueSpec, slots: int, timeouts: str, mode: str) -> QueueConfig:
    """Build one design queue for the chosen reading, timeout form and mode."""
    qmr = spec.timeout_s > 0 and timeouts in ("qmr", "both")
    wlm = spec.timeout_s > 0 and timeouts in ("wlm", "both")
    common: dict[str, Any] = {
        "name": spec.name,
        "user_group": spec.user_group,
        "query_group": spec.query_group,
        "concurrency_scaling": spec.concurrency_scaling,
        "rules": _abort_after(spec.rule_name, spec.timeout_s) if qmr else (),
    }
    if mode == "auto":
        return QueueConfig(queue_type="auto", priority=spec.priority, **common)
    return QueueConfig(
        query_concurrency=slots,
        memory_percent_to_use=spec.memory_percent,
        max_execution_time=spec.timeout_s * 1000 if wlm else 0,
        **common,
    )

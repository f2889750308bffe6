"""Scenario spaces: what a sweep varies, read from TOML or built in Python.

A :class:`Space` keeps three kinds of axes apart because they mean different
things:

- **decisions**: what the operator may deploy (slot split, memory split,
  Concurrency Scaling per queue, ``max_concurrency_scaling_clusters``, SQA,
  QMR timeouts and any rule's action or thresholds
  (``qmr.<queue>.<rule>.action``, ``qmr.<queue>.<rule>.<metric>``), manual or
  auto WLM (``wlm_mode``) and auto WLM's queue priorities). Each decision
  point is applied to the base WLM configuration and cluster settings by
  :func:`apply_decision`. A point drops the decisions
  its WLM mode has no use for (slots, memory and WLM timeouts under auto WLM,
  priorities under manual WLM), so a product of ``wlm_mode`` with a slot split
  runs auto WLM once, not once per split. Every value is checked when the
  space is read: a bad one is an error naming its key.
- **scenarios**: the futures to plan for (arrival-rate ``growth``, ELT start
  shift ``elt_shift_min``, data volume ``data_growth``: every statement's solo
  work and memory times the factor, :attr:`ClusterSettings.work_scale`;
  injected incidents ``faults``: ``"none"`` or ``--fault`` items such as
  ``"failed_run:1:60, stuck_query:3:2"``, put into each replicated week by
  :func:`dpcsim.workload.inject.inject_faults`).
- **assumptions**: what AWS does not document or the model fitted. Every
  assumption name is a :class:`~dpcsim.engine.ClusterSettings` field and is
  applied with :func:`dataclasses.replace`, so a field added to the settings is
  an assumption axis without code changes.

Each block lists axes (``name = [values]``) and a ``method``: ``cartesian``
(every combination, the default), ``list`` (``points = [{...}, ...]``),
``random`` or ``lhs`` (``samples = N`` points; Latin hypercube from
:class:`scipy.stats.qmc.LatinHypercube`; an axis may be a ``{low, high}``
range, sampled uniformly, or a list, sampled by index).

Decision axes with structure:

- ``[decisions.slots]``: ``total`` slots split over ``queues`` in every
  integer way with each queue at least ``min`` (default 1), filtered by
  ``constraints`` such as ``"adhoc <= 5"``; gives ``slots.<queue>``.
- ``[decisions.memory]``: percentage grids over ``queues`` in ``step_pct``
  steps summing to 100, each at least ``min_pct``, with ``constraints``; gives
  ``memory_pct.<queue>``.
- ``[decisions.schedule]``: time-of-day WLM schedules, each an extra decision
  point (not crossed with the other axes). ``[[decisions.schedule.candidates]]``
  tables hold ``elt`` (in force over the ELT window) and ``day`` (the rest of
  the day), each a table of WLM decision values (``slots``, ``memory_pct``,
  ``concurrency_scaling``, ``wlm_timeout_s``, under auto WLM ``priority``, per
  queue, ``sqa``, ``sqa_max_s``: dynamic WLM properties only);
  ``at = ["HH:MM", "HH:MM"]`` (the switches to ``elt`` and to ``day``) and
  ``timezone`` default to the objectives' ``elt_window`` and ``timezone``. A
  candidate becomes the point ``schedule.elt.<name>``, ``schedule.day.<name>``,
  ``schedule.elt_at``, ``schedule.day_at``, ``schedule.timezone``;
  :func:`schedule_of` builds its
  :class:`~dpcsim.engine.schedule.WLMSchedule`, and the engine simulates the
  switches and their transitions.

Every run has a stable key (:func:`run_key`): a hash of its decision,
scenario and assumption values and its replication.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Final, get_args

import numpy as np

from dpcsim.alarms.spec import request_metric_names
from dpcsim.designs import ELTContract
from dpcsim.engine.schedule import WLMSchedule
from dpcsim.engine.settings import ClusterSettings
from dpcsim.errors import InputError
from dpcsim.wlm import (
    QMRPredicate,
    QMRRule,
    QueueConfig,
    SQAConfig,
    WLMConfig,
    WLMConfigError,
)
from dpcsim.wlm.config import QueueType
from dpcsim.workload.faults import parse_faults

__all__ = [
    "METHODS",
    "SCENARIO_AXES",
    "Objectives",
    "Space",
    "apply_assumption",
    "apply_decision",
    "axis_id",
    "baseline_decision",
    "is_schedule",
    "queue_alarms",
    "read_space",
    "run_key",
    "schedule_of",
    "slot_splits",
    "space_from_dict",
]

METHODS: Final = ("cartesian", "list", "random", "lhs")
#: Scenario axes and their meaning (units in the names).
SCENARIO_AXES: Final[dict[str, str]] = {
    "growth": "arrival-rate multiplier of all but the ELT's statements",
    "elt_shift_min": "nightly ELT start shift [min]",
    "data_growth": "data-volume multiplier of every statement's work and memory",
    "faults": "injected incidents: 'none' or KIND:DAY[:ARG] items, comma-separated",
}
#: Decision axes outside the structured slot/memory splits.
_PLAIN_DECISIONS: Final = (
    "max_concurrency_scaling_clusters",
    "sqa",
    "sqa_max_s",
    "wlm_mode",
)
_PER_QUEUE_DECISIONS: Final = (
    "slots",
    "memory_pct",
    "concurrency_scaling",
    "timeout_s",
    "wlm_timeout_s",
    "priority",
)
#: Actions a ``qmr.<queue>.<rule>.action`` decision may give a rule (AWS's
#: ``change_query_priority`` also needs its priority: not one value).
QMR_DECISION_ACTIONS: Final = ("log", "abort", "hop")
#: WLM modes of the ``wlm_mode`` decision (a queue's ``queue_type``).
WLM_MODES: Final = get_args(QueueType)
#: Per-queue decisions that apply under one WLM mode only (AWS's table of WLM
#: properties: concurrency, memory and the WLM timeout are manual WLM's,
#: priority is auto WLM's); a point drops the others.
_MODE_ONLY: Final[dict[str, str]] = {
    "slots": "manual",
    "memory_pct": "manual",
    "wlm_timeout_s": "manual",
    "priority": "auto",
}
#: Decision kinds a schedule entry may set: dynamic WLM properties only (the
#: QMR ``timeout_s`` rules and the cluster parameter
#: ``max_concurrency_scaling_clusters`` are not switched by a WLM schedule).
_SCHEDULE_KINDS: Final = (
    "slots",
    "memory_pct",
    "concurrency_scaling",
    "wlm_timeout_s",
    "priority",
    "sqa",
    "sqa_max_s",
)
_SCHEDULE_PREFIX: Final = "schedule."
_CONSTRAINT: Final = re.compile(
    r"^\s*([A-Za-z_][\w.]*)\s*(<=|>=|==|!=|<|>)\s*(-?\d+(?:\.\d*)?)\s*$"
)
_OPS: Final = {
    "<=": lambda a, b: a <= b,
    ">=": lambda a, b: a >= b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    ">": lambda a, b: a > b,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Objectives:
    """What a recommended configuration must meet (defaults from the design).

    Attributes
    ----------
    max_alarm_transitions
        Transitions to ALARM allowed per run under normal load (0: no alarm).
    alarms
        Alarms the objective counts (empty: every alarm of the run).
    elt_on_time_probability
        Least share of ELT nights finished inside the window.
    adhoc_p95_wait_s
        Most adhoc p95 queue wait [s].
    robust_share
        Share of the assumption points under which a configuration must meet
        every objective (1.0: all of them).
    elt_window
        The ELT window ``("HH:MM", "HH:MM")`` local time, and ``timezone``.
        The design starts the ELT at 02:00 JST and names no deadline; 09:00,
        the start of the learners' day, is assumed.
    """

    max_alarm_transitions: float = 0.0
    alarms: tuple[str, ...] = ("Alert-WLM-Queue",)
    elt_on_time_probability: float = 0.9
    adhoc_p95_wait_s: float = 60.0
    robust_share: float = 1.0
    elt_window: tuple[str, str] = ("02:00", "09:00")
    timezone: str = "Asia/Tokyo"


@dataclass(frozen=True, slots=True, kw_only=True)
class Space:
    """A resolved sweep space: the points of each kind, plus sweep settings.

    Attributes
    ----------
    decisions, scenarios, assumptions
        The points (name -> value dicts); the baseline decision is always among
        the decisions.
    baseline
        The decision point of the design as configured.
    seed
        Root of every random stream (see :mod:`dpcsim.experiments.replicate`).
    replications, max_replications
        Replications per point, and the cap of the sequential rule.
    target_rel_half_width, level
        Target relative CI half-width of the sequential rule, CI level.
    objectives
        What :mod:`dpcsim.experiments.recommend` checks.
    source
        The TOML text the space was read from (copied into the sweep folder).
    """

    decisions: tuple[dict[str, Any], ...]
    scenarios: tuple[dict[str, Any], ...] = ({},)
    assumptions: tuple[dict[str, Any], ...] = ({},)
    baseline: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    replications: int = 5
    max_replications: int = 5
    target_rel_half_width: float = 0.1
    level: float = 0.95
    objectives: Objectives = field(default_factory=Objectives)
    source: str = ""

    def points(self) -> list[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]]:
        """Every (decision, scenario, assumption) combination, in a fixed order."""
        return list(itertools.product(self.decisions, self.scenarios, self.assumptions))


def axis_id(prefix: str, point: Mapping[str, Any]) -> str:
    """A short stable id of one point (``prefix`` + 10 hex digits)."""
    return prefix + _digest(point)[:10]


def run_key(
    decision: Mapping[str, Any],
    scenario: Mapping[str, Any],
    assumption: Mapping[str, Any],
    replication: int,
) -> str:
    """The stable key of one run: a hash of its values and replication."""
    payload = {
        "decision": dict(decision),
        "scenario": dict(scenario),
        "assumption": dict(assumption),
        "replication": int(replication),
    }
    return _digest(payload)[:20]


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def read_space(path: str | Path) -> Space:
    """Read a space TOML file; InputError naming the file and key on a bad entry."""
    source = str(path)
    text = Path(path).read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"not valid TOML: {exc}", source=source) from None
    return space_from_dict(data, source=source, text=text)


def space_from_dict(
    data: Mapping[str, Any],
    *,
    source: str = "<space>",
    text: str = "",
    base: WLMConfig | None = None,
    settings: ClusterSettings | None = None,
    elt: ELTContract | None = None,
    alarms: Sequence[Mapping[str, Any]] | None = None,
) -> Space:
    """Build a :class:`Space` from the TOML structure (the Python equivalent).

    Parameters
    ----------
    data
        Tables ``sweep``, ``decisions``, ``scenarios``, ``assumptions``,
        ``objectives`` (all optional).
    source
        Name used in error messages.
    text
        The TOML text, kept for the sweep folder.
    base, settings
        The base WLM configuration and settings (default: the DPC design and
        AWS defaults), used to resolve the baseline decision.
    elt
        The design's ELT contract: the default of ``objectives.elt_window``
        and ``objectives.timezone``.
    alarms
        The design's PutMetricAlarm requests: those on ``WLMQueueLength``
        (:func:`queue_alarms`) are the default of ``objectives.alarms``.
    """
    _known(
        data,
        ("sweep", "decisions", "scenarios", "assumptions", "objectives"),
        "",
        source,
    )
    sweep = _table(data, "sweep", source)
    _known(
        sweep,
        ("seed", "replications", "max_replications", "target_rel_half_width", "level"),
        "sweep",
        source,
    )
    seed = _int(sweep.get("seed", 0), "sweep.seed", source, 0)
    reps = _int(sweep.get("replications", 5), "sweep.replications", source, 1)
    cap = _int(
        sweep.get("max_replications", reps), "sweep.max_replications", source, reps
    )
    rel = _float(
        sweep.get("target_rel_half_width", 0.1),
        "sweep.target_rel_half_width",
        source,
        0.0,
        math.inf,
    )
    level = _float(sweep.get("level", 0.95), "sweep.level", source, 0.5, 0.999999)
    if base is None:
        from dpcsim.designs.dpc_wlm import dpc_design_config

        base = dpc_design_config()
    settings = settings or ClusterSettings()
    objectives = _objectives(
        _table(data, "objectives", source),
        source,
        elt,
        None if alarms is None else queue_alarms(alarms),
    )
    decisions_raw = dict(_table(data, "decisions", source))
    schedules = _schedule_points(
        decisions_raw.pop("schedule", None), base, settings, objectives, source
    )
    decisions = _decision_points(decisions_raw, base, source, seed)
    _check_decisions(decisions, base, settings, source)
    baseline = _applicable(
        baseline_decision(base, settings, decisions[0] if decisions else {}), base
    )
    if baseline not in decisions:
        decisions.insert(0, baseline)
    decisions += [p for p in schedules if p not in decisions]
    scenarios = _points(
        _table(data, "scenarios", source),
        "scenarios",
        source,
        seed,
        allowed=tuple(SCENARIO_AXES),
    )
    setting_names = tuple(
        f.name for f in fields(ClusterSettings) if f.name != "storage"
    )
    assumptions = _points(
        _table(data, "assumptions", source),
        "assumptions",
        source,
        seed,
        allowed=setting_names,
    )
    for point in assumptions:
        apply_assumption(settings, point, source=source)
    for point in scenarios:
        _check_scenario(point, source)
    return Space(
        decisions=tuple(decisions),
        scenarios=tuple(scenarios),
        assumptions=tuple(assumptions),
        baseline=baseline,
        seed=seed,
        replications=reps,
        max_replications=cap,
        target_rel_half_width=rel,
        level=level,
        objectives=objectives,
        source=text,
    )


def slot_splits(
    total: int, queues: Sequence[str], minimum: int = 1, step: int = 1
) -> list[tuple[int, ...]]:
    """Every way to write ``total`` as ``len(queues)`` multiples of ``step`` >= minimum.

    >>> slot_splits(4, ["a", "b"])
    [(1, 3), (2, 2), (3, 1)]
    """
    n = len(queues)
    out: list[tuple[int, ...]] = []

    def rec(prefix: tuple[int, ...], rest: int) -> None:
        if len(prefix) == n - 1:
            if rest >= minimum and rest % step == 0:
                out.append((*prefix, rest))
            return
        for v in range(minimum, rest - minimum * (n - len(prefix) - 1) + 1, step):
            rec((*prefix, v), rest - v)

    if n:
        rec((), total)
    return out


def baseline_decision(
    base: WLMConfig, settings: ClusterSettings, like: Mapping[str, Any]
) -> dict[str, Any]:
    """The decision point of ``base``/``settings`` for the axes ``like`` has."""
    out: dict[str, Any] = {}
    for name in like:
        kind, _, queue = name.partition(".")
        if kind in _PER_QUEUE_DECISIONS:
            q = base.queues[base.queue_names.index(queue)]
            if kind == "slots":
                out[name] = q.query_concurrency
            elif kind == "memory_pct":
                out[name] = q.memory_percent_to_use
            elif kind == "concurrency_scaling":
                out[name] = q.concurrency_scaling
            elif kind == "wlm_timeout_s":
                out[name] = q.max_execution_time // 1000
            elif kind == "priority":
                out[name] = q.priority
            else:
                out[name] = _qmr_timeout_s(q.rules)
        elif name == "max_concurrency_scaling_clusters":
            out[name] = settings.max_concurrency_scaling_clusters
        elif name == "wlm_mode":
            out[name] = "auto" if base.is_auto else "manual"
        elif kind == "qmr":
            out[name] = _qmr_value(base, name)
        elif name == "sqa":
            out[name] = base.sqa is not None and base.sqa.enabled
        elif name == "sqa_max_s":
            out[name] = 0 if base.sqa is None else base.sqa.max_execution_time // 1000
    return out


def apply_decision(
    base: WLMConfig, settings: ClusterSettings, point: Mapping[str, Any]
) -> tuple[WLMConfig, ClusterSettings]:
    """The WLM configuration and settings of one decision point.

    Names: ``slots.<q>``, ``memory_pct.<q>``, ``concurrency_scaling.<q>``
    (auto | off), ``timeout_s.<q>`` (QMR abort on ``query_execution_time``
    [s], 0 = none), ``wlm_timeout_s.<q>`` (the WLM timeout
    ``max_execution_time`` [s], 0 = none), ``max_concurrency_scaling_clusters``,
    ``sqa`` (bool), ``sqa_max_s`` (0 dynamic, else 1..20 [s]). For a schedule
    point (:func:`is_schedule`) the configuration is its ``day`` entry, the
    static part every entry shares; :func:`schedule_of` gives the schedule.
    """
    if is_schedule(point):
        return apply_decision(base, settings, _schedule_entry(point, "day"))
    queues = list(base.queues)
    names = base.queue_names
    if "wlm_mode" in point:
        queues = _in_mode(queues, point["wlm_mode"])
    for name, value in sorted(point.items()):
        kind, _, qname = name.partition(".")
        if kind == "qmr":
            parts = _qmr_parts(name, base)
            if parts is None:
                raise InputError(
                    f"{name!r}: expected qmr.<queue>.<rule>.<action | predicate "
                    f"metric> with queue in {list(names)}",
                    location=name,
                )
            i = names.index(parts[0])
            queues[i] = _with_qmr(queues[i], parts[1], parts[2], value)
            continue
        if kind not in _PER_QUEUE_DECISIONS:
            continue
        i = names.index(qname)
        q = queues[i]
        if kind == "slots":
            q = replace(q, query_concurrency=int(value))
        elif kind == "memory_pct":
            q = replace(q, memory_percent_to_use=int(value))
        elif kind == "concurrency_scaling":
            q = replace(q, concurrency_scaling=str(value))  # type: ignore[arg-type]
        elif kind == "wlm_timeout_s":
            q = replace(q, max_execution_time=int(value) * 1000)
        elif kind == "priority":
            q = replace(q, priority=str(value))  # type: ignore[arg-type]
        else:
            q = replace(q, rules=_with_timeout(q.rules, qname, int(value)))
        queues[i] = q
    sqa = base.sqa
    if "sqa" in point:
        sqa = SQAConfig(max_execution_time=0) if point["sqa"] else None
    if "sqa_max_s" in point and sqa is not None:
        sqa = SQAConfig(max_execution_time=int(point["sqa_max_s"]) * 1000)
    config = WLMConfig(queues=tuple(queues), sqa=sqa)
    if "max_concurrency_scaling_clusters" in point:
        settings = replace(
            settings,
            max_concurrency_scaling_clusters=int(
                point["max_concurrency_scaling_clusters"]
            ),
        )
    return config, settings


def is_schedule(point: Mapping[str, Any]) -> bool:
    """Whether a decision point is a time-of-day schedule (``schedule.*`` keys)."""
    return any(str(k).startswith(_SCHEDULE_PREFIX) for k in point)


def schedule_of(
    base: WLMConfig, settings: ClusterSettings, point: Mapping[str, Any]
) -> WLMSchedule | None:
    """The WLM schedule of a schedule decision point (None for any other point)."""
    if not is_schedule(point):
        return None
    elt, _ = apply_decision(base, settings, _schedule_entry(point, "elt"))
    day, _ = apply_decision(base, settings, _schedule_entry(point, "day"))
    return WLMSchedule(
        switches=(
            (str(point["schedule.elt_at"]), elt),
            (str(point["schedule.day_at"]), day),
        ),
        timezone=str(point["schedule.timezone"]),
    )


def _schedule_entry(point: Mapping[str, Any], entry: str) -> dict[str, Any]:
    """The plain decision point of a schedule's ``elt`` or ``day`` entry."""
    prefix = f"{_SCHEDULE_PREFIX}{entry}."
    return {k.removeprefix(prefix): v for k, v in point.items() if k.startswith(prefix)}


def _schedule_points(
    raw: Any,
    base: WLMConfig,
    settings: ClusterSettings,
    objectives: Objectives,
    source: str,
) -> list[dict[str, Any]]:
    """Decision points of ``[decisions.schedule]`` (see the module docstring)."""
    if raw is None:
        return []
    where = "decisions.schedule"
    if not isinstance(raw, Mapping):
        raise InputError(f"{raw!r}: expected a table", source=source, location=where)
    _known(raw, ("candidates", "at", "timezone"), where, source)
    at = raw.get("at", list(objectives.elt_window))
    if (
        not isinstance(at, list)
        or len(at) != 2
        or not all(isinstance(t, str) and re.fullmatch(r"\d\d:\d\d", t) for t in at)
    ):
        raise InputError(
            f"{at!r}: expected two 'HH:MM' strings (switch to elt, switch to day)",
            source=source,
            location=f"{where}.at",
        )
    timezone = str(raw.get("timezone", objectives.timezone))
    candidates = _list(raw.get("candidates"), f"{where}.candidates", source)
    if not candidates:
        raise InputError(
            "empty list; expected at least one {elt, day} candidate",
            source=source,
            location=f"{where}.candidates",
        )
    out = []
    for n, cand in enumerate(candidates):
        loc = f"{where}.candidates[{n}]"
        if not isinstance(cand, Mapping):
            raise InputError(f"{cand!r}: expected a table", source=source, location=loc)
        _known(cand, ("elt", "day"), loc, source)
        point: dict[str, Any] = {}
        for entry in ("elt", "day"):
            values = _schedule_values(cand.get(entry), base, f"{loc}.{entry}", source)
            point.update(
                {f"{_SCHEDULE_PREFIX}{entry}.{k}": v for k, v in values.items()}
            )
        point[f"{_SCHEDULE_PREFIX}elt_at"] = at[0]
        point[f"{_SCHEDULE_PREFIX}day_at"] = at[1]
        point[f"{_SCHEDULE_PREFIX}timezone"] = timezone
        try:
            schedule_of(base, settings, point)
        except (InputError, WLMConfigError) as exc:
            raise InputError(str(exc), source=source, location=loc) from None
        out.append(point)
    return out


def _schedule_values(
    raw: Any, base: WLMConfig, where: str, source: str
) -> dict[str, Any]:
    """One schedule entry's decision values, flattened to ``<kind>.<queue>``."""
    if not isinstance(raw, Mapping):
        raise InputError(
            f"{raw!r}: expected a table of WLM decision values",
            source=source,
            location=where,
        )
    flat: dict[str, Any] = {}
    for key, value in raw.items():
        if isinstance(value, Mapping):
            flat.update({f"{key}.{k}": v for k, v in value.items()})
        else:
            flat[key] = value
    for name, value in flat.items():
        kind, _, queue = name.partition(".")
        per_queue = kind in _PER_QUEUE_DECISIONS and queue in base.queue_names
        plain = not queue and kind in ("sqa", "sqa_max_s")
        if kind not in _SCHEDULE_KINDS or not (per_queue or plain):
            raise InputError(
                f"{name!r} cannot be switched by a WLM schedule; expected "
                f"<kind>.<queue> with kind in {list(_SCHEDULE_KINDS[:4])} and queue "
                f"in {list(base.queue_names)}, or sqa / sqa_max_s (dynamic WLM "
                "properties only)",
                source=source,
                location=f"{where}.{name}",
            )
        if isinstance(value, list | Mapping):
            raise InputError(
                f"{value!r}: expected one value (a schedule entry is one "
                "configuration)",
                source=source,
                location=f"{where}.{name}",
            )
    return flat


def apply_assumption(
    settings: ClusterSettings, point: Mapping[str, Any], *, source: str = "<space>"
) -> ClusterSettings:
    """``settings`` with each assumption's field replaced (by name)."""
    if not point:
        return settings
    try:
        return replace(settings, **dict(point))
    except (InputError, TypeError, ValueError) as exc:
        raise InputError(
            f"assumption point {dict(point)}: {exc}",
            source=source,
            location="assumptions",
        ) from None


def _qmr_timeout_s(rules: Sequence[QMRRule]) -> int:
    for rule in rules:
        for pred in rule.predicate:
            if rule.action == "abort" and pred.metric_name == "query_execution_time":
                return int(float(pred.value))
    return 0


def _with_timeout(
    rules: Sequence[QMRRule], queue: str, seconds: int
) -> tuple[QMRRule, ...]:
    """Replace the queue's execution-time abort rule by one at ``seconds`` (0: none)."""
    kept = tuple(
        r
        for r in rules
        if not (
            r.action == "abort"
            and any(p.metric_name == "query_execution_time" for p in r.predicate)
        )
    )
    if seconds <= 0:
        return kept
    pred = QMRPredicate(metric_name="query_execution_time", operator=">", value=seconds)
    name = re.sub(r"\W", "_", f"{queue}_abort_{seconds}s")[:32]
    return (*kept, QMRRule(rule_name=name, predicate=(pred,), action="abort"))


def _flat(prefix: str, value: Any) -> dict[str, Any]:
    """Nested tables as dotted names: ``{"a": {"b": [1]}}`` -> ``{"a.b": [1]}``."""
    if not isinstance(value, Mapping):
        return {prefix: value}
    out: dict[str, Any] = {}
    for key, inner in value.items():
        out.update(_flat(f"{prefix}.{key}", inner))
    return out


def _qmr_parts(name: str, base: WLMConfig) -> tuple[str, str, str] | None:
    """``(queue, rule, field)`` of ``qmr.<queue>.<rule>.<field>``; None if not one."""
    parts = name.split(".")
    if len(parts) != 4 or parts[0] != "qmr" or parts[1] not in base.queue_names:
        return None
    return parts[1], parts[2], parts[3]


def _qmr_rule(q: QueueConfig, rule_name: str) -> int:
    """Index of queue ``q``'s rule ``rule_name`` (InputError naming the others)."""
    names = [r.rule_name for r in q.rules]
    if rule_name not in names:
        raise InputError(
            f"queue {q.name!r} has no QMR rule {rule_name!r}; expected one of {names}",
            location=f"qmr.{q.name}.{rule_name}",
        )
    return names.index(rule_name)


def _qmr_value(base: WLMConfig, name: str) -> Any:
    """The base configuration's value of decision ``qmr.<queue>.<rule>.<field>``."""
    parts = _qmr_parts(name, base)
    if parts is None:
        raise InputError(f"{name!r}: not a QMR decision", location=name)
    queue, rule_name, field = parts
    q = base.queues[base.queue_names.index(queue)]
    rule = q.rules[_qmr_rule(q, rule_name)]
    if field == "action":
        return rule.action
    for pred in rule.predicate:
        if pred.metric_name == field:
            return pred.value
    return None


def _with_qmr(q: QueueConfig, rule_name: str, field: str, value: Any) -> QueueConfig:
    """Queue ``q`` with rule ``rule_name``'s action or one threshold replaced."""
    k = _qmr_rule(q, rule_name)
    rule = q.rules[k]
    where = f"qmr.{q.name}.{rule_name}.{field}"
    if field == "action":
        if value not in QMR_DECISION_ACTIONS:
            raise InputError(
                f"action {value!r}; expected one of {list(QMR_DECISION_ACTIONS)}",
                location=where,
            )
        rule = replace(rule, action=value, value=None)
    else:
        metrics = [p.metric_name for p in rule.predicate]
        if field not in metrics:
            raise InputError(
                f"rule {rule_name!r} has no predicate on {field!r}; expected "
                f"'action' or one of {metrics}",
                location=where,
            )
        rule = replace(
            rule,
            predicate=tuple(
                replace(p, value=value) if p.metric_name == field else p
                for p in rule.predicate
            ),
        )
    rules = list(q.rules)
    rules[k] = rule
    return replace(q, rules=tuple(rules))


def _check_scenario(point: Mapping[str, Any], source: str) -> None:
    """Raise InputError naming a scenario value out of its range."""
    for name in ("growth", "data_growth"):
        if name in point:
            value = point[name]
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            if not (ok and 0 < value <= 1000):
                raise InputError(
                    f"{value!r}: expected a multiplier in (0, 1000]",
                    source=source,
                    location=f"scenarios.{name}",
                )
    if "faults" in point:
        value = point["faults"]
        if not isinstance(value, str):
            raise InputError(
                f"{value!r}: expected a string of KIND:DAY[:ARG] items or 'none'",
                source=source,
                location="scenarios.faults",
            )
        try:
            parse_faults(value)
        except InputError as exc:
            raise InputError(
                f"{value!r}: {exc}", source=source, location="scenarios.faults"
            ) from None
    if "elt_shift_min" in point:
        value = point["elt_shift_min"]
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not (ok and math.isfinite(value)):
            raise InputError(
                f"{value!r}: expected a shift in minutes",
                source=source,
                location="scenarios.elt_shift_min",
            )


def _in_mode(queues: list[QueueConfig], mode: Any) -> list[QueueConfig]:
    """The queues under WLM mode ``mode`` (routing, scaling and rules kept).

    Into auto WLM a queue loses what auto WLM sets itself (slots, memory) or
    ignores (the WLM timeout) and takes priority ``normal`` (AWS's default)
    unless a ``priority`` decision gives another; into manual WLM it loses its
    priority and takes AWS's default of 5 slots unless a ``slots`` decision
    gives others.
    """
    if mode not in WLM_MODES:
        raise InputError(
            f"wlm_mode {mode!r}: expected one of {list(WLM_MODES)}",
            location="wlm_mode",
        )
    out = []
    for q in queues:
        if q.queue_type == mode:
            out.append(q)
        elif mode == "auto":
            out.append(
                replace(
                    q,
                    queue_type="auto",
                    query_concurrency=5,
                    memory_percent_to_use=None,
                    max_execution_time=0,
                    priority="normal",
                )
            )
        else:
            out.append(replace(q, queue_type="manual", priority="normal"))
    return out


def _applicable(point: dict[str, Any], base: WLMConfig) -> dict[str, Any]:
    """``point`` without the decisions its WLM mode has no use for."""
    mode = point.get("wlm_mode", "auto" if base.is_auto else "manual")
    return {
        name: value
        for name, value in point.items()
        if _MODE_ONLY.get(name.partition(".")[0], mode) == mode
    }


def _check_decisions(
    points: Sequence[Mapping[str, Any]],
    base: WLMConfig,
    settings: ClusterSettings,
    source: str,
) -> None:
    """Raise InputError for a decision point that cannot be applied.

    The error names the value at fault: a key alone, a split (``slots.*``,
    ``memory_pct.*``) as a whole, or else the point's values together (e.g.
    slot counts above AWS's 50 in total).
    """
    for point in points:
        try:
            apply_decision(base, settings, point)
        except (InputError, WLMConfigError, ValueError, TypeError) as exc:
            whole = exc
        else:
            continue
        mode = {k: v for k, v in point.items() if k == "wlm_mode"}
        groups: dict[str, dict[str, Any]] = {}
        for name, value in point.items():
            kind = name.partition(".")[0]
            group = kind if kind in ("slots", "memory_pct") else name
            groups.setdefault(group, {})[name] = value
        for part in groups.values():
            try:
                apply_decision(base, settings, {**mode, **part})
            except (InputError, WLMConfigError, ValueError, TypeError) as exc:
                whole = exc
                name, value = next(iter(part.items()))
                shown = value if len(part) == 1 else part
                break
        else:
            name, shown = "", dict(point)
        why = str(whole).split(": ", 1)[-1]
        raise InputError(
            f"{shown!r}: {why}",
            source=source,
            location=f"decisions.{name}" if name else "decisions",
        )


def _decision_points(
    raw: Mapping[str, Any], base: WLMConfig, source: str, seed: int
) -> list[dict[str, Any]]:
    """Decision points: structured splits become one axis each, then sampled."""
    axes: dict[str, list[Any]] = {}
    is_split = {
        "slots": isinstance(raw.get("slots"), Mapping) and "total" in raw["slots"],
        "memory": "memory" in raw,
    }
    plain: dict[str, Any] = {}
    for key, value in raw.items():
        if is_split.get(key, False):
            continue
        # TOML reads ``slots.adhoc = [...]`` as a nested table (and
        # ``qmr.adhoc.<rule>.action`` as three).
        if key != "points":
            plain.update(_flat(key, value))
        else:
            plain[key] = value
    for key in ("slots", "memory"):
        if is_split[key]:
            split = _split(raw[key], key, base, source)
            axes[f"{key}_split"] = split
    for name, value in plain.items():
        if name in ("method", "samples", "points"):
            continue
        kind, _, queue = name.partition(".")
        ok = (
            name in _PLAIN_DECISIONS
            or (kind in _PER_QUEUE_DECISIONS and queue in base.queue_names)
            or (kind == "qmr" and _qmr_parts(name, base) is not None)
        )
        if not ok:
            raise InputError(
                f"unknown decision {name!r}; expected one of {list(_PLAIN_DECISIONS)}, "
                f"<kind>.<queue> with kind in {list(_PER_QUEUE_DECISIONS)}, or "
                "qmr.<queue>.<rule>.<action | predicate metric>, with queue in "
                f"{list(base.queue_names)}",
                source=source,
                location=f"decisions.{name}",
            )
        axes[name] = _values(value, f"decisions.{name}", source)
    method = _method(raw, "decisions", source)
    if method == "list":
        combos = _list_points(raw, "decisions", source)
    else:
        combos = _sample(axes, method, raw, "decisions", source, seed)
    out: list[dict[str, Any]] = []
    for combo in combos:
        point: dict[str, Any] = {}
        for name, value in combo.items():
            if name.endswith("_split"):
                point.update(value)
            else:
                point[name] = value
        point = _applicable(point, base)
        if point not in out:
            out.append(point)
    return out


def _split(raw: Any, key: str, base: WLMConfig, source: str) -> list[dict[str, int]]:
    where = f"decisions.{key}"
    if not isinstance(raw, Mapping):
        raise InputError(f"{raw!r}: expected a table", source=source, location=where)
    if key == "slots":
        _known(raw, ("total", "queues", "min", "constraints"), where, source)
        queues = _queues(raw, where, base, source)
        total = _int(raw.get("total"), f"{where}.total", source, len(queues))
        minimum = _int(raw.get("min", 1), f"{where}.min", source, 1)
        splits = slot_splits(total, queues, minimum)
        prefix = "slots"
    else:
        _known(raw, ("step_pct", "min_pct", "queues", "constraints"), where, source)
        queues = _queues(raw, where, base, source)
        step = _int(raw.get("step_pct", 10), f"{where}.step_pct", source, 1)
        minimum = _int(raw.get("min_pct", step), f"{where}.min_pct", source, 1)
        splits = slot_splits(100, queues, minimum, step)
        prefix = "memory_pct"
    checks = [
        _constraint(c, f"{where}.constraints", source)
        for c in _list(raw.get("constraints", []), f"{where}.constraints", source)
    ]
    out = []
    for split in splits:
        values = dict(zip(queues, split, strict=True))
        if all(
            _OPS[op](values.get(name, math.nan), bound) for name, op, bound in checks
        ):
            out.append({f"{prefix}.{q}": v for q, v in values.items()})
    for name, _, _ in checks:
        if name not in queues:
            raise InputError(
                f"constraint on {name!r}: not one of the split's queues {queues}",
                source=source,
                location=f"{where}.constraints",
            )
    if not out:
        raise InputError(
            "no split satisfies the constraints", source=source, location=where
        )
    return out


def _queues(
    raw: Mapping[str, Any], where: str, base: WLMConfig, source: str
) -> list[str]:
    queues = [
        str(q)
        for q in _list(
            raw.get("queues", list(base.queue_names)), f"{where}.queues", source
        )
    ]
    for q in queues:
        if q not in base.queue_names:
            raise InputError(
                f"queue {q!r}: expected one of {list(base.queue_names)}",
                source=source,
                location=f"{where}.queues",
            )
    return queues


def _constraint(text: Any, where: str, source: str) -> tuple[str, str, float]:
    match = _CONSTRAINT.match(str(text))
    if not isinstance(text, str) or match is None:
        raise InputError(
            f"constraint {text!r}: expected 'name <op> number' with op "
            "one of <= >= < > == !=",
            source=source,
            location=where,
        )
    return match.group(1), match.group(2), float(match.group(3))


def _points(
    raw: Mapping[str, Any], kind: str, source: str, seed: int, *, allowed: Sequence[str]
) -> list[dict[str, Any]]:
    method = _method(raw, kind, source)
    if method == "list":
        points = _list_points(raw, kind, source)
        for p in points:
            for name in p:
                _allowed(name, allowed, kind, source)
        return points or [{}]
    axes: dict[str, Any] = {}
    for name, value in raw.items():
        if name in ("method", "samples", "points"):
            continue
        _allowed(name, allowed, kind, source)
        axes[name] = (
            value if _is_range(value) else _values(value, f"{kind}.{name}", source)
        )
    return _sample(axes, method, raw, kind, source, seed) or [{}]


def _allowed(name: str, allowed: Sequence[str], kind: str, source: str) -> None:
    if name not in allowed:
        raise InputError(
            f"unknown {kind[:-1]} {name!r}; expected one of {list(allowed)}",
            source=source,
            location=f"{kind}.{name}",
        )


def _sample(
    axes: Mapping[str, Any],
    method: str,
    raw: Mapping[str, Any],
    kind: str,
    source: str,
    seed: int,
) -> list[dict[str, Any]]:
    names = list(axes)
    if not names:
        return [{}]
    if method == "cartesian":
        for name in names:
            if _is_range(axes[name]):
                raise InputError(
                    "a {low, high} range needs method random or lhs",
                    source=source,
                    location=f"{kind}.{name}",
                )
        return [
            dict(zip(names, combo, strict=True))
            for combo in itertools.product(*(axes[n] for n in names))
        ]
    samples = _int(raw.get("samples"), f"{kind}.samples", source, 1)
    # One stream per block kind, so adding scenarios does not move decisions.
    block = ("decisions", "scenarios", "assumptions").index(kind)
    sequence = np.random.SeedSequence(seed, spawn_key=(1000 + block,))
    if method == "random":
        u = np.random.default_rng(sequence).random((samples, len(names)))
    else:
        from scipy.stats import qmc

        u = qmc.LatinHypercube(
            d=len(names), rng=np.random.default_rng(sequence)
        ).random(samples)
    out = []
    for row in u:
        point: dict[str, Any] = {}
        for name, x in zip(names, row, strict=True):
            axis = axes[name]
            if _is_range(axis):
                low, high = float(axis["low"]), float(axis["high"])
                point[name] = round(low + float(x) * (high - low), 6)
            else:
                point[name] = axis[min(int(x * len(axis)), len(axis) - 1)]
        out.append(point)
    return out


def _is_range(value: Any) -> bool:
    return isinstance(value, Mapping) and set(value) == {"low", "high"}


def _list_points(
    raw: Mapping[str, Any], kind: str, source: str
) -> list[dict[str, Any]]:
    points = _list(raw.get("points"), f"{kind}.points", source)
    for i, p in enumerate(points):
        if not isinstance(p, Mapping):
            raise InputError(
                f"{p!r}: expected a table",
                source=source,
                location=f"{kind}.points[{i}]",
            )
    return [dict(p) for p in points]


def _method(raw: Mapping[str, Any], kind: str, source: str) -> str:
    method = raw.get("method", "cartesian")
    if method not in METHODS:
        raise InputError(
            f"{method!r}: expected one of {list(METHODS)}",
            source=source,
            location=f"{kind}.method",
        )
    return str(method)


def queue_alarms(requests: Sequence[Mapping[str, Any]]) -> tuple[str, ...]:
    """Names of the alarms on WLM queueing (``WLMQueueLength``): the design's
    resize trigger and the default alarm objective."""
    return tuple(
        str(r["AlarmName"])
        for r in requests
        if "WLMQueueLength" in request_metric_names(r)
    )


def _objectives(
    raw: Mapping[str, Any],
    source: str,
    elt: ELTContract | None = None,
    queue: tuple[str, ...] | None = None,
) -> Objectives:
    names = tuple(f.name for f in fields(Objectives))
    _known(raw, names, "objectives", source)
    kwargs: dict[str, Any] = {}
    if queue is not None:  # the design's queueing alarms, unless the space says
        kwargs["alarms"] = queue
    if elt is not None:  # the design's ELT contract, unless the space says otherwise
        kwargs["elt_window"] = (elt.window_start, elt.window_end)
        kwargs["timezone"] = elt.timezone
    for name in ("max_alarm_transitions", "adhoc_p95_wait_s"):
        if name in raw:
            kwargs[name] = _float(
                raw[name], f"objectives.{name}", source, 0.0, math.inf
            )
    for name in ("elt_on_time_probability", "robust_share"):
        if name in raw:
            kwargs[name] = _float(raw[name], f"objectives.{name}", source, 0.0, 1.0)
    if "alarms" in raw:
        kwargs["alarms"] = tuple(
            str(a) for a in _list(raw["alarms"], "objectives.alarms", source)
        )
    if "elt_window" in raw:
        window = _list(raw["elt_window"], "objectives.elt_window", source)
        if len(window) != 2 or not all(
            isinstance(w, str) and re.fullmatch(r"\d\d:\d\d", w) for w in window
        ):
            raise InputError(
                f"{window!r}: expected two 'HH:MM' strings",
                source=source,
                location="objectives.elt_window",
            )
        kwargs["elt_window"] = (window[0], window[1])
    if "timezone" in raw:
        kwargs["timezone"] = str(raw["timezone"])
    return Objectives(**kwargs)


def _table(data: Mapping[str, Any], key: str, source: str) -> Mapping[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, Mapping):
        raise InputError(f"{value!r}: expected a table", source=source, location=key)
    return value


def _known(
    raw: Mapping[str, Any], names: Sequence[str], where: str, source: str
) -> None:
    for key in raw:
        if key not in names:
            loc = f"{where}.{key}" if where else key
            raise InputError(
                f"unknown key {key!r}; expected one of {list(names)}",
                source=source,
                location=loc,
            )


def _values(value: Any, where: str, source: str) -> list[Any]:
    values = value if isinstance(value, list) else [value]
    if not values:
        raise InputError(
            "empty list; expected at least one value", source=source, location=where
        )
    return values


def _list(value: Any, where: str, source: str) -> list[Any]:
    if not isinstance(value, list):
        raise InputError(f"{value!r}: expected a list", source=source, location=where)
    return value


def _int(value: Any, where: str, source: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InputError(
            f"{value!r}: expected an integer >= {minimum}",
            source=source,
            location=where,
        )
    return value


def _float(value: Any, where: str, source: str, low: float, high: float) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not (low <= float(value) <= high)
    ):
        raise InputError(
            f"{value!r}: expected a number in [{low}, {high}]",
            source=source,
            location=where,
        )
    return float(value)

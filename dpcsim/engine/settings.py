"""Cluster settings for the WLM engine, and their TOML reader.

:class:`ClusterSettings` holds everything the engine needs that is not in the
``wlm_json_configuration``: the node type and count (which fix the cluster's
memory and the Concurrency Scaling price), the Concurrency Scaling behaviour,
Short Query Acceleration's slots and run-time predictor, ``statement_timeout``,
the memory-aware service-time model and the auto-WLM approximation. The
bundled ``dpcsim/data/cluster_defaults.toml`` lists every key with its default.

The TOML file is read by :func:`read_cluster_settings`; keys may be written at
the top level or inside the tables ``[cluster]``, ``[concurrency_scaling]``,
``[sqa]``, ``[memory]``, ``[auto_wlm]`` and ``[contention]`` (whose keys
``model``, ``sigma``, ``kappa``, ``demand`` become ``contention_model`` etc.).
A ``[storage]`` table belongs to :mod:`dpcsim.metrics` and is kept untouched
in :attr:`ClusterSettings.storage`.
"""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any, Final, Literal

from dpcsim.constraints import Bound, Constraint, OneOf, check
from dpcsim.errors import InputError

__all__ = [
    "CS_MAX_NODES",
    "NODE_MEMORY_GIB",
    "NODE_PRICE_USD_PER_HOUR",
    "NODE_TYPES",
    "RA3_NODE_TYPES",
    "SECTIONS",
    "ClusterSettings",
    "read_cluster_settings",
]


def _node_types() -> dict[str, dict[str, Any]]:
    """Read the bundled node-type table (``dpcsim/data/node_types.toml``)."""
    text = (resources.files("dpcsim") / "data" / "node_types.toml").read_text("utf-8")
    return {str(v["name"]): dict(v) for v in tomllib.loads(text).values()}


#: Node type -> its row of ``dpcsim/data/node_types.toml`` (memory, price, sources).
NODE_TYPES: Final[dict[str, dict[str, Any]]] = _node_types()

#: Memory per node [GiB] by node type (AWS node-type specifications).
NODE_MEMORY_GIB: Final[dict[str, float]] = {
    k: float(v["memory_gib"]) for k, v in NODE_TYPES.items()
}

#: On-demand price per node-hour [USD], us-east-1 list prices; Concurrency Scaling
#: bills a scaling cluster at the main cluster's on-demand rate. Override with
#: ``cs_price_usd_per_node_hour`` for another region.
NODE_PRICE_USD_PER_HOUR: Final[dict[str, float]] = {
    k: float(v["price_usd_per_node_hour"]) for k, v in NODE_TYPES.items()
}

#: Most compute nodes a main cluster may have to use Concurrency Scaling.
CS_MAX_NODES: Final = 32

#: Node types on which Concurrency Scaling also runs writes.
RA3_NODE_TYPES: Final = frozenset(k for k, v in NODE_TYPES.items() if v["ra3"])

#: TOML table -> the setting keys it may hold.
SECTIONS: Final[dict[str, tuple[str, ...]]] = {
    "cluster": (
        "node_type",
        "node_count",
        "statement_timeout_ms",
        "wlm_apply_delay_s",
        "wlm_transition_memory",
        "qmr_switch",
    ),
    "concurrency_scaling": (
        "max_concurrency_scaling_clusters",
        "cs_start_delay_s",
        "cs_idle_stop_s",
        "cs_min_billed_s",
        "cs_free_credit_start_s",
        "cs_free_credit_cap_s",
        "cs_price_usd_per_node_hour",
    ),
    "sqa": (
        "sqa_slots",
        "sqa_predictor",
        "sqa_noise_sigma",
        "sqa_prior_s",
        "sqa_eviction",
    ),
    "memory": (
        "memory_model",
        "spill_penalty",
        "wlm_memory_fraction",
        "unspilled_memory_share",
    ),
    "auto_wlm": (
        "auto_max_concurrency",
        "auto_default_mem_mb",
        "auto_priority_weights",
        "auto_priority_switch",
    ),
    "contention": ("model", "sigma", "kappa", "demand"),
    "workload": ("work_scale",),
}

#: TOML tables whose keys are stored with a prefix (``[contention] model`` ->
#: ``contention_model``).
PREFIXED: Final = frozenset({"contention"})

Predictor = Literal["perfect", "noisy", "learned"]
MemoryModel = Literal["off", "spill"]
ContentionModel = Literal["usl", "none"]
Demand = Literal["observed", "solo"]

#: Default USL parameters: a throughput curve peaking at 15 running queries
#: (AWS's advice of at most 15 concurrent slots), to be replaced by a calibration
#: from the log (see ``cluster_defaults.toml`` for the source and its limits).
DEFAULT_SIGMA: Final = 0.02
DEFAULT_KAPPA: Final = 0.0044


#: The ranges and choices of every scalar setting, checked on construction.
SETTINGS_CONSTRAINTS: Final[tuple[Constraint, ...]] = (
    OneOf("node_type", tuple(sorted(NODE_MEMORY_GIB))),
    Bound("node_count", 1, 128, integer=True),
    Bound("statement_timeout_ms", 100, 2147483647, integer=True, also=(0,)),
    Bound("max_concurrency_scaling_clusters", 0, 10, integer=True),
    Bound("wlm_apply_delay_s", 0.0),
    OneOf("wlm_transition_memory", ("cluster", "queue")),
    OneOf("qmr_switch", ("running", "new")),
    OneOf("auto_priority_switch", ("waiting", "running")),
    Bound("work_scale", 0.0, 1000.0, lo_open=True),
    Bound("cs_start_delay_s", 0.0),
    Bound("cs_idle_stop_s", 0.0),
    Bound("cs_min_billed_s", 0.0),
    Bound("cs_free_credit_start_s", 0.0),
    Bound("cs_free_credit_cap_s", 0.0),
    Bound("sqa_noise_sigma", 0.0),
    Bound("sqa_prior_s", 0.0),
    Bound("spill_penalty", 0.0),
    Bound("cs_price_usd_per_node_hour", 0.0, also=(None,)),
    Bound("sqa_slots", 1, 50, integer=True),
    OneOf("sqa_predictor", ("perfect", "noisy", "learned")),
    OneOf("sqa_eviction", ("hop", "restart")),
    OneOf("memory_model", ("off", "spill")),
    Bound("wlm_memory_fraction", 0.0, 1.0, lo_open=True),
    Bound("unspilled_memory_share", 0.0, 1.0),
    Bound("auto_max_concurrency", 1, 1000, integer=True),
    Bound("auto_default_mem_mb", 0.0),
    OneOf("contention_model", ("usl", "none"), name="contention.model"),
    Bound("contention_sigma", 0.0, name="contention.sigma"),
    Bound("contention_kappa", 0.0, name="contention.kappa"),
    OneOf("contention_demand", ("observed", "solo"), name="contention.demand"),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class ClusterSettings:
    """Settings of the simulated cluster (defaults follow AWS's documented defaults).

    Attributes
    ----------
    node_type, node_count
        Main cluster nodes; memory per node from :data:`NODE_MEMORY_GIB`.
    statement_timeout_ms
        ``statement_timeout`` [ms]: queue + execution limit, 0 = off (AWS default
        0; otherwise 100..2147483647).
    wlm_apply_delay_s
        Time from a scheduled WLM switch until its dynamic properties are in
        force [s] (only with a :class:`~dpcsim.engine.schedule.WLMSchedule`).
        AWS documents only that the cluster is ``modifying`` meanwhile, not how
        long (UNCONFIRMED); 0 s by default.
    wlm_transition_memory
        During a scheduled switch's transition, whether a queue's new slot also
        needs room in the whole cluster's memory beside other queues' old
        queries (``"cluster"``, default: AWS says total use never exceeds 100 %)
        or only in its own queue's new memory (``"queue"``, the accounting of
        AWS's worked example, which shows one queue). See
        :mod:`dpcsim.engine.switching`.
    qmr_switch
        Which queries a scheduled switch's query monitoring rules check:
        ``"running"`` (default) every query, those running at the switch from
        their next check on; ``"new"`` only segments that start after it (a
        running query keeps the rules in force when it started). AWS says a
        QMR change takes effect without a reboot and that WLM checks running
        queries' metrics every 10 s, not which rules a running query meets
        (UNCONFIRMED). See :mod:`dpcsim.engine.switching`.
    max_concurrency_scaling_clusters
        0..10 (AWS parameter default 1). Scaling runs only on a cluster of 2..32
        nodes (:attr:`scaling_supported`).
    cs_start_delay_s
        Time from a scaling request until the cluster serves queries [s]; AWS
        documents none (UNCONFIRMED), 10 s by default.
    cs_idle_stop_s
        Idle time after which a scaling cluster stops [s] (undocumented by AWS;
        300 s by default).
    cs_min_billed_s
        Minimum billed per activation that ran queries [s] (one minute).
    cs_free_credit_start_s, cs_free_credit_cap_s
        Free-credit balance at t = 0 and its cap [s] (credits accrue one hour per
        24 h of main-cluster time; the 30 h cap is UNCONFIRMED on AWS's own
        pages, and credits carry over rather than expire at month end, which a
        third-party source claims, also UNCONFIRMED). The start balance defaults
        to the cap: a cluster that has run for 30 days or more without using
        scaling holds a full balance; set 0 for a new cluster.
    cs_price_usd_per_node_hour
        Price of scaling after free credits [USD per node-hour]; None = the
        us-east-1 on-demand price of ``node_type``.
    sqa_slots
        Slots of the SQA service class (UNCONFIRMED: undocumented by AWS; 5
        assumed).
    sqa_predictor, sqa_noise_sigma, sqa_prior_s
        SQA run-time prediction. ``learned`` (default; AWS predicts with a model
        that learns from the workload): mean of the execution times of the same
        fingerprint completed earlier in the run, ``sqa_prior_s`` [s] before any
        was seen (UNCONFIRMED: AWS's model is not documented). ``perfect`` (the
        true time, a what-if) and ``noisy`` (true time times a lognormal error
        with log-sd ``sqa_noise_sigma``).
    sqa_eviction
        What a query evicted from SQA keeps (AWS documents only the move to
        the first matching queue): ``hop`` = reassigned with its work when the
        queue has a free slot, else restarted; ``restart`` = always restarted
        (see :mod:`dpcsim.engine.sqa`).
    memory_model, spill_penalty, wlm_memory_fraction
        ``spill`` (default) stretches the execution of a query whose memory
        demand ``mem_mb`` is known and exceeds the memory of its slots (see
        :mod:`dpcsim.engine.memory`); queries without ``mem_mb`` are never
        slowed, so a workload without memory figures runs as under ``off``.
        ``spill_penalty`` (1.0, an assumption: AWS gives no factor) is the extra
        run time at zero memory; ``wlm_memory_fraction`` is the share of node
        memory WLM hands to user queues.
    unspilled_memory_share
        For a log with spill but no working memory (Redset, SYS_QUERY_DETAIL):
        the share of the memory it held at recording that a query which did
        not spill is taken to want (0..1; default 0.1, an assumption: the
        bundled generator's non-spilling queries want a median 8.6 %). A query
        that spilled X MB wants what it held + X
        (:func:`~dpcsim.engine.memory.memory_from_spill`).
    auto_max_concurrency, auto_default_mem_mb
        Auto WLM: cap on concurrently running queries (only with
        ``contention_model = "none"``; with contention, admission is by memory
        alone), and the memory [MB] assumed for a query whose ``mem_mb`` is
        unknown.
    auto_priority_weights
        Auto WLM: share weights of highest, high, normal, low, lowest in the
        shared capacity (UNCONFIRMED: AWS documents only that higher priorities
        get more resources and lower ones still progress).
    auto_priority_switch
        Auto WLM under a schedule: whether a switch's new queue priorities
        reach only waiting and later queries (``"waiting"``, default: AWS
        says of manual WLM's dynamic changes that running queries are not
        affected) or running ones too (``"running"``). AWS does not say
        (UNCONFIRMED). See :mod:`dpcsim.engine.autoswitching`.
    contention_model, contention_sigma, contention_kappa, contention_demand
        The ``[contention]`` table (``model``, ``sigma``, ``kappa``, ``demand``):
        ``usl`` shares each cluster's capacity by the Universal Scalability Law
        (:mod:`dpcsim.engine.contention`), ``none`` keeps fixed demands;
        ``demand = "observed"`` turns logged execution times into solo work
        first, ``"solo"`` takes them as solo work.
    work_scale
        ``[workload]`` table: multiplier of every statement's solo work and
        memory demand (the sweep's ``data_growth`` scenario: more rows to scan,
        join and sort). Work and memory are assumed to grow in proportion to
        the data, a first-order model (ASSUMPTION); 1 by default.
    storage
        The raw ``[storage]`` table, passed through to :mod:`dpcsim.metrics`.
    """

    node_type: str = "ra3.xlplus"
    node_count: int = 2
    statement_timeout_ms: int = 0
    wlm_apply_delay_s: float = 0.0
    wlm_transition_memory: Literal["cluster", "queue"] = "cluster"
    qmr_switch: Literal["running", "new"] = "running"
    max_concurrency_scaling_clusters: int = 1
    cs_start_delay_s: float = 10.0
    cs_idle_stop_s: float = 300.0
    cs_min_billed_s: float = 60.0
    cs_free_credit_start_s: float = 30 * 3600.0
    cs_free_credit_cap_s: float = 30 * 3600.0
    cs_price_usd_per_node_hour: float | None = None
    sqa_slots: int = 5
    sqa_predictor: Predictor = "learned"
    sqa_noise_sigma: float = 0.5
    sqa_prior_s: float = 5.0
    sqa_eviction: Literal["hop", "restart"] = "hop"
    memory_model: MemoryModel = "spill"
    spill_penalty: float = 1.0
    wlm_memory_fraction: float = 1.0
    unspilled_memory_share: float = 0.1
    auto_max_concurrency: int = 15
    auto_default_mem_mb: float = 1024.0
    auto_priority_weights: tuple[float, ...] = (16.0, 8.0, 4.0, 2.0, 1.0)
    auto_priority_switch: Literal["waiting", "running"] = "waiting"
    contention_model: ContentionModel = "usl"
    contention_sigma: float = DEFAULT_SIGMA
    contention_kappa: float = DEFAULT_KAPPA
    contention_demand: Demand = "observed"
    work_scale: float = 1.0
    storage: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check(self, SETTINGS_CONSTRAINTS)
        for bound in SETTINGS_CONSTRAINTS:
            value = getattr(self, bound.key)
            if isinstance(bound, Bound) and not bound.integer and value is not None:
                object.__setattr__(self, bound.key, float(value))
        if not isinstance(self.storage, dict):
            raise InputError(
                f"storage={self.storage!r}; expected a table", location="storage"
            )
        weights = self.auto_priority_weights
        ok = (
            isinstance(weights, tuple | list)
            and len(weights) == 5
            and all(
                isinstance(w, int | float) and not isinstance(w, bool) and w > 0
                for w in weights
            )
        )
        if not ok:
            raise InputError(
                f"auto_priority_weights={weights!r}; expected five positive numbers",
                location="auto_wlm.auto_priority_weights",
            )
        object.__setattr__(self, "auto_priority_weights", tuple(map(float, weights)))

    @property
    def cluster_memory_mb(self) -> float:
        """Memory WLM hands to user queues, whole cluster [MB]."""
        gib = NODE_MEMORY_GIB[self.node_type] * self.node_count
        return gib * 1024.0 * self.wlm_memory_fraction

    @property
    def price_usd_per_cluster_s(self) -> float:
        """Price of one scaling-cluster second after free credits [USD/s]."""
        per_node_h = self.cs_price_usd_per_node_hour
        if per_node_h is None:
            per_node_h = NODE_PRICE_USD_PER_HOUR[self.node_type]
        return per_node_h * self.node_count / 3600.0

    @property
    def scaling_supported(self) -> bool:
        """Whether the main cluster can use Concurrency Scaling at all.

        AWS requires a multi-node cluster of at most 32 compute nodes of a
        supported node type (facts 2.5; ``concurrency_scaling`` in
        ``dpcsim/data/node_types.toml``). Otherwise
        scaling stays off whatever the queues and
        ``max_concurrency_scaling_clusters`` say.
        """
        supported = bool(NODE_TYPES[self.node_type]["concurrency_scaling"])
        return supported and 2 <= self.node_count <= CS_MAX_NODES

    @property
    def is_ra3(self) -> bool:
        """True for RA3 node types (scaling also runs writes)."""
        return self.node_type in RA3_NODE_TYPES

    def to_dict(self) -> dict[str, Any]:
        """Return the settings as a flat dict (``from_dict`` inverts it)."""
        out = asdict(self)
        out["storage"] = dict(self.storage)
        out["auto_priority_weights"] = list(self.auto_priority_weights)
        return out

    @classmethod
    def from_dict(
        cls, value: dict[str, Any], *, source: str = "<settings>"
    ) -> ClusterSettings:
        """Build settings from a flat or sectioned dict.

        Raises
        ------
        InputError
            On an unknown key or table, or a value out of range.
        """
        flat = _flatten(value, source)
        try:
            return cls(**flat)
        except InputError as err:
            raise InputError(str(err), source=source) from None
        except TypeError as err:
            raise InputError(f"bad settings: {err}", source=source) from None


def read_cluster_settings(path: str | Path) -> ClusterSettings:
    """Read a cluster-settings TOML file (see ``dpcsim/data/cluster_defaults.toml``).

    Raises
    ------
    InputError
        When the file is missing, is not TOML, or has an unknown or bad key.
    """
    src = str(path)
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise InputError("file not found; expected a TOML file", source=src) from None
    except tomllib.TOMLDecodeError as err:
        raise InputError(f"not valid TOML ({err})", source=src) from None
    return ClusterSettings.from_dict(data, source=src)


_FIELDS: Final = {f.name for f in fields(ClusterSettings)}


def _flatten(value: dict[str, Any], source: str) -> dict[str, Any]:
    """Merge the tables into one flat dict, rejecting unknown keys."""
    if not isinstance(value, dict):
        raise InputError(f"settings must be a table, got {value!r}", source=source)
    flat: dict[str, Any] = {}
    for key, item in value.items():
        if key in SECTIONS:
            if not isinstance(item, dict):
                raise InputError(
                    f"[{key}] must be a table, got {item!r}",
                    source=source,
                    location=key,
                )
            for sub, sub_value in item.items():
                if sub not in SECTIONS[key]:
                    raise InputError(
                        f"unknown key {sub!r} in [{key}]; expected one of "
                        f"{list(SECTIONS[key])}",
                        source=source,
                        location=f"{key}.{sub}",
                    )
                flat[f"{key}_{sub}" if key in PREFIXED else sub] = sub_value
        elif key in _FIELDS:
            flat[key] = dict(item) if key == "storage" else item
        else:
            raise InputError(
                f"unknown key {key!r}; expected one of {sorted(_FIELDS)} or a table "
                f"{sorted(SECTIONS)}",
                source=source,
                location=key,
            )
    return flat

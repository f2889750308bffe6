"""Space files: axes kept apart, splits, sampling, stable keys, errors naming keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from dpcsim.designs.dpc_wlm import dpc_design_config
from dpcsim.engine import ClusterSettings
from dpcsim.errors import InputError
from dpcsim.experiments.space import (
    apply_assumption,
    apply_decision,
    read_space,
    run_key,
    slot_splits,
    space_from_dict,
)

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "space.toml"


def test_slot_splits_are_every_composition() -> None:
    splits = slot_splits(16, ["a", "b", "c"])
    # C(15, 2) compositions of 16 into 3 positive parts.
    assert len(splits) == 105
    assert len(set(splits)) == 105
    assert all(sum(s) == 16 and min(s) >= 1 for s in splits)


def test_constraints_filter_the_split_and_baseline_is_added() -> None:
    space = space_from_dict(
        {
            "decisions": {
                "slots": {
                    "total": 12,
                    "queues": ["batch", "admin", "adhoc"],
                    "constraints": ["adhoc <= 5", "admin >= 2"],
                }
            }
        }
    )
    swept = space.decisions[1:]
    assert all(d["slots.adhoc"] <= 5 and d["slots.admin"] >= 2 for d in swept)
    assert all(sum(d.values()) == 12 for d in swept)
    # The design's 8/3/5 (16 slots) is not a 12-slot split: added as baseline.
    assert space.decisions[0] == {"slots.batch": 8, "slots.admin": 3, "slots.adhoc": 5}
    assert space.baseline == space.decisions[0]


def test_memory_grid_sums_to_100() -> None:
    space = space_from_dict({"decisions": {"memory": {"step_pct": 10, "min_pct": 20}}})
    for point in space.decisions:
        assert sum(point.values()) == 100
    # 100 in steps of 10, each >= 20, over 3 queues: compositions of 10 into
    # 3 parts >= 2 = C(6, 2) = 15; the design's 50/20/30 is one of them.
    assert len(space.decisions) == 15


def test_lhs_samples_each_axis_stratum_once() -> None:
    space = space_from_dict(
        {
            "assumptions": {
                "method": "lhs",
                "samples": 8,
                "cs_start_delay_s": {"low": 0.0, "high": 80.0},
                "sqa_slots": [1, 2, 3, 4, 5, 6, 7, 8],
            }
        }
    )
    delays = sorted(p["cs_start_delay_s"] for p in space.assumptions)
    # Latin hypercube: one sample in each tenth-width stratum of the range.
    assert [int(d // 10) for d in delays] == list(range(8))
    assert sorted(p["sqa_slots"] for p in space.assumptions) == list(range(1, 9))


def test_assumptions_map_onto_settings_fields_by_name() -> None:
    settings = apply_assumption(
        ClusterSettings(), {"sqa_slots": 3, "spill_penalty": 2.0}
    )
    assert settings.sqa_slots == 3
    assert settings.spill_penalty == 2.0


def test_decision_changes_only_what_it_names() -> None:
    base = dpc_design_config()
    config, settings = apply_decision(
        base,
        ClusterSettings(),
        {
            "slots.adhoc": 4,
            "concurrency_scaling.adhoc": "auto",
            "max_concurrency_scaling_clusters": 3,
            "timeout_s.adhoc": 600,
            "sqa": False,
        },
    )
    adhoc = config.queues[config.queue_names.index("adhoc")]
    assert adhoc.query_concurrency == 4
    assert adhoc.concurrency_scaling == "auto"
    assert [p.value for r in adhoc.rules for p in r.predicate] == [600]
    assert config.sqa is None
    assert settings.max_concurrency_scaling_clusters == 3
    assert config.queues[0] == base.queues[0]


def test_run_key_is_stable_and_distinguishes_points() -> None:
    a = run_key({"slots.adhoc": 5}, {"growth": 1.5}, {}, 0)
    assert a == run_key({"slots.adhoc": 5}, {"growth": 1.5}, {}, 0)
    assert a != run_key({"slots.adhoc": 5}, {"growth": 1.5}, {}, 1)
    assert a != run_key({"slots.adhoc": 4}, {"growth": 1.5}, {}, 0)
    assert a != run_key({"slots.adhoc": 5}, {}, {"growth": 1.5}, 0)


def test_example_space_file_reads() -> None:
    space = read_space(EXAMPLE)
    assert len(space.decisions) > 1
    assert space.source.startswith("#")


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[sweep]\nreplications = 0\n", "sweep.replications"),
        ("[sweep]\nreplicas = 3\n", "sweep.replicas"),
        ("[decisions]\nslotz.adhoc = [1]\n", "decisions.slotz.adhoc"),
        (
            "[decisions.slots]\ntotal = 9\nconstraints = ['adhoc <== 5']\n",
            "decisions.slots.constraints",
        ),
        (
            "[decisions.slots]\ntotal = 9\nconstraints = ['nosuch <= 5']\n",
            "decisions.slots.constraints",
        ),
        ("[scenarios]\ngrowht = [1.0]\n", "scenarios.growht"),
        ("[assumptions]\nsqa_slotz = [3]\n", "assumptions.sqa_slotz"),
        ("[assumptions]\nsqa_slots = [0]\n", "assumptions"),
        ("[assumptions]\nmethod = 'sobol'\n", "assumptions.method"),
        ("[objectives]\nelt_window = ['2am', '6am']\n", "objectives.elt_window"),
    ],
)
def test_bad_space_names_the_key(tmp_path: Path, text: str, key: str) -> None:
    path = tmp_path / "space.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as info:
        read_space(path)
    assert info.value.location == key
    assert str(path) in str(info.value)

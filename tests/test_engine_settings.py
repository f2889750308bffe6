"""Cluster settings: defaults, TOML parsing, round trip and bad keys."""

from __future__ import annotations

from importlib import resources

import pytest

from dpcsim.engine import ClusterSettings, read_cluster_settings
from dpcsim.errors import InputError


def write(tmp_path, text):
    path = tmp_path / "cluster.toml"
    path.write_text(text)
    return path


def test_defaults_follow_aws_and_bundled_file_matches():
    s = ClusterSettings()
    assert s.max_concurrency_scaling_clusters == 1
    assert s.statement_timeout_ms == 0
    assert (s.cs_min_billed_s, s.cs_free_credit_cap_s) == (60.0, 30 * 3600)
    assert s.cluster_memory_mb == 2 * 32 * 1024
    bundled = resources.files("dpcsim") / "data" / "cluster_defaults.toml"
    with resources.as_file(bundled) as path:
        assert read_cluster_settings(path) == s


def test_sections_and_top_level_keys_and_storage(tmp_path):
    path = write(
        tmp_path,
        """
node_count = 4
[cluster]
node_type = "ra3.4xlarge"
[concurrency_scaling]
max_concurrency_scaling_clusters = 3
cs_start_delay_s = 30
[sqa]
sqa_predictor = "learned"
[storage]
anything = {nested = 1}
""",
    )
    s = read_cluster_settings(path)
    assert (s.node_type, s.node_count, s.max_concurrency_scaling_clusters) == (
        "ra3.4xlarge",
        4,
        3,
    )
    assert s.cs_start_delay_s == 30.0
    assert isinstance(s.cs_start_delay_s, float)
    assert s.sqa_predictor == "learned"
    assert s.storage == {"anything": {"nested": 1}}
    assert s.cluster_memory_mb == 4 * 96 * 1024
    assert s.price_usd_per_cluster_s == pytest.approx(3.26 * 4 / 3600)


def test_round_trip():
    s = ClusterSettings(
        node_type="dc2.large",
        node_count=3,
        storage={"a": 1},
        cs_price_usd_per_node_hour=0.5,
        sqa_predictor="noisy",
    )
    assert ClusterSettings.from_dict(s.to_dict()) == s
    assert not s.is_ra3


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("nodes = 2", "nodes"),
        ("[cluster]\nnode_typ = 'ra3.xlplus'", "cluster.node_typ"),
        ("[sqa]\nsqa_predictor = 'oracle'", "sqa_predictor"),
        (
            "[concurrency_scaling]\nmax_concurrency_scaling_clusters = 11",
            "max_concurrency_scaling_clusters",
        ),
        ("[cluster]\nstatement_timeout_ms = 50", "statement_timeout_ms"),
        ("[cluster]\nnode_type = 'ds2.xlarge'", "node_type"),
        ("[memory]\nspill_penalty = -1", "spill_penalty"),
        ("[bogus]\nx = 1", "bogus"),
        ("cluster = 3", "cluster"),
    ],
)
def test_bad_keys_and_values_name_file_and_key(tmp_path, text, key):
    path = write(tmp_path, text)
    with pytest.raises(InputError) as err:
        read_cluster_settings(path)
    assert key in str(err.value)
    assert str(path) in str(err.value)


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(InputError, match="not found"):
        read_cluster_settings(tmp_path / "nope.toml")
    with pytest.raises(InputError, match="not valid TOML"):
        read_cluster_settings(write(tmp_path, "node_count = = 2"))

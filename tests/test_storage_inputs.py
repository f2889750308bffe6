"""Storage is a model, and says so: PercentageDiskSpaceUsed only from storage inputs.

Exports are built as ``psql --csv`` writes them: a header, quoting only where a
value holds a comma, NULL as an empty field, ``character(256)`` blank-padded.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import fields
from importlib import resources

import pandas as pd
import pytest
from fixtures.metrics.builders import workload

from dpcsim import logs
from dpcsim.cli import main
from dpcsim.designs.dpc_wlm import dpc_design_config
from dpcsim.errors import InputError
from dpcsim.logs.storage_exports import read_storage_export
from dpcsim.metrics import StorageSettings, build_metrics
from tests.test_cli_cluster_id import _busy_adhoc

H = 3600.0
DISK = "PercentageDiskSpaceUsed"


def _copies(n=3):
    rows = [{"arrival_s": 0.0, "exec_s": 0.0, "statement_type": "select",
             "queue": "admin"}]  # fmt: skip
    rows += [
        {
            "arrival_s": (i + 1) * H,
            "exec_s": 0.0,
            "statement_type": "copy",
            "queue": "batch",
        }
        for i in range(n)
    ]
    return workload(rows)


def _disk(points):
    return points.loc[points["metric_name"] == DISK, "value"].to_numpy()


def test_no_storage_inputs_publish_no_disk_metric():
    assert _disk(build_metrics(_copies())).size == 0
    assert _disk(build_metrics(_copies(), storage={})).size == 0
    # Keys that shape the model are not storage data by themselves.
    assert _disk(build_metrics(_copies(), storage={"copy_gb": 2.0})).size == 0
    off = {"model": "off", "initial_used_gb": 10.0, "capacity_gb": 100.0}
    assert _disk(build_metrics(_copies(), storage=off)).size == 0


def test_usage_and_capacity_switch_the_model_on():
    table = {"initial_used_gb": 40.0, "capacity_gb": 80.0, "copy_gb": 2.0,
             "copy_volume_from_log": False, "delete_fraction": 0.0}  # fmt: skip
    pct = _disk(build_metrics(_copies(3), storage=table))
    assert pct[0] == pytest.approx(50.0)
    # Three COPYs of 2 GB each: 46 GB of 80.
    assert pct[-1] == pytest.approx(100.0 * 46.0 / 80.0)


def test_model_on_uses_the_documented_defaults():
    pct = _disk(build_metrics(_copies(0), storage={"model": "on"}))
    defaults = StorageSettings()
    assert pct[0] == pytest.approx(
        100.0 * defaults.initial_used_gb / defaults.capacity_gb
    )


def test_half_the_inputs_is_an_error_naming_the_missing_key():
    with pytest.raises(InputError, match=r"capacity_gb.*initial_used_gb given"):
        build_metrics(_copies(), storage={"initial_used_gb": 10.0})
    with pytest.raises(InputError, match=r"model='maybe'; expected one of"):
        build_metrics(_copies(), storage={"model": "maybe"})


def test_more_used_than_capacity_is_an_error_not_a_percentage():
    table = {"initial_used_gb": 95.0, "capacity_gb": 100.0, "copy_gb": 2.0,
             "copy_volume_from_log": False, "delete_fraction": 0.0}  # fmt: skip
    # 95 + 2 + 2 = 99 GB: within; the third COPY makes 101 GB of 100.
    assert _disk(build_metrics(_copies(2), storage=table)).max() < 100.0
    with pytest.raises(InputError) as err:
        build_metrics(_copies(3), storage=table)
    text = str(err.value)
    assert "inputs are inconsistent" in text
    assert "101.0 %" in text
    assert "2024-01-01T03:00:00+00:00" in text  # the third COPY's end
    assert "capacity_gb 100" in text


def test_every_storage_key_is_listed_in_cluster_defaults():
    text = (resources.files("dpcsim") / "data" / "cluster_defaults.toml").read_text()
    found = re.findall(r"^# (\w+) = (\S+)\s+# (.+)$", text, flags=re.M)
    listed = {key: value for key, value, _meaning in found}
    for f in fields(StorageSettings):
        assert f.name in listed, f.name
    table = {k: tomllib.loads(f"v = {v}")["v"] for k, v in listed.items()
             if k in {f.name for f in fields(StorageSettings)}}  # fmt: skip
    # The listed values are the model's defaults (model itself: "auto" in a table).
    assert StorageSettings.from_dict({**table, "model": "on"}) == StorageSettings()


def _mount(path):
    return path.ljust(256)  # character(256): psql prints the blank padding


STV_PARTITIONS = (
    "owner,host,diskno,part_begin,part_end,used,tossed,capacity,reads,writes,"
    "seek_forward,seek_back,is_san,failed,mbps,mount\n"
    + "".join(
        f"{node},{node},{disk},0,{1_000_000},{used},0,{cap},12,34,0,0,0,0,"
        f"{400},{_mount(f'/dev/nvme{disk}n1')}\n"
        f"{node},{1 - node},{disk},{1_000_000},{2_000_000},{used},0,{cap},0,0,0,0,0,"
        f"0,400,{_mount(f'/dev/nvme{disk}n1')}\n"
        for node in (0, 1)
        for disk, used, cap in ((0, 153_600, 512_000), (1, 153_600, 512_000))
    )
)
# 4 primary partitions of 512,000 blocks (2,000 GB) holding 614,400 (600 GB): 30 %.


def test_stv_partitions_gives_usage_and_capacity(tmp_path):
    path = tmp_path / "stv_partitions.csv"
    path.write_text(STV_PARTITIONS)
    got = read_storage_export(path)
    assert got == {"initial_used_gb": 600.0, "capacity_gb": 2000.0}


SVV_TABLE_INFO = """\
database,schema,table_id,table,encoded,diststyle,sortkey1,max_varchar,sortkey1_enc,\
sortkey_num,size,pct_used,empty,unsorted,stats_off,tbl_rows,skew_sortkey1,\
skew_rows,estimated_visible_rows,risk_event,vacuum_sort_benefit,create_time
dpc,mart,108312,fct_learning_events,Y,KEY(learner_id),event_at,256,az64,1,\
204800,10.0000,0,0.50,0.00,98000000,1.00,1.02,97000000,,0.00,2025-03-01 02:00:10.123456
dpc,staging,108400,"stg_events, raw",Y,EVEN,,65535,,0,10240,0.5000,0,,,12000000,,\
1.00,12000000,,,2025-03-02 02:00:11.5
dpc,public,108500,tmp_scratch,N,AUTO(ALL),,0,,0,0,,0,,,0,,,0,,,\
2025-03-03 09:12:00
"""


def test_svv_table_info_gives_usage_and_capacity(tmp_path):
    path = tmp_path / "svv_table_info.csv"
    path.write_text(SVV_TABLE_INFO)
    got = read_storage_export(path)
    assert got["initial_used_gb"] == pytest.approx((204_800 + 10_240) / 1024)
    # 200 GB are 10 % of the available space: 2,000 GB.
    assert got["capacity_gb"] == pytest.approx(2000.0)


def test_bad_export_values_name_the_line_and_column(tmp_path):
    path = tmp_path / "stv_partitions.csv"
    lines = STV_PARTITIONS.splitlines(keepends=True)
    lines[3] = lines[3].replace(",153600,", ",lots,", 1)
    path.write_text("".join(lines))
    with pytest.raises(InputError, match=r"line 4, column used: used='lots'"):
        read_storage_export(path)
    other = tmp_path / "users.csv"
    other.write_text("usesysid,usename\n100,learner1\n")
    with pytest.raises(InputError, match="expected an export of stv_partitions"):
        read_storage_export(other)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("storage")
    logs.write_workload(_busy_adhoc(n=200), root / "workload")
    (root / "wlm.json").write_text(json.dumps(dpc_design_config().to_json()))
    (root / "stv_partitions.csv").write_text(STV_PARTITIONS)
    # pct_used NULL everywhere (an export that selected no pct_used value).
    no_pct = SVV_TABLE_INFO.replace(",10.0000,", ",,").replace(",0.5000,", ",,")
    (root / "svv_table_info.csv").write_text(no_pct)
    return root


def _simulate(inputs, out, *extra):
    wlm = str(inputs / "wlm.json")
    return main(["simulate", "--workload", str(inputs / "workload"),
                 "--wlm", wlm, "--out", str(out), *extra])  # fmt: skip


def test_storage_alarm_without_storage_data_says_not_evaluated(
    inputs, tmp_path, capsys
):
    out = tmp_path / "run"
    assert _simulate(inputs, out) == 0
    printed = capsys.readouterr().out
    line = next(x for x in printed.splitlines() if x.startswith("Alert-Storage-High"))
    assert "not evaluated: no storage data" in line
    summary = pd.read_csv(out / "alarm_summary.csv", keep_default_na=False)
    notes = summary.set_index("alarm_name")["note"]
    assert notes["Alert-Storage-High"] == "not evaluated: no storage data"
    assert notes["Alert-WLM-Queue"] == ""
    assert DISK not in set(pd.read_parquet(out / "metrics.parquet")["metric_name"])


def test_storage_export_publishes_the_disk_metric(inputs, tmp_path, capsys):
    out = tmp_path / "run"
    assert _simulate(inputs, out, "--storage", str(inputs / "stv_partitions.csv")) == 0
    points = pd.read_parquet(out / "metrics.parquet")
    pct = points.loc[points["metric_name"] == DISK, "value"]
    assert pct.to_numpy() == pytest.approx(30.0)  # no COPY: stays at 600 of 2,000 GB
    summary = pd.read_csv(out / "alarm_summary.csv", keep_default_na=False)
    row = summary.set_index("alarm_name").loc["Alert-Storage-High"]
    assert row["note"] == ""
    assert row["final_state"] == "OK"  # 30 % < the 80 % threshold


def test_an_export_without_capacity_needs_one(inputs, tmp_path, capsys):
    out = tmp_path / "run"
    code = _simulate(inputs, out, "--storage", str(inputs / "svv_table_info.csv"))
    assert code == 2
    assert "no capacity" in capsys.readouterr().err
    assert not out.exists()
    both = [str(inputs / "svv_table_info.csv"), str(inputs / "stv_partitions.csv")]
    assert _simulate(inputs, out, "--storage", *both) == 0

"""The storage model: loads, Spectrum moves, VACUUM reclaim and the growth fault."""

from __future__ import annotations

import pytest
from fixtures.metrics.builders import at, workload

from dpcsim.errors import InputError
from dpcsim.metrics import StorageSettings, build_metrics

DAY = 86400.0
H = 3600.0

SETTINGS = {
    "capacity_gb": 100.0,
    "initial_used_gb": 50.0,
    "copy_gb": 2.0,
    "data_growth_factor": 1.5,  # 3 GB per COPY
    "delete_fraction": 1 / 3,  # 1 GB of each load is deleted rows
    "vacuum_reclaim_fraction": 0.5,
    "spectrum_after_days": 1.0,
    "spectrum_weekday": 2,  # Wednesday; 2024-01-01 is a Monday
    "spectrum_hour_utc": 12.0,
    "growth_fault_gb_per_day": 2.0,
    "growth_fault_start_day": 2.5,
}


def _log():
    def q(arrival_s, stype, aborted=False):
        return {"arrival_s": arrival_s, "exec_s": 0.0, "statement_type": stype,
                "queue": "admin", "aborted": aborted}  # fmt: skip

    rows = [
        q(0.0, "select"),
        q(H, "copy"),
        q(DAY + H, "copy"),
        q(2 * DAY + H, "copy"),
        q(2 * DAY + 2 * H, "copy", aborted=True),  # a failed COPY loads nothing
        q(2 * DAY + 13 * H, "vacuum"),
        q(2 * DAY + 20 * H, "vacuum", aborted=True),  # a failed VACUUM frees nothing
        q(3 * DAY, "vacuum"),
    ]
    return workload(rows)


def _percent(points):
    mine = points[points["metric_name"] == "PercentageDiskSpaceUsed"]
    return mine.set_index("timestamp")["value"]


def test_storage_schedule_exact():
    pct = _percent(build_metrics(_log(), storage=SETTINGS))
    assert pct[at(0)] == 50.0
    assert pct[at(H - 60)] == 50.0
    assert pct[at(H)] == 53.0  # a load counts from the minute it completes
    assert pct[at(2 * DAY + H)] == 59.0
    # day 2 12:00: the two older batches (4 GB live) move to Spectrum; a DELETE
    # only marks rows, so used space is unchanged until the VACUUM
    assert pct[at(2 * DAY + 12 * H)] == 59.0
    # VACUUM reclaims half of the 3 + 4 GB deleted; fault: 2 GB/d from day 2.5
    assert pct[at(2 * DAY + 13 * H)] == pytest.approx(55.5 + 2.0 * (13 / 24 - 0.5))
    assert pct[at(2 * DAY + 21 * H)] == pytest.approx(55.5 + 2.0 * (21 / 24 - 0.5))
    # the second VACUUM halves the remaining 3.5 GB; fault adds 1 GB by day 3
    assert pct[at(3 * DAY)] == pytest.approx(53.75 + 1.0)


def test_without_spectrum_nothing_moves():
    settings = {**SETTINGS, "spectrum_after_days": 0.0, "growth_fault_gb_per_day": 0.0}
    pct = _percent(build_metrics(_log(), storage=settings))
    # deleted space is only the 3 × 1 GB of the loads: 59 - 1.5 at the VACUUM
    assert pct[at(2 * DAY + 13 * H)] == 57.5
    assert pct[at(3 * DAY)] == 56.75


def test_copy_volume_from_the_log():
    rows = [
        {"arrival_s": 0.0, "exec_s": 60.0, "statement_type": "copy",
         "scanned_mb": 4096.0},
        {"arrival_s": 0.0, "exec_s": 120.0, "statement_type": "copy"},  # not logged
    ]  # fmt: skip
    settings = {"capacity_gb": 100.0, "initial_used_gb": 10.0, "copy_gb": 0.5,
                "compression_ratio": 0.25, "data_growth_factor": 2.0,
                "delete_fraction": 0.0}  # fmt: skip
    pct = _percent(build_metrics(workload(rows), storage=settings))
    assert pct.tolist() == [10.0, 12.0, 13.0]  # 4 GB × 0.25 × 2, then 0.5 × 2
    off = {**settings, "copy_volume_from_log": False}
    assert _percent(build_metrics(workload(rows), storage=off)).tolist() == [
        10.0,
        11.0,
        12.0,
    ]


def test_capacity_scales_the_percentage():
    settings = StorageSettings(capacity_gb=200.0, initial_used_gb=50.0, copy_gb=0.0)
    pct = _percent(build_metrics(_log(), storage=settings))
    assert set(pct) == {25.0}


def test_settings_round_trip():
    settings = StorageSettings.from_dict(SETTINGS)
    assert StorageSettings.from_dict(settings.to_dict()) == settings


@pytest.mark.parametrize(
    ("table", "match"),
    [
        ({"capacity": 10}, r"\[storage\], capacity: unknown key"),
        ({"capacity_gb": 0.0}, r"capacity_gb=0.0; expected a capacity > 0 GB"),
        ({"capacity_gb": "big"}, r"capacity_gb='big'; expected a number"),
        ({"delete_fraction": 1.5}, r"delete_fraction=1.5; expected a fraction"),
        ({"spectrum_weekday": 7}, r"spectrum_weekday=7; expected an integer 0..6"),
        ({"spectrum_hour_utc": 24}, r"spectrum_hour_utc=24; expected an hour"),
        ({"copy_gb": -1.0}, r"copy_gb=-1.0; expected a value >= 0"),
        ({"initial_used_gb": True}, r"initial_used_gb=True; expected a number"),
        ({"copy_volume_from_log": "yes"}, r"copy_volume_from_log='yes'; expected true"),
    ],
)
def test_bad_settings(table, match):
    with pytest.raises(InputError, match=match):
        StorageSettings.from_dict(table)

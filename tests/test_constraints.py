"""The declarative settings checks: bounds, choices and the one message form."""

from __future__ import annotations

import numpy as np
import pytest

from dpcsim.constraints import Bound, OneOf, check, check_value
from dpcsim.engine.settings import ClusterSettings
from dpcsim.errors import InputError
from dpcsim.workload.faults import Faults
from dpcsim.workload.spec import DPCWorkloadSpec


@pytest.mark.parametrize(
    ("bound", "good", "bad"),
    [
        (Bound("n", 1, 3, integer=True), [1, 3, np.int64(2)], [0, 4, 2.0, True]),
        (Bound("x", 0, 1, lo_open=True), [1e-9, 1, 0.5], [0, 1.1, "1", None]),
        (Bound("t", 100, 200, integer=True, also=(0,)), [0, 100], [0.0, False, 50]),
        (Bound("p", 0, also=(None,)), [None, 0, 2.5], [-1, float("nan")]),
    ],
)
def test_bounds_accept_and_refuse(bound, good, bad):
    assert all(bound.ok(v) for v in good)
    assert not any(bound.ok(v) for v in bad)


def test_one_message_form_everywhere():
    with pytest.raises(InputError) as a:
        ClusterSettings(node_count=0)
    with pytest.raises(InputError) as b:
        DPCWorkloadSpec(days=0)
    with pytest.raises(InputError) as c:
        Faults(copy_errors=(-1,))
    assert str(a.value) == "node_count: node_count=0; expected an integer in [1, 128]"
    assert str(b.value) == "days: days=0; expected an integer in [1, 366]"
    assert str(c.value) == (
        "faults.copy_errors: day=-1; expected an integer in [0, inf]"
    )


def test_check_reads_mappings_and_prefixes_the_location():
    with pytest.raises(InputError, match=r"^cluster\.mode: mode='x'; expected one of"):
        check({"mode": "x"}, [OneOf("mode", ("a", "b"))], prefix="cluster.")
    check_value(Bound("ok", 0), 1, location="ok")


def test_settings_floats_are_normalised():
    s = ClusterSettings(cs_idle_stop_s=300)
    assert isinstance(s.cs_idle_stop_s, float)
    assert (
        ClusterSettings(cs_price_usd_per_node_hour=None).cs_price_usd_per_node_hour
        is None
    )

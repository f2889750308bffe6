"""Users, groups, superusers and IAM-role groups."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from dpcsim.errors import InputError
from dpcsim.logs import apply_users, ingest, read_users

FIX = Path(__file__).parent / "fixtures" / "logs"


def test_join_export_with_superuser_and_role_groups():
    users = read_users(FIX / "users_join.csv", role_groups=FIX / "role_groups.csv")
    assert users.names[102] == "learner02"
    assert users.groups["learner02"] == ("dpc_learners", "dpc_reviewers")
    assert users.superusers == frozenset({"dba01"})
    assert users.groups_of("IAMR:dpc-elt-stepfunctions") == ("dpc_elt",)
    assert users.groups_of("unknown") == ()


def test_pg_user_plus_pg_group():
    users = read_users([FIX / "pg_user.csv", FIX / "pg_group.csv"])
    assert users.groups["learner01"] == ("dpc_learners",)
    assert users.groups["dba01"] == ("dpc_admin",)
    assert users.superusers == frozenset({"rdsdb", "dba01"})


def test_pg_group_without_pg_user_names_the_id():
    with pytest.raises(InputError, match="user id 101"):
        read_users(FIX / "pg_group.csv")


def test_bad_grolist(tmp_path):
    path = tmp_path / "g.csv"
    path.write_text('groname,grosysid,grolist\ng,1,"{1,x}"\n')
    with pytest.raises(InputError, match=r"g\.csv, row 1, column 'grolist'"):
        read_users(path)


def test_simple_user_group_and_mapping_roles():
    users = read_users(FIX / "user_group.csv", role_groups={"etl-role": ["dpc_elt"]})
    assert users.groups["learner03"] == ("dpc_learners",)
    assert users.groups_of("IAMR:etl-role") == ("dpc_elt",)


def test_apply_users_fills_names_and_role_groups():
    users = read_users(FIX / "users_join.csv", role_groups=FIX / "role_groups.csv")
    q = pd.DataFrame(
        {"user_id": [100, 101, 999], "user_name": pd.Series([None] * 3, dtype="string")}
    )
    out = apply_users(q, users)
    assert out["user_name"].tolist()[:2] == ["IAMR:dpc-elt-stepfunctions", "learner01"]
    assert out["user_groups"].tolist()[:2] == ["dpc_elt", "dpc_learners"]
    assert pd.isna(out["user_name"].iloc[2])
    assert pd.isna(out["user_groups"].iloc[2])


def test_ingest_uses_users_and_keeps_superusers():
    result = ingest(
        [FIX / "sys_query_history.csv"],
        users=FIX / "users_join.csv",
        role_groups=FIX / "role_groups.csv",
    )
    q = result.workload.queries.set_index("query_id")
    assert q.loc[5004, "user_groups"] == "dpc_admin"  # IAMR:dpc-vacuum-lambda via role
    assert q.loc[5001, "user_groups"] == "dpc_elt"
    assert result.superusers == frozenset({"dba01"})


def test_users_file_of_wrong_kind():
    with pytest.raises(InputError, match="expected users/groups"):
        read_users(FIX / "svl_qlog.csv")

"""Users, their database groups, superusers, and IAM-role-to-group mappings.

Accepted inputs (detected from the header):

* a join of ``pg_user`` and ``pg_group``: ``usename,groname`` with optional
  ``usesysid`` and ``usesuper`` (one row per user and group; an empty
  ``groname`` for users in no group) — this is what :func:`write_users` writes;
* ``pg_user`` itself (``usesysid,usename,usesuper,...``) plus ``pg_group``
  (``groname,grosysid,grolist`` with ``grolist`` like ``{101,102}``);
* a simple ``user,group`` CSV;
* a ``role,group`` CSV: IAM roles to groups;
* RBAC roles: an export of ``svv_user_grants`` (``user_name,role_name``) or a
  ``user,role`` CSV, with ``svv_role_grants`` (``role_name,granted_role_name``)
  for roles granted to roles.

The design maps ``user_group`` per IAM role: a database user named
``IAMR:<role>`` (how Redshift names users that sign in through an IAM role) gets
the groups of ``<role>`` from the role mapping, in addition to its own groups.
Groups are stored comma-separated, sorted, in ``user_groups``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd

from dpcsim.errors import InputError
from dpcsim.logs.source import parse_file

__all__ = [
    "IAM_ROLE_PREFIX",
    "UserDirectory",
    "apply_users",
    "read_role_groups",
    "read_users",
]

#: Prefix of database users that sign in through an IAM role.
IAM_ROLE_PREFIX: Final = "IAMR:"


@dataclass(frozen=True, slots=True, kw_only=True)
class UserDirectory:
    """Who is who: user ids, names, groups, superusers and role groups.

    Attributes
    ----------
    names
        ``usesysid`` -> ``usename``.
    groups
        ``usename`` -> its database groups (sorted).
    superusers
        Names of superusers (``usesuper``).
    role_groups
        IAM role name -> groups (applied to users named ``IAMR:<role>``).
    user_roles
        ``usename`` -> its RBAC roles, nested grants expanded (sorted).
    """

    names: Mapping[int, str] = field(default_factory=dict)
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    superusers: frozenset[str] = frozenset()
    role_groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    user_roles: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def groups_of(self, user_name: str) -> tuple[str, ...]:
        """The user's own groups plus its IAM role's groups (sorted, unique)."""
        own = set(self.groups.get(user_name, ()))
        if user_name.startswith(IAM_ROLE_PREFIX):
            own |= set(self.role_groups.get(user_name[len(IAM_ROLE_PREFIX) :], ()))
        return tuple(sorted(own))


def read_users(
    paths: Path | str | Iterable[Path | str],
    *,
    role_groups: Mapping[str, Iterable[str]] | Path | str | None = None,
) -> UserDirectory:
    """Read user/group exports (any mix of the formats in the module docstring).

    Parameters
    ----------
    paths
        One or more CSV (or gzip/parquet) exports.
    role_groups
        IAM role -> groups, as a mapping or a ``role,group`` CSV path.

    Raises
    ------
    InputError
        Unknown layout, a missing column or an unparseable ``grolist``.
    """
    names: dict[int, str] = {}
    groups: dict[str, set[str]] = {}
    by_id: dict[int, set[str]] = {}
    superusers: set[str] = set()
    roles: dict[str, set[str]] = {}
    granted: dict[str, set[str]] = {}
    nested: dict[str, set[str]] = {}
    for path in [paths] if isinstance(paths, Path | str) else paths:
        parsed = parse_file(Path(path))
        f = parsed.frame
        if parsed.spec.name == "users":
            _read_user_rows(f, names, groups, superusers)
        elif parsed.spec.name == "pg_group":
            _read_pg_group(f, parsed.source, by_id)
        elif parsed.spec.name == "user_groups":
            _add_pairs(groups, f["user"], f["group"])
        elif parsed.spec.name == "role_groups":
            _add_pairs(roles, f["role"], f["group"])
        elif parsed.spec.name == "svv_user_grants":
            _add_pairs(granted, f["user_name"], f["role_name"])
        elif parsed.spec.name == "user_roles":
            _add_pairs(granted, f["user"], f["role"])
        elif parsed.spec.name == "svv_role_grants":
            _add_pairs(nested, f["role_name"], f["granted_role_name"])
        else:
            raise InputError(
                f"is a {parsed.spec.name} export; expected users/groups "
                "(usename,groname / pg_user / pg_group / user,group / role,group)",
                source=parsed.source,
                location="header",
            )
    for uid, ids_groups in by_id.items():
        if uid not in names:
            raise InputError(
                f"pg_group lists user id {uid} but no pg_user export names it; "
                "expected pg_user (usesysid,usename) alongside pg_group",
                source="pg_group",
                location=f"grolist value {uid}",
            )
        groups.setdefault(names[uid], set()).update(ids_groups)
    if role_groups is not None:
        for role, gs in read_role_groups(role_groups).items():
            roles.setdefault(role, set()).update(gs)
    return UserDirectory(
        names=names,
        groups={k: tuple(sorted(v)) for k, v in groups.items()},
        superusers=frozenset(superusers),
        role_groups={k: tuple(sorted(v)) for k, v in roles.items()},
        user_roles={k: _expand_roles(v, nested) for k, v in granted.items()},
    )


def _expand_roles(direct: set[str], nested: Mapping[str, set[str]]) -> tuple[str, ...]:
    """Roles granted directly plus every role they are granted (transitively)."""
    seen: set[str] = set()
    todo = list(direct)
    while todo:
        role = todo.pop()
        if role not in seen:
            seen.add(role)
            todo.extend(nested.get(role, ()))
    return tuple(sorted(seen))


def read_role_groups(
    source: Mapping[str, Iterable[str]] | Path | str,
) -> dict[str, tuple[str, ...]]:
    """IAM role -> groups from a mapping or a ``role,group`` CSV."""
    if isinstance(source, Mapping):
        return {str(k): tuple(sorted(set(v))) for k, v in source.items()}
    parsed = parse_file(Path(source))
    if parsed.spec.name not in ("role_groups", "user_groups"):
        raise InputError(
            f"is a {parsed.spec.name} export; expected a role,group CSV",
            source=parsed.source,
            location="header",
        )
    f = parsed.frame
    key = "role" if "role" in f else "user"
    out: dict[str, set[str]] = {}
    _add_pairs(out, f[key], f["group"])
    return {k: tuple(sorted(v)) for k, v in out.items()}


def apply_users(queries: pd.DataFrame, users: UserDirectory) -> pd.DataFrame:
    """Fill ``user_name`` (from ``user_id``), ``user_groups``, ``is_superuser`` and
    ``user_roles`` (from the name), so routing from the canonical workload alone
    equals routing from the raw exports.

    Names already in the log win; groups from the directory (plus IAM role groups)
    replace missing ones. Work is per distinct user, not per row.
    """
    out = queries.copy()
    name = out["user_name"] if "user_name" in out else pd.Series(pd.NA, index=out.index)
    name = name.astype("string")
    if users.names:
        by_id = out["user_id"].map(users.names).astype("string")
        name = name.fillna(by_id)
    out["user_name"] = name
    distinct = name.dropna().unique()
    joined = {n: ",".join(users.groups_of(str(n))) for n in distinct}
    groups = name.map({k: v for k, v in joined.items() if v}).astype("string")
    if "user_groups" in out:
        groups = out["user_groups"].astype("string").fillna(groups)
    out["user_groups"] = groups
    if users.superusers:
        known = name.isin(list(users.superusers)).to_numpy(dtype=bool, na_value=False)
        if "is_superuser" in out:
            known |= out["is_superuser"].fillna(False).to_numpy(dtype=bool)
        out["is_superuser"] = known
    if users.user_roles:
        joined_roles = {k: ",".join(v) for k, v in users.user_roles.items() if v}
        roles = name.map(joined_roles).astype("string")
        if "user_roles" in out:
            roles = out["user_roles"].astype("string").fillna(roles)
        out["user_roles"] = roles
    return out


def _read_user_rows(
    f: pd.DataFrame,
    names: dict[int, str],
    groups: dict[str, set[str]],
    supers: set[str],
) -> None:
    """Add rows of a ``usename[,usesysid,usesuper,groname]`` export."""
    user = f["usename"].astype("string")
    if "usesysid" in f:
        ids = f["usesysid"].to_numpy(dtype="float64", na_value=np.nan)
        for uid, n in zip(ids, user, strict=True):
            if not np.isnan(uid) and isinstance(n, str):
                names[int(uid)] = n
    if "usesuper" in f:
        supers.update(user[f["usesuper"].fillna(False).to_numpy(dtype=bool)].dropna())
    for n in user.dropna().unique():
        groups.setdefault(str(n), set())
    if "groname" in f:
        _add_pairs(groups, user, f["groname"])


def _read_pg_group(f: pd.DataFrame, source: str, by_id: dict[int, set[str]]) -> None:
    """Add ``pg_group`` rows: ``grolist`` like ``{101,102}`` (or empty)."""
    for row, (group, members) in enumerate(
        zip(f["groname"], f["grolist"], strict=True)
    ):
        text = "" if members is pd.NA or members is None else str(members).strip()
        inner = text.strip("{}").strip()
        if not inner:
            continue
        try:
            ids = [int(x) for x in inner.split(",")]
        except ValueError:
            raise InputError(
                f"grolist={text!r} is not a list of user ids; "
                "expected like '{101,102}'",
                source=source,
                location=f"row {row + 1}, column 'grolist'",
            ) from None
        for uid in ids:
            by_id.setdefault(uid, set()).add(str(group))


def _add_pairs(out: dict[str, set[str]], keys: pd.Series, values: pd.Series) -> None:
    """Add key -> value pairs, skipping empty values (users in no group)."""
    for k, v in zip(keys.astype("string"), values.astype("string"), strict=True):
        if isinstance(k, str) and k:
            bucket = out.setdefault(k, set())
            if isinstance(v, str) and v:
                bucket.add(v)

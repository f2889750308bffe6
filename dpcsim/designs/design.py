"""What a customer's design is, as data: :class:`Design` and :class:`ELTContract`.

A design is everything about one cluster that generic code must not hard-code:
the WLM configuration, which database groups each IAM role joins, which queue
and query group carry the nightly ELT and when it must finish, the alarms and
dashboard, the cluster id, Region, environment and SNS topic, and how an
anonymous Redset trace is mapped onto the design's queues. Generic packages
(``metrics``, ``alarms``, ``run``) take these values as arguments;
:mod:`dpcsim.designs.dpc` is the default design, and
:func:`dpcsim.designs.load_design` reads another one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dpcsim.errors import InputError
from dpcsim.wlm.config import WLMConfig

__all__ = ["AlarmRequests", "Design", "ELTContract", "RedsetRule"]

#: Builds the design's PutMetricAlarm requests for an AWS account id.
AlarmRequests = Callable[[str], list[dict[str, Any]]]

_HHMM: Final = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


@dataclass(frozen=True, slots=True, kw_only=True)
class ELTContract:
    """Where the nightly ELT runs and by when it must be done.

    Parameters
    ----------
    queue
        WLM queue the ELT's statements run in.
    query_group
        ``SET query_group`` label the ELT sets, or None when it sets none.
    window_start
        Local time ``HH:MM`` the nightly window opens (the schedule).
    window_end
        Local time ``HH:MM`` the ELT must be finished by; earlier than
        ``window_start`` means the next day.
    timezone
        IANA time zone of the two times.
    cadence_min
        Minutes between runs [min] (1440: nightly).
    users
        Database users whose statements belong to the ELT whatever their
        query group (a data-quality Lambda, say); empty by default.

    The ELT's statements in a log are those with ``query_group`` (case
    insensitive) or by one of ``users``; with neither set, those logged in
    ``queue`` (:func:`dpcsim.workload.whatif.elt_mask`).
    """

    queue: str
    query_group: str | None = None
    window_start: str
    window_end: str
    timezone: str
    cadence_min: float = 1440.0
    users: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for key in ("window_start", "window_end"):
            value = getattr(self, key)
            if not isinstance(value, str) or not _HHMM.match(value):
                raise InputError(
                    f"{value!r}; expected a local time HH:MM", location=f"elt.{key}"
                )
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise InputError(
                f"{self.timezone!r}; expected an IANA time zone such as Asia/Tokyo",
                location="elt.timezone",
            ) from None
        if not self.cadence_min > 0:
            raise InputError(
                f"{self.cadence_min!r}; expected minutes > 0",
                location="elt.cadence_min",
            )
        users = self.users
        if isinstance(users, str) or not all(isinstance(u, str) and u for u in users):
            raise InputError(
                f"{users!r}; expected a list of database user names",
                location="elt.users",
            )
        # TOML gives a list; the contract is frozen and hashable.
        object.__setattr__(self, "users", tuple(users))

    @property
    def window_min(self) -> float:
        """Length of the window [min] (across midnight when end < start)."""
        start, end = (_minutes(t) for t in (self.window_start, self.window_end))
        return float((end - start) % 1440 or 1440)


@dataclass(frozen=True, slots=True, kw_only=True)
class RedsetRule:
    """How an anonymous Redset trace is mapped onto the design's groups.

    Redset has no user names, groups or queues: maintenance statements
    (``vacuum``, ``analyze``) get ``maintenance_group``; a user whose share of
    writes is at least ``elt_write_share`` is an ELT user (``elt_group`` and
    the ELT's query group); everyone else gets ``other_group``.
    """

    elt_write_share: float
    elt_group: str
    maintenance_group: str
    other_group: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Design:
    """One cluster's design: the data every command takes with ``--design``.

    Parameters
    ----------
    name
        Short name of the design (``dpc``).
    cluster_id, region, environment
        ``ClusterIdentifier``, AWS Region and the ``Environment`` dimension of
        the custom ELT metric.
    wlm
        The WLM configuration as designed.
    role_groups
        IAM role name -> database groups its sessions (``IAMR:<role>``) join.
    elt
        The ELT contract.
    alarms
        Account id -> the design's PutMetricAlarm requests.
    dashboard
        The PutDashboard ``DashboardBody`` as a dict.
    sns_topic
        Name of the SNS topic the alarms notify.
    redset
        The Redset mapping rule, or None when the design has none.
    """

    name: str
    cluster_id: str
    region: str
    environment: str
    wlm: WLMConfig
    role_groups: Mapping[str, tuple[str, ...]]
    elt: ELTContract
    alarms: AlarmRequests
    dashboard: dict[str, Any] = field(default_factory=dict)
    sns_topic: str = ""
    redset: RedsetRule | None = None

    def __post_init__(self) -> None:
        if self.elt.queue not in self.wlm.queue_names:
            raise InputError(
                f"{self.elt.queue!r} is not a queue of the design's WLM "
                f"configuration; expected one of {list(self.wlm.queue_names)}",
                location="elt.queue",
            )

    def alarm_requests(self, account_id: str = "123456789012") -> list[dict[str, Any]]:
        """The design's alarms as PutMetricAlarm requests for ``account_id``."""
        return self.alarms(account_id)

    def sns_topic_arn(self, account_id: str) -> str:
        """The ARN of the design's SNS topic in ``account_id``."""
        return f"arn:aws:sns:{self.region}:{account_id}:{self.sns_topic}"


def _minutes(hhmm: str) -> int:
    """Minutes after midnight of ``HH:MM``."""
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)

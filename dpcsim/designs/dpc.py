"""The DPC learning platform's design (``shared/seed``), the default design.

Gathers what the seed specifies, each piece where it is built:

* WLM: batch / admin / adhoc at 50/30/20 with SQA and Concurrency Scaling
  (:func:`dpcsim.designs.dpc_wlm.dpc_design_config`, the literal "slots" reading);
* role -> group map: the Step Functions and dbt roles join ``dpc_elt``, the DQ
  and VACUUM Lambda roles ``dpc_admin``
  (:data:`dpcsim.designs.dpc_wlm.DPC_ROLE_GROUPS`);
* alarms: the five alarms (:mod:`dpcsim.designs.dpc_alarms`), SNS topic
  ``dpc-alerts`` in ``ap-northeast-1``;
* dashboard: the five widgets (:mod:`dpcsim.designs.dpc_dashboard`);
* ELT contract: the ELT runs in ``batch`` with query group ``elt``; Step
  Functions starts it at 02:00 JST (``DPCWorkloadSpec.elt_start_min = 120``,
  :mod:`dpcsim.workload.elt`). The seed states no deadline; the window end is
  09:00 JST, when the learners' day starts (their arrival rate rises from its
  night trough then, see :mod:`dpcsim.workload.adhoc`): the marts must be
  fresh before the people who read them arrive. A nightly run takes hours
  (COPY of every stage table, then the dbt DAG), so a deadline of the start
  plus 90 minutes would call every night late;
* Redset rule: maintenance -> ``dpc_admin``, users with at least half writes ->
  ``dpc_elt``, the rest -> ``dpc_learners`` (:mod:`dpcsim.logs.redset`).
"""

from __future__ import annotations

from functools import partial
from typing import Final

from dpcsim.designs.design import Design, ELTContract, RedsetRule
from dpcsim.designs.dpc_alarms import (
    CLUSTER_ID,
    ENVIRONMENT,
    REGION,
    SNS_TOPIC,
    dpc_design_alarms,
)
from dpcsim.designs.dpc_dashboard import dpc_design_dashboard
from dpcsim.designs.dpc_wlm import (
    ADMIN_GROUP,
    DPC_ROLE_GROUPS,
    ELT_GROUP,
    ELT_QUERY_GROUP,
    LEARNER_GROUP,
    dpc_design_config,
)

__all__ = ["DPC_ELT", "DPC_REDSET_RULE", "dpc_design"]

#: The nightly ELT: queue ``batch``, query group ``elt``, 02:00-09:00 JST; the
#: DQ Lambda's checks that close each night (they run in ``admin`` without the
#: query group) belong to it too.
DPC_ELT: Final = ELTContract(
    queue="batch",
    query_group=ELT_QUERY_GROUP,
    window_start="02:00",
    window_end="09:00",
    timezone="Asia/Tokyo",
    cadence_min=1440.0,
    users=("IAMR:dpc-dq-lambda",),
)
#: How a Redset trace maps onto the DPC groups (see :mod:`dpcsim.logs.redset`).
DPC_REDSET_RULE: Final = RedsetRule(
    elt_write_share=0.5,
    elt_group=ELT_GROUP,
    maintenance_group=ADMIN_GROUP,
    other_group=LEARNER_GROUP,
)


def dpc_design() -> Design:
    """Return the DPC design (the default of every ``--design`` option).

    Examples
    --------
    >>> d = dpc_design()
    >>> d.cluster_id, d.elt.queue, d.wlm.queue_names
    ('dpc-learning', 'batch', ('batch', 'admin', 'adhoc'))
    """
    return Design(
        name="dpc",
        cluster_id=CLUSTER_ID,
        region=REGION,
        environment=ENVIRONMENT,
        wlm=dpc_design_config(),
        role_groups={role: (group,) for role, group in DPC_ROLE_GROUPS.items()},
        elt=DPC_ELT,
        alarms=partial(
            dpc_design_alarms,
            cluster_id=CLUSTER_ID,
            environment=ENVIRONMENT,
            region=REGION,
            topic=SNS_TOPIC,
        ),
        dashboard=dpc_design_dashboard(
            cluster_id=CLUSTER_ID, region=REGION, environment=ENVIRONMENT
        ),
        sns_topic=SNS_TOPIC,
        redset=DPC_REDSET_RULE,
    )

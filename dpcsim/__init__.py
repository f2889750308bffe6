"""dpcsim: simulate and plan the capacity of Amazon Redshift workload management.

The pipeline runs one way: exported query logs (:mod:`dpcsim.logs`) or a synthetic
workload (:mod:`dpcsim.workload`) -> the WLM configuration and routing
(:mod:`dpcsim.wlm`) -> the discrete-event engine (:mod:`dpcsim.engine`) ->
CloudWatch metrics (:mod:`dpcsim.metrics`) -> alarm evaluation
(:mod:`dpcsim.alarms`). Importing the package has no side effects.
:func:`sample_dir` is the folder of the bundled one-week sample (package data).
"""

from __future__ import annotations

from dpcsim.bundled import sample_dir
from dpcsim.errors import InputError
from dpcsim.schema import COLUMNS, STATEMENT_TYPES, validate_workload

__version__ = "0.1.0"

__all__ = [
    "COLUMNS",
    "STATEMENT_TYPES",
    "InputError",
    "__version__",
    "sample_dir",
    "validate_workload",
]

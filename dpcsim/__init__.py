"""dpcsim: simulate and plan the capacity of Amazon Redshift workload management.

The pipeline runs one way: exported query logs (:mod:`dpcsim.logs`) or a synthetic
workload (:mod:`dpcsim.workload`) -> the WLM configuration and routing
(:mod:`dpcsim.wlm`) -> the discrete-event engine (:mod:`dpcsim.engine`) ->
CloudWatch metrics (:mod:`dpcsim.metrics`) -> alarm evaluation
(:mod:`dpcsim.alarms`). Importing the package has no side effects.
:func:`sample_dir` is the folder of the bundled one-week sample (package data).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from dpcsim.bundled import sample_dir
from dpcsim.errors import InputError

if TYPE_CHECKING:
    from dpcsim.schema import COLUMNS, STATEMENT_TYPES, validate_workload

__version__ = "0.1.0"

# The schema's names load pandas: they are imported on first use, so that
# `dpcsim --help` and the version do not wait for it.
_FROM_SCHEMA = frozenset({"COLUMNS", "STATEMENT_TYPES", "validate_workload"})


def __getattr__(name: str) -> Any:
    """The schema's names (:mod:`dpcsim.schema`), imported on first use."""
    if name not in _FROM_SCHEMA:
        raise AttributeError(f"module 'dpcsim' has no attribute {name!r}")
    value = getattr(importlib.import_module("dpcsim.schema"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The module's names, the lazy ones included (for completion)."""
    return sorted(set(globals()) | _FROM_SCHEMA)


__all__ = [
    "COLUMNS",
    "STATEMENT_TYPES",
    "InputError",
    "__version__",
    "sample_dir",
    "validate_workload",
]

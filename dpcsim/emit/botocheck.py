"""Offline checks with botocore's own service models and parameter validator.

botocore ships the JSON models of every AWS API; ``botocore.validate
.ParamValidator`` is the check boto3 runs before sending a request (types,
required members, minimum lengths and values). :func:`validate_input` runs it on
one operation's input with no network and no credentials. botocore comes with
the ``aws`` extra (boto3); without it the check is skipped and
:func:`botocore_available` says so, so emitting still works with dpcsim's own
checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from dpcsim.errors import InputError

__all__ = ["botocore_available", "validate_input"]


def botocore_available() -> bool:
    """True when botocore can be imported."""
    try:
        import botocore  # noqa: F401
    except ImportError:
        return False
    return True


@cache
def _model(service: str) -> Any:
    """The service model of ``service`` from botocore's bundled data."""
    import botocore.session

    return botocore.session.get_session().get_service_model(service)


def validate_input(
    service: str, operation: str, params: Mapping[str, Any], *, source: str
) -> bool:
    """Validate ``params`` against ``operation``'s input shape.

    Returns
    -------
    bool
        True when botocore checked it, False when botocore is not installed.

    Raises
    ------
    InputError
        With botocore's report (every problem it found), naming ``source``.
    """
    if not botocore_available():
        return False
    from botocore.validate import ParamValidator

    shape = _model(service).operation_model(operation).input_shape
    report = ParamValidator().validate(dict(params), shape)
    if report.has_errors():
        text = " ".join(report.generate_report().split())
        raise InputError(f"botocore {service} {operation}: {text}", source=source)
    return True

"""Declarative checks of settings: one table per config class, one message form.

A config class lists its constraints once (:class:`Bound` for numbers,
:class:`OneOf` for choices) and calls :func:`check` in ``__post_init__``. Every
failure raises :class:`dpcsim.errors.InputError` with the same wording,
``<key>=<value>; expected <what>``, located at the key, so a bad cluster
setting, workload spec and fault read alike. This module only checks values;
reading files is left to the config readers.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from dpcsim.errors import InputError

__all__ = ["Bound", "Constraint", "OneOf", "check", "check_value"]


@dataclass(frozen=True, slots=True)
class Bound:
    """A number (or an integer) in a range, plus optional other accepted values.

    Parameters
    ----------
    key
        Field name.
    lo, hi
        Range ends (inclusive unless ``lo_open`` / ``hi_open``).
    integer
        Require an integer (booleans are never numbers here).
    also
        Other values accepted as they are (e.g. ``0`` for "off", None).
    name
        The key as the user writes it, when it differs from the field name
        (``contention.model`` for the field ``contention_model``).

    Examples
    --------
    >>> Bound("node_count", 1, 128, integer=True).expected()
    'an integer in [1, 128]'
    >>> Bound("growth", 0, 1000, lo_open=True).expected()
    'a number in (0, 1000]'
    """

    key: str
    lo: float = -math.inf
    hi: float = math.inf
    integer: bool = False
    lo_open: bool = False
    hi_open: bool = False
    also: tuple[object, ...] = ()
    name: str | None = None

    def ok(self, value: Any) -> bool:
        """Whether ``value`` satisfies the bound."""
        if any(
            value is a or (type(value) is type(a) and value == a) for a in self.also
        ):
            return True
        kind = numbers.Integral if self.integer else numbers.Real
        if isinstance(value, bool) or not isinstance(value, kind):
            return False
        x = float(value)
        above = x > self.lo if self.lo_open else x >= self.lo
        below = x < self.hi if self.hi_open else x <= self.hi
        return above and below

    def expected(self) -> str:
        """What the bound accepts, in words."""
        what = "an integer" if self.integer else "a number"
        left = "(" if self.lo_open else "["
        right = ")" if self.hi_open else "]"
        text = f"{what} in {left}{_num(self.lo)}, {_num(self.hi)}{right}"
        for other in self.also:
            text += f" or {other!r}"
        return text


@dataclass(frozen=True, slots=True)
class OneOf:
    """One of a fixed set of values."""

    key: str
    choices: tuple[object, ...]
    name: str | None = None

    def ok(self, value: Any) -> bool:
        """Whether ``value`` is one of the choices."""
        return value in self.choices

    def expected(self) -> str:
        """What the constraint accepts, in words."""
        return f"one of {list(self.choices)}"


Constraint = Bound | OneOf


def check(obj: object, constraints: Iterable[Constraint], *, prefix: str = "") -> None:
    """Check every constraint against ``obj``'s attributes (or mapping items).

    Raises
    ------
    InputError
        At the first violation: ``<prefix><key>=<value>; expected <what>``.
    """
    for constraint in constraints:
        if isinstance(obj, Mapping):
            value = obj.get(constraint.key)
        else:
            value = getattr(obj, constraint.key)
        shown = constraint.name or constraint.key
        check_value(constraint, value, location=prefix + shown)


def check_value(constraint: Constraint, value: Any, *, location: str) -> None:
    """Check one value; raise the uniform InputError located at ``location``.

    Examples
    --------
    >>> check_value(Bound("days", 1, 366, integer=True), 0, location="days")
    Traceback (most recent call last):
    ...
    dpcsim.errors.InputError: days: days=0; expected an integer in [1, 366]
    """
    if not constraint.ok(value):
        shown = constraint.name or constraint.key
        raise InputError(
            f"{shown}={value!r}; expected {constraint.expected()}",
            location=location,
        )


def _num(x: float) -> str:
    """A range end as written: ``1``, ``0.5``, ``inf``."""
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:g}"

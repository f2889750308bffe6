"""A metric-math subset: parse an ``Expression`` and evaluate it over numpy series.

Grammar (CloudWatch precedence; ``^`` binds tighter than unary minus as in
CloudWatch's ``-2^2 = -4``)::

    expr    := term (("+" | "-") term)*
    term    := unary (("*" | "/") unary)*
    unary   := ("-" | "+") unary | power
    power   := primary ("^" unary)?
    primary := NUMBER | ID | FUNC "(" expr ("," expr)* ")" | "(" expr ")"

Functions: ``FILL(x, v)`` (replace missing points of ``x`` by ``v``, a number or
another series), ``ABS(x)``. Missing datapoints are NaN.

Missing points follow "Using metric math", *Basic arithmetic functions*:
"Missing values in a time series are treated as 0. If the value of a data point
causes a function to attempt to divide by zero, the data point is dropped." So
between two series a timestamp that only one of them has counts the other as 0
(``failed / attempted`` with no failure datapoint is 0), a timestamp that
neither has stays missing, and a series with a scalar keeps the series'
timestamps. Every non-finite result (division by zero) is dropped at the
operator that produced it, so it is missing (hence 0) for the operators above
it. An alarm that sees a missing result applies TreatMissingData.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import numpy as np

from dpcsim.errors import InputError

__all__ = ["Node", "evaluate", "parse_expression", "referenced_ids"]

_TOKEN: Final = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)"
    r"|(?P<id>[A-Za-z_][A-Za-z0-9_]*)|(?P<op>[-+*/^(),]))"
)
_FUNCTIONS: Final[dict[str, int]] = {"FILL": 2, "ABS": 1}


@dataclass(frozen=True, slots=True)
class Node:
    """An expression node: ``kind`` is num, id, neg, + - * / ^ or a function."""

    kind: str
    value: float = 0.0
    name: str = ""
    args: tuple[Node, ...] = ()


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = self._tokenize(text)
        self.pos = 0

    def _tokenize(self, text: str) -> list[tuple[str, str]]:
        tokens, i = [], 0
        while i < len(text):
            if text[i:].strip() == "":
                break
            match = _TOKEN.match(text, i)
            if match is None or match.end() == i:
                raise InputError(
                    f"expression {text!r}: unexpected character at {i + 1}"
                )
            kind = match.lastgroup
            assert kind is not None
            tokens.append((kind, match.group(kind)))
            i = match.end()
        return tokens

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, expected: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        if tok is None or (expected is not None and tok[1] != expected):
            want = f"{expected!r}" if expected else "more input"
            raise InputError(f"expression {self.text!r}: expected {want}, got {tok!r}")
        self.pos += 1
        return tok

    def parse(self) -> Node:
        node = self.expr()
        if self.peek() is not None:
            raise InputError(f"expression {self.text!r}: unexpected {self.peek()!r}")
        return node

    def expr(self) -> Node:
        node = self.term()
        while (tok := self.peek()) is not None and tok[1] in "+-" and tok[0] == "op":
            self.take()
            node = Node(tok[1], args=(node, self.term()))
        return node

    def term(self) -> Node:
        node = self.unary()
        while (tok := self.peek()) is not None and tok[1] in "*/" and tok[0] == "op":
            self.take()
            node = Node(tok[1], args=(node, self.unary()))
        return node

    def unary(self) -> Node:
        tok = self.peek()
        if tok is not None and tok[0] == "op" and tok[1] in "+-":
            self.take()
            inner = self.unary()
            return Node("neg", args=(inner,)) if tok[1] == "-" else inner
        return self.power()

    def power(self) -> Node:
        base = self.primary()
        tok = self.peek()
        if tok is not None and tok == ("op", "^"):
            self.take()
            return Node("^", args=(base, self.unary()))
        return base

    def primary(self) -> Node:
        kind, text = self.take()
        if kind == "num":
            return Node("num", value=float(text))
        if kind == "id":
            if self.peek() == ("op", "("):
                return self.call(text)
            return Node("id", name=text)
        if text == "(":
            node = self.expr()
            self.take(")")
            return node
        raise InputError(f"expression {self.text!r}: unexpected {text!r}")

    def call(self, name: str) -> Node:
        func = name.upper()
        if func not in _FUNCTIONS:
            raise InputError(
                f"expression {self.text!r}: function {name!r} is not supported "
                f"(supported: {sorted(_FUNCTIONS)})"
            )
        self.take("(")
        args = [self.expr()]
        while self.peek() == ("op", ","):
            self.take()
            args.append(self.expr())
        self.take(")")
        if len(args) != _FUNCTIONS[func]:
            raise InputError(
                f"expression {self.text!r}: {func} takes {_FUNCTIONS[func]} argument(s)"
            )
        return Node(func, args=tuple(args))


def parse_expression(text: str) -> Node:
    """Parse a metric-math expression; InputError on a syntax error."""
    return _Parser(text).parse()


def referenced_ids(node: Node) -> set[str]:
    """The metric/expression ids an expression refers to."""
    if node.kind == "id":
        return {node.name}
    out: set[str] = set()
    for arg in node.args:
        out |= referenced_ids(arg)
    return out


def _eval(node: Node, env: Mapping[str, np.ndarray]) -> np.ndarray | float:
    kind = node.kind
    if kind == "num":
        return node.value
    if kind == "id":
        return env[node.name]
    args = [_eval(a, env) for a in node.args]
    if kind == "neg":
        return -np.asarray(args[0])
    if kind == "ABS":
        return np.abs(args[0])
    if kind == "FILL":
        base = np.asarray(args[0], dtype=np.float64)
        return np.where(np.isnan(base), args[1], base)
    return _binary(kind, args[0], args[1])


def _binary(
    kind: str, left: np.ndarray | float, right: np.ndarray | float
) -> np.ndarray | float:
    """One arithmetic operator with CloudWatch's missing-point rules."""
    a = np.asarray(left, dtype=np.float64)
    b = np.asarray(right, dtype=np.float64)
    neither: np.ndarray | None = None
    if a.ndim > 0 and b.ndim > 0:
        # A timestamp that only one series has: the missing value counts as 0.
        neither = np.isnan(a) & np.isnan(b)
        a, b = np.nan_to_num(a, nan=0.0), np.nan_to_num(b, nan=0.0)
    if kind == "+":
        out = a + b
    elif kind == "-":
        out = a - b
    elif kind == "*":
        out = a * b
    elif kind == "/":
        out = a / b
    else:
        out = np.power(a, b)
    out = np.asarray(out, dtype=np.float64)
    if neither is not None:
        out = np.where(neither, np.nan, out)
    # Division by zero (or overflow) drops the point.
    out = np.where(np.isfinite(out), out, np.nan)
    return out if out.ndim else float(out)


def evaluate(node: Node, env: Mapping[str, np.ndarray], length: int) -> np.ndarray:
    """Evaluate over aligned series; non-finite results become NaN (missing).

    Parameters
    ----------
    node
        A parsed expression.
    env
        Series (float64, NaN = missing) per id, each of ``length`` points.
    length
        Number of points (a constant expression is broadcast to it).
    """
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        result = np.broadcast_to(
            np.asarray(_eval(node, env), dtype=np.float64), (length,)
        )
    out = np.array(result, dtype=np.float64)
    out[~np.isfinite(out)] = np.nan
    return out

"""A metric-math subset: parse an ``Expression`` and evaluate it over numpy series.

Grammar (CloudWatch precedence; ``^`` binds tighter than unary minus as in
CloudWatch's ``-2^2 = -4``; CloudWatch documents no precedence between the
logical and comparison operators, the conventional one is used)::

    expr    := andexpr (("OR" | "||") andexpr)*
    andexpr := cmp (("AND" | "&&") cmp)*
    cmp     := sum (("==" | "!=" | "<=" | ">=" | "<" | ">") sum)?
    sum     := term (("+" | "-") term)*
    term    := unary (("*" | "/") unary)*
    unary   := ("-" | "+") unary | power
    power   := primary ("^" unary)?
    primary := NUMBER | ID | FUNC "(" arg ("," arg)* ")" | "(" expr ")"
    arg     := expr | "[" expr ("," expr)* "]"

Functions: ``FILL(x, v)`` (replace missing points of ``x`` by ``v``, a number or
another series), ``ABS(x)``, ``IF(condition, true_value[, false_value])`` and
``MIN``, ``MAX``, ``AVG``, ``SUM`` of one series (a scalar over every point of
the series) or of an array ``[a, b, ...]`` (a series, point by point). Missing
datapoints are NaN.

Comparison and logical operators ("Using metric math", *Comparison and logical
operators*) give 1 (true) or 0 (false) per point; between two series a
timestamp only one of them has counts the other as 0, as for arithmetic.
``IF`` follows *Using IF expressions*: a condition point is true when it is not
0; a missing condition point gives no point; true with a missing
``true_value`` point gives 0; false with a missing (or omitted)
``false_value`` drops the point. A scalar ``MIN(m1)`` etc. is taken over the
whole evaluated series here, whereas CloudWatch takes it over the points an
alarm fetches (AWS advises against such scalars in alarms for that reason).
The array forms treat a missing point as 0 (documented for ``AVG``) unless
every series misses it.

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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import numpy as np

from dpcsim.errors import InputError

__all__ = ["Node", "evaluate", "parse_expression", "referenced_ids"]

_TOKEN: Final = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)"
    r"|(?P<id>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>==|!=|<=|>=|&&|\|\||[-+*/^(),<>\[\]]))"
)
#: Function name -> (fewest, most) arguments.
_FUNCTIONS: Final[dict[str, tuple[int, int]]] = {
    "FILL": (2, 2),
    "ABS": (1, 1),
    "IF": (2, 3),
    "MIN": (1, 1),
    "MAX": (1, 1),
    "AVG": (1, 1),
    "SUM": (1, 1),
}
_REDUCERS: Final = ("MIN", "MAX", "AVG", "SUM")
_COMPARISONS: Final = ("==", "!=", "<=", ">=", "<", ">")
#: Logical operator spellings -> node kind.
_LOGICAL: Final[dict[str, str]] = {"AND": "AND", "&&": "AND", "OR": "OR", "||": "OR"}


@dataclass(frozen=True, slots=True)
class Node:
    """An expression node.

    ``kind`` is num, id, neg, array, an operator (+ - * / ^, a comparison,
    AND, OR) or a function name.
    """

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

    def _logical(self, word: str) -> bool:
        tok = self.peek()
        return tok is not None and _LOGICAL.get(tok[1].upper(), "") == word

    def expr(self) -> Node:
        node = self.and_expr()
        while self._logical("OR"):
            self.take()
            node = Node("OR", args=(node, self.and_expr()))
        return node

    def and_expr(self) -> Node:
        node = self.comparison()
        while self._logical("AND"):
            self.take()
            node = Node("AND", args=(node, self.comparison()))
        return node

    def comparison(self) -> Node:
        node = self.sum()
        tok = self.peek()
        if tok is not None and tok[0] == "op" and tok[1] in _COMPARISONS:
            self.take()
            node = Node(tok[1], args=(node, self.sum()))
        return node

    def sum(self) -> Node:
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
            if text.upper() in _LOGICAL:
                raise InputError(f"expression {self.text!r}: unexpected {text!r}")
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
        args = [self.argument(func)]
        while self.peek() == ("op", ","):
            self.take()
            args.append(self.argument(func))
        self.take(")")
        low, high = _FUNCTIONS[func]
        if not low <= len(args) <= high:
            count = str(low) if low == high else f"{low} to {high}"
            raise InputError(
                f"expression {self.text!r}: {func} takes {count} argument(s)"
            )
        return Node(func, args=tuple(args))

    def argument(self, func: str) -> Node:
        """One function argument; an array ``[a, b]`` only for MIN/MAX/AVG/SUM."""
        if self.peek() != ("op", "["):
            return self.expr()
        if func not in _REDUCERS:
            raise InputError(
                f"expression {self.text!r}: {func} does not take an array [...]"
            )
        self.take("[")
        items = [self.expr()]
        while self.peek() == ("op", ","):
            self.take()
            items.append(self.expr())
        self.take("]")
        return Node("array", args=tuple(items))


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
    if kind in _REDUCERS:
        return _reduce(kind, node.args[0], env)
    args = [_eval(a, env) for a in node.args]
    if kind == "IF":
        return _if(*args)
    if kind == "neg":
        return -np.asarray(args[0])
    if kind == "ABS":
        return np.abs(args[0])
    if kind == "FILL":
        base = np.asarray(args[0], dtype=np.float64)
        return np.where(np.isnan(base), args[1], base)
    return _binary(kind, args[0], args[1])


#: Reducer of each of MIN/MAX/AVG/SUM.
_REDUCE: Final[dict[str, Callable[..., Any]]] = {
    "MIN": np.min,
    "MAX": np.max,
    "AVG": np.mean,
    "SUM": np.sum,
}


def _reduce(kind: str, arg: Node, env: Mapping[str, np.ndarray]) -> np.ndarray | float:
    """MIN/MAX/AVG/SUM: a scalar over one series, or a series over an array."""
    if arg.kind == "array":
        items = [np.asarray(_eval(a, env), dtype=np.float64) for a in arg.args]
        length = max((i.size for i in items if i.ndim), default=1)
        stack = np.stack([np.broadcast_to(i, (length,)) for i in items])
        none = np.isnan(stack).all(axis=0)
        filled = np.nan_to_num(stack, nan=0.0)
        out = np.where(none, np.nan, _REDUCE[kind](filled, axis=0))
        return out if any(i.ndim for i in items) else float(out[0])
    value = np.asarray(_eval(arg, env), dtype=np.float64)
    present = value[~np.isnan(value)] if value.ndim else value.reshape(1)
    if present.size == 0:
        return float("nan")
    return float(_REDUCE[kind](present))


def _if(
    condition: np.ndarray | float,
    true_value: np.ndarray | float,
    false_value: np.ndarray | float = float("nan"),
) -> np.ndarray | float:
    """IF as "Using IF expressions" defines it (see the module docstring)."""
    cond = np.asarray(condition, dtype=np.float64)
    yes = np.asarray(true_value, dtype=np.float64)
    no = np.asarray(false_value, dtype=np.float64)
    # True with a missing true point gives 0; false with a missing false point
    # (or none given) drops the point; a missing condition point drops it.
    yes = np.nan_to_num(yes, nan=0.0) if yes.ndim else yes
    out = np.where(cond != 0.0, yes, no)
    out = np.where(np.isnan(cond), np.nan, out)
    return out if out.ndim else float(out)


def _binary(
    kind: str, left: np.ndarray | float, right: np.ndarray | float
) -> np.ndarray | float:
    """One arithmetic, comparison or logical operator with CloudWatch's missing-point
    rules."""
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
    elif kind == "^":
        out = np.power(a, b)
    else:
        out = _compare(kind, a, b).astype(np.float64)
        # A series compared with a scalar keeps the series' timestamps only.
        out = np.where(np.isnan(a) | np.isnan(b), np.nan, out)
    out = np.asarray(out, dtype=np.float64)
    if neither is not None:
        out = np.where(neither, np.nan, out)
    # Division by zero (or overflow) drops the point.
    out = np.where(np.isfinite(out), out, np.nan)
    return out if out.ndim else float(out)


def _compare(kind: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """A comparison or logical operator: a boolean array (1 true, 0 false)."""
    if kind == "AND":
        return np.asarray((a != 0.0) & (b != 0.0))
    if kind == "OR":
        return np.asarray((a != 0.0) | (b != 0.0))
    ops = {
        "==": np.equal,
        "!=": np.not_equal,
        "<=": np.less_equal,
        ">=": np.greater_equal,
        "<": np.less,
        ">": np.greater,
    }
    return np.asarray(ops[kind](a, b))


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

"""The Calico selector language, parsed into a matchable, hashable expression tree.

Grammar and semantics follow projectcalico/calico:libcalico-go/lib/selector/parser
(docs/semantics.md §4): `all()`, `global()`, `has(k)`, `k == "v"`, `k != "v"`,
`k in {"a", "b"}`, `k not in {...}`, `k contains "s"`, `k starts with "s"`,
`k ends with "s"`, `!e`, `e && e`, `e || e`, parentheses; `!` binds tighter than
`&&`, which binds tighter than `||`. `!=` and `not in` are also true when the label is
absent. An empty selector means `all()`. `global()` selects non-namespaced endpoints
(host endpoints, networksets), so it never matches a pod.

Errors name the position, so a user can find the typo in a long selector.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum


class CalicoSelectorError(ValueError):
    """A selector Calico would reject; the message says where and why."""


class Op(StrEnum):
    ALL = "all"
    GLOBAL = "global"
    HAS = "has"
    EQ = "=="
    NE = "!="
    IN = "in"
    NOT_IN = "not in"
    CONTAINS = "contains"
    STARTS = "starts with"
    ENDS = "ends with"
    NOT = "!"
    AND = "&&"
    OR = "||"


@dataclass(frozen=True, slots=True)
class CalicoSelector:
    """One node of the expression tree. Leaves use `key`/`values`; `!`, `&&`, `||`
    use `children`."""

    op: Op
    key: str = ""
    values: tuple[str, ...] = ()
    children: tuple[CalicoSelector, ...] = ()

    @property
    def is_empty(self) -> bool:
        """True for `all()`: selects every endpoint."""
        return self.op is Op.ALL

    def keys(self) -> frozenset[str]:
        if self.children:
            return frozenset().union(*(c.keys() for c in self.children))
        return frozenset({self.key}) if self.key else frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        op = self.op
        if op is Op.AND:
            return all(c.matches(labels) for c in self.children)
        if op is Op.OR:
            return any(c.matches(labels) for c in self.children)
        if op is Op.NOT:
            return not self.children[0].matches(labels)
        if op is Op.ALL:
            return True
        if op is Op.GLOBAL:
            return False
        value = labels.get(self.key)
        if op is Op.HAS:
            return value is not None
        if op is Op.NE:
            return value != self.values[0]
        if op is Op.NOT_IN:
            return value not in self.values
        if value is None:
            return False
        if op is Op.EQ:
            return value == self.values[0]
        if op is Op.IN:
            return value in self.values
        if op is Op.CONTAINS:
            return self.values[0] in value
        if op is Op.STARTS:
            return value.startswith(self.values[0])
        return value.endswith(self.values[0])

    def __str__(self) -> str:
        op = self.op
        if op is Op.ALL or op is Op.GLOBAL:
            return f"{op}()"
        if op is Op.HAS:
            return f"has({self.key})"
        if op is Op.NOT:
            return f"!({self.children[0]})"
        if op is Op.AND or op is Op.OR:
            return f" {op} ".join(
                f"({c})" if c.op in (Op.AND, Op.OR) else str(c) for c in self.children
            )
        if op in (Op.IN, Op.NOT_IN):
            return f"{self.key} {op} {{{', '.join(repr(v) for v in self.values)}}}"
        return f"{self.key} {op} {self.values[0]!r}"


ALL = CalicoSelector(Op.ALL)

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<str>"[^"]*"|'[^']*')
    | (?P<op>==|!=|&&|\|\||[!(){},])
    | (?P<word>[A-Za-z0-9_./\-]+)
    )""",
    re.X,
)
_KEY = re.compile(r"^[A-Za-z0-9_./\-]+$")


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[tuple[str, str, int]] = []
        pos = 0
        while pos < len(text):
            if text[pos:].strip() == "":
                break
            m = _TOKEN.match(text, pos)
            if m is None or m.end() == pos:
                where = len(text) - len(text[pos:].lstrip())
                raise CalicoSelectorError(
                    f"unexpected character {text[where]!r} at position {where} in {text!r}"
                )
            kind = m.lastgroup or ""
            start = m.start(kind)
            self.tokens.append((kind, m.group(kind), start))
            pos = m.end()
        self.i = 0

    def peek(self, offset: int = 0) -> tuple[str, str, int] | None:
        j = self.i + offset
        return self.tokens[j] if j < len(self.tokens) else None

    def fail(self, want: str) -> CalicoSelectorError:
        tok = self.peek()
        got = f"{tok[1]!r} at position {tok[2]}" if tok else "end of selector"
        return CalicoSelectorError(f"expected {want}, got {got} in {self.text!r}")

    def take(self, value: str) -> None:
        tok = self.peek()
        if tok is None or tok[1] != value:
            raise self.fail(repr(value))
        self.i += 1

    def at(self, value: str, offset: int = 0) -> bool:
        tok = self.peek(offset)
        return tok is not None and tok[0] != "str" and tok[1] == value

    def parse(self) -> CalicoSelector:
        if not self.tokens:
            return ALL
        expr = self.parse_or()
        if self.peek() is not None:
            raise self.fail("'&&', '||' or the end of the selector")
        return expr

    def parse_or(self) -> CalicoSelector:
        parts = [self.parse_and()]
        while self.at("||"):
            self.i += 1
            parts.append(self.parse_and())
        return parts[0] if len(parts) == 1 else CalicoSelector(Op.OR, children=tuple(parts))

    def parse_and(self) -> CalicoSelector:
        parts = [self.parse_unary()]
        while self.at("&&"):
            self.i += 1
            parts.append(self.parse_unary())
        return parts[0] if len(parts) == 1 else CalicoSelector(Op.AND, children=tuple(parts))

    def parse_unary(self) -> CalicoSelector:
        if self.at("!"):
            self.i += 1
            return CalicoSelector(Op.NOT, children=(self.parse_unary(),))
        if self.at("("):
            self.i += 1
            inner = self.parse_or()
            self.take(")")
            return inner
        tok = self.peek()
        if tok is None or tok[0] != "word":
            raise self.fail("a label name, has(), all(), global(), '!' or '('")
        word = tok[1]
        if word in ("all", "global") and self.at("(", 1):
            self.i += 2
            self.take(")")
            return CalicoSelector(Op.ALL if word == "all" else Op.GLOBAL)
        if word == "has" and self.at("(", 1):
            self.i += 2
            key = self.key()
            self.take(")")
            return CalicoSelector(Op.HAS, key)
        key = self.key()
        return self.comparison(key)

    def key(self) -> str:
        tok = self.peek()
        if tok is None or tok[0] != "word" or not _KEY.match(tok[1]):
            raise self.fail("a label name")
        self.i += 1
        return tok[1]

    def string(self) -> str:
        tok = self.peek()
        if tok is None or tok[0] != "str":
            raise self.fail("a quoted string")
        self.i += 1
        return tok[1][1:-1]

    def comparison(self, key: str) -> CalicoSelector:
        if self.at("=="):
            self.i += 1
            return CalicoSelector(Op.EQ, key, (self.string(),))
        if self.at("!="):
            self.i += 1
            return CalicoSelector(Op.NE, key, (self.string(),))
        if self.at("in"):
            self.i += 1
            return CalicoSelector(Op.IN, key, self.string_set())
        if self.at("not") and self.at("in", 1):
            self.i += 2
            return CalicoSelector(Op.NOT_IN, key, self.string_set())
        if self.at("contains"):
            self.i += 1
            return CalicoSelector(Op.CONTAINS, key, (self.string(),))
        for word, op in (("starts", Op.STARTS), ("ends", Op.ENDS)):
            if self.at(word) and self.at("with", 1):
                self.i += 2
                return CalicoSelector(op, key, (self.string(),))
        raise self.fail(
            f"an operator after {key!r} (==, !=, in, not in, contains, starts with, ends with)"
        )

    def string_set(self) -> tuple[str, ...]:
        self.take("{")
        values: list[str] = []
        if not self.at("}"):
            values.append(self.string())
            while self.at(","):
                self.i += 1
                values.append(self.string())
        self.take("}")
        return tuple(sorted(set(values)))


_CACHE: dict[str, CalicoSelector] = {}


def parse_calico_selector(text: object, where: object = "selector") -> CalicoSelector:
    """Parse a selector expression; raise CalicoSelectorError naming `where`."""
    if text is None:
        return ALL
    if not isinstance(text, str):
        raise CalicoSelectorError(f"{where}: expected a string, got {type(text).__name__}")
    found = _CACHE.get(text)
    if found is None:
        try:
            found = _Parser(text).parse()
        except CalicoSelectorError as exc:
            raise CalicoSelectorError(f"{where}: {exc}") from None
        if len(_CACHE) < 100_000:
            _CACHE[text] = found
    return found

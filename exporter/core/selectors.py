"""Kubernetes label selectors (matchLabels + matchExpressions).

Semantics follow kubernetes/apimachinery:pkg/labels/selector.go `Requirement.Matches`:
`NotIn` and `DoesNotExist` also match objects that lack the key. An empty selector
matches everything; a null selector is the caller's business (the policy APIs give
it different meanings).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum


class SelectorError(ValueError):
    """A selector the API server would reject; the message says what is wrong."""


class Operator(StrEnum):
    IN = "In"
    NOT_IN = "NotIn"
    EXISTS = "Exists"
    DOES_NOT_EXIST = "DoesNotExist"


@dataclass(frozen=True, slots=True)
class Requirement:
    key: str
    operator: Operator
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        value = labels.get(self.key)
        if self.operator is Operator.IN:
            return value is not None and value in self.values
        if self.operator is Operator.NOT_IN:
            return value is None or value not in self.values
        if self.operator is Operator.EXISTS:
            return value is not None
        return value is None

    def __str__(self) -> str:
        if self.operator is Operator.EXISTS:
            return self.key
        if self.operator is Operator.DOES_NOT_EXIST:
            return f"!{self.key}"
        op = "in" if self.operator is Operator.IN else "notin"
        return f"{self.key} {op} ({','.join(sorted(self.values))})"


@dataclass(frozen=True, slots=True)
class LabelSelector:
    """A parsed selector; hashable so equal selectors share cached match results."""

    requirements: tuple[Requirement, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not self.requirements

    def matches(self, labels: Mapping[str, str]) -> bool:
        # A plain loop: this is the hottest function of a scan, and all() with a
        # generator costs about twice as much per call.
        for req in self.requirements:  # noqa: SIM110
            if not req.matches(labels):
                return False
        return True

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements) or "{}"


EVERYTHING = LabelSelector()


_CACHE: dict[str, LabelSelector] = {}
_CACHE_LIMIT = 100_000


def parse_label_selector(obj: object, where: object = "selector") -> LabelSelector:
    """Parse a metav1.LabelSelector dict; raise SelectorError naming the bad part.

    Real clusters repeat the same few hundred selectors across thousands of policies,
    so parses are memoised by the dict's text (a different key order only misses).
    """
    if obj is None:
        return EVERYTHING
    key = repr(obj)
    found = _CACHE.get(key)
    if found is not None:
        return found
    selector = _parse(obj, where)
    if len(_CACHE) < _CACHE_LIMIT:
        _CACHE[key] = selector
    return selector


def _parse(obj: object, where: object) -> LabelSelector:
    if not isinstance(obj, dict):
        raise SelectorError(f"{where}: expected a mapping, got {type(obj).__name__}")
    unknown = set(obj) - {"matchLabels", "matchExpressions"}
    if unknown:
        raise SelectorError(f"{where}: unknown field(s) {', '.join(sorted(map(str, unknown)))}")
    reqs: list[Requirement] = []
    match_labels = obj.get("matchLabels") or {}
    if not isinstance(match_labels, dict):
        raise SelectorError(f"{where}.matchLabels: expected a mapping")
    for key, value in match_labels.items():
        if not isinstance(key, str) or not key:
            raise SelectorError(f"{where}.matchLabels: invalid key {key!r}")
        if isinstance(value, bool) or value is None or isinstance(value, list | dict):
            raise SelectorError(f"{where}.matchLabels[{key}]: value must be a string")
        reqs.append(Requirement(key, Operator.IN, frozenset({str(value)})))
    expressions = obj.get("matchExpressions") or []
    if not isinstance(expressions, list):
        raise SelectorError(f"{where}.matchExpressions: expected a list")
    for i, expr in enumerate(expressions):
        reqs.append(_parse_expression(expr, f"{where}.matchExpressions[{i}]"))
    # Sorted so that selectors equal in meaning are equal as values (and share caches).
    if len(reqs) > 1:
        reqs.sort(key=lambda r: (r.key, r.operator.value, sorted(r.values)))
    return LabelSelector(tuple(reqs))


def _parse_expression(expr: object, where: str) -> Requirement:
    if not isinstance(expr, dict):
        raise SelectorError(f"{where}: expected a mapping")
    key = expr.get("key")
    if not isinstance(key, str) or not key:
        raise SelectorError(f"{where}: missing key")
    raw_op = expr.get("operator")
    try:
        op = Operator(str(raw_op))
    except ValueError:
        raise SelectorError(
            f"{where}: unknown operator {raw_op!r} (want In, NotIn, Exists or DoesNotExist)"
        ) from None
    values = expr.get("values") or []
    if not isinstance(values, list) or not all(isinstance(v, str | int | float) for v in values):
        raise SelectorError(f"{where}: values must be a list of strings")
    if op in (Operator.IN, Operator.NOT_IN) and not values:
        raise SelectorError(f"{where}: operator {op} needs at least one value")
    if op in (Operator.EXISTS, Operator.DOES_NOT_EXIST) and values:
        raise SelectorError(f"{where}: operator {op} takes no values")
    return Requirement(key, op, frozenset(str(v) for v in values))

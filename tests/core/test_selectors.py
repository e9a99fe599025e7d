"""Label selectors: parsing and matching, per kubernetes/apimachinery pkg/labels/selector.go
`Requirement.Matches` and types.go `LabelSelector` (docs/semantics.md §1.4)."""

from __future__ import annotations

from typing import Any

import pytest

from exporter.core.selectors import (
    EVERYTHING,
    LabelSelector,
    Operator,
    SelectorError,
    parse_label_selector,
)

WEB_FRONT = {"app": "web", "tier": "front"}
NO_TIER = {"app": "web"}
NOTHING: dict[str, str] = {}

MATCHING = [
    # (rule, selector, labels, expected)
    pytest.param(
        "§1.1.1 types.go: empty selector matches everything", {}, WEB_FRONT, True, id="empty-all"
    ),
    pytest.param("§1.1.1: empty selector matches unlabelled", {}, NOTHING, True, id="empty-none"),
    pytest.param(
        "§1.1.1: null selector (absent) is the empty selector",
        None,
        WEB_FRONT,
        True,
        id="null",
    ),
    pytest.param(
        "types.go matchLabels: key=value",
        {"matchLabels": {"app": "web"}},
        WEB_FRONT,
        True,
        id="match-labels-hit",
    ),
    pytest.param(
        "types.go matchLabels: other value does not match",
        {"matchLabels": {"app": "db"}},
        WEB_FRONT,
        False,
        id="match-labels-other-value",
    ),
    pytest.param(
        "types.go matchLabels: missing key does not match",
        {"matchLabels": {"tier": "front"}},
        NO_TIER,
        False,
        id="match-labels-missing-key",
    ),
    pytest.param(
        "types.go matchLabels: all pairs must match (AND)",
        {"matchLabels": {"app": "web", "tier": "back"}},
        WEB_FRONT,
        False,
        id="match-labels-and",
    ),
    pytest.param(
        "selector.go In: value listed",
        {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["back", "front"]}]},
        WEB_FRONT,
        True,
        id="in-hit",
    ),
    pytest.param(
        "selector.go In: value not listed",
        {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["back"]}]},
        WEB_FRONT,
        False,
        id="in-miss",
    ),
    pytest.param(
        "selector.go In: key absent never matches",
        {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["front"]}]},
        NO_TIER,
        False,
        id="in-absent",
    ),
    pytest.param(
        "selector.go NotIn: value listed -> no match",
        {"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["front"]}]},
        WEB_FRONT,
        False,
        id="notin-listed",
    ),
    pytest.param(
        "selector.go NotIn: other value matches",
        {"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["back"]}]},
        WEB_FRONT,
        True,
        id="notin-other",
    ),
    pytest.param(
        "§1.4 selector.go Requirement.Matches: NotIn matches objects WITHOUT the key",
        {"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["front"]}]},
        NO_TIER,
        True,
        id="notin-absent-key",
    ),
    pytest.param(
        "selector.go Exists: key present",
        {"matchExpressions": [{"key": "tier", "operator": "Exists"}]},
        WEB_FRONT,
        True,
        id="exists-hit",
    ),
    pytest.param(
        "selector.go Exists: key absent",
        {"matchExpressions": [{"key": "tier", "operator": "Exists"}]},
        NO_TIER,
        False,
        id="exists-miss",
    ),
    pytest.param(
        "selector.go Exists: empty value still exists",
        {"matchExpressions": [{"key": "tier", "operator": "Exists"}]},
        {"tier": ""},
        True,
        id="exists-empty-value",
    ),
    pytest.param(
        "§1.4 selector.go: DoesNotExist matches objects without the key",
        {"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]},
        NO_TIER,
        True,
        id="does-not-exist-hit",
    ),
    pytest.param(
        "selector.go DoesNotExist: key present -> no match",
        {"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]},
        WEB_FRONT,
        False,
        id="does-not-exist-miss",
    ),
    pytest.param(
        "types.go: matchLabels AND matchExpressions",
        {
            "matchLabels": {"app": "web"},
            "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["front"]}],
        },
        WEB_FRONT,
        False,
        id="labels-and-expressions",
    ),
    pytest.param(
        "types.go: all expressions must hold",
        {
            "matchExpressions": [
                {"key": "app", "operator": "Exists"},
                {"key": "tier", "operator": "DoesNotExist"},
            ]
        },
        NO_TIER,
        True,
        id="expressions-and",
    ),
    pytest.param(
        "matchLabels with a numeric YAML value is read as its text",
        {"matchLabels": {"version": 2}},
        {"version": "2"},
        True,
        id="numeric-value",
    ),
]


@pytest.mark.parametrize(("rule", "selector", "labels", "expected"), MATCHING)
def test_matching(rule: str, selector: Any, labels: dict[str, str], expected: bool) -> None:
    parsed = parse_label_selector(selector)
    assert parsed.matches(labels) is expected, rule


ERRORS = [
    # (rule, selector, words the message must contain)
    pytest.param(
        "selector.go: unknown operator is rejected",
        {"matchExpressions": [{"key": "a", "operator": "Equals", "values": ["x"]}]},
        ["matchExpressions[0]", "unknown operator", "Equals"],
        id="unknown-operator",
    ),
    pytest.param(
        "selector.go: operator names are case-sensitive",
        {"matchExpressions": [{"key": "a", "operator": "in", "values": ["x"]}]},
        ["unknown operator"],
        id="lowercase-operator",
    ),
    pytest.param(
        "validation: Exists takes no values",
        {"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]},
        ["Exists", "no values"],
        id="exists-with-values",
    ),
    pytest.param(
        "validation: DoesNotExist takes no values",
        {"matchExpressions": [{"key": "a", "operator": "DoesNotExist", "values": ["x"]}]},
        ["DoesNotExist", "no values"],
        id="does-not-exist-with-values",
    ),
    pytest.param(
        "validation: In needs at least one value",
        {"matchExpressions": [{"key": "a", "operator": "In", "values": []}]},
        ["In", "at least one value"],
        id="in-empty-values",
    ),
    pytest.param(
        "validation: NotIn needs at least one value",
        {"matchExpressions": [{"key": "a", "operator": "NotIn"}]},
        ["NotIn", "at least one value"],
        id="notin-no-values",
    ),
    pytest.param(
        "validation: expression needs a key",
        {"matchExpressions": [{"operator": "Exists"}]},
        ["missing key"],
        id="missing-key",
    ),
    pytest.param(
        "types.go: selector is a mapping",
        ["app=web"],
        ["expected a mapping"],
        id="not-a-mapping",
    ),
    pytest.param(
        "types.go: only matchLabels and matchExpressions",
        {"matchLabel": {"app": "web"}},
        ["unknown field", "matchLabel"],
        id="typo-field",
    ),
    pytest.param(
        "types.go: matchLabels is a map",
        {"matchLabels": ["app"]},
        ["matchLabels", "mapping"],
        id="match-labels-list",
    ),
    pytest.param(
        "types.go: matchLabels values are strings",
        {"matchLabels": {"app": ["web"]}},
        ["matchLabels[app]", "string"],
        id="match-labels-list-value",
    ),
    pytest.param(
        "types.go: matchExpressions is a list",
        {"matchExpressions": {"key": "a", "operator": "Exists"}},
        ["matchExpressions", "list"],
        id="match-expressions-mapping",
    ),
    pytest.param(
        "types.go: values is a list of strings",
        {"matchExpressions": [{"key": "a", "operator": "In", "values": "x"}]},
        ["values must be a list"],
        id="values-not-list",
    ),
]


@pytest.mark.parametrize(("rule", "selector", "words"), ERRORS)
def test_errors_name_the_problem(rule: str, selector: Any, words: list[str]) -> None:
    with pytest.raises(SelectorError) as info:
        parse_label_selector(selector, "spec.podSelector")
    message = str(info.value)
    assert message.startswith("spec.podSelector"), rule
    for word in words:
        assert word in message, (rule, message)


def test_null_and_empty_are_everything() -> None:
    assert parse_label_selector(None) is EVERYTHING
    assert parse_label_selector({}).is_empty
    assert parse_label_selector({"matchLabels": {}, "matchExpressions": []}).is_empty
    assert not parse_label_selector({"matchLabels": {"a": "b"}}).is_empty


def test_equal_meaning_gives_equal_selectors() -> None:
    """Order of labels and expressions does not change a selector's meaning or value."""
    a = parse_label_selector(
        {
            "matchLabels": {"b": "2", "a": "1"},
            "matchExpressions": [
                {"key": "z", "operator": "Exists"},
                {"key": "y", "operator": "In", "values": ["q", "p"]},
            ],
        }
    )
    b = parse_label_selector(
        {
            "matchExpressions": [
                {"key": "y", "operator": "In", "values": ["p", "q"]},
                {"key": "z", "operator": "Exists"},
            ],
            "matchLabels": {"a": "1", "b": "2"},
        }
    )
    assert a == b
    assert hash(a) == hash(b)
    assert a != parse_label_selector({"matchLabels": {"a": "1"}})


def test_string_form() -> None:
    sel = parse_label_selector(
        {
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "NotIn", "values": ["b", "a"]},
                {"key": "canary", "operator": "DoesNotExist"},
                {"key": "team", "operator": "Exists"},
            ],
        }
    )
    assert str(sel) == "app in (web),!canary,team,tier notin (a,b)"
    assert str(LabelSelector()) == "{}"


def test_requirements_keep_operator_and_values() -> None:
    sel = parse_label_selector(
        {"matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["prod", "stage"]}]}
    )
    (req,) = sel.requirements
    assert req.key == "env"
    assert req.operator is Operator.NOT_IN
    assert req.values == frozenset({"prod", "stage"})

"""Typed reads of fields of plain objects, for parsers that must name a wrong type.

Manifests and API responses are untyped: `ports: 8080` where a list belongs, or a list
where a protocol name belongs, must become an input error naming the field, never a
TypeError out of a loop (which would stop the whole scan on one object).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn


def _type_name(value: object) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), f"a {type(value).__name__}"
    )


def expected(what: str, where: str, value: object, error: type[Exception]) -> NoReturn:
    raise error(f"{where}: expected {what}, got {_type_name(value)} ({ascii(value)[:60]})")


def as_list(value: object, where: str, error: type[Exception]) -> list[Any]:
    """A list field (missing or null: empty)."""
    if value is None:
        return []
    if not isinstance(value, list):
        expected("a list", where, value, error)
    return value


def as_mapping(value: object, where: str, error: type[Exception]) -> dict[str, Any]:
    """A mapping field (missing or null: empty)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        expected("a mapping", where, value, error)
    return value


def as_name(value: object, where: str, error: type[Exception], default: str = "") -> str:
    """A string field such as a protocol (missing, null or empty: `default`)."""
    if value is None or value == "":
        return default
    if not isinstance(value, str):
        expected("a string", where, value, error)
    return value


Reporter = Callable[[str], None]

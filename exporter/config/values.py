"""Parsers of single configuration values; each raises ValueError saying what is wrong."""

from __future__ import annotations

import re
from typing import Any

LOG_LEVELS = ("debug", "info", "warning", "error")
NETWORK_PLUGINS = ("cilium", "calico", "generic")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,62}$")
"""A cluster name or shard: it becomes a label value."""
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


def parse_duration(text: object) -> float:
    """`5m`, `1h30m`, `400d`, `90s`, `250ms`, or a number of seconds."""
    if isinstance(text, bool):
        raise ValueError(f"{text!r} is not a duration")
    if isinstance(text, int | float):
        if text < 0:
            raise ValueError(f"{text!r} is negative")
        return float(text)
    value = str(text).strip()
    pos, total = 0, 0.0
    for match in _DURATION.finditer(value):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if not value or pos != len(value):
        raise ValueError(f"{text!r} is not a duration (e.g. 30s, 5m, 1h30m, 400d)")
    return total


def parse_listen_address(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{text!r} is not HOST:PORT (e.g. :9873 or 127.0.0.1:9873)")
    return host.strip("[]"), int(port)


def store_url(text: str) -> str:
    if text.startswith("sqlite:///") or text.startswith(("postgresql://", "postgres://")):
        return text
    if text.startswith("postgresql+psycopg://"):
        return text
    raise ValueError(f"{text!r}: want sqlite:///PATH or postgresql://USER@HOST/DB")


def network_plugin(raw: object) -> str | None:
    """`cilium`, `calico`, `generic`, or None for `auto` / not given."""
    if raw is None or str(raw) == "auto":
        return None
    if str(raw) not in NETWORK_PLUGINS:
        raise ValueError(f"{raw!r} is not one of auto, {', '.join(NETWORK_PLUGINS)}")
    return str(raw)


def positive_int(raw: Any) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int | str) or not str(raw).isdigit():
        raise ValueError(f"{raw!r} is not a positive whole number")
    if int(raw) < 1:
        raise ValueError(f"{raw!r} must be at least 1")
    return int(raw)


def count(raw: Any) -> int:
    if isinstance(raw, bool) or not str(raw).isdigit():
        raise ValueError(f"{raw!r} is not a whole number")
    return int(raw)


def shard(raw: Any) -> str:
    if isinstance(raw, bool) or not NAME.match(str(raw)):
        raise ValueError(f"{raw!r}: use letters, digits, '-', '_', '.', ':' (a label value)")
    return str(raw)


def log_level(raw: Any) -> str:
    if str(raw).lower() not in LOG_LEVELS:
        raise ValueError(f"{raw!r} is not one of {', '.join(LOG_LEVELS)}")
    return str(raw).lower()

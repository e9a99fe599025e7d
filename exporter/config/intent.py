"""`--intent FILE` / `intent:` in the config file (relative to it): read and validated
at start, its problems joining the config's (docs/intent.md)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from exporter.config.settings import Flags
from exporter.core.intent import IntentError
from exporter.sources.intent import LoadedIntent, load_intent


def intent(
    flags: Flags, file: Mapping[str, Any], base: Path, problems: list[str]
) -> LoadedIntent | None:
    given = flags.get("intent")
    raw = given if given is not None else file.get("intent")
    if raw is None:
        return None
    if not isinstance(raw, str) or not raw:
        problems.append("intent: want the path of an intent file")
        return None
    path = Path(raw)
    if given is None and not path.is_absolute():
        path = base / path
    try:
        return load_intent(path)
    except IntentError as exc:
        problems.extend(f"intent: {p}" for p in exc.problems)
        return None

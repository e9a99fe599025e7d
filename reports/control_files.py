"""Loading control mappings: the shipped reports/controls/*.yaml, then the user's files.

Safe loading: yaml-rs has no language tags (no object construction), alias replay is
capped, files over 1 MiB are refused, duplicate keys are an error. Every problem names the
file and the key path (e.g. `pci.yaml: controls[2].evidence[0]: unknown evidence 'x'`);
all problems are reported at once. A user's control with the same framework and id as a
shipped one replaces it; `enabled: false` drops it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml_rs

from exporter.core.selectors import SelectorError, parse_label_selector
from reports.controls import Control, Evidence, Scope

SHIPPED = Path(__file__).resolve().parent / "controls"
MAX_BYTES = 1024 * 1024
_TOP = {"framework", "reference", "scopes", "controls"}
_CONTROL = {"id", "title", "evidence", "scope", "note", "reference", "enabled"}
_SCOPE = {"description", "namespaceSelector", "namespaces"}


class ControlFileError(ValueError):
    """One or more problems in mapping files; the message lists each, one a line."""


def load_controls(extra: Sequence[Path] = (), shipped: bool = True) -> tuple[Control, ...]:
    files = sorted(SHIPPED.glob("*.yaml")) if shipped else []
    for p in extra:
        files.extend(sorted(p.glob("*.y*ml")) if p.is_dir() else [p])
    problems: list[str] = []
    by_key: dict[tuple[str, str], Control | None] = {}
    for path in files:
        for key, control in _load_file(path, problems):
            by_key[key] = control
    if problems:
        raise ControlFileError("\n".join(problems))
    return tuple(c for c in by_key.values() if c is not None)


def _load_file(path: Path, problems: list[str]) -> list[tuple[tuple[str, str], Control | None]]:
    where = path.name
    try:
        if path.stat().st_size > MAX_BYTES:
            problems.append(f"{path}: over {MAX_BYTES} bytes, not read")
            return []
        text = path.read_text(encoding="utf-8")
        doc = yaml_rs.loads(
            text,
            parse_datetime=False,
            alias_limits=yaml_rs.AliasLimits(max_total_replayed_events=10_000),
            duplicate_key_policy=yaml_rs.DuplicateKeyPolicy.Error,
        )
    except (
        OSError,
        UnicodeDecodeError,
        yaml_rs.YAMLDecodeError,
        RecursionError,
        ValueError,
    ) as exc:
        problems.append(f"{path}: cannot be read: {exc}")
        return []
    if not isinstance(doc, dict):
        problems.append(f"{where}: expected a mapping with framework and controls")
        return []
    _unknown(doc, _TOP, where, problems)
    framework = _text(doc, "framework", where, problems)
    reference = str(doc.get("reference") or "")
    scopes = _scopes(doc.get("scopes"), f"{where}: scopes", problems)
    raw = doc.get("controls")
    if not isinstance(raw, list):
        problems.append(f"{where}: controls: expected a list")
        return []
    out: list[tuple[tuple[str, str], Control | None]] = []
    for i, item in enumerate(raw):
        at = f"{where}: controls[{i}]"
        if not isinstance(item, dict):
            problems.append(f"{at}: expected a mapping")
            continue
        _unknown(item, _CONTROL, at, problems)
        cid = _text(item, "id", at, problems)
        enabled = item.get("enabled", True)
        if not isinstance(enabled, bool):
            problems.append(f"{at}.enabled: expected true or false")
        if enabled is False:
            out.append(((framework, cid), None))
            continue
        title = _text(item, "title", at, problems)
        evidence = _evidence(item.get("evidence"), f"{at}.evidence", problems)
        scope = Scope()
        raw_scope = item.get("scope")
        if isinstance(raw_scope, str):
            if raw_scope not in scopes:
                problems.append(
                    f"{at}.scope: unknown scope {raw_scope!r} (defined: "
                    f"{', '.join(sorted(scopes)) or 'none'})"
                )
            else:
                scope = scopes[raw_scope]
        elif raw_scope is not None:
            scope = _scope(raw_scope, f"{at}.scope", problems)
        out.append(
            (
                (framework, cid),
                Control(
                    framework=framework,
                    id=cid,
                    title=title,
                    evidence=evidence,
                    scope=scope,
                    reference=str(item.get("reference") or reference),
                    note=str(item.get("note") or ""),
                    source=str(path),
                ),
            )
        )
    return out


def _unknown(obj: dict[str, Any], known: set[str], at: str, problems: list[str]) -> None:
    for key in sorted(set(map(str, obj)) - known):
        problems.append(f"{at}.{key}: unknown key (known: {', '.join(sorted(known))})")


def _text(obj: dict[str, Any], key: str, at: str, problems: list[str]) -> str:
    value = obj.get(key)
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{at}.{key}: required text is missing")
        return ""
    return value.strip()


def _evidence(raw: object, at: str, problems: list[str]) -> tuple[Evidence, ...]:
    if not isinstance(raw, list) or not raw:
        problems.append(f"{at}: expected a non-empty list")
        return ()
    known = ", ".join(e.value for e in Evidence)
    out = []
    for i, item in enumerate(raw):
        try:
            out.append(Evidence(str(item)))
        except ValueError:
            problems.append(f"{at}[{i}]: unknown evidence {item!r} (known: {known})")
    return tuple(out)


def _scopes(raw: object, at: str, problems: list[str]) -> dict[str, Scope]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        problems.append(f"{at}: expected a mapping of scope names")
        return {}
    return {str(k): _scope(v, f"{at}.{k}", problems) for k, v in raw.items()}


def _scope(raw: object, at: str, problems: list[str]) -> Scope:
    if not isinstance(raw, dict):
        problems.append(f"{at}: expected a mapping (namespaceSelector, namespaces)")
        return Scope()
    _unknown(raw, _SCOPE, at, problems)
    selector = None
    if "namespaceSelector" in raw:
        try:
            selector = parse_label_selector(raw["namespaceSelector"], f"{at}.namespaceSelector")
        except SelectorError as exc:
            problems.append(str(exc))
    names = raw.get("namespaces") or []
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        problems.append(f"{at}.namespaces: expected a list of names or patterns")
        names = []
    if selector is None and not names:
        problems.append(f"{at}: needs namespaceSelector or namespaces")
    return Scope(selector, tuple(names), str(raw.get("description") or ""))

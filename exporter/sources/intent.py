"""Reading the intent file (`--intent FILE`, `intent:` in the serve config) and its
baseline directory. Validation is the core's (exporter/core/intent/schema.py); this
module reads the YAML safely (yaml-rs: plain data only, aliases capped, duplicate keys
refused), adds the file and line to every problem, and reads the baseline policies.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml_rs

from exporter.core.intent import (
    BaselineError,
    BaselinePolicy,
    Intent,
    IntentError,
    Problem,
    parse_intent,
    read_baseline,
)
from exporter.sources.manifests import read_objects

MAX_INTENT_BYTES = 4 * 1024 * 1024
_ITEM = re.compile(r"^(\s*)-(\s+|$)")


@dataclass(frozen=True, slots=True)
class LoadedIntent:
    """The validated intent and its baseline policies, with where they came from."""

    intent: Intent
    baseline: tuple[BaselinePolicy, ...]
    source: str


def load_intent(path: Path) -> LoadedIntent:
    """Raise IntentError with every problem of the file (and of its baseline)."""
    source = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_INTENT_BYTES:
            raise _fail(source, f"file is {size} bytes, over the {MAX_INTENT_BYTES} limit")
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise _fail(source, f"cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise _fail(source, f"not UTF-8 text: {exc.reason} at byte {exc.start}") from None
    try:
        raw = yaml_rs.loads(
            text,
            parse_datetime=False,
            alias_limits=yaml_rs.AliasLimits(max_total_replayed_events=100_000),
            duplicate_key_policy=yaml_rs.DuplicateKeyPolicy.Error,
        )
    except (yaml_rs.YAMLDecodeError, RecursionError, ValueError) as exc:
        raise _fail(source, f"invalid YAML: {str(exc).splitlines()[0]}") from None
    try:
        intent = parse_intent(raw)
    except IntentError as exc:
        problems = [Problem(p.path, p.message, source, locate(text, p.path)) for p in exc.problems]
        folder = raw.get("baseline", {}).get("directory") if isinstance(raw, dict) else None
        if isinstance(folder, str) and not _folder(path, folder).is_dir():
            where = ("baseline", "directory")
            problems.append(
                Problem(
                    where,
                    f"{_folder(path, folder)} is not a directory",
                    source,
                    locate(text, where),
                )
            )
        raise IntentError(problems) from None
    baseline: tuple[BaselinePolicy, ...] = ()
    if intent.baseline is not None:
        baseline = _baseline(path, text, intent.baseline.directory)
    return LoadedIntent(intent, baseline, source)


def _baseline(path: Path, text: str, directory: str) -> tuple[BaselinePolicy, ...]:
    where = ("baseline", "directory")
    folder = _folder(path, directory)
    if not folder.is_dir():
        raise IntentError(
            [Problem(where, f"{folder} is not a directory", str(path), locate(text, where))]
        )
    raws, errors = read_objects([folder])
    if errors:
        raise IntentError(
            [Problem(where, f"baseline: {e}", str(path), locate(text, where)) for e in errors]
        )
    if not raws:
        raise IntentError(
            [Problem(where, f"{folder} holds no policy", str(path), locate(text, where))]
        )
    try:
        return tuple(read_baseline(raws))
    except BaselineError as exc:
        raise IntentError(
            [
                Problem(where, f"baseline: {p}", str(path), locate(text, where))
                for p in str(exc).split("; ")
            ]
        ) from None


def _folder(intent_file: Path, directory: str) -> Path:
    """Relative baseline directories are relative to the intent file's folder."""
    folder = Path(directory)
    return folder if folder.is_absolute() else intent_file.parent / folder


def _fail(source: str, message: str) -> IntentError:
    return IntentError([Problem((), message, source)])


def locate(text: str, path: tuple[str | int, ...]) -> int | None:
    """The 1-based line of the deepest part of `path` found in block-style YAML (flow
    style `{...}` is found down to its enclosing key). None: not even the first key."""
    lines = text.splitlines()
    lo, hi = 0, len(lines)
    found: int | None = None
    for part in path:
        hit = _item(lines, lo, hi, part) if isinstance(part, int) else _key(lines, lo, hi, part)
        if hit is None:
            return found
        lo, hi = hit
        found = lo + 1
    return found


def _content(line: str) -> int | None:
    """Indent of the content (after any `- ` markers); None for blank and comment lines."""
    stripped = line.lstrip(" -")
    if not stripped or stripped.startswith("#"):
        return None
    return len(line) - len(stripped)


def _end(lines: list[str], start: int, hi: int, indent: int) -> int:
    for i in range(start + 1, hi):
        c = _content(lines[i])
        if c is None:
            continue
        dash = _ITEM.match(lines[i])
        # a compact list (`key:` then `- a` at the key's own indent) still belongs to it
        if c <= indent and not (dash and len(dash.group(1)) == indent):
            return i
    return hi


def _key(lines: list[str], lo: int, hi: int, key: str) -> tuple[int, int] | None:
    indents = [c for i in range(lo, hi) if (c := _content(lines[i])) is not None]
    if not indents:
        return None
    # the key may sit on the range's first line (a list item `- name: x`) or below it
    first = _content(lines[lo])
    candidates = [first] if first is not None else []
    below = [c for i in range(lo + 1, hi) if (c := _content(lines[i])) is not None]
    if below:
        candidates.append(min(below))
    pattern = re.compile(rf"^[\s-]*[\"']?{re.escape(key)}[\"']?\s*:(\s|$)")
    for i in range(lo, hi):
        c = _content(lines[i])
        if c in candidates and pattern.match(lines[i]):
            return i, _end(lines, i, hi, c)
    return None


def _item(lines: list[str], lo: int, hi: int, index: int) -> tuple[int, int] | None:
    items = [(i, len(m.group(1))) for i in range(lo, hi) if (m := _ITEM.match(lines[i]))]
    if not items:
        return None
    top = min(d for _, d in items)
    starts = [i for i, d in items if d == top]
    if index >= len(starts):
        return None
    start = starts[index]
    end = starts[index + 1] if index + 1 < len(starts) else hi
    return start, min(end, _end(lines, start, hi, top))

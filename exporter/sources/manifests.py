"""Manifests on disk: directories of YAML/JSON, multi-document files, List objects,
`kubectl get -o yaml|json` dumps and Helm-rendered output.

Loading is safe and bounded. YAML goes through yaml-rs (a Rust parser: no language
tags, so no object construction from input; a cap on alias replay, so a billion-laughs
document is refused in milliseconds) one document at a time, so a broken document is
an error naming its file and index while its neighbours still load. Files over a size
limit are refused before they are read.

Why not PyYAML: on a 40 MB dump (80,000 objects) its libyaml-backed CSafeLoader took
20.6 s, 10.6 s of it just producing parser events; yaml-rs parsed the same in 4.2 s.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml_rs

from exporter.core.findings import InputError
from exporter.core.gc_pause import paused_gc
from exporter.core.inventory import RawObject, build_snapshot
from exporter.core.snapshot import Snapshot

SUFFIXES = (".yaml", ".yml", ".json")
DEFAULT_MAX_FILE_BYTES = 256 * 1024 * 1024
DEFAULT_MAX_ALIAS_EVENTS = 1_000_000
# A document starts at `---` and ends at `...` in column 0 (YAML 1.2 §9.1: these
# markers cannot occur inside any scalar), so splitting here is exact.
_MARKER = re.compile(r"^(?:---|\.\.\.)(?=[ \t\r\n]|$)", re.MULTILINE)
_LANGUAGE_TAG = re.compile(
    r"(?:^|(?<=[\s\[{,:-]))(!!?(?:python|ruby|perl|php|java|javascript|js)\b[^\s,\]}]*"
    r"|tag:yaml\.org,2002:(?:python|ruby|perl|php|java)[^\s,\]}]*)",
    re.IGNORECASE | re.MULTILINE,
)
_LINE = re.compile(r"at line (\d+), column (\d+)")


@dataclass(frozen=True, slots=True)
class Limits:
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    max_alias_events: int = DEFAULT_MAX_ALIAS_EVENTS


@dataclass(slots=True)
class LoadResult:
    snapshot: Snapshot
    errors: list[InputError] = field(default_factory=list)
    files: int = 0
    documents: int = 0


Progress = Callable[[int, int], None]
"""Called with (files read, files in total) as loading goes on."""


def load_manifests(
    paths: Sequence[Path], limits: Limits | None = None, progress: Progress | None = None
) -> LoadResult:
    """Read every manifest under `paths` and build the snapshot; errors never stop it."""
    limits = limits or Limits()
    # Loading allocates millions of long-lived objects and no cycles worth finding:
    # the cyclic collector would walk them again and again (4 s of an 8.7 s load of
    # 124,000 objects), so it is paused while loading.
    with paused_gc():
        return _load(paths, limits, progress)


def _load(paths: Sequence[Path], limits: Limits, progress: Progress | None) -> LoadResult:
    errors: list[InputError] = []
    raws: list[RawObject] = []
    files = documents = 0
    todo = list(_files(paths, errors))
    for path in todo:
        files += 1
        if progress is not None:
            progress(files, len(todo))
        for raw in _read_file(path, limits, errors):
            documents += 1
            raws.extend(_flatten(raw, errors))
    snapshot, build_errors = build_snapshot(raws)
    errors.extend(build_errors)
    return LoadResult(snapshot, errors, files, documents)


def input_problems(paths: Sequence[Path]) -> list[str]:
    """What makes `--manifests` unusable as a whole: a path that does not exist, is not
    a file or directory, or a directory without a single manifest. The CLI says so
    first and exits 2, rather than printing an empty (clean-looking) report."""
    problems = []
    for path in paths:
        if not path.exists():
            problems.append(f"{path}: no such file or directory")
        elif path.is_dir():
            if next(_walk(path), None) is None:
                problems.append(
                    f"{path}: no manifests in this directory (looked for {', '.join(SUFFIXES)})"
                )
        elif not path.is_file():
            problems.append(f"{path}: not a regular file or directory")
    return problems


def _walk(path: Path) -> Iterator[Path]:
    for root, dirs, names in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for n in sorted(names):
            if n.endswith(SUFFIXES):
                yield Path(root) / n


def _files(paths: Sequence[Path], errors: list[InputError]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            found = sorted(_walk(path))
            if not found:
                errors.append(InputError(str(path), "no manifests in this directory"))
            yield from found
        elif path.exists():
            yield path  # a FIFO or device is refused when opened, with its reason
        else:
            errors.append(InputError(str(path), "no such file or directory"))


def _read_bounded(path: Path, limit: int) -> bytes:
    """The file's bytes, if it is a regular file of at most `limit` bytes.

    Opened without blocking and checked on the open descriptor (no race with a swap):
    a FIFO would block forever, and a symlink to /dev/zero reads without end, so
    anything but a regular file is refused; the limit is applied while reading too
    (a file growing under us stops at limit + 1 bytes)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise _NotRegular(_file_type(info.st_mode))
        if info.st_size > limit:
            raise _TooLarge(info.st_size)
        data = handle.read(limit + 1)
        if len(data) > limit:
            raise _TooLarge(len(data))
        return data


class _NotRegular(Exception):
    pass


class _TooLarge(Exception):
    pass


def _file_type(mode: int) -> str:
    for test, name in (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def _read_file(path: Path, limits: Limits, errors: list[InputError]) -> Iterator[RawObject]:
    source = str(path)
    try:
        data = _read_bounded(path, limits.max_file_bytes)
    except _NotRegular as exc:
        errors.append(InputError(source, f"{exc}, not a regular file: skipped"))
        return
    except _TooLarge as exc:
        errors.append(
            InputError(
                source, f"file is {exc} bytes or more, over the {limits.max_file_bytes} limit"
            )
        )
        return
    except OSError as exc:
        errors.append(InputError(source, f"cannot read: {exc.strerror or exc}"))
        return
    yield from _parse(data, source, path.suffix == ".json", limits, errors)


def _parse(
    data: bytes, source: str, is_json: bool, limits: Limits, errors: list[InputError]
) -> Iterator[RawObject]:
    if is_json:
        try:
            yield RawObject(json.loads(data), source, 1, 1)
        except (ValueError, RecursionError) as exc:
            errors.append(InputError(source, f"invalid JSON: {exc}", document=1))
        return
    yield from _read_yaml(data, source, limits, errors)


def read_blobs(
    blobs: Iterable[tuple[str, bytes]], limits: Limits | None = None
) -> tuple[list[RawObject], list[InputError]]:
    """`read_objects` for file contents that are not files on disk (a git revision:
    `netfence diff --base REF`); each blob is named by its path for errors."""
    limits = limits or Limits()
    errors: list[InputError] = []
    raws: list[RawObject] = []
    for source, data in blobs:
        if len(data) > limits.max_file_bytes:
            errors.append(
                InputError(
                    source, f"file is {len(data)} bytes, over the {limits.max_file_bytes} limit"
                )
            )
            continue
        for raw in _parse(data, source, source.endswith(".json"), limits, errors):
            raws.extend(_flatten(raw, errors))
    return raws, errors


def _read_yaml(
    data: bytes, source: str, limits: Limits, errors: list[InputError]
) -> Iterator[RawObject]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        errors.append(InputError(source, f"not UTF-8 text: {exc.reason} at byte {exc.start}"))
        return
    alias_limits = yaml_rs.AliasLimits(max_total_replayed_events=limits.max_alias_events)
    for index, first_line, chunk in _documents(text):
        tag = _language_tag(chunk)
        if tag is not None:
            errors.append(
                InputError(
                    source,
                    f"YAML language tag {tag} refused: manifests are plain data "
                    "(document not loaded)",
                    document=index,
                )
            )
            continue
        try:
            doc = yaml_rs.loads(
                chunk,
                parse_datetime=False,
                alias_limits=alias_limits,
                duplicate_key_policy=yaml_rs.DuplicateKeyPolicy.LastWins,
            )
        except (yaml_rs.YAMLDecodeError, RecursionError, ValueError) as exc:
            errors.append(
                InputError(
                    source, f"invalid YAML: {_yaml_message(exc, first_line)}", document=index
                )
            )
            continue
        if doc is not None:
            yield RawObject(doc, source, index, _content_line(chunk, first_line))


def _documents(text: str) -> Iterator[tuple[int, int, str]]:
    """(1-based document index, first line number, text) for each document of a stream.

    As YAML counts them: content before the first `---` is a document only when it
    holds more than comments and directives; after a `...` end marker, content without
    a new `---` is a bare document of its own (YAML 1.2 §9.2).
    """
    starts = [m.start() for m in _MARKER.finditer(text)]
    bounds = [0, *starts, len(text)]
    index = 0
    line = 1
    for i in range(len(bounds) - 1):
        chunk = text[bounds[i] : bounds[i + 1]]
        first_line = line
        line += chunk.count("\n")
        if chunk.startswith("..."):
            _, newline, chunk = chunk.partition("\n")
            first_line += 1 if newline else 0
            if not _has_content(chunk):
                continue
        elif i == 0 and not _has_content(chunk):
            continue
        index += 1
        yield index, first_line, _without_directives(chunk)


def _content_line(chunk: str, first_line: int) -> int:
    """The line where a document's content starts: past its `---` marker and any
    blank or comment lines (a few lines looked at per document, not the whole text)."""
    line = first_line
    pos = 0
    while True:
        end = chunk.find("\n", pos)
        stripped = (chunk[pos:] if end < 0 else chunk[pos:end]).strip()
        body = stripped[3:].strip() if stripped.startswith("---") else stripped
        if (body and not body.startswith("#")) or end < 0:
            return line
        pos = end + 1
        line += 1


def _has_content(chunk: str) -> bool:
    return any(
        stripped and not stripped.startswith(("#", "%"))
        for stripped in (ln.strip() for ln in chunk.splitlines())
    )


def _without_directives(chunk: str) -> str:
    """Directive lines (`%YAML 1.2`, `%TAG`) stand before a document's `---`, so they
    end up at the foot of the previous chunk; blanked (not removed, to keep line
    numbers) they change nothing for the documents we read."""
    if "%" not in chunk:
        return chunk
    return "\n".join("" if ln.startswith("%") else ln for ln in chunk.split("\n"))


def _language_tag(chunk: str) -> str | None:
    """A tag that asks a YAML loader to build a language object (!!python/object:...)."""
    if "!" not in chunk and "tag:yaml.org" not in chunk:
        return None
    match = _LANGUAGE_TAG.search(chunk)
    return match.group(1) if match else None


def _yaml_message(exc: BaseException, first_line: int) -> str:
    """One line, with line numbers counted from the top of the file."""
    text = str(exc)
    match = _LINE.search(text)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    reason = lines[-1] if lines else type(exc).__name__
    if match is None:
        return " ".join(lines) or reason
    line = int(match.group(1)) + first_line - 1
    return f"{reason} (line {line}, column {match.group(2)})"


def _flatten(raw: RawObject, errors: list[InputError]) -> Iterable[RawObject]:
    """`kind: List` and `*List` objects stand for their items."""
    obj = raw.obj
    if not isinstance(obj, Mapping):
        errors.append(
            InputError(
                raw.source,
                f"document is a {type(obj).__name__}, not a Kubernetes object",
                document=raw.document,
            )
        )
        return []
    kind = obj.get("kind")
    if isinstance(kind, str) and kind.endswith("List") and "items" in obj:
        items = obj.get("items") or []
        if not isinstance(items, list):
            errors.append(
                InputError(
                    raw.source, f"{kind}.items is not a list", kind=kind, document=raw.document
                )
            )
            return []
        out: list[RawObject] = []
        item_kind = kind[: -len("List")]
        for item in items:
            if isinstance(item, dict) and not item.get("kind") and item_kind:
                item = {**item, "kind": item_kind}  # typed lists may omit per-item kind
            out.extend(_flatten(RawObject(item, raw.source, raw.document, raw.line), errors))
        return out
    return [raw]


def read_objects(
    paths: Sequence[Path], limits: Limits | None = None
) -> tuple[list[RawObject], list[InputError]]:
    """The raw objects under `paths` (Lists flattened), without building a snapshot.

    For callers that look at the objects themselves first, such as the service, which
    digests the policy objects in force before handing everything to `build_snapshot`.
    """
    limits = limits or Limits()
    errors: list[InputError] = []
    raws: list[RawObject] = []
    for path in list(_files(paths, errors)):
        for raw in _read_file(path, limits, errors):
            raws.extend(_flatten(raw, errors))
    return raws, errors

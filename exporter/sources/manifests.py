"""Manifests on disk: directories of YAML/JSON, multi-document files, List objects,
`kubectl get -o yaml|json` dumps and Helm-rendered output.

Loading is safe and bounded: `yaml.CSafeLoader` (no Python object tags), a size limit
per file, and an expansion budget for documents that use aliases, so a billion-laughs
file becomes an error naming the file instead of eating the machine.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from exporter.core.findings import InputError
from exporter.core.inventory import RawObject, build_snapshot
from exporter.core.model import Snapshot

try:
    _Loader: type[Any] = yaml.CSafeLoader
except AttributeError:  # PyYAML built without libyaml: slower, equally safe
    _Loader = yaml.SafeLoader

SUFFIXES = (".yaml", ".yml", ".json")
DEFAULT_MAX_FILE_BYTES = 256 * 1024 * 1024
DEFAULT_MAX_ALIAS_NODES = 1_000_000
_ALIAS = re.compile(rb"(?:^|[\s,\[{:-])\*[^\s,\]}]")


@dataclass(frozen=True, slots=True)
class Limits:
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    max_alias_nodes: int = DEFAULT_MAX_ALIAS_NODES


@dataclass(slots=True)
class LoadResult:
    snapshot: Snapshot
    errors: list[InputError] = field(default_factory=list)
    files: int = 0
    documents: int = 0


def load_manifests(paths: Sequence[Path], limits: Limits | None = None) -> LoadResult:
    """Read every manifest under `paths` and build the snapshot; errors never stop it."""
    limits = limits or Limits()
    errors: list[InputError] = []
    raws: list[RawObject] = []
    files = documents = 0
    for path in _files(paths, errors):
        files += 1
        for raw in _read_file(path, limits, errors):
            documents += 1
            raws.extend(_flatten(raw, errors))
    snapshot, build_errors = build_snapshot(raws)
    errors.extend(build_errors)
    return LoadResult(snapshot, errors, files, documents)


def _files(paths: Sequence[Path], errors: list[InputError]) -> Iterator[Path]:
    for path in paths:
        if path.is_file():
            yield path
        elif path.is_dir():
            found: list[Path] = []
            for root, dirs, names in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                found.extend(Path(root) / n for n in names if n.endswith(SUFFIXES))
            yield from sorted(found)
        else:
            errors.append(InputError(str(path), "no such file or directory"))


def _read_file(path: Path, limits: Limits, errors: list[InputError]) -> Iterator[RawObject]:
    source = str(path)
    try:
        size = path.stat().st_size
        if size > limits.max_file_bytes:
            errors.append(
                InputError(source, f"file is {size} bytes, over the {limits.max_file_bytes} limit")
            )
            return
        data = path.read_bytes()
    except OSError as exc:
        errors.append(InputError(source, f"cannot read: {exc.strerror or exc}"))
        return
    if path.suffix == ".json":
        try:
            yield RawObject(json.loads(data), source, 1)
        except (ValueError, RecursionError) as exc:
            errors.append(InputError(source, f"invalid JSON: {exc}", document=1))
        return
    yield from _read_yaml(data, source, limits, errors)


def _read_yaml(
    data: bytes, source: str, limits: Limits, errors: list[InputError]
) -> Iterator[RawObject]:
    has_alias = _ALIAS.search(data) is not None
    loader = _Loader(data)
    index = 0
    try:
        while loader.check_data():
            index += 1
            try:
                doc = loader.get_data()
            except yaml.YAMLError as exc:
                errors.append(
                    InputError(source, f"invalid YAML: {_yaml_message(exc)}", document=index)
                )
                return  # the parser cannot resynchronise after a syntax error
            if doc is None:
                continue
            if has_alias and not _within_budget(doc, limits.max_alias_nodes):
                errors.append(
                    InputError(
                        source,
                        f"document expands to more than {limits.max_alias_nodes} nodes "
                        "through YAML aliases; refused",
                        document=index,
                    )
                )
                continue
            yield RawObject(doc, source, index)
    except yaml.YAMLError as exc:
        errors.append(InputError(source, f"invalid YAML: {_yaml_message(exc)}", document=index + 1))
    finally:
        loader.dispose()


def _yaml_message(exc: yaml.YAMLError) -> str:
    return " ".join(str(exc).split())


def _within_budget(doc: object, budget: int) -> bool:
    """Count nodes as a consumer would see them, with aliases expanded."""
    stack: list[object] = [doc]
    seen = 0
    while stack:
        node = stack.pop()
        seen += 1
        if seen > budget:
            return False
        if isinstance(node, Mapping):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return True


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
            out.extend(_flatten(RawObject(item, raw.source, raw.document), errors))
        return out
    return [raw]

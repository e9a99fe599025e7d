"""Replay of recorded flows: `hubble observe -o jsonpb` output and Hubble exporter files.

One JSON object per line: a `GetFlowsResponse` / `ExportEvent`
(`{"flow": {...}, "node_name": ..., "time": ...}`, also `lost_events`, `node_status`,
`agent_event`), or a bare `Flow` (`HUBBLE_COMPAT=legacy-json-output`). Protobuf JSON
with proto field names; unknown fields and enum names are ignored, so captures from
newer Cilium releases replay too. `-` reads standard input.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from google.protobuf import json_format

from exporter.sources.hubble._pb.flow import flow_pb2
from exporter.sources.hubble._pb.observer import observer_pb2
from exporter.sources.hubble.decode import FlowHandler

__all__ = ["ReplayResult", "read_events", "replay"]

_RESPONSE_KEYS = frozenset({"flow", "lost_events", "node_status", "agent_event", "debug_event"})


@dataclass(slots=True)
class ReplayResult:
    lines: int = 0
    events: int = 0
    errors: list[str] = field(default_factory=list)
    """`file:line: message` for every line that could not be parsed (the rest is used)."""


def _open(path: Path) -> IO[str]:
    if str(path) == "-":
        return sys.stdin
    return path.open(encoding="utf-8")


def read_events(paths: Iterable[Path], result: ReplayResult) -> Iterator[observer_pb2.ExportEvent]:
    for path in paths:
        handle = _open(path)
        try:
            for number, line in enumerate(handle, 1):
                text = line.strip()
                if not text:
                    continue
                result.lines += 1
                try:
                    obj = json.loads(text)
                    if not isinstance(obj, dict):
                        raise ValueError("not a JSON object")
                    event = observer_pb2.ExportEvent()
                    if obj.keys() & _RESPONSE_KEYS:
                        json_format.ParseDict(obj, event, ignore_unknown_fields=True)
                    else:  # legacy output: one bare Flow per line
                        flow = flow_pb2.Flow()
                        json_format.ParseDict(obj, flow, ignore_unknown_fields=True)
                        event.flow.CopyFrom(flow)
                except (ValueError, json_format.ParseError) as exc:
                    result.errors.append(f"{path}:{number}: {exc}")
                    continue
                result.events += 1
                yield event
        finally:
            if handle is not sys.stdin:
                handle.close()


def replay(paths: Iterable[Path], handler: FlowHandler) -> ReplayResult:
    """Feed every event of the files into `handler` (and its aggregator)."""
    result = ReplayResult()
    for event in read_events(paths, result):
        handler.response(event)
    return result

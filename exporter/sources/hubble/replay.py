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


MAX_ERROR_EXAMPLES = 5
"""Bad lines are counted; only the first few are kept as examples for the summary."""
MAX_LINE_BYTES = 1 << 20
"""A line longer than this (1 MiB) is a bad line, not a reason to hold it all in memory."""


@dataclass(slots=True)
class ReplayResult:
    lines: int = 0
    events: int = 0
    bad_lines: int = 0
    """Lines skipped: not UTF-8, not JSON, nested too deeply, not a flow (the rest is used)."""
    errors: list[str] = field(default_factory=list)
    """`file:line: message` of the first MAX_ERROR_EXAMPLES bad lines and unreadable files."""

    def bad(self, where: str, message: str) -> None:
        self.bad_lines += 1
        if self.bad_lines <= MAX_ERROR_EXAMPLES:
            self.errors.append(f"{where}: {message}")

    def summary(self) -> str:
        """One line for the log or stderr, however many lines were bad."""
        if not self.bad_lines:
            return f"{self.events} events from {self.lines} lines"
        more = self.bad_lines - min(self.bad_lines, MAX_ERROR_EXAMPLES)
        examples = "; ".join(self.errors[:MAX_ERROR_EXAMPLES])
        return (
            f"{self.events} events from {self.lines} lines; {self.bad_lines} bad lines "
            f"skipped (e.g. {examples}{f'; and {more} more' if more else ''})"
        )


def _open(path: Path) -> IO[bytes]:
    if str(path) == "-":
        return sys.stdin.buffer
    return path.open("rb")


def _event(data: bytes) -> observer_pb2.ExportEvent:
    """One line as an event; ValueError (or RecursionError) says why it is not one."""
    obj = json.loads(data.decode("utf-8"))
    if not isinstance(obj, dict):
        raise ValueError("not a JSON object")
    event = observer_pb2.ExportEvent()
    if obj.keys() & _RESPONSE_KEYS:
        json_format.ParseDict(obj, event, ignore_unknown_fields=True)
    else:  # legacy output: one bare Flow per line
        flow = flow_pb2.Flow()
        json_format.ParseDict(obj, flow, ignore_unknown_fields=True)
        event.flow.CopyFrom(flow)
    return event


def _lines(handle: IO[bytes]) -> Iterator[bytes]:
    """Lines of at most MAX_LINE_BYTES (a longer one comes cut: no trailing newline)."""
    while line := handle.readline(MAX_LINE_BYTES):
        yield line


def _skip_rest_of_line(handle: IO[bytes]) -> None:
    for rest in _lines(handle):
        if rest.endswith(b"\n"):
            return


def read_events(paths: Iterable[Path], result: ReplayResult) -> Iterator[observer_pb2.ExportEvent]:
    """Every event of the files; a bad line is counted in `result` and skipped, so one
    invalid byte or a JSON bomb never ends the replay (or the consumer thread)."""
    for path in paths:
        handle = _open(path)
        try:
            for number, line in enumerate(_lines(handle), 1):
                if len(line) >= MAX_LINE_BYTES and not line.endswith(b"\n"):
                    result.lines += 1
                    result.bad(f"{path}:{number}", f"line over {MAX_LINE_BYTES} bytes")
                    _skip_rest_of_line(handle)
                    continue
                text = line.strip()
                if not text:
                    continue
                result.lines += 1
                try:
                    event = _event(text)
                except UnicodeDecodeError as exc:
                    result.bad(f"{path}:{number}", f"not UTF-8 ({exc.reason} at byte {exc.start})")
                    continue
                except RecursionError:
                    result.bad(f"{path}:{number}", "JSON nested too deeply")
                    continue
                except (ValueError, json_format.ParseError) as exc:
                    result.bad(f"{path}:{number}", str(exc)[:200])
                    continue
                result.events += 1
                yield event
        finally:
            if handle is not sys.stdin.buffer:
                handle.close()


def replay(paths: Iterable[Path], handler: FlowHandler) -> ReplayResult:
    """Feed every event of the files into `handler` (and its aggregator)."""
    result = ReplayResult()
    for event in read_events(paths, result):
        try:
            handler.response(event)
        except Exception as exc:  # a flow the handler cannot use is that line's problem
            result.bad("event", f"{type(exc).__name__}: {exc}"[:200])
    return result

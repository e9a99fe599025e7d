"""A stand-in for Hubble Relay serving the demo cluster's traffic live, for `make demo`.

It speaks the real `observer.Observer` gRPC API (netfence's wire-compatible subset), so
`netfence serve --hubble.address` consumes it exactly as it consumes Relay. Flows are
generated continuously with current timestamps from the demo's traffic table
(examples/demo_flows.py, one row per pair of workloads, now a rate per minute), so rate
panels and alerts always have data. After `burst_after` seconds it adds a burst of
denied connections in one namespace (`sandbox/debug-shell` -> `payments/ledger`, dropped
by payments' default-deny) for `burst_seconds`: what NetfenceDeniedConnectionSpike is
for. Once, 5 seconds after the first client connects, it reports lost events (a
ring-buffer overrun), so the lost-events panels have a series.

Like Relay: `follow` keeps the stream open, `since` replays what is still buffered (the
last 10 minutes), the `event_type` whitelist is applied. It binds 127.0.0.1 on a free
port unless told otherwise.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from dataclasses import dataclass

import grpc
from demo_flows import DNS, DROPS, TRAFFIC, flow_dict
from google.protobuf import json_format

from exporter.sources.hubble._pb.flow import flow_pb2
from exporter.sources.hubble._pb.observer import observer_pb2, observer_pb2_grpc

BUFFER_SECONDS = 600


@dataclass(frozen=True)
class Burst:
    after: float = 90.0
    """Seconds after start."""
    seconds: float = 600.0
    rate: float = 20.0
    """Denied connections per second."""
    source: str = "sandbox/debug-shell"
    destination: str = "payments/ledger"
    port: int = 5432


@dataclass(frozen=True)
class _Row:
    """One kind of event, `per_minute` times a minute."""

    kind: str  # connection | drop | l7
    src: str
    dst: str
    port: int
    direction: str
    verdict: str
    detail: str
    per_minute: float


def _rows() -> list[_Row]:
    rows = [_Row("connection", *t[:6], float(t[6])) for t in TRAFFIC]
    rows += [
        _Row("drop", s, d, p, dr, "DROPPED", reason, float(n)) for s, d, p, dr, reason, n in DROPS
    ]
    rows += [_Row("l7", s, d, p, dr, v, "", float(n)) for s, d, p, dr, v, n in DNS]
    return rows


def _response(row: _Row, when: float) -> observer_pb2.GetFlowsResponse:
    f = flow_dict(
        row.kind, when, row.src, row.dst, row.port, row.direction, row.verdict, row.detail
    )
    resp = observer_pb2.GetFlowsResponse()
    json_format.ParseDict(
        {"flow": f, "node_name": f["node_name"], "time": f["time"]},
        resp,
        ignore_unknown_fields=True,
    )
    return resp


def _lost(when: float, n: int) -> observer_pb2.GetFlowsResponse:
    resp = observer_pb2.GetFlowsResponse(node_name="demo/worker-1")
    resp.lost_events.source = flow_pb2.PERF_EVENT_RING_BUFFER
    resp.lost_events.num_events_lost = n
    resp.time.FromNanoseconds(int(when * 1e9))
    return resp


def _types(req: observer_pb2.GetFlowsRequest) -> set[int] | None:
    types = {e.type for flt in req.whitelist for e in flt.event_type}
    return types or None


class DemoRelay(observer_pb2_grpc.ObserverServicer):
    def __init__(
        self, burst: Burst = Burst(), clock: Callable[[], float] = time.time, tick: float = 0.5
    ) -> None:
        self.burst = burst
        self.clock = clock
        self.tick = tick
        self.started = clock()
        self.sent = 0
        self._rows = _rows()
        self._owed = [0.0] * len(self._rows)
        self._burst_owed = 0.0
        self._buffer: collections.deque[tuple[int, float, observer_pb2.GetFlowsResponse]] = (
            collections.deque()
        )
        self._next = 0
        """Sequence number of the next event (cursors survive the buffer's rotation)."""
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._lost_sent = False
        self._client_since = 0.0
        """When the first client started streaming (the lost events come 5 s later)."""
        self._server: grpc.Server | None = None
        self.port = 0

    # -- generation ----------------------------------------------------------------------

    def _generate(self, now: float, dt: float) -> list[observer_pb2.GetFlowsResponse]:
        out: list[observer_pb2.GetFlowsResponse] = []
        for i, row in enumerate(self._rows):
            self._owed[i] += row.per_minute * dt / 60
            while self._owed[i] >= 1:
                self._owed[i] -= 1
                out.append(_response(row, now))
        b = self.burst
        elapsed = now - self.started
        if b.after <= elapsed < b.after + b.seconds:
            self._burst_owed += b.rate * dt
            row = _Row("connection", b.source, b.destination, b.port, "INGRESS", "DROPPED",
                       "POLICY_DENIED", 0)  # fmt: skip
            while self._burst_owed >= 1:
                self._burst_owed -= 1
                out.append(_response(row, now))
        if not self._lost_sent and self._client_since and now - self._client_since >= 5:
            self._lost_sent = True
            out.append(_lost(now, 42))
        return out

    def _run(self) -> None:
        last = self.clock()
        while not self._stop.wait(self.tick):
            now = self.clock()
            fresh = self._generate(now, now - last)
            last = now
            with self._cond:
                for resp in fresh:
                    self._buffer.append((self._next, now, resp))
                    self._next += 1
                while self._buffer and self._buffer[0][1] < now - BUFFER_SECONDS:
                    self._buffer.popleft()
                self._cond.notify_all()

    # -- the Observer API ---------------------------------------------------------------

    def ServerStatus(
        self, request: observer_pb2.ServerStatusRequest, context: grpc.ServicerContext
    ) -> observer_pb2.ServerStatusResponse:
        with self._cond:
            return observer_pb2.ServerStatusResponse(num_flows=len(self._buffer))

    def GetFlows(
        self, request: observer_pb2.GetFlowsRequest, context: grpc.ServicerContext
    ) -> Iterator[observer_pb2.GetFlowsResponse]:
        types = _types(request)
        since = request.since.seconds if request.HasField("since") else None
        with self._cond:
            self._client_since = self._client_since or self.clock()
            cursor = self._next  # follow from now, like Relay without `since`
            if since is not None:
                cursor = next((q for q, t, _ in self._buffer if t >= since), self._next)
        while context.is_active() and not self._stop.is_set():
            with self._cond:
                batch = [r for q, _, r in self._buffer if q >= cursor]
                cursor = self._next
                if not batch:
                    self._cond.wait(1.0)
                    continue
            for resp in batch:
                if types and resp.HasField("flow") and resp.flow.event_type.type not in types:
                    continue
                self.sent += 1
                yield resp

    # -- lifecycle ----------------------------------------------------------------------

    def start(self, address: str = "127.0.0.1:0") -> DemoRelay:
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        observer_pb2_grpc.add_ObserverServicer_to_server(self, self._server)
        self.port = self._server.add_insecure_port(address)
        self._server.start()
        threading.Thread(target=self._run, name="demo-relay", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.stop(grace=1)

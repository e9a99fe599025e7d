"""Hubble Relay client: `observer.Observer/GetFlows` with `follow`, server-side filters,
TLS / mTLS, reconnects with exponential backoff and jitter, resume without loss or
double counting (docs/hubble.md).

    target = HubbleTarget("hubble-relay.kube-system:4245")          # plaintext (Relay default)
    stream = RelayStream(target, FlowHandler(aggregator, ResumeWindow()))
    thread = threading.Thread(target=stream.run); thread.start() ... stream.stop()
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import grpc.experimental
from google.protobuf import timestamp_pb2

from exporter.sources.hubble._pb.flow import flow_pb2
from exporter.sources.hubble._pb.netfence import counted_pb2
from exporter.sources.hubble._pb.observer import observer_pb2, observer_pb2_grpc
from exporter.sources.hubble.decode import FlowHandler

__all__ = [
    "COUNTED_EVENT_TYPES",
    "HubbleTarget",
    "RelayStream",
    "channel_options",
    "flows_request",
    "open_channel",
]

log = logging.getLogger(__name__)

COUNTED_EVENT_TYPES = (5, 1, 129)
"""policy-verdict, drop, L7 access log: the only events Relay is asked to send."""

GET_FLOWS = "/observer.Observer/GetFlows"
SINGLE_THREADED = grpc.experimental.ChannelOptions.SingleThreadedUnaryStream


@dataclass(frozen=True, slots=True)
class HubbleTarget:
    """Where one cluster's Relay (or one node's Hubble server) listens."""

    address: str
    """HOST:PORT; a `tls://` prefix turns TLS on (as in the Hubble CLI)."""
    tls: bool = False
    ca_file: Path | None = None
    """CA bundle that signed the server certificate (default: system roots)."""
    cert_file: Path | None = None
    """Client certificate for mTLS (with key_file)."""
    key_file: Path | None = None
    server_name: str | None = None
    """Name to verify in the server certificate (Relay's is *.hubble-relay.cilium.io)."""
    whitelist: tuple[flow_pb2.FlowFilter, ...] = ()
    """Extra filters, e.g. a node_name pattern to split a cluster across processes."""

    @property
    def host_port(self) -> str:
        return self.address.removeprefix("tls://")

    @property
    def secure(self) -> bool:
        return (
            self.tls
            or self.address.startswith("tls://")
            or any((self.ca_file, self.cert_file, self.key_file))
        )


def channel_options(target: HubbleTarget, single_threaded: bool = True) -> list[tuple[str, Any]]:
    options: list[tuple[str, Any]] = [
        # Detect a dead Relay connection on a quiet stream within ~40 s.
        ("grpc.keepalive_time_ms", 30_000),
        ("grpc.keepalive_timeout_ms", 10_000),
        ("grpc.keepalive_permit_without_calls", 0),
    ]
    if single_threaded:
        # Read the stream on the calling thread: ~11 us instead of ~120 us of CPU per
        # message (no hand-off from grpc's poller thread). See docs/hubble.md.
        options.append((SINGLE_THREADED, 1))
    if target.server_name:
        options.append(("grpc.ssl_target_name_override", target.server_name))
    return options


def open_channel(target: HubbleTarget, single_threaded: bool = True) -> grpc.Channel:
    options = channel_options(target, single_threaded)
    if not target.secure:
        return grpc.insecure_channel(target.host_port, options=options)

    def read(path: Path | None) -> bytes | None:
        return path.read_bytes() if path else None

    creds = grpc.ssl_channel_credentials(
        root_certificates=read(target.ca_file),
        private_key=read(target.key_file),
        certificate_chain=read(target.cert_file),
    )
    return grpc.secure_channel(target.host_port, creds, options=options)


def node_filter(patterns: Sequence[str]) -> flow_pb2.FlowFilter:
    """Only flows observed on these nodes: Hubble `node_name` patterns as Relay names
    nodes (`CLUSTER/NODE`, `*` wildcards, e.g. `prod/worker-1*`). Disjoint patterns give
    disjoint streams, one per consumer process (docs/hubble.md, "Scale-out")."""
    return flow_pb2.FlowFilter(node_name=list(patterns))


def flows_request(
    since: int | None = None, extra: Sequence[flow_pb2.FlowFilter] = ()
) -> observer_pb2.GetFlowsRequest:
    """follow=true; only policy-verdict, drop and L7 events; from `since` when resuming.

    `extra` filters are ANDed into each event-type filter (e.g. node_name patterns)."""
    whitelist = []
    for event_type in COUNTED_EVENT_TYPES:
        f = flow_pb2.FlowFilter(event_type=[flow_pb2.EventTypeFilter(type=event_type)])
        if extra:
            for e in extra:
                g = flow_pb2.FlowFilter()
                g.CopyFrom(e)
                g.MergeFrom(f)
                whitelist.append(g)
        else:
            whitelist.append(f)
    req = observer_pb2.GetFlowsRequest(follow=True, whitelist=whitelist)
    if since is not None:
        req.since.CopyFrom(timestamp_pb2.Timestamp(seconds=since))
    return req


class RelayStream:
    """One long-lived GetFlows stream into a FlowHandler, reconnecting forever.

    `up` is True from a successful ServerStatus (the health check before each stream;
    `status_check=False` skips it) until the stream fails. Reconnects wait
    `min(backoff_max, backoff_base * 2**attempt)` scaled by a random factor in
    [0.5, 1] ("equal jitter"); the attempt count resets once a stream delivers events."""

    def __init__(
        self,
        target: HubbleTarget,
        handler: FlowHandler,
        *,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        tick_every: float = 5.0,
        status_timeout: float = 10.0,
        single_threaded: bool = True,
        status_check: bool = True,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.target = target
        self.handler = handler
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.tick_every = tick_every
        self.status_timeout = status_timeout
        self.single_threaded = single_threaded
        self.status_check = status_check
        self.clock = clock
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self.up = False
        self.connects = 0
        self.received = 0
        self.last_error = ""
        self.failures = 0
        """Streams that ended with something other than a gRPC error (counted, retried)."""
        self._stop = threading.Event()
        self._call: Any = None
        self._lock = threading.Lock()

    def stop(self) -> None:
        """Ends `run` promptly (cancels the stream); safe from any thread."""
        self._stop.set()
        with self._lock:
            call = self._call
        if call is not None:
            call.cancel()

    def backoff(self, attempt: int) -> float:
        delay = min(self.backoff_max, self.backoff_base * (2**attempt))
        return float(delay * self.rng.uniform(0.5, 1.0))

    def run(self) -> None:
        attempt = 0
        while not self._stop.is_set():
            try:
                delivered = self.connect_once()
            except Exception as exc:  # a malformed message or a bug: reconnect, never die
                self.last_error = f"{type(exc).__name__}: {exc}"
                self.failures += 1
                log.exception("hubble %s: stream failed", self.target.address)
                delivered = False
            if self._stop.is_set():
                break
            attempt = 0 if delivered else attempt + 1
            self._stop.wait(self.backoff(attempt))
        self.up = False
        self.handler.agg.tick(self.clock())

    def connect_once(self) -> bool:
        """One connection: status check, then the stream until it ends or fails.
        Returns whether any message arrived."""
        delivered = 0
        channel = open_channel(self.target, self.single_threaded)
        try:
            stub = observer_pb2_grpc.ObserverStub(channel)  # type: ignore[no-untyped-call]
            if self.status_check:
                stub.ServerStatus(observer_pb2.ServerStatusRequest(), timeout=self.status_timeout)
            self.up = True
            self.connects += 1
            window = self.handler.window
            since = None
            if window is not None:
                since = window.resume_since()
                window.reconnected()
            # Responses are decoded below, into netfence's view of the message (only the
            # fields the aggregation reads; proto/netfence/counted.proto): ~7 % more
            # flows/s than GetFlowsResponse, and no per-message deserializer wrapper.
            get_flows: grpc.UnaryStreamMultiCallable[observer_pb2.GetFlowsRequest, bytes]
            get_flows = channel.unary_stream(
                GET_FLOWS,
                request_serializer=observer_pb2.GetFlowsRequest.SerializeToString,
                response_deserializer=None,
            )
            call = get_flows(flows_request(since, self.target.whitelist))
            parse = counted_pb2.CountedResponse.FromString
            with self._lock:
                self._call = call
            if self._stop.is_set():
                call.cancel()
            handle = self.handler.response
            agg = self.handler.agg
            clock = self.clock
            next_tick = clock() + self.tick_every
            for raw in call:
                handle(parse(raw))
                delivered += 1
                if not delivered & 1023:
                    self.received += 1024
                    now = clock()
                    if now >= next_tick:
                        agg.tick(now)
                        next_tick = now + self.tick_every
            self.last_error = "stream ended by the server"
        except grpc.RpcError as exc:
            code = exc.code() if isinstance(exc, grpc.Call) else None
            if code != grpc.StatusCode.CANCELLED or not self._stop.is_set():
                self.last_error = f"{code}: {exc.details() if isinstance(exc, grpc.Call) else exc}"
                log.warning("hubble %s: %s", self.target.address, self.last_error)
        finally:
            self.received += delivered & 1023
            self.up = False
            with self._lock:
                self._call = None
            channel.close()
            self.handler.agg.tick(self.clock())
        return delivered > 0

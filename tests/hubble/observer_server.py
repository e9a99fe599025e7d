"""A real gRPC server implementing `observer.Observer` from netfence's proto subset, and a
generator of realistic flows. Used by the Hubble tests and by benchmarks/hubble_bench.py.

The server behaves like Relay where the client can tell: it applies `since` and the
`event_type` whitelist, follows (keeps the stream open after the backlog until the client
cancels), and can be scripted to drop the connection after N messages or to send
`lost_events`. It binds 127.0.0.1 on a free port only.
"""

from __future__ import annotations

import random
import threading
import time
import uuid as uuidlib
from collections.abc import Callable, Iterator, Sequence
from concurrent import futures
from dataclasses import dataclass, field

import grpc

from exporter.sources.hubble._pb.flow import flow_pb2
from exporter.sources.hubble._pb.observer import observer_pb2, observer_pb2_grpc

__all__ = ["FlowGenerator", "ObserverServer", "Script", "counted", "lost", "wait_until"]


@dataclass
class Script:
    """What the server sends on each GetFlows call (index = connection number)."""

    responses: Sequence[observer_pb2.GetFlowsResponse]
    abort_after: list[int | None] = field(default_factory=list)
    """Per connection: drop it (UNAVAILABLE) after this many messages; None = follow."""
    end_after_backlog: bool = False
    """Close the stream normally once everything is sent (instead of following)."""


def _time(resp: observer_pb2.GetFlowsResponse) -> int:
    if resp.HasField("flow"):
        return resp.flow.time.seconds
    return resp.time.seconds


def _matches(resp: observer_pb2.GetFlowsResponse, req: observer_pb2.GetFlowsRequest) -> bool:
    if not resp.HasField("flow") or not req.whitelist:
        return True
    f = resp.flow
    for flt in req.whitelist:
        types = {e.type for e in flt.event_type}
        if types and f.event_type.type not in types:
            continue
        if flt.node_name and not any(f.node_name.startswith(p.rstrip("*")) for p in flt.node_name):
            continue
        return True
    return False


class _Observer(observer_pb2_grpc.ObserverServicer):
    def __init__(self, server: ObserverServer) -> None:
        self.server = server

    def ServerStatus(
        self, request: observer_pb2.ServerStatusRequest, context: grpc.ServicerContext
    ) -> observer_pb2.ServerStatusResponse:
        return observer_pb2.ServerStatusResponse(num_flows=len(self.server.script.responses))

    def GetFlows(
        self, request: observer_pb2.GetFlowsRequest, context: grpc.ServicerContext
    ) -> Iterator[observer_pb2.GetFlowsResponse]:
        srv = self.server
        with srv.lock:
            n = srv.connections
            srv.connections += 1
            srv.requests.append(request)
        script = srv.script
        limit = script.abort_after[n] if n < len(script.abort_after) else None
        since = request.since.seconds if request.HasField("since") else None
        sent = 0
        try:
            for resp in script.responses:
                if since is not None and resp.HasField("flow") and _time(resp) < since:
                    continue
                if not _matches(resp, request):
                    continue
                if limit is not None and sent >= limit:
                    context.abort(grpc.StatusCode.UNAVAILABLE, "relay restarting (scripted)")
                yield resp
                sent += 1
        finally:
            with srv.lock:
                srv.sent_total += sent
        srv.backlog_done.set()
        if script.end_after_backlog:
            return
        while context.is_active() and not srv.stopping.is_set():
            time.sleep(0.01)


class ObserverServer:
    def __init__(self, script: Script, max_workers: int = 4) -> None:
        self.script = script
        self.connections = 0
        self.sent_total = 0
        self.requests: list[observer_pb2.GetFlowsRequest] = []
        self.lock = threading.Lock()
        self.backlog_done = threading.Event()
        self.stopping = threading.Event()
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=max_workers))
        observer_pb2_grpc.add_ObserverServicer_to_server(_Observer(self), self._server)
        self.credentials: grpc.ServerCredentials | None = None
        self.port = 0

    def start(self, credentials: grpc.ServerCredentials | None = None) -> ObserverServer:
        if credentials is None:
            self.port = self._server.add_insecure_port("127.0.0.1:0")
        else:
            self.port = self._server.add_secure_port("127.0.0.1:0", credentials)
        self._server.start()
        return self

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.stopping.set()
        self._server.stop(grace=0).wait(5)

    def __enter__(self) -> ObserverServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# -- flows ----------------------------------------------------------------------------------

_NAMESPACES = [f"team-{i:02d}" for i in range(12)] + ["kube-system", "ingress-nginx"]


class FlowGenerator:
    """Deterministic, realistic flows: sizes and field mix like a Cilium 1.16+ capture
    (labels, workloads, ports, policy attribution); ~70 % policy verdicts, ~20 % drops,
    ~10 % L7 (requests and responses)."""

    def __init__(self, seed: int = 7, workloads_per_namespace: int = 30) -> None:
        self.rng = random.Random(seed)
        self.workloads = {
            ns: [f"svc-{j:03d}" for j in range(workloads_per_namespace)] for ns in _NAMESPACES
        }

    def endpoint(self, ns: str, wl: str, local: bool) -> flow_pb2.Endpoint:
        rng = self.rng
        return flow_pb2.Endpoint(
            ID=rng.randrange(1, 4000) if local else 0,
            identity=rng.randrange(256, 65000),
            namespace=ns,
            pod_name=f"{wl}-7f9c6d8b5-{rng.randrange(10**5):05d}",
            labels=[
                f"k8s:app={wl}",
                f"k8s:io.kubernetes.pod.namespace={ns}",
                f"k8s:io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name={ns}",
                "k8s:io.cilium.k8s.policy.cluster=prod-eu-1",
                f"k8s:io.cilium.k8s.policy.serviceaccount={wl}",
            ],
            workloads=[flow_pb2.Workload(name=wl, kind="Deployment")],
            cluster_name="prod-eu-1",
        )

    def flow(self, seconds: int, nanos: int) -> observer_pb2.GetFlowsResponse:
        rng = self.rng
        src_ns = rng.choice(_NAMESPACES)
        dst_ns = src_ns if rng.random() < 0.6 else rng.choice(_NAMESPACES)
        src_wl = rng.choice(self.workloads[src_ns])
        dst_wl = rng.choice(self.workloads[dst_ns])
        direction = rng.choice((1, 2))
        roll = rng.random()
        node = f"prod-eu-1/node-{rng.randrange(20):02d}"
        f = flow_pb2.Flow(
            uuid=str(uuidlib.UUID(int=rng.getrandbits(128), version=4)),
            IP=flow_pb2.IP(
                source=f"10.0.{rng.randrange(256)}.{rng.randrange(256)}",
                destination=f"10.0.{rng.randrange(256)}.{rng.randrange(256)}",
                ipVersion=1,
            ),
            l4=flow_pb2.Layer4(
                TCP=flow_pb2.TCP(
                    source_port=rng.randrange(30000, 60000),
                    destination_port=rng.choice((80, 443, 8080, 5432)),
                    flags=flow_pb2.TCPFlags(SYN=True),
                )
            ),
            source=self.endpoint(src_ns, src_wl, direction == 2),
            destination=self.endpoint(dst_ns, dst_wl, direction == 1),
            Type=1,
            node_name=node,
            traffic_direction=direction,
            Summary="TCP Flags: SYN",
        )
        f.time.seconds, f.time.nanos = seconds, nanos
        if roll < 0.7:
            f.event_type.type = 5
            r = rng.random()
            if r < 0.8:
                f.verdict = 1
                f.policy_match_type = rng.choice((1, 2, 3))
                by = f.ingress_allowed_by if direction == 1 else f.egress_allowed_by
                ns = dst_ns if direction == 1 else src_ns
                by.add(name=f"allow-{rng.randrange(8)}", namespace=ns, kind="NetworkPolicy")
            elif r < 0.95:
                f.verdict = 2
                f.drop_reason_desc = 133
            else:
                f.verdict = 2
                f.drop_reason_desc = 181
                by = f.ingress_denied_by if direction == 1 else f.egress_denied_by
                by.add(name="deny-legacy", kind="CiliumClusterwideNetworkPolicy")
            f.is_reply.value = False
        elif roll < 0.9:
            f.event_type.type = 1
            f.event_type.sub_type = 133
            f.verdict = 2
            f.drop_reason_desc = rng.choice((133, 133, 133, 181, 132))
        else:
            f.event_type.type = 129
            f.Type = 2
            f.verdict = rng.choice((1, 1, 1, 2))
            f.l7.type = rng.choice((1, 2))
            f.l7.http.method = "GET"
            f.l7.http.url = f"http://{dst_wl}.{dst_ns}/api/v1/items"
            f.l7.http.code = 200
        resp = observer_pb2.GetFlowsResponse(flow=f, node_name=node)
        resp.time.CopyFrom(f.time)
        return resp

    def flows(
        self, count: int, start: int = 1_700_000_000, per_second: int = 100, disorder: int = 0
    ) -> list[observer_pb2.GetFlowsResponse]:
        """`count` flows, `per_second` per second from `start`; with `disorder`, each
        flow's time is shifted back by up to that many seconds (Relay's merge of nodes)."""
        out = []
        for i in range(count):
            seconds = start + i // per_second
            if disorder:
                seconds -= self.rng.randrange(disorder + 1)
            out.append(self.flow(seconds, (i % per_second) * 1000))
        return out


def lost(source: int, n: int) -> observer_pb2.GetFlowsResponse:
    return observer_pb2.GetFlowsResponse(
        lost_events=flow_pb2.LostEvent(source=source, num_events_lost=n)  # type: ignore[arg-type]
    )


def counted(responses: Sequence[observer_pb2.GetFlowsResponse]) -> int:
    """Independent of the decoder: events of the three counted kinds (L7: requests)."""
    n = 0
    for r in responses:
        if not r.HasField("flow"):
            continue
        t = r.flow.event_type.type
        n += t in (1, 5) or (t == 129 and r.flow.l7.type == 1)
    return n


def wait_until(cond: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.01)

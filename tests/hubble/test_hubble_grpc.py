"""RelayStream against a real gRPC server implementing observer.Observer (our proto):
recorded and generated flows, a connection dropped mid-stream, lost events, TLS/mTLS."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from observer_server import FlowGenerator, ObserverServer, Script, counted, lost, wait_until

from exporter.config import HubbleConfig, hubble_problems
from exporter.core.flows import Aggregator, FlowsConfig, ResumeWindow
from exporter.serve.flows import hubble_target
from exporter.sources.hubble import FlowHandler, HubbleTarget, RelayStream, replay
from exporter.sources.hubble._pb.observer import observer_pb2
from exporter.sources.hubble.replay import ReplayResult, read_events

FIXTURES = Path(__file__).parent / "fixtures"
CLOCK = 1_700_000_000.0
UNBOUNDED = 1_000_000  # exact comparisons: no `other` folding (it depends on snapshot times)
SERVER_NAME = "ui.hubble-relay.cilium.io"


Counts = dict[tuple[str, ...], int]
_VERDICT = {1: "forwarded", 2: "dropped"}
_REASON = {132: "INVALID_SOURCE_IP", 133: "POLICY_DENIED", 181: "POLICY_DENY"}
_DIRECTION = {1: "ingress", 2: "egress"}


def _by_hand(responses: list[observer_pb2.GetFlowsResponse]) -> dict[str, Counts]:
    """The counts worked out from the generated events alone (docs/hubble.md), without
    the decoder or the aggregator: the enforcing endpoint is the destination for
    ingress and the source for egress; a default-deny drop (133) is attributed to
    `default-deny`, an explicit deny (181) to its cluster-wide policy's name."""
    out: dict[str, Counts] = {
        k: {} for k in ("policy_verdicts", "denied", "dropped_packets", "l7", "matrix")
    }

    def bump(table: str, key: tuple[str, ...]) -> None:
        out[table][key] = out[table].get(key, 0) + 1

    for r in responses:
        if not r.HasField("flow"):
            continue
        f = r.flow
        direction = _DIRECTION[f.traffic_direction]
        here, there = (
            (f.destination, f.source) if direction == "ingress" else (f.source, f.destination)
        )
        verdict = _VERDICT[f.verdict]
        if f.event_type.type == 5:
            bump("policy_verdicts", (here.namespace, direction, verdict))
            src, dst = (there, here) if direction == "ingress" else (here, there)
            bump("matrix", (src.namespace, dst.namespace, direction, verdict))
            if verdict == "dropped":
                reason = _REASON[f.drop_reason_desc]
                policy = "default-deny" if f.drop_reason_desc == 133 else "deny-legacy"
                bump("denied", (here.namespace, direction, reason, policy))
        elif f.event_type.type == 1:
            reason = _REASON[f.drop_reason_desc]
            bump("dropped_packets", (here.namespace, here.workloads[0].name, direction, reason))
        elif f.event_type.type == 129 and f.l7.type == 1:  # requests, not responses
            bump("l7", (here.namespace, here.workloads[0].name, direction, verdict, "http"))
    return out


class Running:
    def __init__(self, stream: RelayStream) -> None:
        self.stream = stream
        self.thread = threading.Thread(target=stream.run, daemon=True)

    def __enter__(self) -> RelayStream:
        self.thread.start()
        return self.stream

    def __exit__(self, *exc: object) -> None:
        self.stream.stop()
        self.thread.join(10)
        assert not self.thread.is_alive()


def _stream(address: str, agg: Aggregator, **kw: object) -> RelayStream:
    return RelayStream(
        HubbleTarget(address),
        FlowHandler(agg, ResumeWindow(seconds=5)),
        backoff_base=0.01,
        backoff_max=0.05,
        clock=lambda: CLOCK,
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture
def generated() -> list[observer_pb2.GetFlowsResponse]:
    return FlowGenerator(seed=11).flows(6000, per_second=200, disorder=2)


@pytest.mark.parametrize("single_threaded", [True, False])
def test_counts_are_exact_across_dropped_connections(
    generated: list[observer_pb2.GetFlowsResponse], single_threaded: bool
) -> None:
    responses = list(generated)
    responses.insert(100, lost(1, 7))
    responses.insert(4000, lost(3, 2))
    script = Script(responses, abort_after=[1500, 2500, None])
    agg = Aggregator(FlowsConfig("test", top_n=UNBOUNDED))
    with (
        ObserverServer(script).start() as server,
        Running(_stream(server.address, agg, single_threaded=single_threaded)) as stream,
    ):
        wait_until(lambda: server.connections >= 3 and server.backlog_done.is_set())
        wait_until(lambda: agg.snapshot(CLOCK).flows == counted(generated))
        assert stream.up
        assert stream.connects == 3
    snap = agg.snapshot(CLOCK)
    expected = _by_hand(generated)
    assert (
        snap.flows
        == counted(generated)
        == sum(
            sum(expected[table].values()) for table in ("policy_verdicts", "dropped_packets", "l7")
        )
    )
    assert snap.policy_verdicts == expected["policy_verdicts"]
    assert snap.denied == expected["denied"]
    assert snap.dropped_packets == expected["dropped_packets"]
    assert snap.l7 == expected["l7"]
    assert snap.namespace_matrix == expected["matrix"]
    # Resent events were skipped, lost events counted once per connection that sent them.
    assert server.sent_total > len(generated)
    assert snap.lost_events["perf_event_ring_buffer"] >= 7
    # Every request followed, asked only for the counted event types, and resumed.
    first, *resumed = server.requests
    assert first.follow and not first.HasField("since")
    assert sorted(e.type for f in first.whitelist for e in f.event_type) == [1, 5, 129]
    assert all(r.HasField("since") for r in resumed)


def test_recorded_flows_stream_like_the_replay() -> None:
    result = ReplayResult()
    paths = sorted(FIXTURES.rglob("*.json*"))
    events = list(read_events(paths, result))
    responses = [observer_pb2.GetFlowsResponse.FromString(e.SerializeToString()) for e in events]
    agg = Aggregator(FlowsConfig("test", top_n=UNBOUNDED))
    with ObserverServer(Script(responses)).start() as server, Running(_stream(server.address, agg)):
        wait_until(server.backlog_done.is_set)
        wait_until(lambda: agg.snapshot(CLOCK).flows >= 468 - 2)
    replayed = Aggregator(FlowsConfig("test", top_n=UNBOUNDED))
    replay(paths, FlowHandler(replayed))
    got, want = agg.snapshot(CLOCK), replayed.snapshot(CLOCK)
    # The two exporter-file drops have no event_type: the server-side filter drops them.
    assert got.policy_verdicts == want.policy_verdicts
    assert got.l7 == want.l7
    assert got.flows == want.flows - 2


def test_hubble_up_follows_the_server() -> None:
    agg = Aggregator(FlowsConfig("test", top_n=UNBOUNDED))
    server = ObserverServer(Script([])).start()
    port = server.port
    with Running(_stream(server.address, agg)) as stream:
        wait_until(lambda: stream.up)
        server.stop()
        wait_until(lambda: not stream.up)
        assert stream.last_error
        again = ObserverServer(Script([]))
        again._server.add_insecure_port(f"127.0.0.1:{port}")
        again._server.start()
        try:
            wait_until(lambda: stream.up)
        finally:
            again.stop()


def test_unreachable_relay_backs_off_and_stops_promptly() -> None:
    agg = Aggregator(FlowsConfig("test", top_n=UNBOUNDED))
    stream = RelayStream(
        HubbleTarget("127.0.0.1:1"), FlowHandler(agg), backoff_base=0.01, status_timeout=0.5
    )
    with Running(stream):
        time.sleep(0.3)
        assert not stream.up
    assert stream.connects == 0
    delays = [stream.backoff(a) for a in range(12)]
    assert all(
        0.5 * min(30, 0.01 * 2**a) <= d <= min(30, 0.01 * 2**a) for a, d in enumerate(delays)
    )


def test_target_validation() -> None:
    assert hubble_problems(HubbleConfig("relay:4245")) == []
    assert hubble_problems(HubbleConfig("relay"))
    assert HubbleTarget("tls://relay:4245").secure
    assert not HubbleTarget("relay:4245").secure
    t = hubble_target(HubbleConfig("relay:4245", tls=True, server_name="x"))
    assert t.secure and t.server_name == "x"
    assert hubble_problems(HubbleConfig("r:1", cert_file=Path("/nonexistent")))


# -- TLS ------------------------------------------------------------------------------------


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=30)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory, openssl: str) -> Iterator[Path]:
    d = tmp_path_factory.mktemp("pki")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test-ca",
             "-keyout", "ca.key", "-out", "ca.crt", cwd=d)  # fmt: skip
    for name, cn in (("server", "*.hubble-relay.cilium.io"), ("client", "netfence")):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={cn}",
                 "-keyout", f"{name}.key", "-out", f"{name}.csr", cwd=d)  # fmt: skip
        (d / f"{name}.ext").write_text(f"subjectAltName=DNS:{cn}\n")
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                 "-CAcreateserial", "-days", "2", "-extfile", f"{name}.ext",
                 "-out", f"{name}.crt", cwd=d)  # fmt: skip
    yield d


@pytest.mark.parametrize("mutual", [False, True])
def test_tls_and_mtls(
    pki: Path, generated: list[observer_pb2.GetFlowsResponse], mutual: bool
) -> None:
    creds = grpc.ssl_server_credentials(
        [((pki / "server.key").read_bytes(), (pki / "server.crt").read_bytes())],
        root_certificates=(pki / "ca.crt").read_bytes() if mutual else None,
        require_client_auth=mutual,
    )
    responses = generated[:500]
    agg = Aggregator(FlowsConfig("test", top_n=UNBOUNDED))
    with ObserverServer(Script(responses)).start(creds) as server:
        config = HubbleConfig(
            server.address,
            ca_file=pki / "ca.crt",
            cert_file=pki / "client.crt" if mutual else None,
            key_file=pki / "client.key" if mutual else None,
            server_name=SERVER_NAME,
        )
        target = hubble_target(config)
        assert target.secure and hubble_problems(config) == []
        stream = RelayStream(
            target, FlowHandler(agg, ResumeWindow()), backoff_base=0.01, clock=lambda: CLOCK
        )
        with Running(stream):
            wait_until(lambda: agg.snapshot(CLOCK).flows == counted(responses))
    if mutual:  # without a client certificate the server refuses the handshake
        agg2 = Aggregator(FlowsConfig("test", top_n=UNBOUNDED))
        with ObserverServer(Script(responses)).start(creds) as server:
            anon = HubbleTarget(server.address, ca_file=pki / "ca.crt", server_name=SERVER_NAME)
            stream = RelayStream(anon, FlowHandler(agg2), backoff_base=0.01, status_timeout=1)
            with Running(stream):
                time.sleep(0.5)
                assert not stream.up


def test_cli_flows_watch(generated: list[observer_pb2.GetFlowsResponse]) -> None:
    import io
    import json

    from exporter.cli import main

    responses = generated[:300]
    with ObserverServer(Script(responses)).start() as server:
        out = io.StringIO()
        argv = ["flows", "watch", "--hubble.address", server.address, "--duration", "1.5"]
        assert main([*argv, "-o", "json", "--top-n", "1000000"], out) == 0
    assert json.loads(out.getvalue())["flows"] == counted(responses)
    assert main(["flows", "watch", "--hubble.address", "nope", "--duration", "0"]) == 2


def test_an_exception_while_counting_reconnects_without_loss(
    generated: list[observer_pb2.GetFlowsResponse],
) -> None:
    """A message that cannot be handled (malformed, or a bug) ends that stream, not the
    consumer: it reconnects, resumes, and the counts still come out exact."""

    class Flaky(FlowHandler):
        calls = 0

        def response(self, resp: object) -> None:  # type: ignore[override]
            Flaky.calls += 1
            if Flaky.calls == 700:
                raise ValueError("cannot decode (scripted)")
            super().response(resp)  # type: ignore[arg-type]

    agg = Aggregator(FlowsConfig("test", top_n=UNBOUNDED))
    stream = _stream("127.0.0.1:1", agg)
    stream.handler = Flaky(agg, ResumeWindow(seconds=5))
    with ObserverServer(Script(generated)).start() as server:
        stream.target = HubbleTarget(server.address)
        with Running(stream):
            wait_until(lambda: agg.snapshot(CLOCK).flows == counted(generated))
            assert stream.failures == 1 and stream.connects == 2
    assert agg.snapshot(CLOCK).policy_verdicts == _by_hand(generated)["policy_verdicts"]


def test_cli_flows_watch_against_a_dead_relay_fails_with_the_reason(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """It used to print an empty table and exit 0, which reads as "no flows"."""
    import io
    import socket

    from exporter.cli import main

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = io.StringIO()
    code = main(["flows", "watch", "--hubble.address", f"127.0.0.1:{port}", "--duration", "2"], out)
    assert code == 2
    err = capsys.readouterr().err
    assert f"could not stream from Hubble Relay 127.0.0.1:{port}" in err

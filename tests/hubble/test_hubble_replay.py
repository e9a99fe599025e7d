"""Replay of the recorded captures (tests/hubble/fixtures, see SOURCES.md) with the
counts derived by hand from the files, and `netfence flows replay`."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from exporter.cli import main
from exporter.core.flows import Aggregator, FlowsConfig
from exporter.sources.hubble import FlowHandler, replay

FIXTURES = Path(__file__).parent / "fixtures"
OTEL = FIXTURES / "hubble-otel"
CLOCK = 1_700_000_000.0


def _replay(*paths: Path) -> tuple[Aggregator, int]:
    agg = Aggregator(FlowsConfig("kind"))
    result = replay(list(paths), FlowHandler(agg))
    assert result.errors == []
    return agg, result.events


def test_policy_verdict_capture() -> None:
    agg, events = _replay(OTEL / "basic-sample-400-l7-redirected-flows.json")
    snap = agg.snapshot(CLOCK)
    assert events == 400
    assert snap.policy_verdicts == {("bookinfo", "egress", "redirected"): 400}
    assert snap.flows == 400 and snap.denied == {}
    assert sum(v for k, v in snap.namespace_matrix.items() if k[1] == "kube-system") > 0


def test_mixed_tcp_capture_counts_connections_and_l7_requests_only() -> None:
    agg, events = _replay(OTEL / "basic-sample-400-tcp-flows.json")
    snap = agg.snapshot(CLOCK)
    assert events == 400
    # 27 policy verdicts, 33 L7 requests (32 responses and 308 trace events not counted).
    assert snap.policy_verdicts == {("bookinfo", "egress", "redirected"): 27}
    assert sum(snap.l7.values()) == 33
    assert snap.flows == 60 and snap.ignored == 340


def test_dns_and_http_captures() -> None:
    agg, _ = _replay(
        OTEL / "basic-sample-5-dns-flows.json", OTEL / "basic-sample-5-http-flows.json"
    )
    l7 = agg.snapshot(CLOCK).l7
    assert l7 == {
        ("kube-system", "node-local-dns", "egress", "forwarded", "dns"): 3,
        ("istio-system", "prometheus", "egress", "forwarded", "http"): 3,
    }


def test_exporter_file_with_field_mask_counts_drops() -> None:
    agg, _ = _replay(FIXTURES / "cilium-docs" / "hubble-exporter-sample.jsonl")
    snap = agg.snapshot(CLOCK)
    assert snap.dropped_packets == {
        ("default", "deathstar", "unknown", "POLICY_DENIED"): 1,
        ("reserved:unknown", "", "unknown", "INVALID_SOURCE_IP"): 1,
    }


def test_trace_only_captures_count_nothing() -> None:
    agg, events = _replay(
        OTEL / "basic-sample-10-flows.json", OTEL / "basic-sample-400-icmpv4-flows.json"
    )
    assert events == 28
    assert agg.snapshot(CLOCK).flows == 0


def test_hourly_rollups_of_a_replay() -> None:
    agg, _ = _replay(OTEL / "basic-sample-400-l7-redirected-flows.json")
    agg.flush()
    rows = agg.take_rollups()
    assert sum(r.count for r in rows) == 400
    assert {r.hour for r in rows} == {1636538400}  # 2021-11-10T10:00:00Z
    assert {r.peer for r in rows} == {"bookinfo", "kube-system"}


def test_legacy_bare_flows_and_bad_lines(tmp_path: Path) -> None:
    line = (OTEL / "basic-sample-400-l7-redirected-flows.json").read_text().splitlines()[0]
    bare = json.dumps(json.loads(line)["flow"])
    f = tmp_path / "legacy.json"
    f.write_text(f"{bare}\nnot json\n[1]\n\n{line}\n")
    agg = Aggregator(FlowsConfig("c"))
    result = replay([f], FlowHandler(agg))
    assert result.events == 2 and result.lines == 4
    assert [e.split(": ", 1)[0] for e in result.errors] == [f"{f}:2", f"{f}:3"]
    assert agg.snapshot(CLOCK).flows == 2


def test_cli_replay_json(capsys: pytest.CaptureFixture[str]) -> None:
    out = io.StringIO()
    files = sorted(str(p) for p in FIXTURES.rglob("*.json*"))
    code = main(["flows", "replay", "-o", "json", "--cluster-name", "kind", *files], out)
    assert code == 0
    doc = json.loads(out.getvalue())
    assert doc["cluster"] == "kind" and doc["flows"] == 468
    assert doc["policy_verdicts"] == [
        {"namespace": "bookinfo", "direction": "egress", "verdict": "redirected", "count": 427}
    ]


def test_cli_replay_table_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = io.StringIO()
    assert main(["flows", "replay", str(OTEL / "basic-sample-400-tcp-flows.json")], out) == 0
    assert "POLICY VERDICTS" in out.getvalue()
    bad = tmp_path / "bad.json"
    bad.write_text("{oops\n")
    assert main(["flows", "replay", str(bad)], io.StringIO()) == 2
    assert main(["flows", "replay", str(tmp_path / "missing.json")], io.StringIO()) == 2
    assert "bad.json:1" in capsys.readouterr().err


def _with_bad_lines(tmp_path: Path, good: int, bad: int) -> Path:
    line = (OTEL / "basic-sample-400-l7-redirected-flows.json").read_text().splitlines()[0]
    f = tmp_path / "corrupt.json"
    with f.open("wb") as out:
        out.write((line + "\n").encode() * good)
        for i in range(bad):
            out.write(b"\xff\xfe not utf-8\n" if i % 2 else b"[" * 100_000 + b"\n")
        out.write((line + "\n").encode())
    return f


def test_invalid_utf8_and_deep_nesting_are_skipped_and_counted(tmp_path: Path) -> None:
    """Both used to end the replay: a traceback in `flows replay`, a dead flow thread
    (0 flows, nothing logged) in serve."""
    f = _with_bad_lines(tmp_path, good=3, bad=40)
    agg = Aggregator(FlowsConfig("c"))
    result = replay([f], FlowHandler(agg))
    assert result.events == 4 and result.bad_lines == 40
    assert agg.snapshot(CLOCK).flows == 4  # the lines after the bad ones are counted too
    assert len(result.errors) == 5  # examples, not one message per line
    assert "not UTF-8" in result.summary() and "nested too deeply" in result.summary()
    assert "and 35 more" in result.summary()


def test_cli_replay_summarises_bad_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = _with_bad_lines(tmp_path, good=1, bad=1000)
    out = io.StringIO()
    assert main(["flows", "replay", "-o", "json", str(f)], out) == 2
    assert json.loads(out.getvalue())["flows"] == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "1000 bad lines skipped" in err

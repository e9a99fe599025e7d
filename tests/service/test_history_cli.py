"""`netfence history`: the change log newest first, the state at T, times and errors."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from exporter.cli import main
from exporter.cli.history import parse_time
from exporter.store import FindingRow, NamespaceRow, PolicyDigest, ScanRecord, Store

T0 = datetime(2026, 10, 3, 14, 0, tzinfo=UTC).timestamp()
NP = "networking.k8s.io/v1"


def _scan(at: float, deny: bool, cluster: str = "prod-eu") -> ScanRecord:
    policies = (PolicyDigest("NetworkPolicy", NP, "payments", "default-deny", "a" * 64),)
    return ScanRecord(
        cluster=cluster,
        started_at=at,
        duration_seconds=1.0,
        success=True,
        namespaces=(
            NamespaceRow("payments", 4, deny, True, 4 if deny else 0, 4),
            NamespaceRow("shop", 2, False, False, 0, 0),
        ),
        policies=policies if deny else (),
        findings=()
        if deny
        else (FindingRow("payments", "no-default-deny", "high", "Namespace/payments", "open"),),
        interval_seconds=300,
    )


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'history.db'}"
    store = Store.open(url, clock=lambda: T0 + 3600)
    store.record(_scan(T0, deny=True))
    store.record(_scan(T0 + 300, deny=True))
    store.record(_scan(T0 + 300, deny=True, cluster="other"))
    store.record(_scan(T0 + 600, deny=False))  # 14:10: the policy goes
    store.close()
    return url


def _run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(["history", *argv], out)
    return code, out.getvalue()


def test_the_timeline_newest_first(store_url: str) -> None:
    code, text = _run("--store", store_url, "--since", "2026-10-03", "--until", "2026-10-04")
    assert code == 0
    lines = text.splitlines()
    assert lines[0].split() == ["TIME", "(UTC)", "CLUSTER", "NAMESPACE", "CHANGE"]
    assert any(
        " ".join(line.split()).startswith(
            "2026-10-03 14:10 prod-eu payments ingress default-deny lost "
            "(NetworkPolicy payments/default-deny deleted)"
        )
        for line in lines
    )
    changes = [line for line in lines[1:] if line.startswith("2026")]
    assert len(changes) == 3  # default-deny lost, policy deleted, finding opened
    assert "NO EVIDENCE" in text and "2026-10-03 00:00 -> 2026-10-03 14:00" in text


def test_json_and_filters(store_url: str) -> None:
    code, text = _run(
        "--store", store_url, "--since", "2026-10-03T14:00", "--until", "2026-10-03T15:00",
        "--cluster", "prod-eu", "--namespace", "payments", "-o", "json",
    )  # fmt: skip
    assert code == 0
    doc = json.loads(text)
    kinds = [c["kind"] for c in doc["changes"]]
    assert sorted(kinds) == ["default-deny-lost", "finding-opened", "policy-deleted"]
    lost = next(c for c in doc["changes"] if c["kind"] == "default-deny-lost")
    assert lost["at"] == "2026-10-03T14:10:00Z" and lost["direction"] == "ingress"
    assert doc["gaps"] == [
        {"cluster": "prod-eu", "start": "2026-10-03T14:25:00Z", "end": "2026-10-03T15:00:00Z"}
    ]


def test_state_at_in_the_shape_of_scan_coverage(store_url: str) -> None:
    code, text = _run("--store", store_url, "--cluster", "prod-eu", "--at",
                      "2026-10-03T14:07", "-o", "json")  # fmt: skip
    assert code == 0
    doc = json.loads(text)
    assert doc["scan"]["started_at"] == "2026-10-03T14:05:00Z"
    assert doc["summary"]["default_deny_namespaces"] == {"ingress": 1, "egress": 1}
    pay = doc["namespaces"][0]
    assert pay["name"] == "payments" and pay["ingress"] == {"default_deny": True,
                                                            "isolated_pods": 4}  # fmt: skip
    code, text = _run("--store", store_url, "--cluster", "prod-eu", "--at", "2026-10-03T14:11")
    assert code == 0
    row = next(line.split() for line in text.splitlines() if line.startswith("payments"))
    assert row == ["payments", "4", "NO", "0/4", "yes", "4/4"]
    code, text = _run("--store", store_url, "--cluster", "prod-eu", "--at", "2026-10-02")
    assert code == 0 and "no successful scan" in text and "unknown" in text


def test_bad_input_exits_2(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run("--store", store_url, "--since", "yesterday-ish")[0] == 2
    assert "bad time 'yesterday-ish'" in capsys.readouterr().err
    assert _run("--store", store_url, "--at", "now")[0] == 2  # two clusters: which one?
    assert "--at needs --cluster" in capsys.readouterr().err
    assert _run("--store", f"sqlite:///{tmp_path / 'none.db'}")[0] == 2
    assert "no such file" in capsys.readouterr().err
    assert not (tmp_path / "none.db").exists()  # a read never creates a store


def test_times() -> None:
    now = T0
    assert parse_time("7d", now) == now - 7 * 86400
    assert parse_time("1h30m", now) == now - 5400
    assert parse_time("now", now) == now
    assert parse_time("2026-10-03", now) == datetime(2026, 10, 3, tzinfo=UTC).timestamp()
    assert parse_time("2026-10-03T16:05+02:00", now) == T0 + 300

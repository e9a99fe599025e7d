"""examples/demo-cluster/README.md quotes what `netfence scan` and `explain` say of the
demo: its tables, counts, isolated pods and connection verdicts are checked against the
program here, so the page cannot drift from it (issue 11: it once claimed six
default-deny namespaces and 14 findings). Its exposure table is written by the program
(docs/generate.py, tests/docs/test_doc_blocks.py)."""

from __future__ import annotations

import io
import json
import re
from collections import Counter
from pathlib import Path

from exporter.cli import main

DEMO = Path(__file__).resolve().parents[1] / "examples" / "demo-cluster"
README = (DEMO / "README.md").read_text()


def _scan() -> dict[str, object]:
    out = io.StringIO()
    main(["scan", "--manifests", str(DEMO), "-o", "json"], out)
    data = json.loads(out.getvalue())
    assert isinstance(data, dict)
    return data


def _section(title: str) -> str:
    return README.split(f"## {title}", 1)[1].split("\n## ", 1)[0]


def _rows(text: str) -> list[list[str]]:
    rows = [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in text.splitlines()
        if line.startswith("|") and not line.startswith("|---")
    ]
    return rows[1:]  # without the header


def _flag(cell: str) -> bool:
    return cell.strip("*") == "true"


def test_the_expected_answer_table_is_what_scan_says() -> None:
    scan = _scan()
    namespaces = {n["name"]: n for n in scan["namespaces"]}  # type: ignore[attr-defined]
    section = _section("Expected answer")
    table = {row[0].strip("`"): row for row in _rows(section)}
    assert set(table) == set(namespaces)
    for name, row in table.items():
        ns = namespaces[name]
        assert int(row[1]) == ns["pods"], name
        assert _flag(row[2]) == ns["ingress"]["default_deny"], name
        assert _flag(row[3]) == ns["egress"]["default_deny"], name
    dd = scan["summary"]["default_deny_namespaces"]  # type: ignore[index]
    assert f"Default-deny ingress in {dd['ingress']} namespaces, egress in {dd['egress']}." in (
        section
    )


def test_the_expected_findings_table_is_what_scan_says() -> None:
    findings = _scan()["findings"]
    assert isinstance(findings, list)
    section = _section("Expected findings")
    listed: Counter[tuple[str, str, str]] = Counter()
    for severity, check, namespaces, _object in _rows(section):
        name = re.match(r"`([a-z-]+)`", check)
        assert name is not None, check
        for ns in namespaces.split(","):
            listed[(severity, name.group(1), ns.strip())] += 1
    found = Counter((f["severity"], f["check"], f["namespace"]) for f in findings)
    assert listed == found
    assert f"\n{len(findings)} findings." in section


def _flat() -> str:
    return re.sub(r"\s*\n\s*", " ", README)


def test_the_intro_counts_are_what_scan_says() -> None:
    summary = _scan()["summary"]
    said = re.search(r"(\w+) namespaces, one folder each", _flat())
    assert said is not None and said.group(1) == "ten" and summary["namespaces"] == 10  # type: ignore[index]
    counts = re.search(r"(\d+) workloads, (\d+) pods, (\d+) NetworkPolicies", _flat())
    assert counts is not None
    assert tuple(map(int, counts.groups())) == tuple(
        summary[k]  # type: ignore[index]
        for k in ("workloads", "pods", "policies")
    )


# What the namespace sections say one connection's verdict is: (phrase of the README,
# from, to, port, allowed, verdict at the source's egress, verdict at the destination's
# ingress; None: not stated).
VERDICTS = [
    (
        "8.8.8.8 → frontend:8080) are **denied**",
        "8.8.8.8",
        "shop/frontend",
        "8080/TCP",
        False,
        None,
        "denied",
    ),
    (
        "`cart → analytics/ingest-api:9000` is **denied at the source**",
        "shop/cart",
        "analytics/ingest-api",
        "9000/TCP",
        False,
        "denied",
        "allowed",
    ),
    (
        "`frontend → ingest-api:9000` is allowed",
        "shop/frontend",
        "analytics/ingest-api",
        "9000/TCP",
        True,
        None,
        None,
    ),
    (
        "`shop/cart → payments-api:8443` allowed",
        "shop/cart",
        "payments/payments-api",
        "8443/TCP",
        True,
        None,
        None,
    ),
    (
        "denied (both at frontend's egress and at the API's ingress)",
        "shop/frontend",
        "payments/payments-api",
        "8443/TCP",
        False,
        "denied",
        "denied",
    ),
    (
        "`payments-api → 203.0.113.7:443` allowed",
        "payments/payments-api",
        "203.0.113.7",
        "443/TCP",
        True,
        None,
        None,
    ),
    (
        "`ledger → 203.0.113.7:443` denied",
        "payments/ledger",
        "203.0.113.7",
        "443/TCP",
        False,
        None,
        None,
    ),
    (
        "`sandbox/debug-shell`, `team-oops/worker`, `shop/cart` — allowed",
        "sandbox/debug-shell",
        "databases/redis",
        "6379/TCP",
        True,
        None,
        None,
    ),
    (
        "`sandbox/debug-shell`, `team-oops/worker`, `shop/cart` — allowed",
        "team-oops/worker",
        "databases/redis",
        "6379/TCP",
        True,
        None,
        None,
    ),
    (
        "`sandbox/debug-shell`, `team-oops/worker`, `shop/cart` — allowed",
        "shop/cart",
        "databases/redis",
        "6379/TCP",
        True,
        None,
        None,
    ),
    (
        "`payments/*` — denied by payments' egress",
        "payments/payments-api",
        "databases/redis",
        "6379/TCP",
        False,
        "denied",
        None,
    ),
    (
        "`payments/*` — denied by payments' egress",
        "payments/ledger",
        "databases/redis",
        "6379/TCP",
        False,
        "denied",
        None,
    ),
    (
        "(`sandbox/debug-shell → postgres:5432` denied)",
        "sandbox/debug-shell",
        "databases/postgres",
        "5432/TCP",
        False,
        None,
        None,
    ),
    (
        "postgres: only from `payments`",
        "payments/payments-api",
        "databases/postgres",
        "5432/TCP",
        True,
        None,
        None,
    ),
    (
        "so direct NodePort clients are denied",
        "8.8.8.8",
        "monitoring/grafana",
        "3000/TCP",
        False,
        None,
        "denied",
    ),
    (
        "(`shop/frontend:8080`, `monitoring/grafana:3000`), which admit the namespace",
        "ingress-nginx/ingress-nginx-controller",
        "shop/frontend",
        "8080/TCP",
        True,
        None,
        None,
    ),
    (
        "(`shop/frontend:8080`, `monitoring/grafana:3000`), which admit the namespace",
        "ingress-nginx/ingress-nginx-controller",
        "monitoring/grafana",
        "3000/TCP",
        True,
        None,
        None,
    ),
    (
        "`web → api:8080` allowed",
        "team-legacy/web",
        "team-legacy/api",
        "8080/TCP",
        True,
        None,
        None,
    ),
    (
        "`sandbox/debug-shell → api:8080` denied",
        "sandbox/debug-shell",
        "team-legacy/api",
        "8080/TCP",
        False,
        None,
        "denied",
    ),
    (
        "anything → `web` allowed",
        "sandbox/debug-shell",
        "team-legacy/web",
        "80/TCP",
        True,
        None,
        None,
    ),
    (
        "`frontend → worker:9091` is in fact **allowed**",
        "team-oops/frontend",
        "team-oops/worker",
        "9091/TCP",
        True,
        None,
        None,
    ),
    (
        "`etl-worker → 10.2.3.4:5439` allowed",
        "analytics/etl-worker",
        "10.2.3.4",
        "5439/TCP",
        True,
        None,
        None,
    ),
    (
        "`nightly-aggregate → 10.1.2.3:5439` denied (the except)",
        "analytics/nightly-aggregate",
        "10.1.2.3",
        "5439/TCP",
        False,
        None,
        None,
    ),
    (
        "`ingest-api → 10.2.3.4:5439` denied (not a warehouse client)",
        "analytics/ingest-api",
        "10.2.3.4",
        "5439/TCP",
        False,
        None,
        None,
    ),
    (
        "`198.51.100.7 → cdr-collector` on SCTP/2905 allowed",
        "198.51.100.7",
        "analytics/cdr-collector",
        "2905/SCTP",
        True,
        None,
        None,
    ),
    (
        "on TCP/2905 denied",
        "198.51.100.7",
        "analytics/cdr-collector",
        "2905/TCP",
        False,
        None,
        "denied",
    ),
]


def test_the_verdicts_the_namespace_sections_state_are_what_explain_says() -> None:
    text = _flat()
    for phrase, src, dst, port, allowed, egress, ingress in VERDICTS:
        assert phrase in text, phrase
        out = io.StringIO()
        argv = ["--from", src, "--to", dst, "--port", port, "-o", "json"]
        assert main(["explain", "--manifests", str(DEMO), *argv], out) == 0
        entries = json.loads(out.getvalue())
        assert entries, phrase
        for entry in entries:
            assert entry["allowed"] is allowed, phrase
            assert egress is None or entry["egress"]["verdict"] == egress, phrase
            assert ingress is None or entry["ingress"]["verdict"] == ingress, phrase


# "N of M pods" isolated, as the sections say: (phrase, namespace, direction, N, M).
ISOLATED = [
    ("only 3 of 4 pods are isolated", "monitoring", "ingress", 3, 4),
    ("(2 of 5 pods isolated;", "team-legacy", "ingress", 2, 5),
    ("(only `worker` is isolated, 2 of 4 pods)", "team-oops", "egress", 2, 4),
    ("(every pod is isolated, 4 of 4, but both directions are opened)", "sandbox", "ingress", 4, 4),
    ("(every pod is isolated, 4 of 4, but both directions are opened)", "sandbox", "egress", 4, 4),
]


def test_the_isolated_pod_counts_the_sections_state_are_what_scan_says() -> None:
    namespaces = {n["name"]: n for n in _scan()["namespaces"]}  # type: ignore[attr-defined]
    text = _flat()
    for phrase, name, direction, isolated, pods in ISOLATED:
        assert phrase in text, phrase
        assert namespaces[name][direction]["isolated_pods"] == isolated, phrase
        assert namespaces[name]["pods"] == pods, phrase

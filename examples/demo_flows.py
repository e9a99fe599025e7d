"""Writes Hubble flows for the demo cluster, in `hubble observe -o jsonpb` form.

`make demo` replays them into `netfence serve` (`--hubble.replay`), so the flow metrics,
the hourly roll-ups and the joins with the scan have data without a Cilium cluster.
The traffic is what the demo's policies would produce (examples/demo-cluster/README.md),
timestamped over the last two hours so the joins' time windows see it, plus one
deliberate disagreement: connections to `shop/cart` admitted in policy-audit mode,
although the scan says shop is default-deny (an endpoint left in audit mode). The same
table, read as flows per minute, drives the live stand-in for Relay
(examples/demo_relay.py) that keeps traffic flowing after the replay.

Usage: python examples/demo_flows.py OUT.jsonl [--now EPOCH_SECONDS]
"""

from __future__ import annotations

import argparse
import json
import uuid
import zlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

INGRESS, EGRESS = "INGRESS", "EGRESS"
WORLD = {"identity": 2, "labels": ["reserved:world"]}
HOST = {"identity": 1, "labels": ["reserved:host"]}

# (source, destination, port, direction, verdict, reason or match type, how many)
# An endpoint is "namespace/workload" or a reserved identity.
TRAFFIC: list[tuple[str, str, int, str, str, str, int]] = [
    # internet -> ingress controller -> shop frontend (the intended path)
    ("world", "ingress-nginx/ingress-nginx-controller", 443, INGRESS, "FORWARDED", "L3_L4", 120),
    (
        "ingress-nginx/ingress-nginx-controller",
        "shop/frontend",
        8080,
        INGRESS,
        "FORWARDED",
        "L3_L4",
        118,
    ),
    ("shop/frontend", "shop/cart", 8080, INGRESS, "FORWARDED", "L3_L4", 60),
    ("shop/cart", "payments/payments-api", 8443, EGRESS, "FORWARDED", "L3_L4", 25),
    ("shop/cart", "payments/payments-api", 8443, INGRESS, "FORWARDED", "L3_L4", 25),
    ("payments/payments-api", "databases/postgres", 5432, INGRESS, "FORWARDED", "L3_L4", 40),
    ("monitoring/prometheus", "monitoring/node-exporter", 9100, INGRESS, "FORWARDED", "L3_L4", 30),
    # what default-deny stops
    (
        "team-legacy/nightly-report",
        "payments/payments-api",
        8443,
        INGRESS,
        "DROPPED",
        "POLICY_DENIED",
        14,
    ),
    ("sandbox/debug-shell", "payments/ledger", 5432, INGRESS, "DROPPED", "POLICY_DENIED", 9),
    ("analytics/etl-worker", "world", 443, EGRESS, "DROPPED", "POLICY_DENIED", 6),
    ("shop/catalog", "world", 443, EGRESS, "DROPPED", "POLICY_DENIED", 3),
    # wide open, as the scan says
    ("sandbox/load-test", "databases/redis", 6379, INGRESS, "FORWARDED", "L3_L4", 50),
    ("world", "team-legacy/web", 80, INGRESS, "FORWARDED", "ALL", 12),
    # the scan says shop is default-deny, the datapath admits in audit mode
    ("team-oops/worker", "shop/cart", 8080, INGRESS, "AUDIT", "NONE", 4),
]
DROPS = [("analytics/etl-worker", "world", 443, EGRESS, "POLICY_DENIED", 18)]
DNS = [("shop/cart", "kube-system/coredns", 53, EGRESS, "FORWARDED", 20)]


def _endpoint(name: str) -> dict[str, Any]:
    if name == "world":
        return dict(WORLD)
    if name == "host":
        return dict(HOST)
    namespace, workload = name.split("/")
    pod = f"{workload}-7d4b9c{zlib.crc32(name.encode()) % 1000:03d}-x2x9q"
    return {
        "identity": 10_000 + zlib.crc32(name.encode()) % 50_000,
        "namespace": namespace,
        "pod_name": pod,
        "labels": [f"k8s:app={workload}", f"k8s:io.kubernetes.pod.namespace={namespace}"],
        "workloads": [{"name": workload, "kind": "Deployment"}],
    }


def _flow(when: float, src: str, dst: str, port: int, direction: str) -> dict[str, Any]:
    stamp = datetime.fromtimestamp(when, UTC).isoformat().replace("+00:00", "Z")
    return {
        "time": stamp,
        "uuid": str(uuid.uuid4()),
        "source": _endpoint(src),
        "destination": _endpoint(dst),
        "l4": {"TCP": {"source_port": 40_000 + port % 20_000, "destination_port": port}},
        "traffic_direction": direction,
        "node_name": "demo/worker-1",
        "is_reply": False,
    }


def flow_dict(
    kind: str,
    when: float,
    src: str,
    dst: str,
    port: int,
    direction: str,
    verdict: str,
    detail: str,
) -> dict[str, Any]:
    """One flow: `kind` connection (policy verdict; `detail` the drop reason or the match
    type), drop (one dropped packet; `detail` the reason) or l7 (a DNS request)."""
    f = _flow(when, src, dst, port, direction)
    if kind == "connection":
        f["verdict"] = verdict
        f["event_type"] = {"type": 5}
        if verdict == "DROPPED":
            f["drop_reason_desc"] = detail
        else:
            f["policy_match_type"] = {"L3_L4": 2, "ALL": 4, "NONE": 0}[detail]
    elif kind == "drop":
        f.update(verdict="DROPPED", drop_reason_desc=detail, event_type={"type": 1})
    else:
        f.update(
            verdict=verdict,
            event_type={"type": 129},
            l7={"type": "REQUEST", "dns": {"query": "payments-api.payments.svc."}},
        )
    return f


def flows(now: float) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    span = 7200.0

    def spread(n: int, i: int) -> float:
        return now - span + span * (i + 0.5) / n

    for src, dst, port, direction, verdict, detail, n in TRAFFIC:
        for i in range(n):
            out.append(
                flow_dict("connection", spread(n, i), src, dst, port, direction, verdict, detail)
            )
    for src, dst, port, direction, reason, n in DROPS:
        for i in range(n):
            out.append(flow_dict("drop", spread(n, i), src, dst, port, direction, "", reason))
    for src, dst, port, direction, verdict, n in DNS:
        for i in range(n):
            out.append(flow_dict("l7", spread(n, i), src, dst, port, direction, verdict, ""))
    out.sort(key=lambda f: str(f["time"]))
    return [{"flow": f, "node_name": f["node_name"], "time": f["time"]} for f in out]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--now", type=float, default=datetime.now(UTC).timestamp())
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as handle:
        for event in flows(args.now):
            handle.write(json.dumps(event, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()

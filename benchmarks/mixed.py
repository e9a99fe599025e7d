"""The mixed-API benchmark of issue 4: the large synthetic cluster with a quarter of its
namespaces on CiliumNetworkPolicy and two cluster-wide baselines (CCNP), timed against
the NetworkPolicy-only original (target: within 1.5x).

    python -m benchmarks.mixed [--size large] [--repeat 1]

Reads `benchmarks/data/<size>/manifests` (written by `make bench`), writes the mixed
copy to `benchmarks/data/<size>-mixed/manifests` (every fourth namespace's
NetworkPolicies translated to equivalent CiliumNetworkPolicies, docs/semantics.md §1.9),
runs `netfence scan -o json` on both and prints the times and the ratio as JSON (also
written to `benchmarks/results/mixed-latest.json`).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
NETFENCE = Path(sys.executable).parent / "netfence"
Obj = dict[str, Any]

BASELINES: list[Obj] = [
    {
        "apiVersion": "cilium.io/v2",
        "kind": "CiliumClusterwideNetworkPolicy",
        "metadata": {"name": "baseline-dns"},
        "spec": {
            "endpointSelector": {
                "matchExpressions": [
                    {
                        "key": "k8s:io.kubernetes.pod.namespace",
                        "operator": "NotIn",
                        "values": ["kube-system"],
                    }
                ]
            },
            "enableDefaultDeny": {"egress": False},
            "egress": [
                {
                    "toEndpoints": [
                        {
                            "matchLabels": {
                                "k8s:io.kubernetes.pod.namespace": "kube-system",
                                "k8s:k8s-app": "kube-dns",
                            }
                        }
                    ],
                    "toPorts": [{"ports": [{"port": "53", "protocol": "ANY"}]}],
                }
            ],
        },
    },
    {
        "apiVersion": "cilium.io/v2",
        "kind": "CiliumClusterwideNetworkPolicy",
        "metadata": {"name": "baseline-no-metadata-api"},
        "spec": {
            "endpointSelector": {},
            # A guard rail, not a default deny (the use case of enableDefaultDeny, §3.4).
            "enableDefaultDeny": {"egress": False, "ingress": False},
            "egressDeny": [{"toCIDR": ["169.254.169.254/32"]}],
        },
    },
]


def _selector_to_cilium(peer: Obj) -> Obj:
    """A NetworkPolicy pod/namespace peer as a Cilium endpoint selector (§1.9)."""
    pods = peer.get("podSelector") or {}
    out: Obj = {
        "matchLabels": dict(pods.get("matchLabels") or {}),
        "matchExpressions": list(pods.get("matchExpressions") or []),
    }
    ns = peer.get("namespaceSelector")
    if ns is not None:
        labels = ns.get("matchLabels") or {}
        exprs = ns.get("matchExpressions") or []
        if not labels and not exprs:
            out["matchExpressions"].append(
                {"key": "k8s:io.kubernetes.pod.namespace", "operator": "Exists"}
            )
        for k, v in labels.items():
            out["matchLabels"][f"k8s:io.cilium.k8s.namespace.labels.{k}"] = v
        for e in exprs:
            out["matchExpressions"].append(
                {**e, "key": f"k8s:io.cilium.k8s.namespace.labels.{e['key']}"}
            )
    return {k: v for k, v in out.items() if v}


def _ports(rule: Obj) -> list[Obj] | None:
    ports = rule.get("ports")
    if not ports:
        return None
    out = []
    for p in ports:
        item: Obj = {"protocol": p.get("protocol") or "TCP"}
        if p.get("port") is not None:
            item["port"] = str(p["port"])
        if p.get("endPort") is not None:
            item["endPort"] = p["endPort"]
        out.append(item)
    return [{"ports": out}]


def _rules(rules: list[Obj], side: str) -> list[Obj]:
    peer_key, eps, cidrs = (
        ("from", "fromEndpoints", "fromCIDRSet")
        if side == "ingress"
        else ("to", "toEndpoints", "toCIDRSet")
    )
    out: list[Obj] = []
    for rule in rules:
        ports = _ports(rule)
        extra: Obj = {"toPorts": ports} if ports else {}
        peers = rule.get(peer_key)
        if not peers:
            out.append({**extra} if ports else {side_all(side): ["all"]})
            continue
        selectors = [_selector_to_cilium(p) for p in peers if "ipBlock" not in p]
        blocks = [p["ipBlock"] for p in peers if "ipBlock" in p]
        if selectors:
            out.append({eps: selectors, **extra})
        if blocks:
            out.append({cidrs: blocks, **extra})
    return out


def side_all(side: str) -> str:
    return "fromEntities" if side == "ingress" else "toEntities"


def to_cnp(np: Obj) -> Obj:
    spec = np.get("spec") or {}
    types = spec.get("policyTypes") or ["Ingress"]
    out: Obj = {"endpointSelector": spec.get("podSelector") or {}}
    for side, name in (("ingress", "Ingress"), ("egress", "Egress")):
        if name in types:
            out[side] = _rules(spec.get(side) or [], side) or [{}]
    return {
        "apiVersion": "cilium.io/v2",
        "kind": "CiliumNetworkPolicy",
        "metadata": dict(np["metadata"]),
        "spec": out,
    }


def make_mixed(src: Path, dst: Path) -> int:
    dst.mkdir(parents=True, exist_ok=True)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    converted = 0
    for i, path in enumerate(sorted(src.glob("cluster-*.yaml"))):
        docs = [d for d in yaml.load_all(path.read_text(), Loader=loader) if d]
        namespaces = sorted(d["metadata"]["name"] for d in docs if d["kind"] == "Namespace")
        cilium = {n for j, n in enumerate(namespaces) if j % 4 == 0}
        out = []
        for d in docs:
            if d["kind"] == "NetworkPolicy" and d["metadata"].get("namespace") in cilium:
                d = to_cnp(d)
                converted += 1
            out.append(d)
        if i == 0:
            out.extend(BASELINES)
        (dst / path.name).write_text(yaml.dump_all(out, Dumper=dumper, sort_keys=False))
    return converted


def time_scan(path: Path) -> float:
    started = time.perf_counter()
    proc = subprocess.run(
        [str(NETFENCE), "scan", "--manifests", str(path), "-o", "json", "--fail-on", "never"],
        capture_output=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if proc.returncode not in (0, 1):
        raise RuntimeError(proc.stderr.decode()[-2000:])
    return elapsed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.mixed")
    parser.add_argument("--size", default="large")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args(argv)
    src = HERE / "data" / args.size / "manifests"
    dst = HERE / "data" / f"{args.size}-mixed" / "manifests"
    if not src.is_dir():
        print(f"mixed: {src} is missing; run `make bench` first", file=sys.stderr)
        return 2
    converted = make_mixed(src, dst)
    plain = min(time_scan(src) for _ in range(args.repeat))
    mixed = min(time_scan(dst) for _ in range(args.repeat))
    result = {
        "size": args.size,
        "converted_policies": converted,
        "networkpolicy_only_seconds": round(plain, 3),
        "mixed_seconds": round(mixed, 3),
        "ratio": round(mixed / plain, 3),
        "target_ratio": 1.5,
        "ok": mixed / plain <= 1.5,
    }
    text = json.dumps(result, indent=2)
    print(text)
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "mixed-latest.json").write_text(text + "\n")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())

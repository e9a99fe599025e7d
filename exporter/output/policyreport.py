"""PolicyReport objects (wgpolicyk8s.io/v1alpha2, the Kubernetes Policy WG's format that
Kyverno, policy-reporter and its UI read): one `PolicyReport` named `netfence` per
namespace and one `ClusterPolicyReport` named `netfence` for cluster-scoped findings.

- `policy` is the check (`no-default-deny`, ...), `source` is `netfence`, `category`
  `network-policy`. Findings are `fail` (critical, high, medium) or `warn` (low, info):
  policy-reporter counts fails as violations.
- Each namespace also gets one `pass` per direction where default-deny is in force, so
  the UI shows compliant namespaces rather than nothing.
- `resources` names the object the result is about (kind, namespace, name), and
  `properties.object` the exact reference netfence printed.
- `timestamp` is the scan's time (an injected clock), the same on every result.

Apply with `netfence scan -o policyreport | kubectl apply -f -` (server-side apply
replaces the previous results: the names are stable).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence

from exporter.core.coverage import NamespaceCoverage
from exporter.core.findings import Finding, Severity
from exporter.core.model import Direction

API_VERSION = "wgpolicyk8s.io/v1alpha2"
NAME = "netfence"
SOURCE = "netfence"
CATEGORY = "network-policy"
RESULT = {
    Severity.CRITICAL: "fail",
    Severity.HIGH: "fail",
    Severity.MEDIUM: "fail",
    Severity.LOW: "warn",
    Severity.INFO: "warn",
}
LABELS = {"app.kubernetes.io/managed-by": "netfence"}


def _resource(namespace: str, obj: str) -> dict[str, str] | None:
    """`NetworkPolicy ns/name [specs[i]]` or `ns/name[Kind]` -> an object reference."""
    if obj.endswith("]") and " " not in obj and "/" in obj:
        ns, _, rest = obj.partition("/")
        name, _, kind = rest[:-1].partition("[")
        return {"kind": kind, "namespace": ns, "name": name}
    parts = obj.split(" ")
    if len(parts) < 2:
        return None
    kind, ref = parts[0], parts[1]
    ns, _, name = ref.rpartition("/")
    out = {"kind": kind, "name": name}
    if ns or (namespace and kind != "Namespace"):
        out["namespace"] = ns or namespace
    return out


def _timestamp(now: float) -> dict[str, int]:
    seconds = int(now)
    return {"seconds": seconds, "nanos": round((now - seconds) * 1e9) % 1_000_000_000}


def _finding_result(f: Finding, now: float) -> dict[str, object]:
    result: dict[str, object] = {
        "policy": str(f.check),
        "rule": str(f.check),
        "result": RESULT[f.severity],
        "severity": str(f.severity),
        "category": CATEGORY,
        "source": SOURCE,
        "message": f.message,
        "scored": True,
        "timestamp": _timestamp(now),
        "properties": {"object": f.object},
    }
    resource = _resource(f.namespace, f.object)
    if resource is not None:
        result["resources"] = [resource]
    return result


def _pass_results(ns: NamespaceCoverage, now: float) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for direction in Direction:
        cov = ns.direction(direction)
        if cov.default_deny:
            out.append(
                {
                    "policy": "no-default-deny",
                    "rule": str(direction),
                    "result": "pass",
                    "category": CATEGORY,
                    "source": SOURCE,
                    "message": cov.reason,
                    "scored": True,
                    "timestamp": _timestamp(now),
                    "resources": [{"apiVersion": "v1", "kind": "Namespace", "name": ns.name}],
                }
            )
    return out


def _summary(results: Sequence[dict[str, object]]) -> dict[str, int]:
    counts = Counter(str(r["result"]) for r in results)
    return {k: counts.get(k, 0) for k in ("pass", "fail", "warn", "error", "skip")}


def reports(
    namespaces: Sequence[NamespaceCoverage], findings: Sequence[Finding], now: float
) -> list[dict[str, object]]:
    by_namespace: dict[str, list[dict[str, object]]] = {
        n.name: _pass_results(n, now) for n in namespaces
    }
    cluster: list[dict[str, object]] = []
    for f in findings:
        target = by_namespace.setdefault(f.namespace, []) if f.namespace else cluster
        target.append(_finding_result(f, now))
    out: list[dict[str, object]] = []
    for namespace in sorted(by_namespace):
        results = by_namespace[namespace]
        out.append(
            {
                "apiVersion": API_VERSION,
                "kind": "PolicyReport",
                "metadata": {"name": NAME, "namespace": namespace, "labels": dict(LABELS)},
                "scope": {"apiVersion": "v1", "kind": "Namespace", "name": namespace},
                "summary": _summary(results),
                "results": results,
            }
        )
    out.append(
        {
            "apiVersion": API_VERSION,
            "kind": "ClusterPolicyReport",
            "metadata": {"name": NAME, "labels": dict(LABELS)},
            "summary": _summary(cluster),
            "results": cluster,
        }
    )
    return out


def to_yaml_stream(objects: Sequence[dict[str, object]]) -> str:
    """A multi-document stream, one report per document; each document is JSON (which
    YAML 1.2 reads as is), so no value can change meaning on the way to the cluster."""
    return "".join(f"---\n{json.dumps(obj, indent=1)}\n" for obj in objects)

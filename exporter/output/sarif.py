"""SARIF 2.1.0 (OASIS) for code-scanning UIs: GitHub code scanning, GitLab, Azure
DevOps, the SARIF viewers.

- One rule per check (`exporter.core.findings.Check`, all of them, so rule indices are
  stable between runs) with its help text. A finding's severity sets the result
  `level` (critical/high -> error, medium -> warning, low/info -> note); GitHub ranks
  alerts by the rule's `security-severity`, so each rule carries the highest severity
  its results have in this run (CVSS-like scale: critical 9.5, high 8.0, medium 5.5,
  low 3.0, info 1.0).
- Results point at the file and line of the object they are about when it came from
  manifests (the loader keeps each document's first line), as a path relative to the
  working directory under `%SRCROOT%`; always also at the object's logical name.
- `partialFingerprints` hash check, namespace and object: the same finding keeps its
  identity across commits, so UIs track it rather than re-open it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from exporter.core.diff import Change, PolicyChange, PolicyDiff
from exporter.core.findings import Check, Finding, Severity
from exporter.core.inventory import RawObject

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/netfence/netfence"
LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
    Severity.INFO: "1.0",
}
DEFAULT_DENY_LOST = "diff-default-deny-lost"
EXPOSURE_ADDED = "diff-exposure-added"

HELP: dict[str, tuple[str, str]] = {
    # check: (short description, help: what it means and what to do)
    Check.NO_DEFAULT_DENY: (
        "Namespace without default-deny",
        "Not every current and future pod of the namespace is isolated in this direction, "
        "or a rule admits every peer on every port. Add a NetworkPolicy with an empty "
        "podSelector and the direction in policyTypes, then allow what is needed.",
    ),
    Check.ALLOW_ALL_RULE: (
        "Rule admits every peer on every port",
        "A rule such as `ingress: [{}]` allows everything in that direction for the pods "
        "it selects, whatever other policies say. Name the peers and ports instead.",
    ),
    Check.POLICY_SELECTS_NO_PODS: (
        "Policy selects no pods",
        "The policy's selector matches no pod in the input: it has no effect, which is "
        "often a typo in a label. Fix the selector or remove the policy.",
    ),
    Check.IMPLICIT_INGRESS_DENY: (
        "Egress-only intent also denies ingress",
        "A policy without policyTypes that has only egress rules also isolates ingress "
        "(Kubernetes defaults policyTypes to Ingress). Set policyTypes explicitly.",
    ),
    Check.EMPTY_EGRESS_NOT_ISOLATING: (
        "Empty egress does not isolate",
        "`egress: []` without Egress in policyTypes isolates nothing. Add Egress to "
        "policyTypes to deny egress.",
    ),
    Check.IGNORED_RULES: (
        "Rules ignored",
        "Rules of a direction missing from policyTypes are ignored by Kubernetes.",
    ),
    Check.UNRESOLVED_NAMED_PORT: (
        "Named port resolves nowhere",
        "No selected pod declares a container port of this name, so the rule admits "
        "nothing on it. Fix the name or the containers' ports.",
    ),
    Check.HOST_NETWORK_UNPROTECTED: (
        "hostNetwork pod outside NetworkPolicy",
        "Pods on the host network are not isolated by pod policies; protect them with "
        "host firewalling or your plugin's host policies.",
    ),
    Check.EGRESS_INTERNET_ANY_PORT: (
        "Internet egress on any port",
        "Workloads may open connections to public addresses on every port. Restrict "
        "egress to the destinations and ports they need.",
    ),
    Check.DATABASE_PORT_ALL_NAMESPACES: (
        "Database port open to every namespace",
        "A database port admits pods of every namespace. Admit only the clients.",
    ),
    Check.SENSITIVE_NAMESPACE_OPEN: (
        "Sensitive namespace reachable from other namespaces",
        "A namespace marked sensitive admits traffic from other namespaces.",
    ),
    Check.ALLOW_ALL_BESIDE_DEFAULT_DENY: (
        "Allow-all beside a default-deny",
        "A rule admitting everything sits beside the namespace's default-deny and undoes "
        "it for the pods it selects.",
    ),
    Check.ROUTE_BACKEND_NOT_GRANTED: (
        "Route backend in another namespace without ReferenceGrant",
        "A Gateway API route names a backend in another namespace that no ReferenceGrant "
        "allows: the backend is not used.",
    ),
    Check.UNENFORCED_POLICY: (
        "Policy of an API the network plugin does not enforce",
        "The cluster's network plugin does not implement this policy API: the policy has "
        "no effect.",
    ),
    Check.CIDR_IGNORES_PODS: (
        "CIDR rule does not match pods",
        "On Cilium, ipBlock/CIDR rules never match pods, even when their addresses fall "
        "inside: select the pods by label.",
    ),
    Check.NOT_EVALUATED: (
        "Policy parts not evaluated",
        "netfence reports these parts (L7, FQDN, host policies) but does not evaluate them.",
    ),
    Check.UNREADABLE_KIND: (
        "Kind not readable",
        "The API server refused to list a kind (403): whatever it holds is not analysed. "
        "Grant get/list/watch on it to netfence.",
    ),
    Check.UNVERIFIABLE_POLICY: (
        "Policy that decides an answer could not be read",
        "An object of a kind that decides coverage or exposure could not be read or "
        "parsed: the answers of its namespace (every namespace, when cluster-scoped) are "
        "unknown until it is fixed.",
    ),
    Check.GUARDRAIL_VIOLATION: (
        "Intent guardrail not met",
        "A guardrail of the intent file is not met (docs/intent.md): fix the policy or "
        "record a time-boxed exception.",
    ),
    Check.EXCEPTION_EXPIRED: (
        "Guardrail exception expired",
        "A guardrail exception's expiry date has passed: the guardrail applies again.",
    ),
    Check.BASELINE_DRIFT: (
        "Baseline policy drift",
        "A baseline policy of the intent file is missing, modified or present under another name.",
    ),
    DEFAULT_DENY_LOST: (
        "Change loses default-deny",
        "After this change a namespace no longer isolates every pod in this direction.",
    ),
    EXPOSURE_ADDED: (
        "Change adds an exposure",
        "After this change a workload is reachable from more places (other namespaces, "
        "an ingress or gateway, the internet) or can reach the internet.",
    ),
}


@dataclass(frozen=True, slots=True)
class Place:
    source: str
    line: int | None


class Locations:
    """Where each object came from, by the names findings use for it."""

    def __init__(self, raws: Iterable[RawObject]) -> None:
        self._by_name: dict[str, Place] = {}
        for raw in raws:
            obj = raw.obj
            if not isinstance(obj, dict) or raw.line is None:
                continue
            meta = obj.get("metadata")
            if not isinstance(meta, dict):
                continue
            kind, name = str(obj.get("kind", "")), str(meta.get("name", ""))
            namespace = meta.get("namespace")
            place = Place(raw.source, raw.line)
            key = f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"
            self._by_name.setdefault(key, place)
            if not namespace:
                # Namespaced objects written without a namespace land in `default`.
                self._by_name.setdefault(f"{kind} default/{name}", place)

    def find(self, namespace: str, obj: str) -> Place | None:
        for key in _candidates(namespace, obj):
            found = self._by_name.get(key)
            if found is not None:
                return found
        return None


def _candidates(namespace: str, obj: str) -> list[str]:
    """`NetworkPolicy ns/name`, `NetworkPolicy ns/name specs[1]`, `ns/name[Kind]`."""
    out = [obj]
    head = obj.split(" ")
    if len(head) > 2:
        out.append(" ".join(head[:2]))
    if obj.endswith("]") and " " not in obj and "/" in obj:
        ns, _, rest = obj.partition("/")
        name, _, kind = rest[:-1].partition("[")
        out.append(f"{kind} {ns}/{name}")
    if namespace:
        out.append(f"Namespace {namespace}")
    return out


def _uri(source: str, root: Path) -> tuple[str, bool]:
    """(uri, relative to %SRCROOT%)."""
    path = Path(source)
    if not path.is_absolute():
        return path.as_posix(), True
    try:
        return path.relative_to(root).as_posix(), True
    except ValueError:
        return path.as_uri(), False


def _help() -> dict[str, tuple[str, str]]:
    """HELP, plus any check added later without help text of its own (its name then
    stands for it, so a new check never breaks the log)."""
    out = {str(k): v for k, v in HELP.items()}
    for check in Check:
        out.setdefault(str(check), (str(check).replace("-", " ").capitalize(), str(check)))
    return out


RULES = _help()


def _rules(severities: dict[str, Severity]) -> list[dict[str, object]]:
    rules: list[dict[str, object]] = []
    for rule_id, (short, text) in RULES.items():
        severity = severities.get(str(rule_id), Severity.MEDIUM)
        rules.append(
            {
                "id": str(rule_id),
                "name": "".join(w.capitalize() for w in str(rule_id).split("-")),
                "shortDescription": {"text": short},
                "fullDescription": {"text": text},
                "help": {"text": text, "markdown": f"**{short}**\n\n{text}"},
                "helpUri": f"{INFORMATION_URI}/blob/main/docs/sarif.md#{rule_id}",
                "defaultConfiguration": {"level": LEVEL[severity]},
                "properties": {
                    "security-severity": SECURITY_SEVERITY[severity],
                    "tags": ["security", "kubernetes", "network-policy"],
                    "precision": "high",
                },
            }
        )
    return rules


def _result(
    rule_id: str,
    severity: Severity,
    message: str,
    namespace: str,
    obj: str,
    locations: Locations,
    root: Path,
) -> dict[str, object]:
    location: dict[str, object] = {
        "logicalLocations": [
            {"name": obj, "fullyQualifiedName": f"{namespace}/{obj}", "kind": "resource"}
        ]
    }
    place = locations.find(namespace, obj)
    if place is not None:
        uri, relative = _uri(place.source, root)
        artifact: dict[str, object] = {"uri": uri}
        if relative:
            artifact["uriBaseId"] = "%SRCROOT%"
        location["physicalLocation"] = {
            "artifactLocation": artifact,
            "region": {"startLine": place.line or 1},
        }
    index = list(RULES).index(rule_id)
    fingerprint = hashlib.sha256(f"{rule_id}\0{namespace}\0{obj}".encode()).hexdigest()
    return {
        "ruleId": rule_id,
        "ruleIndex": index,
        "level": LEVEL[severity],
        "message": {"text": message},
        "locations": [location],
        "partialFingerprints": {"netfenceObject/v1": fingerprint},
        "properties": {"severity": str(severity), "namespace": namespace, "object": obj},
    }


def _log(
    results: list[dict[str, object]], severities: dict[str, Severity], version: str, root: Path
) -> dict[str, object]:
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "netfence",
                        "version": version,
                        "semanticVersion": version,
                        "informationUri": INFORMATION_URI,
                        "rules": _rules(severities),
                    }
                },
                "originalUriBaseIds": {"%SRCROOT%": {"uri": root.as_uri() + "/"}},
                "results": results,
                "columnKind": "unicodeCodePoints",
            }
        ],
    }


def _changed_policy(policies: Sequence[PolicyChange], namespace: str, locations: Locations) -> str:
    """The first changed policy still in the head: where a lost default-deny is fixed."""
    for p in policies:
        if p.change is not Change.REMOVED and locations.find(namespace, p.policy):
            return p.policy
    return ""


def _note(severities: dict[str, Severity], rule: str, severity: Severity) -> None:
    if rule not in severities or severities[rule].rank < severity.rank:
        severities[rule] = severity


def scan_log(
    findings: Sequence[Finding], locations: Locations, version: str, root: Path
) -> dict[str, object]:
    severities: dict[str, Severity] = {}
    results = []
    for f in findings:
        _note(severities, str(f.check), f.severity)
        results.append(
            _result(str(f.check), f.severity, f.message, f.namespace, f.object, locations, root)
        )
    return _log(results, severities, version, root)


def diff_log(d: PolicyDiff, locations: Locations, version: str, root: Path) -> dict[str, object]:
    """New findings of the head, lost default-deny and added exposures."""
    severities: dict[str, Severity] = {}
    results = []
    for ns in d.all():
        for c in ns.default_deny:
            if not c.gained:
                _note(severities, DEFAULT_DENY_LOST, Severity.HIGH)
                results.append(
                    _result(
                        DEFAULT_DENY_LOST,
                        Severity.HIGH,
                        f"namespace {ns.name} loses default-deny for {c.direction}: {c.reason}",
                        ns.name,
                        _changed_policy(ns.policies, ns.name, locations) or f"Namespace {ns.name}",
                        locations,
                        root,
                    )
                )
        for e in ns.exposures_added:
            _note(severities, EXPOSURE_ADDED, Severity.HIGH)
            opened = next((o for o in e.objects if locations.find(e.namespace, o)), "")
            results.append(
                _result(
                    EXPOSURE_ADDED,
                    Severity.HIGH,
                    f"exposure added: {e.label} via {', '.join(e.objects)}",
                    e.namespace,
                    opened or f"{e.kind} {e.namespace}/{e.name}",
                    locations,
                    root,
                )
            )
        for f in ns.findings_new:
            _note(severities, str(f.check), f.severity)
            results.append(
                _result(str(f.check), f.severity, f.message, f.namespace, f.object, locations, root)
            )
    return _log(results, severities, version, root)

"""Synthetic clusters for benchmarking netfence at realistic scale.

    python -m benchmarks.generate --namespaces 10000 --pods 100000 --policies 60000 \\
        --out benchmarks/data/large/manifests [--seed 1] [--format yaml|json] [--check]

Why synthetic: no real 100,000-pod cluster can ship with the repository, and a benchmark
is only comparable over time if its input is byte-for-byte reproducible. Everything is
drawn from one `random.Random(seed)`, so a seed and the parameters fix the output.

Why this shape: the analyses' cost depends on what policies look like, not only on how
many there are, so the mix follows what real clusters hold -- mostly default-deny
namespaces with DNS egress and a handful of allow rules each; namespaceSelector on
`kubernetes.io/metadata.name` or `team`; AND-peers; matchExpressions; ipBlocks with
`except`; named ports; `endPort` ranges; and the usual mistakes (namespaces without any
policy, allow-all `ingress: [{}]` even under the name `default-deny`, policies without
`policyTypes` whose egress rules silently isolate egress, selectors that match nothing,
named ports that resolve nowhere). Pods come as Deployments with replicas plus a few
StatefulSets and DaemonSets, because that is how manifests and `kubectl get` dumps
carry them; Services, Ingresses and Gateway API objects (Gateways, HTTPRoutes,
ReferenceGrants) are there for the exposure analysis (`--no-exposure` leaves them out).

YAML is written by a small emitter of our own rather than `yaml.dump`: the headline
case is ~130,000 objects, and PyYAML's emitter (even the libyaml one) would make
generation take minutes. The emitter only produces block mappings/sequences and plain
or JSON-quoted scalars, so its output is valid YAML with exactly the intended types;
`--check` re-reads everything with `yaml.CSafeLoader` and compares the counts.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

FORMATS = ("yaml", "json")
DEFAULT_MAX_FILES = 500
FILE_PREFIX = "cluster-"
NAME_LABEL = "kubernetes.io/metadata.name"
SENSITIVE_LABEL = "netfence.io/sensitive"

Obj = dict[str, Any]

# fmt: off
TEAMS = (
    "payments", "checkout", "search", "catalog", "identity", "growth", "ads", "risk", "data",
    "ml", "mobile", "web", "platform", "infra", "billing", "support", "logistics", "pricing",
    "reviews", "messaging", "media", "security", "finance", "hr",
)
ENVS = ("prod", "staging", "dev")
FRONTEND_APPS = ("web", "frontend", "ui", "gateway", "bff", "portal")
BACKEND_APPS = (
    "api", "worker", "orders", "auth", "search", "catalog", "notifications", "billing",
    "inventory", "recommender", "scheduler", "profile",
)
# fmt: on
DATA_APPS = ("postgres", "redis", "kafka", "elasticsearch", "mongodb", "rabbitmq")
PRIVATE_RANGES = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")


# --------------------------------------------------------------------------- the plan


@dataclass(frozen=True, slots=True)
class Port:
    number: int
    protocol: str
    name: str | None


@dataclass(slots=True)
class WorkloadPlan:
    kind: str
    name: str
    app: str
    tier: str
    version: str
    pods: int
    ports: tuple[Port, ...]
    extra_labels: dict[str, str] = field(default_factory=dict)
    host_network: bool = False
    sidecar: bool = False


@dataclass(slots=True)
class NamespacePlan:
    name: str
    team: str
    env: str
    sensitive: bool
    pods: int
    workloads: list[WorkloadPlan] = field(default_factory=list)
    policies: int = 0
    posture: str = "none"


@dataclass(frozen=True, slots=True)
class Params:
    """Everything that determines the output; run.py caches data sets by these."""

    namespaces: int
    pods: int
    policies: int
    seed: int = 1
    format: str = "yaml"
    exposure: bool = True
    max_files: int = DEFAULT_MAX_FILES

    def __post_init__(self) -> None:
        if self.namespaces < 1:
            raise ValueError("--namespaces must be at least 1")
        if self.pods < 0 or self.policies < 0:
            raise ValueError("--pods and --policies must not be negative")
        if self.format not in FORMATS:
            raise ValueError(f"--format must be one of {', '.join(FORMATS)}")
        if self.max_files < 1:
            raise ValueError("--max-files must be at least 1")


@dataclass(slots=True)
class Stats:
    """What was written; `--check` and run.py compare a re-read against it."""

    files: int = 0
    bytes: int = 0
    namespaces: int = 0
    pods: int = 0
    policies: int = 0
    kinds: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def split(total: int, weights: Sequence[float], minimum: int = 0) -> list[int]:
    """Integers summing to exactly `total`, proportional to `weights` (largest remainder).

    Exactness matters: the benchmark sizes are quoted as "100,000 pods / 60,000
    policies", so the data set must contain exactly that many.
    """
    n = len(weights)
    if n == 0:
        if total:
            raise ValueError("cannot split a non-zero total over nothing")
        return []
    base = [minimum] * n
    rest = total - minimum * n
    if rest < 0:
        raise ValueError(f"cannot give {n} parts at least {minimum} from {total}")
    weight_sum = sum(weights)
    if weight_sum <= 0:
        weights, weight_sum = [1.0] * n, float(n)
    shares = [rest * w / weight_sum for w in weights]
    parts = [int(s) for s in shares]
    short = rest - sum(parts)
    by_remainder = sorted(range(n), key=lambda i: (parts[i] - shares[i], i))
    for i in by_remainder[:short]:
        parts[i] += 1
    return [b + p for b, p in zip(base, parts, strict=True)]


def _ports_for(rng: random.Random, tier: str, app: str) -> tuple[Port, ...]:
    ports: list[Port] = []
    if tier == "frontend":
        ports.append(Port(8080, "TCP", "http"))
    elif tier == "backend":
        if app == "worker" or rng.random() < 0.1:
            pass  # queue consumers serve nothing but metrics
        elif rng.random() < 0.8:
            ports.append(Port(8080, "TCP", "http"))
        else:
            ports.append(Port(8000, "TCP", None))  # unnamed: only numeric rules reach it
        if rng.random() < 0.45:
            ports.append(Port(9090, "TCP", "grpc"))
        if rng.random() < 0.1:
            ports.append(Port(8125, "UDP", "statsd"))
    else:
        data_ports = {
            "postgres": (Port(5432, "TCP", None),),
            "redis": (Port(6379, "TCP", "redis"),),
            "kafka": (Port(9092, "TCP", "kafka"), Port(9093, "TCP", "kafka-tls")),
            "elasticsearch": (Port(9200, "TCP", "http"), Port(9300, "TCP", "transport")),
            "mongodb": (Port(27017, "TCP", "mongodb"),),
            "rabbitmq": (Port(5672, "TCP", "amqp"), Port(15672, "TCP", "management")),
        }
        ports.extend(data_ports[app])
    if rng.random() < 0.7:
        ports.append(Port(9102, "TCP", "metrics"))
    return tuple(ports)


def _special_namespaces(n: int) -> list[tuple[str, str, list[WorkloadPlan]]]:
    """The namespaces every real cluster has: DNS, monitoring, an ingress controller.

    They are part of `--namespaces`, so the requested counts stay exact.
    """

    def wl(
        kind: str,
        name: str,
        tier: str,
        ports: tuple[Port, ...],
        extra: dict[str, str] | None = None,
        host_network: bool = False,
    ) -> WorkloadPlan:
        return WorkloadPlan(kind, name, name, tier, "v1", 0, ports, extra or {}, host_network)

    specials = [
        (
            "kube-system",
            "platform",
            [
                wl(
                    "Deployment",
                    "coredns",
                    "infra",
                    (
                        Port(53, "UDP", "dns"),
                        Port(53, "TCP", "dns-tcp"),
                        Port(9153, "TCP", "metrics"),
                    ),
                    {"k8s-app": "kube-dns"},
                ),
                wl("DaemonSet", "kube-proxy", "infra", (Port(10249, "TCP", "metrics"),), {}, True),
            ],
        ),
        (
            "monitoring",
            "platform",
            [
                wl("StatefulSet", "prometheus", "infra", (Port(9090, "TCP", "web"),)),
                wl(
                    "DaemonSet", "node-exporter", "infra", (Port(9100, "TCP", "metrics"),), {}, True
                ),
            ],
        ),
        (
            "ingress-nginx",
            "platform",
            [
                wl(
                    "Deployment",
                    "ingress-nginx-controller",
                    "frontend",
                    (
                        Port(80, "TCP", "http"),
                        Port(443, "TCP", "https"),
                        Port(10254, "TCP", "metrics"),
                    ),
                    {"app.kubernetes.io/component": "controller"},
                ),
            ],
        ),
    ]
    return specials[: n if n < 3 else 3]


def plan(params: Params) -> list[NamespacePlan]:
    """Decide every namespace's labels, workloads and policy count before writing.

    Two passes (plan, then write) so policies can point at namespaces and apps that
    really exist elsewhere in the cluster, as cross-namespace rules in real clusters do.
    """
    rng = random.Random(params.seed)
    specials = _special_namespaces(params.namespaces)
    # Namespace sizes vary (0.3x to 2x the mean) so equivalence classes are not uniform.
    ns_pods = split(params.pods, [rng.uniform(0.3, 2.0) for _ in range(params.namespaces)])
    plans: list[NamespacePlan] = []
    for i in range(params.namespaces):
        if i < len(specials):
            name, team, fixed = specials[i]
            ns = NamespacePlan(name, team, "prod", False, ns_pods[i])
            fixed = fixed[: ns.pods]  # a namespace with fewer pods than workloads
            for w, pods in zip(
                fixed, split(ns.pods, [1.0] * len(fixed), 1 if fixed else 0), strict=True
            ):
                w.pods = pods
                ns.workloads.append(w)
        else:
            team = rng.choice(TEAMS)
            env = rng.choices(ENVS, weights=(5, 2, 3))[0]
            ns = NamespacePlan(f"{team}-{env}-{i:05d}", team, env, rng.random() < 0.1, ns_pods[i])
            _plan_workloads(rng, ns)
        plans.append(ns)

    # Policies: ~8% of namespaces get none; the rest share K in proportion to their
    # workload count (bigger namespaces carry more rules).
    weights = [
        0.0 if rng.random() < 0.08 else (len(ns.workloads) + 1) * rng.uniform(0.6, 1.4)
        for ns in plans
    ]
    for ns, count in zip(plans, split(params.policies, weights), strict=True):
        ns.policies = count
        if count:
            ns.posture = rng.choices(
                ("default-deny", "ingress-only", "open", "allow-all", "allow-all-trap"),
                weights=(70, 12, 10, 5, 3),
            )[0]
    return plans


def _plan_workloads(rng: random.Random, ns: NamespacePlan) -> None:
    if ns.pods == 0:
        return
    kinds = ["Deployment"] * rng.choices((2, 3, 4), weights=(4, 5, 1))[0]
    if rng.random() < 0.15:
        kinds[-1] = "StatefulSet"
    if rng.random() < 0.03:
        kinds.append("DaemonSet")
    kinds = kinds[: ns.pods]
    frontends = rng.sample(FRONTEND_APPS, 1)
    backends = rng.sample(BACKEND_APPS, len(kinds))
    used: set[str] = set()
    replicas = split(ns.pods, [rng.uniform(0.5, 2.0) for _ in kinds], 1)
    for idx, (kind, pods) in enumerate(zip(kinds, replicas, strict=True)):
        if kind == "StatefulSet":
            app, tier = rng.choice(DATA_APPS), "data"
        elif kind == "DaemonSet":
            app, tier = "log-agent", "infra"
        elif idx == 0 and rng.random() < 0.6:
            app, tier = frontends[0], "frontend"
        else:
            app, tier = backends[idx], "backend"
        if app in used:
            app = f"{app}-{idx}"
        used.add(app)
        ports = (
            (Port(24224, "TCP", "forward"), Port(24224, "UDP", "forward-udp"))
            if kind == "DaemonSet"
            else _ports_for(rng, tier, app.split("-")[0])
        )
        ns.workloads.append(
            WorkloadPlan(
                kind=kind,
                name=app,
                app=app,
                tier=tier,
                version=rng.choices(("v1", "v2", "v3"), weights=(6, 3, 1))[0],
                pods=pods,
                ports=ports,
                sidecar=rng.random() < 0.1,
            )
        )


# --------------------------------------------------------------------------- objects


def namespace_obj(ns: NamespacePlan) -> Obj:
    labels = {NAME_LABEL: ns.name, "team": ns.team, "env": ns.env}
    if ns.sensitive:
        labels[SENSITIVE_LABEL] = "true"
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": ns.name, "labels": labels},
    }


def workload_obj(ns: NamespacePlan, w: WorkloadPlan) -> Obj:
    container: Obj = {
        "name": w.app,
        "image": f"registry.example.com/{ns.team}/{w.app}:{w.version[1:]}.{len(w.app)}.0",
    }
    if w.ports:
        container["ports"] = [
            {
                **({"name": p.name} if p.name else {}),
                "containerPort": p.number,
                "protocol": p.protocol,
            }
            for p in w.ports
        ]
    container["resources"] = {
        "requests": {"cpu": "100m", "memory": "128Mi"},
        "limits": {"memory": "512Mi"},
    }
    if any(p.name == "http" for p in w.ports):
        container["readinessProbe"] = {
            "httpGet": {"path": "/healthz", "port": "http"},
            "periodSeconds": 10,
        }
    containers = [container]
    if w.sidecar:
        containers.append(
            {
                "name": "envoy",
                "image": "registry.example.com/mesh/envoy:1.29.0",
                "ports": [{"name": "envoy-prom", "containerPort": 15090, "protocol": "TCP"}],
            }
        )
    pod_labels = {"app": w.app, "tier": w.tier, "version": w.version, **w.extra_labels}
    pod_spec: Obj = {"serviceAccountName": w.app, "containers": containers}
    if w.host_network:
        pod_spec["hostNetwork"] = True
    selector_labels = {"app": w.app, **w.extra_labels}
    spec: Obj = {}
    if w.kind != "DaemonSet":
        spec["replicas"] = w.pods
    if w.kind == "StatefulSet":
        spec["serviceName"] = w.name
    spec["selector"] = {"matchLabels": selector_labels}
    spec["template"] = {"metadata": {"labels": pod_labels}, "spec": pod_spec}
    obj: Obj = {
        "apiVersion": "apps/v1",
        "kind": w.kind,
        "metadata": {
            "name": w.name,
            "namespace": ns.name,
            "labels": {"app": w.app, "app.kubernetes.io/part-of": ns.team},
        },
        "spec": spec,
    }
    if w.kind == "DaemonSet":
        # The node count is not in the manifest; a `kubectl get` dump carries it here,
        # and netfence counts DaemonSet pods from it.
        obj["status"] = {
            "desiredNumberScheduled": w.pods,
            "currentNumberScheduled": w.pods,
            "numberReady": w.pods,
        }
    return obj


def service_obj(rng: random.Random, ns: NamespacePlan, w: WorkloadPlan) -> Obj | None:
    if not w.ports:
        return None
    ports: list[Obj] = []
    for p in w.ports:
        if p.name:
            ports.append(
                {
                    "name": p.name,
                    "port": 80 if p.name == "http" else p.number,
                    "targetPort": p.name,
                    "protocol": p.protocol,
                }
            )
        else:
            ports.append(
                {
                    "name": f"tcp-{p.number}",
                    "port": p.number,
                    "targetPort": p.number,
                    "protocol": p.protocol,
                }
            )
    spec: Obj = {"selector": {"app": w.app, **w.extra_labels}, "ports": ports}
    if w.kind == "StatefulSet":
        spec["clusterIP"] = "None"
    else:
        r = rng.random()
        if w.name == "ingress-nginx-controller" or r < 0.05:
            spec["type"] = "LoadBalancer"
            if rng.random() < 0.3:
                spec["loadBalancerSourceRanges"] = ["203.0.113.0/24"]
        elif r < 0.15:
            spec["type"] = "NodePort"
        else:
            spec["type"] = "ClusterIP"
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": w.name, "namespace": ns.name, "labels": {"app": w.app}},
        "spec": spec,
    }


def ingress_obj(rng: random.Random, ns: NamespacePlan, w: WorkloadPlan) -> Obj:
    host = f"{w.app}.{ns.name}.example.com"
    spec: Obj = {
        "ingressClassName": "nginx",
        "rules": [
            {
                "host": host,
                "http": {
                    "paths": [
                        {
                            "path": "/",
                            "pathType": "Prefix",
                            "backend": {"service": {"name": w.name, "port": {"name": "http"}}},
                        }
                    ]
                },
            }
        ],
    }
    if rng.random() < 0.7:
        spec["tls"] = [{"hosts": [host], "secretName": f"{w.app}-tls"}]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": w.app, "namespace": ns.name},
        "spec": spec,
    }


GATEWAY_API = "gateway.networking.k8s.io"
GATEWAY_NAMESPACE = "ingress-nginx"
# (name, listeners as (name, protocol, port, allowedRoutes.namespaces)), route weight
GATEWAYS: tuple[tuple[str, tuple[tuple[str, str, int, Obj], ...], int], ...] = (
    (
        "public",
        (("http", "HTTP", 80, {"from": "All"}), ("https", "HTTPS", 443, {"from": "All"})),
        6,
    ),
    (
        "prod",
        (
            (
                "https",
                "HTTPS",
                443,
                {"from": "Selector", "selector": {"matchLabels": {"env": "prod"}}},
            ),
        ),
        3,
    ),
    (
        "internal",
        (
            ("http", "HTTP", 80, {"from": "Same"}),
            (
                "platform",
                "HTTP",
                8080,
                {
                    "from": "Selector",
                    "selector": {
                        "matchExpressions": [
                            {"key": "team", "operator": "In", "values": ["platform", "infra"]}
                        ]
                    },
                },
            ),
        ),
        1,
    ),
)
_GATEWAY_NAMES = tuple(g[0] for g in GATEWAYS)
_GATEWAY_WEIGHTS = tuple(g[2] for g in GATEWAYS)


def gateway_objs() -> list[Obj]:
    """The Gateways of the cluster's edge namespace (served by its controller pods)."""
    out = []
    for name, listeners, _ in GATEWAYS:
        spec_listeners = [
            {
                "name": lname,
                "protocol": proto,
                "port": port,
                "allowedRoutes": {"namespaces": spaces},
                **(
                    {"tls": {"certificateRefs": [{"kind": "Secret", "name": f"{name}-tls"}]}}
                    if proto == "HTTPS"
                    else {}
                ),
            }
            for lname, proto, port, spaces in listeners
        ]
        out.append(
            {
                "apiVersion": f"{GATEWAY_API}/v1",
                "kind": "Gateway",
                "metadata": {"name": name, "namespace": GATEWAY_NAMESPACE},
                "spec": {"gatewayClassName": "nginx", "listeners": spec_listeners},
            }
        )
    return out


def _http_frontend(ns: NamespacePlan) -> WorkloadPlan | None:
    """The workload an Ingress or route sends to: a frontend with an `http` port (its
    Service, written by `service_obj`, has port 80 named http)."""
    return next(
        (
            w
            for w in ns.workloads
            if w.tier == "frontend"
            and w.kind != "DaemonSet"
            and any(p.name == "http" for p in w.ports)
        ),
        None,
    )


def route_objs(
    rng: random.Random, ns: NamespacePlan, front: WorkloadPlan, plans: Sequence[NamespacePlan]
) -> list[Obj]:
    """An HTTPRoute of `ns` attached to one of the Gateways. A quarter of them also send
    part of the traffic to another namespace's frontend; half of those have the
    ReferenceGrant in that namespace which makes the reference valid."""
    gw = rng.choices(_GATEWAY_NAMES, weights=_GATEWAY_WEIGHTS)[0]
    parent: Obj = {"name": gw, "namespace": GATEWAY_NAMESPACE}
    if gw == "internal":
        parent["sectionName"] = "platform"
    rules: list[Obj] = [
        {
            "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
            "backendRefs": [{"name": front.name, "port": 80}],
        }
    ]
    out: list[Obj] = []
    if rng.random() < 0.25:
        other, target = ns, None
        for _ in range(4):  # most namespaces have no HTTP frontend
            other = rng.choice(plans)
            target = _http_frontend(other) if other is not ns else None
            if target is not None:
                break
        if target is not None:
            rules.append(
                {
                    "matches": [{"path": {"type": "PathPrefix", "value": f"/{other.team}"}}],
                    "backendRefs": [{"name": target.name, "namespace": other.name, "port": 80}],
                }
            )
            if rng.random() < 0.5:
                out.append(
                    {
                        "apiVersion": f"{GATEWAY_API}/v1beta1",
                        "kind": "ReferenceGrant",
                        "metadata": {"name": f"from-{ns.name}", "namespace": other.name},
                        "spec": {
                            "from": [
                                {"group": GATEWAY_API, "kind": "HTTPRoute", "namespace": ns.name}
                            ],
                            "to": [{"group": "", "kind": "Service", "name": target.name}],
                        },
                    }
                )
    route = {
        "apiVersion": f"{GATEWAY_API}/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": front.app, "namespace": ns.name},
        "spec": {
            "parentRefs": [parent],
            "hostnames": [f"{front.app}.{ns.name}.example.com"],
            "rules": rules,
        },
    }
    return [route, *out]


def _match(labels: Mapping[str, str]) -> Obj:
    return {"matchLabels": dict(labels)}


def _ns_by_name(name: str) -> Obj:
    return _match({NAME_LABEL: name})


# Allow-rule templates beyond each namespace's baseline, with relative frequencies.
FILLERS = {
    "same-ns": 22,
    "from-team": 12,
    "from-ns-pod": 14,
    "expressions": 8,
    "monitoring": 8,
    "egress-internet": 7,
    "from-cidr": 5,
    "port-range": 3,
    "no-policy-types": 5,
    "egress-db": 7,
    "all-namespaces": 3,
    "udp": 2,
    "ipv6": 1,
    "dns": 3,
}
_FILLER_NAMES = tuple(FILLERS)
_FILLER_WEIGHTS = tuple(FILLERS.values())


class _PolicyMaker:
    """Writes one namespace's policies; each template is a pattern seen in real clusters."""

    def __init__(self, rng: random.Random, ns: NamespacePlan, plans: Sequence[NamespacePlan]):
        self.rng = rng
        self.ns = ns
        self.plans = plans
        self.serial = 0

    def _target(self) -> WorkloadPlan | None:
        return self.rng.choice(self.ns.workloads) if self.ns.workloads else None

    def _app(self, w: WorkloadPlan | None) -> str:
        # A namespace without workloads still gets its policies: they select no pods,
        # which is itself a finding netfence must report.
        return w.app if w else "legacy"

    def _peer_app(self) -> str:
        return self._app(self._target())

    def _other(self) -> tuple[NamespacePlan, str]:
        other = self.rng.choice(self.plans)
        app = self.rng.choice(other.workloads).app if other.workloads else "client"
        return other, app

    def _port(self, w: WorkloadPlan | None) -> Obj:
        """A port the target serves, by name when it has one (as people write them)."""
        if w and w.ports:
            p = self.rng.choice(w.ports)
            if p.name and self.rng.random() < 0.7:
                return {"protocol": p.protocol, "port": p.name}
            return {"protocol": p.protocol, "port": p.number}
        return {"protocol": "TCP", "port": "http"}  # named port that resolves nowhere

    def policy(self, name: str, spec: Obj) -> Obj:
        return {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": self.ns.name},
            "spec": spec,
        }

    def prefix(self) -> list[Obj]:
        p = self.policy
        posture = self.ns.posture
        out: list[Obj] = []
        if self.ns.name == "kube-system":
            out.append(
                p(
                    "allow-dns-from-cluster",
                    {
                        "podSelector": _match({"k8s-app": "kube-dns"}),
                        "policyTypes": ["Ingress"],
                        "ingress": [
                            {
                                "from": [{"namespaceSelector": {}}],
                                "ports": [
                                    {"protocol": "UDP", "port": 53},
                                    {"protocol": "TCP", "port": 53},
                                ],
                            }
                        ],
                    },
                )
            )
        if self.ns.name == "monitoring":
            out.append(
                p(
                    "prometheus-scrape",
                    {
                        "podSelector": _match({"app": "prometheus"}),
                        "policyTypes": ["Egress"],
                        "egress": [
                            {"to": [{"namespaceSelector": {}}], "ports": [{"port": "metrics"}]}
                        ],
                    },
                )
            )
        if posture == "default-deny":
            out.append(p("default-deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}))
            out.append(p("allow-dns", self._dns_egress({})))
        elif posture == "ingress-only":
            out.append(p("default-deny-ingress", {"podSelector": {}, "policyTypes": ["Ingress"]}))
        elif posture in ("allow-all", "allow-all-trap"):
            # The trap: named like a default-deny, but `ingress: [{}]` admits everything.
            name = "default-deny" if posture == "allow-all-trap" else "allow-all-ingress"
            out.append(p(name, {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{}]}))
        return out

    def _dns_egress(self, selector: Obj) -> Obj:
        return {
            "podSelector": selector,
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": [
                        {
                            "namespaceSelector": _ns_by_name("kube-system"),
                            "podSelector": _match({"k8s-app": "kube-dns"}),
                        }
                    ],
                    "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
                }
            ],
        }

    def filler(self) -> Obj:
        rng = self.rng
        template = rng.choices(_FILLER_NAMES, weights=_FILLER_WEIGHTS)[0]
        target = self._target()
        app = self._app(target)
        self.serial += 1
        name = f"{template}-{app}-{self.serial}"
        select = _match({"app": app})
        spec: Obj
        if template == "same-ns":
            spec = {
                "podSelector": select,
                "policyTypes": ["Ingress"],
                "ingress": [
                    {
                        "from": [{"podSelector": _match({"app": self._peer_app()})}],
                        "ports": [self._port(target)],
                    }
                ],
            }
        elif template == "from-team":
            other, _ = self._other()
            spec = {
                "podSelector": select,
                "policyTypes": ["Ingress"],
                "ingress": [
                    {
                        "from": [{"namespaceSelector": _match({"team": other.team})}],
                        "ports": [self._port(target)],
                    }
                ],
            }
        elif template == "from-ns-pod":
            other, other_app = self._other()
            spec = {
                "podSelector": select,
                "policyTypes": ["Ingress"],
                "ingress": [
                    {
                        "from": [
                            {
                                "namespaceSelector": _ns_by_name(other.name),
                                "podSelector": _match({"app": other_app}),
                            }
                        ],
                        "ports": [self._port(target), self._port(target)],
                    }
                ],
            }
        elif template == "expressions":
            spec = {
                "podSelector": {
                    "matchExpressions": [
                        {"key": "tier", "operator": "In", "values": ["backend", "data"]}
                    ]
                },
                "ingress": [
                    {
                        "from": [
                            {
                                "namespaceSelector": {
                                    "matchExpressions": [
                                        {"key": "env", "operator": "NotIn", "values": ["dev"]},
                                        {"key": "team", "operator": "Exists"},
                                    ]
                                },
                                "podSelector": {
                                    "matchExpressions": [
                                        {"key": "tier", "operator": "In", "values": ["frontend"]},
                                        {"key": "version", "operator": "NotIn", "values": ["v1"]},
                                    ]
                                },
                            }
                        ]
                    }
                ],
            }
        elif template == "monitoring":
            spec = {
                "podSelector": {},
                "policyTypes": ["Ingress"],
                "ingress": [
                    {
                        "from": [
                            {
                                "namespaceSelector": _ns_by_name("monitoring"),
                                "podSelector": _match({"app": "prometheus"}),
                            }
                        ],
                        "ports": [{"protocol": "TCP", "port": "metrics"}],
                    }
                ],
            }
        elif template == "egress-internet":
            spec = {
                "podSelector": select,
                "policyTypes": ["Egress"],
                "egress": [
                    {
                        "to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": list(PRIVATE_RANGES)}}],
                        "ports": [{"protocol": "TCP", "port": 443}],
                    }
                ],
            }
        elif template == "from-cidr":
            a, b = rng.randrange(256), rng.randrange(256)
            spec = {
                "podSelector": select,
                "policyTypes": ["Ingress"],
                "ingress": [
                    {
                        "from": [
                            {"ipBlock": {"cidr": f"10.{a}.0.0/16", "except": [f"10.{a}.{b}.0/24"]}}
                        ],
                        "ports": [self._port(target)],
                    }
                ],
            }
        elif template == "port-range":
            low = rng.choice((30000, 31000, 32000))
            spec = {
                "podSelector": select,
                "policyTypes": ["Ingress"],
                "ingress": [
                    {
                        "from": [{"podSelector": {}}],
                        "ports": [{"protocol": "TCP", "port": low, "endPort": low + 99}],
                    }
                ],
            }
        elif template == "no-policy-types":
            # No policyTypes but egress rules: the API defaults to [Ingress, Egress], so
            # this isolates ingress too -- the classic silent deny netfence reports.
            other, _ = self._other()
            spec = {
                "podSelector": select,
                "egress": [
                    {
                        "to": [{"namespaceSelector": _match({"team": other.team})}],
                        "ports": [{"protocol": "TCP", "port": 5432}],
                    }
                ],
            }
        elif template == "egress-db":
            db = next((w for w in self.ns.workloads if w.tier == "data"), None)
            spec = {
                "podSelector": _match({"tier": "backend"}),
                "policyTypes": ["Egress"],
                "egress": [
                    {
                        "to": [{"podSelector": _match({"app": self._app(db)})}],
                        "ports": [self._port(db)] if db else [{"protocol": "TCP", "port": 5432}],
                    }
                ],
            }
        elif template == "all-namespaces":
            spec = {
                "podSelector": select,
                "policyTypes": ["Ingress"],
                "ingress": [{"from": [{"namespaceSelector": {}}], "ports": [self._port(target)]}],
            }
        elif template == "udp":
            spec = {
                "podSelector": select,
                "policyTypes": ["Ingress"],
                "ingress": [
                    {
                        "from": [{"podSelector": {}}],
                        "ports": [{"protocol": "UDP", "port": 8125}],
                    }
                ],
            }
        elif template == "ipv6":
            spec = {
                "podSelector": select,
                "policyTypes": ["Egress"],
                "egress": [
                    {"to": [{"ipBlock": {"cidr": "2001:db8::/32", "except": ["2001:db8:1::/48"]}}]}
                ],
            }
        else:  # dns, for one workload
            spec = self._dns_egress(select)
        return self.policy(name, spec)

    def all(self) -> list[Obj]:
        out = self.prefix()[: self.ns.policies]
        while len(out) < self.ns.policies:
            out.append(self.filler())
        return out


def namespace_objects(
    rng: random.Random, ns: NamespacePlan, plans: Sequence[NamespacePlan], exposure: bool
) -> Iterator[Obj]:
    """Every object of one namespace, in the order a `kubectl get` dump would list them."""
    yield namespace_obj(ns)
    for w in ns.workloads:
        yield workload_obj(ns, w)
    if exposure:
        for w in ns.workloads:
            if w.kind == "DaemonSet":
                continue
            svc = service_obj(rng, ns, w)
            if svc is not None:
                yield svc
        front = next(
            (
                w
                for w in ns.workloads
                if w.tier == "frontend" and any(p.name == "http" for p in w.ports)
            ),
            None,
        )
        if front is not None and rng.random() < 0.08:
            yield ingress_obj(rng, ns, front)
        if ns.name == GATEWAY_NAMESPACE:
            yield from gateway_objs()
        routed = _http_frontend(ns) if ns.name != GATEWAY_NAMESPACE else None
        if routed is not None and rng.random() < 0.12:
            yield from route_objs(rng, ns, routed, plans)
    yield from _PolicyMaker(rng, ns, plans).all()


# --------------------------------------------------------------------------- YAML text

_PLAIN = re.compile(r"[A-Za-z_/][A-Za-z0-9_./-]*\Z")
_RESERVED = frozenset({"y", "n", "yes", "no", "true", "false", "on", "off", "null", "~"})
_scalar_cache: dict[str, str] = {}


def _scalar(value: object) -> str:
    if isinstance(value, str):
        text = _scalar_cache.get(value)
        if text is None:
            plain = _PLAIN.match(value) is not None and value.lower() not in _RESERVED
            # JSON string syntax is a subset of YAML double-quoted scalars.
            text = value if plain else json.dumps(value)
            if len(_scalar_cache) < 200_000:
                _scalar_cache[value] = text
        return text
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return repr(value)
    raise TypeError(f"cannot write {type(value).__name__} as a YAML scalar")


def _flow(value: object) -> str:
    if isinstance(value, dict):
        return "{}"  # only called for empty mappings
    if isinstance(value, list):
        return "[]"
    return _scalar(value)


def _emit(node: object, pad: str, out: list[str]) -> None:
    """Block style as kubectl writes it: sequences under a key are not indented."""
    if isinstance(node, dict):
        for key, value in node.items():
            k = _scalar(key)
            if isinstance(value, dict) and value:
                out.append(f"{pad}{k}:\n")
                _emit(value, pad + "  ", out)
            elif isinstance(value, list) and value:
                out.append(f"{pad}{k}:\n")
                _emit(value, pad, out)
            else:
                out.append(f"{pad}{k}: {_flow(value)}\n")
    elif isinstance(node, list):
        inner = pad + "  "
        for item in node:
            if isinstance(item, dict) and item:
                sub: list[str] = []
                _emit(item, inner, sub)
                sub[0] = f"{pad}- {sub[0][len(inner) :]}"
                out.extend(sub)
            elif isinstance(item, list) and item:
                out.append(f"{pad}-\n")
                _emit(item, inner, out)
            else:
                out.append(f"{pad}- {_flow(item)}\n")
    else:
        raise TypeError("top-level YAML node must be a mapping or a sequence")


def to_yaml(obj: Mapping[str, Any]) -> str:
    """One YAML document (without the `---` separator)."""
    out: list[str] = []
    _emit(dict(obj), "", out)
    return "".join(out)


# --------------------------------------------------------------------------- writing


def _chunks(n: int, files: int) -> Iterator[range]:
    for f in range(files):
        yield range(f * n // files, (f + 1) * n // files)


def generate(params: Params, out: Path) -> Stats:
    """Write the data set into `out` (replacing earlier `cluster-*` files) and count it."""
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob(f"{FILE_PREFIX}*"):
        if old.suffix in (".yaml", ".json") and old.is_file():
            old.unlink()
    plans = plan(params)
    # Objects draw from their own stream so adding a template never reshuffles the plan.
    rng = random.Random(params.seed * 1_000_003 + 17)
    files = min(params.namespaces, params.max_files)
    width = max(4, len(str(files - 1)))
    stats = Stats()
    kinds: Counter[str] = Counter()
    for index, chunk in enumerate(_chunks(len(plans), files)):
        objects: list[Obj] = []
        for i in chunk:
            objects.extend(namespace_objects(rng, plans[i], plans, params.exposure))
        for obj in objects:
            kinds[obj["kind"]] += 1
        path = out / f"{FILE_PREFIX}{index:0{width}d}.{params.format}"
        if params.format == "yaml":
            text = "".join(f"---\n{to_yaml(obj)}" for obj in objects)
        else:
            items = ",\n".join(json.dumps(obj, separators=(",", ":")) for obj in objects)
            text = f'{{"apiVersion":"v1","kind":"List","items":[\n{items}\n]}}\n'
        data = text.encode()
        path.write_bytes(data)
        stats.files += 1
        stats.bytes += len(data)
    stats.namespaces = len(plans)
    stats.pods = sum(w.pods for ns in plans for w in ns.workloads)
    stats.policies = sum(ns.policies for ns in plans)
    stats.kinds = dict(sorted(kinds.items()))
    stats.seconds = round(time.perf_counter() - started, 3)
    return stats


def _loader() -> type[Any]:
    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_back(out: Path) -> Stats:
    """Re-read a data set with the safe YAML loader and count what it holds.

    Independent of netfence on purpose: it checks the generator, not the loader.
    """
    stats = Stats()
    kinds: Counter[str] = Counter()
    for path in sorted(out.glob(f"{FILE_PREFIX}*")):
        if path.suffix not in (".yaml", ".json"):
            continue
        data = path.read_bytes()
        stats.files += 1
        stats.bytes += len(data)
        if path.suffix == ".json":
            docs: list[Any] = json.loads(data)["items"]
        else:
            docs = [d for d in yaml.load_all(data, Loader=_loader()) if d is not None]
        for doc in docs:
            kind = doc["kind"]
            kinds[kind] += 1
            if kind == "Namespace":
                stats.namespaces += 1
            elif kind == "NetworkPolicy":
                stats.policies += 1
            elif kind in ("Deployment", "StatefulSet"):
                stats.pods += doc["spec"]["replicas"]
            elif kind == "DaemonSet":
                stats.pods += doc["status"]["desiredNumberScheduled"]
    stats.kinds = dict(sorted(kinds.items()))
    return stats


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.generate",
        description="Write a deterministic synthetic cluster (Kubernetes manifests).",
    )
    parser.add_argument("--namespaces", type=int, required=True)
    parser.add_argument("--pods", type=int, required=True, help="total pods (via replicas)")
    parser.add_argument("--policies", type=int, required=True, help="total NetworkPolicies")
    parser.add_argument("--out", type=Path, required=True, help="directory to write into")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--format", choices=FORMATS, default="yaml")
    parser.add_argument(
        "--no-exposure",
        dest="exposure",
        action="store_false",
        help="leave out Services and Ingresses",
    )
    parser.add_argument(
        "--max-files",
        type=int,
        default=DEFAULT_MAX_FILES,
        help=f"namespaces are grouped into at most this many files (default {DEFAULT_MAX_FILES})",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="re-read the output with the safe YAML loader and verify the counts",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        params = Params(
            namespaces=args.namespaces,
            pods=args.pods,
            policies=args.policies,
            seed=args.seed,
            format=args.format,
            exposure=args.exposure,
            max_files=args.max_files,
        )
    except ValueError as exc:
        print(f"generate: {exc}", file=sys.stderr)
        return 2
    stats = generate(params, args.out)
    print(
        f"wrote {stats.files} files, {stats.bytes / 1e6:.1f} MB in {stats.seconds:.1f} s: "
        f"{stats.namespaces} namespaces, {stats.pods} pods, {stats.policies} policies; "
        + ", ".join(f"{k} {v}" for k, v in stats.kinds.items())
    )
    if args.check:
        started = time.perf_counter()
        back = read_back(args.out)
        seconds = time.perf_counter() - started
        fields = ("files", "bytes", "namespaces", "pods", "policies", "kinds")
        wrong = [f for f in fields if getattr(back, f) != getattr(stats, f)]
        expected = {
            "namespaces": params.namespaces,
            "pods": params.pods,
            "policies": params.policies,
        }
        wrong += [f for f, v in expected.items() if getattr(back, f) != v]
        if wrong:
            print(
                f"check FAILED on {', '.join(sorted(set(wrong)))}: read back {back}",
                file=sys.stderr,
            )
            return 1
        print(f"check ok: re-read with {_loader().__name__} in {seconds:.1f} s, counts match")
    return 0


if __name__ == "__main__":
    sys.exit(main())

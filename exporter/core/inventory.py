"""Plain Kubernetes objects (dicts, as any source yields them) -> a `Snapshot`.

Workload identity: pods and pod templates are grouped under their top-level owner,
followed through ownerReferences as far as the owners are known (Pod -> ReplicaSet ->
Deployment; Pod -> Job -> CronJob). A controller owned by another known controller
does not stand for pods of its own, and a workload whose Pod objects are present is
counted from those pods rather than from its template, so a `kubectl get all -o yaml`
dump is not counted twice.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from exporter.core.fields import as_list
from exporter.core.findings import InputError
from exporter.core.model import (
    ContainerPort,
    Namespace,
    ObjectRef,
    PodGroup,
    Protocol,
    Workload,
)
from exporter.core.names import names_problem
from exporter.core.policies import Policy
from exporter.core.policies.admin import is_admin_policy, parse_admin_policy
from exporter.core.policies.calico import KINDS as CALICO_KINDS
from exporter.core.policies.calico import (
    TIER_KIND,
    apply_tiers,
    is_calico,
    parse_calico_policy,
    parse_tier,
)
from exporter.core.policies.cilium import is_cilium_policy, parse_cilium_policy
from exporter.core.policies.kinds import CLUSTER_SCOPED_POLICY_KINDS
from exporter.core.policies.kubernetes import PolicyError, parse_network_policy
from exporter.core.routes import (
    ROUTE_KINDS,
    Gateway,
    GatewayRoute,
    Ingress,
    ReferenceGrant,
    RouteError,
    parse_gateway,
    parse_gateway_route,
    parse_ingress,
    parse_openshift_route,
    parse_reference_grant,
)
from exporter.core.services import (
    EndpointSlice,
    Service,
    ServiceError,
    parse_endpoint_slice,
    parse_service,
)
from exporter.core.snapshot import Snapshot
from exporter.core.verification import kind_label

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
_PROTOCOLS = {p.value: p for p in Protocol}
DEFAULT_NAMESPACE = "default"

CONTROLLER_KINDS = frozenset(
    {
        "Deployment",
        "StatefulSet",
        "DaemonSet",
        "ReplicaSet",
        "Job",
        "CronJob",
        "ReplicationController",
    }
)
# Read by later analyses (exposure, other policy APIs): loaded and carried, never failed on.
CARRIED_KINDS = frozenset(
    {
        "Endpoints",
        "IngressClass",
        "GatewayClass",
        "Node",
    }
)
CLUSTER_SCOPED_KINDS = frozenset(
    {
        "Namespace",
        "Node",
        "IngressClass",
        "GatewayClass",
        *CLUSTER_SCOPED_POLICY_KINDS,
        "Tier",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "PersistentVolume",
        "StorageClass",
        "PriorityClass",
    }
)


# Policy kinds whose objects under another apiVersion would otherwise vanish unsaid.
_POLICY_KINDS_BY_API = {
    "NetworkPolicy": "networking.k8s.io/v1, projectcalico.org/v3 or crd.projectcalico.org/v1",
    "CiliumNetworkPolicy": "cilium.io/v2",
    "CiliumClusterwideNetworkPolicy": "cilium.io/v2",
    "AdminNetworkPolicy": "policy.networking.k8s.io/v1alpha1",
    "BaselineAdminNetworkPolicy": "policy.networking.k8s.io/v1alpha1",
    "ClusterNetworkPolicy": "policy.networking.k8s.io/v1alpha2",
    "GlobalNetworkPolicy": "projectcalico.org/v3 or crd.projectcalico.org/v1",
}

NETWORK_KINDS = frozenset(
    {"Service", "EndpointSlice", "Ingress", "Route", "Gateway", "ReferenceGrant", *ROUTE_KINDS}
)


class _NetworkObjects:
    """What addresses and routes traffic to pods (read by the exposure analysis)."""

    def __init__(self) -> None:
        self.services: list[Service] = []
        self.endpoint_slices: list[EndpointSlice] = []
        self.ingresses: list[Ingress] = []
        self.gateways: list[Gateway] = []
        self.routes: list[GatewayRoute] = []
        self.reference_grants: list[ReferenceGrant] = []

    def add(self, kind: str, obj: dict[str, Any], ref: ObjectRef) -> None:
        if kind == "Service":
            self.services.append(parse_service(obj, ref))
        elif kind == "EndpointSlice":
            found = parse_endpoint_slice(obj, ref)
            if found is not None:
                self.endpoint_slices.append(found)
        elif kind == "Ingress":
            self.ingresses.append(parse_ingress(obj, ref))
        elif kind == "Route":
            self.ingresses.append(parse_openshift_route(obj, ref))
        elif kind == "Gateway":
            self.gateways.append(parse_gateway(obj, ref))
        elif kind == "ReferenceGrant":
            self.reference_grants.append(parse_reference_grant(obj, ref))
        else:
            self.routes.append(parse_gateway_route(obj, ref))


@dataclass(frozen=True, slots=True)
class RawObject:
    """One object as read, with where it came from (file or API) for error messages."""

    obj: Any
    source: str
    document: int | None = None
    line: int | None = None
    """1-based line of the document's first content line in its file (SARIF locations)."""


class _Bad(ValueError):
    pass


@dataclass(slots=True)
class _Template:
    ref: ObjectRef
    owner: tuple[str, str] | None  # (kind, name) of the owning controller
    labels: dict[str, str]
    ports: tuple[ContainerPort, ...]
    host_network: bool
    pods: int
    service_account: str | None = None


def build_snapshot(objects: Iterable[RawObject]) -> tuple[Snapshot, list[InputError]]:
    """Validate and convert; every object that cannot be used becomes an InputError."""
    errors: list[InputError] = []
    namespaces: dict[str, Namespace] = {}
    referenced: set[str] = set()
    controllers: dict[tuple[str, str, str], _Template] = {}
    pods: list[_Template] = []
    policies: list[Policy] = []
    carried: list[Mapping[str, Any]] = []
    ignored: Counter[str] = Counter()
    network = _NetworkObjects()
    tiers: dict[str, tuple[float, bool]] = {}
    unparsed: list[tuple[str, str]] = []

    for raw in objects:
        obj = raw.obj
        kind = obj.get("kind") if isinstance(obj, dict) else None
        meta = obj.get("metadata") if isinstance(obj, dict) else None
        name = meta.get("name") if isinstance(meta, dict) else None
        ns = meta.get("namespace") if isinstance(meta, dict) else None

        def error(
            msg: str,
            raw: RawObject = raw,
            kind: object = kind,
            name: object = name,
            ns: object = ns,
        ) -> None:
            errors.append(
                InputError(
                    source=raw.source,
                    document=raw.document,
                    kind=str(kind or ""),
                    namespace=str(ns or ""),
                    name=str(name or ""),
                    message=msg,
                )
            )

        if not isinstance(kind, str) or not kind:
            error("object has no kind")
            continue
        scoped = kind not in CLUSTER_SCOPED_KINDS
        label = kind_label(kind, obj.get("apiVersion"))
        problem = names_problem(kind, meta, scoped)
        if problem is not None or not isinstance(meta, dict) or not isinstance(name, str):
            # The API server would refuse it, so it cannot be in force: reported, skipped.
            error(problem or "metadata.name is missing")
            continue
        if scoped:
            ns = ns or DEFAULT_NAMESPACE
            referenced.add(ns)
        try:
            labels = _labels(meta.get("labels"), "metadata.labels", error)
            ref = ObjectRef(
                kind, ns if kind not in CLUSTER_SCOPED_KINDS else None, name, raw.source
            )
            if kind == "Namespace":
                labels[NAMESPACE_NAME_LABEL] = name
                annotations = _labels(meta.get("annotations"), "metadata.annotations", error)
                namespaces[name] = Namespace(name, labels, annotations=annotations)
            elif kind == "Pod":
                pods.append(_pod(obj, ref, error))
            elif kind in CONTROLLER_KINDS:
                controllers[(ns or DEFAULT_NAMESPACE, kind, name)] = _controller(obj, ref, error)
            elif kind == "NetworkPolicy" and _is_k8s_policy(obj):
                policies.append(parse_network_policy(obj, ref))
            elif is_cilium_policy(obj):
                policies.extend(parse_cilium_policy(obj, ref))
            elif is_admin_policy(obj):
                policies.append(parse_admin_policy(obj, ref))
            elif kind in CALICO_KINDS and is_calico(obj):
                policies.append(parse_calico_policy(obj, ref))
            elif kind == TIER_KIND and is_calico(obj):
                tiers[name] = parse_tier(obj)
            elif kind in NETWORK_KINDS:
                network.add(kind, obj, ref)
            elif kind in _POLICY_KINDS_BY_API:
                raise _Bad(
                    f"apiVersion {obj.get('apiVersion')!r} is not an API of {kind} "
                    f"({_POLICY_KINDS_BY_API[kind]}); not analysed"
                )
            elif kind in CARRIED_KINDS:
                carried.append(obj)
            else:
                ignored[kind] += 1
        except (_Bad, PolicyError, ServiceError, RouteError) as exc:
            error(str(exc))
            unparsed.append((label, str(ns or "") if scoped else _own_namespace(kind, name)))
        except Exception as exc:
            # A shape no validation above foresaw: still this object's error, not the scan's.
            error(f"cannot be read ({type(exc).__name__}: {exc}); object ignored")
            unparsed.append((label, str(ns or "") if scoped else _own_namespace(kind, name)))

    if tiers or any(p.tier != "default" for p in policies):
        policies = apply_tiers(policies, tiers)
    groups = _group_pods(controllers, pods)
    for name in referenced - namespaces.keys():
        namespaces[name] = Namespace(name, {NAMESPACE_NAME_LABEL: name}, defined=False)
    snapshot = Snapshot(
        namespaces=dict(sorted(namespaces.items())),
        pod_groups=tuple(groups),
        policies=tuple(policies),
        carried=tuple(carried),
        ignored_kinds=dict(sorted(ignored.items())),
        services=tuple(network.services),
        endpoint_slices=tuple(network.endpoint_slices),
        ingresses=tuple(network.ingresses),
        gateways=tuple(network.gateways),
        routes=tuple(network.routes),
        reference_grants=tuple(network.reference_grants),
        unparsed=tuple(unparsed),
    )
    return snapshot, errors


def _own_namespace(kind: str, name: str) -> str:
    """The namespace a cluster-scoped object's failure makes unknown: a Namespace's own."""
    return name if kind == "Namespace" else ""


def _is_k8s_policy(obj: Mapping[str, Any]) -> bool:
    api = obj.get("apiVersion")
    return (
        not isinstance(api, str)
        or api.startswith("networking.k8s.io/")
        or api == "extensions/v1beta1"
    )


def _labels(raw: object, where: str, error: Any) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise _Bad(f"{where}: expected a mapping of strings")
    out: dict[str, str] = {}
    for key, value in raw.items():
        if isinstance(value, str):
            out[str(key)] = value
            continue
        # The API server rejects non-string label values; we say so and read them as
        # kubectl would have had to quote them, so the rest of the object still counts.
        text = (
            str(value).lower() if isinstance(value, bool) else "" if value is None else str(value)
        )
        error(f"{where}[{key}]: label value {value!r} is not a string (read as {text!r})")
        out[str(key)] = text
    return out


def _owner(meta: Mapping[str, Any]) -> tuple[str, str] | None:
    """(kind, name) of the managing controller; None: the pod is its own workload.

    The controller reference decides (else the first). A reference without a kind or a
    name names nothing we can group by, and a `Node` owner marks a static (mirror) pod
    that the kubelet runs from a file (etcd, the API server, the scheduler): grouping
    those by node would merge unrelated components, so each is a bare pod."""
    refs = meta.get("ownerReferences")
    if not isinstance(refs, list):
        return None
    dicts = [r for r in refs if isinstance(r, dict)]
    if not dicts:
        return None
    chosen = next((r for r in dicts if r.get("controller") is True), dicts[0])
    kind, name = chosen.get("kind"), chosen.get("name")
    if not isinstance(kind, str) or not kind or not isinstance(name, str) or not name:
        return None
    if kind == "Node":
        return None
    return kind, name


def _pod_spec_ports(spec: object, where: str, error: Any) -> tuple[tuple[ContainerPort, ...], bool]:
    if spec is None:
        return (), False
    if not isinstance(spec, dict):
        raise _Bad(f"{where}: expected a mapping")
    ports: list[ContainerPort] = []
    containers = list(as_list(spec.get("containers"), f"{where}.containers", _Bad))
    # Native sidecars (init containers that keep running) serve ports like containers.
    containers += [
        c
        for c in as_list(spec.get("initContainers"), f"{where}.initContainers", _Bad)
        if isinstance(c, dict) and c.get("restartPolicy") == "Always"
    ]
    for ci, container in enumerate(containers):
        if not isinstance(container, dict):
            raise _Bad(f"{where}.containers[{ci}]: expected a mapping")
        cports = as_list(container.get("ports"), f"{where}.containers[{ci}].ports", _Bad)
        for pi, port in enumerate(cports):
            pwhere = f"{where}.containers[{ci}].ports[{pi}]"
            if not isinstance(port, dict):
                error(f"{pwhere}: expected a mapping; port ignored")
                continue
            number = port.get("containerPort")
            if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= 65535:
                error(f"{pwhere}: containerPort {number!r} is missing or invalid; port ignored")
                continue
            raw_proto = port.get("protocol")
            proto = (
                _PROTOCOLS.get(raw_proto or "TCP") if isinstance(raw_proto, str | None) else None
            )
            if proto is None:
                error(f"{pwhere}: protocol {port.get('protocol')!r} is not TCP, UDP or SCTP")
                continue
            pname = port.get("name")
            host_port = port.get("hostPort")
            if host_port is not None and (
                isinstance(host_port, bool) or not isinstance(host_port, int)
            ):
                error(f"{pwhere}: hostPort {host_port!r} is not a number; ignored")
                host_port = None
            ports.append(ContainerPort(number, proto, str(pname) if pname else None, host_port))
    return tuple(sorted(set(ports), key=lambda p: (p.port, p.protocol, p.name or ""))), bool(
        spec.get("hostNetwork")
    )


def _pod(obj: Mapping[str, Any], ref: ObjectRef, error: Any) -> _Template:
    ports, host_network = _pod_spec_ports(obj.get("spec"), "spec", error)
    meta = obj["metadata"]
    return _Template(
        ref=ref,
        owner=_owner(meta),
        labels=_labels(meta.get("labels"), "metadata.labels", error),
        ports=ports,
        host_network=host_network,
        pods=1,
        service_account=_service_account(obj.get("spec")),
    )


def _controller(obj: Mapping[str, Any], ref: ObjectRef, error: Any) -> _Template:
    spec = obj.get("spec") or {}
    if not isinstance(spec, dict):
        raise _Bad("spec: expected a mapping")
    where = "spec.template"
    if ref.kind == "CronJob":
        job = spec.get("jobTemplate") or {}
        spec = job.get("spec") or {} if isinstance(job, dict) else {}
        where = "spec.jobTemplate.spec.template"
        if not isinstance(spec, dict):
            raise _Bad("spec.jobTemplate.spec: expected a mapping")
    template = spec.get("template") or {}
    if not isinstance(template, dict):
        raise _Bad(f"{where}: expected a mapping")
    tmeta = template.get("metadata") or {}
    if not isinstance(tmeta, dict):
        raise _Bad(f"{where}.metadata: expected a mapping")
    ports, host_network = _pod_spec_ports(template.get("spec"), f"{where}.spec", error)
    return _Template(
        ref=ref,
        owner=_owner(obj["metadata"]),
        labels=_labels(tmeta.get("labels"), f"{where}.metadata.labels", error),
        ports=ports,
        host_network=host_network,
        pods=_pod_count(ref.kind, spec, obj.get("status")),
        service_account=_service_account(template.get("spec")),
    )


def _service_account(spec: object) -> str:
    """The pod's service account (Cilium and Calico policies can select on it)."""
    if isinstance(spec, dict):
        name = spec.get("serviceAccountName") or spec.get("serviceAccount")
        if isinstance(name, str) and name:
            return name
    return "default"


def _pod_count(kind: str, spec: Mapping[str, Any], status: object) -> int:
    if kind == "DaemonSet":
        # One pod per node; the node count is unknown offline, so the status (when the
        # object came from a cluster) or one pod stands for it.
        if isinstance(status, dict) and isinstance(status.get("desiredNumberScheduled"), int):
            return int(status["desiredNumberScheduled"])
        return 1
    key = "parallelism" if kind in ("Job", "CronJob") else "replicas"
    value = spec.get(key)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return 1


def _group_pods(
    controllers: Mapping[tuple[str, str, str], _Template], pods: list[_Template]
) -> list[PodGroup]:
    def top(ns: str, owner: tuple[str, str] | None, fallback: ObjectRef) -> Workload:
        seen = 0
        current = (fallback.kind, fallback.name)
        while owner is not None and seen < 8:  # ownerReference cycles are not ours to loop on
            current = owner
            parent = controllers.get((ns, owner[0], owner[1]))
            owner = parent.owner if parent is not None else None
            seen += 1
        return Workload(ns, current[1], current[0])

    counts: dict[tuple[Workload, tuple[object, ...]], int] = defaultdict(int)
    exemplars: dict[tuple[Workload, tuple[object, ...]], _Template] = {}
    with_pods: set[Workload] = set()
    names: dict[tuple[Workload, tuple[object, ...]], list[str]] = defaultdict(list)
    for pod in pods:
        ns = pod.ref.namespace or DEFAULT_NAMESPACE
        wl = top(ns, pod.owner, pod.ref)
        with_pods.add(wl)
        key = (
            wl,
            (tuple(sorted(pod.labels.items())), pod.ports, pod.host_network, pod.service_account),
        )
        counts[key] += 1
        names[key].append(pod.ref.name)
        exemplars.setdefault(key, pod)
    for (ns, _kind, _name), ctl in controllers.items():
        if ctl.owner is not None and (ns, *ctl.owner) in controllers:
            continue  # its pods are the owner's
        wl = top(ns, ctl.owner, ctl.ref)
        if wl in with_pods or ctl.pods == 0:
            continue
        key = (
            wl,
            (tuple(sorted(ctl.labels.items())), ctl.ports, ctl.host_network, ctl.service_account),
        )
        counts[key] += ctl.pods
        exemplars.setdefault(key, ctl)
    groups = [
        PodGroup(
            workload=wl,
            labels=exemplars[(wl, k)].labels,
            ports=exemplars[(wl, k)].ports,
            pods=n,
            host_network=exemplars[(wl, k)].host_network,
            source=exemplars[(wl, k)].ref,
            pod_names=tuple(names.get((wl, k), ())),
            service_account=exemplars[(wl, k)].service_account,
        )
        for (wl, k), n in counts.items()
    ]
    groups.sort(key=lambda g: (g.workload.namespace, g.workload.name, g.workload.kind))
    return groups

"""Exposure: what is reachable from other namespaces, through ingress controllers and
Gateway API, and from the internet; and which workloads can reach the internet.

Every exposure is reported per Service (or per workload for pods no Service selects,
and for hostNetwork / hostPort pods) and category, as *declared* (an object says
traffic may come: a route, a LoadBalancer, a NodePort) and *permitted* (the backing
pods' ingress policy admits such a source on a port the object targets).

Sources stand for whole categories, never for pod pairs:
- another namespace: the rules of the backing pods' isolating policies are read
  directly (a peer whose namespaceSelector matches some other namespace; an empty
  namespaceSelector or no peer restriction admits every namespace, future ones too);
- ingress controllers / gateways: the pods named by configuration (namespace + label
  selector, with defaults for common controllers) or, when none is in the cluster, an
  unknown pod in an unknown namespace (admitted only by rules admitting every pod of
  every namespace, as np-guard/netpol-analyzer models `{ingress-controller}`);
- the internet: public address ranges (outside RFC 1918, CGNAT, loopback, link-local
  and ULA space), narrowed by `loadBalancerSourceRanges` for LoadBalancer Services.
Results are cached per set of isolating policies, so cost follows policies x classes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from exporter.core.addresses import AddressRange, is_public
from exporter.core.engine import Engine, PodClass
from exporter.core.findings import Check, Finding, Severity
from exporter.core.model import Direction, Protocol
from exporter.core.policies import EndpointPeer, IPBlockPeer, PodPeer, Policy, PortRange, Rule
from exporter.core.ports import ALL, NONE, PortSet
from exporter.core.routes import Backend, Gateway, GatewayRoute
from exporter.core.selectors import EVERYTHING, LabelSelector, Operator, Requirement
from exporter.core.services import Service, ServicePort

INGRESS_CONTROLLER = "{ingress-controller}"
GATEWAY_NAME_LABEL = "gateway.networking.k8s.io/gateway-name"
DATABASE_PORTS = frozenset(
    {1433, 1521, 2379, 3306, 5432, 5984, 6379, 7000, 8086, 9042, 9200, 11211, 26257, 27017}
)


class Category(StrEnum):
    OTHER_NAMESPACES = "other_namespaces"
    ALL_NAMESPACES = "all_namespaces"
    INGRESS = "ingress"
    GATEWAY = "gateway"
    INTERNET = "internet"


@dataclass(frozen=True, slots=True)
class ControllerSpec:
    """Pods that carry traffic from outside: an ingress controller or a gateway."""

    name: str
    selector: LabelSelector
    namespace: str | None = None

    def matches(self, cls: PodClass) -> bool:
        return (self.namespace is None or cls.namespace == self.namespace) and (
            self.selector.matches(cls.labels)
        )


def _label_in(key: str, *values: str) -> LabelSelector:
    return LabelSelector((Requirement(key, Operator.IN, frozenset(values)),))


DEFAULT_CONTROLLERS = (
    ControllerSpec(
        "common ingress controllers",
        _label_in(
            "app.kubernetes.io/name",
            "ingress-nginx",
            "rke2-ingress-nginx",
            "traefik",
            "haproxy-ingress",
            "kubernetes-ingress",
            "kong",
            "contour",
            "envoy",
            "nginx-gateway",
            "nginx-gateway-fabric",
            "istio-ingressgateway",
        ),
    ),
    ControllerSpec("istio gateways", _label_in("istio", "ingressgateway")),
    ControllerSpec(
        "legacy app labels",
        _label_in("app", "ingress-nginx", "nginx-ingress", "traefik", "haproxy-ingress"),
    ),
    ControllerSpec(
        "openshift router",
        _label_in(
            "ingresscontroller.operator.openshift.io/deployment-ingresscontroller", "default"
        ),
    ),
)


def parse_controller(text: str) -> ControllerSpec:
    """`[NAMESPACE:]KEY=VALUE[,KEY=VALUE...]`, e.g. `ingress-nginx:app=ingress-nginx`."""
    namespace, sep, selector_text = text.partition(":")
    if not sep:
        namespace, selector_text = "", text
    reqs = []
    for item in selector_text.split(","):
        key, eq, value = item.strip().partition("=")
        if not eq or not key.strip():
            raise ValueError(f"bad controller selector {text!r} (want [NAMESPACE:]KEY=VALUE,...)")
        reqs.append(Requirement(key.strip(), Operator.IN, frozenset({value.strip()})))
    reqs.sort(key=lambda r: r.key)
    return ControllerSpec(text, LabelSelector(tuple(reqs)), namespace.strip() or None)


@dataclass(frozen=True, slots=True)
class ExposureConfig:
    controllers: tuple[ControllerSpec, ...] = DEFAULT_CONTROLLERS
    sensitive_label: str = "netfence.io/sensitive"
    sensitive_value: str = "true"
    database_ports: frozenset[int] = DATABASE_PORTS


@dataclass(frozen=True, slots=True)
class Exposure:
    namespace: str
    name: str
    kind: str
    category: Category
    declared: bool
    permitted: bool
    ports: PortSet
    """Target (pod) ports on which the category's sources are admitted."""
    objects: tuple[str, ...]
    """The objects that open it: routes, Services, and the policies (or their absence)."""
    workloads: tuple[str, ...]
    why: tuple[_Admission, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def reasons(self) -> tuple[str, ...]:
        """The rules (or absence of isolation) behind a permitted exposure."""
        out = list(self.notes)
        for adm in self.why:
            out += [r for r in adm.reasons if r not in out]
        return tuple(out)

    def to_json(self) -> dict[str, object]:
        return {
            "namespace": self.namespace,
            "name": self.name,
            "kind": self.kind,
            "category": str(self.category),
            "declared": self.declared,
            "permitted": self.permitted,
            "ports": self.ports.to_json(),
            "objects": list(self.objects),
            "workloads": list(self.workloads),
        }


@dataclass(frozen=True, slots=True)
class InternetEgress:
    namespace: str
    workload: str
    ports: PortSet
    objects: tuple[str, ...]

    def to_json(self) -> dict[str, object]:
        return {
            "namespace": self.namespace,
            "workload": self.workload,
            "ports": self.ports.to_json(),
            "objects": list(self.objects),
        }


@dataclass(slots=True)
class ExposureReport:
    exposures: list[Exposure] = field(default_factory=list)
    internet_egress: list[InternetEgress] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    controller_namespaces: frozenset[str] = frozenset()
    """Namespaces of the ingress controller and gateway pods (traffic from them uses an
    ingress or gateway exposure: the Hubble join needs to know)."""

    def counts(self) -> dict[str, dict[str, int]]:
        """namespace -> category -> permitted exposures."""
        out: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(Category, 0))
        for e in self.exposures:
            if e.permitted:
                out[e.namespace][e.category] += 1
        return {ns: {str(k): v for k, v in cats.items()} for ns, cats in out.items()}

    def egress_counts(self) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for e in self.internet_egress:
            out[e.namespace] += 1
        return dict(out)

    def controller_connections(self) -> dict[str, PortSet]:
        """Workload -> ports admitted from ingress controllers and gateways."""
        out: dict[str, PortSet] = defaultdict(lambda: NONE)
        for e in self.exposures:
            if e.permitted and e.category in (Category.INGRESS, Category.GATEWAY):
                for wl in e.workloads:
                    out[wl] = out[wl] | e.ports
        return dict(out)


@dataclass(slots=True)
class _Admission:
    ports: PortSet = NONE
    objects: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    rules: list[tuple[Policy, Rule]] = field(default_factory=list)
    """The rules that admit; described only when an explanation is asked for."""
    unisolated: bool = False
    """Admits everything because nothing isolates the pods in this direction."""

    def add(self, ports: PortSet, policy: Policy, rule: Rule) -> None:
        if ports:
            self.ports = self.ports | ports
            if policy.id not in self.objects:
                self.objects.append(policy.id)
            self.rules.append((policy, rule))

    @property
    def reasons(self) -> list[str]:
        return self.notes + [f"{p.id} {r.describe()}" for p, r in self.rules]


class ExposureAnalysis:
    def __init__(self, engine: Engine, config: ExposureConfig | None = None) -> None:
        self.engine = engine
        self.config = config or ExposureConfig()
        snap = engine.snapshot
        self.services = {(s.namespace, s.name): s for s in snap.services}
        self.controllers = [
            c for c in engine.classes if any(spec.matches(c) for spec in self.config.controllers)
        ]
        # The engine cuts address space at public/private and source-range borders.
        self.public_atoms = [a for a in engine.atoms if is_public(a)]
        self._cache: dict[tuple[object, ...], _Admission] = {}
        self._address_cache: dict[
            tuple[object, ...], tuple[PortSet, bool, tuple[tuple[int, int, Direction], ...]]
        ] = {}
        by_name: dict[tuple[str, str], PodClass] = {}
        for cls in engine.classes:
            for group in cls.groups:
                for pod in group.pod_names:
                    by_name[(cls.namespace, pod)] = cls
        self._pods_by_name = by_name

    # -- what backs a Service, on which pod ports ---------------------------------------

    def backing(self, svc: Service) -> list[PodClass]:
        if svc.selector is None:
            names = {
                pod
                for es in self.engine.snapshot.endpoint_slices
                if es.namespace == svc.namespace and es.service == svc.name
                for pod in es.pods
            }
            found = {self._pods_by_name.get((svc.namespace, n)) for n in names}
            return sorted((c for c in found if c is not None), key=lambda c: c.index)
        return [
            c
            for c in self.engine.classes_by_ns.get(svc.namespace, ())
            if all(c.labels.get(k) == v for k, v in svc.selector)
        ]

    @staticmethod
    def target_ports(ports: Iterable[ServicePort], cls: PodClass) -> PortSet:
        out = NONE
        for sp in ports:
            if isinstance(sp.target, int):
                out = out | PortSet.of(sp.protocol, sp.target)
            else:
                for cp in cls.ports:
                    if cp.name == sp.target and cp.protocol is sp.protocol:
                        out = out | PortSet.of(cp.protocol, cp.port)
        return out

    # -- admissions per source category (cached per isolating policy set) --------------

    def _isolating_key(self, cls: PodClass) -> tuple[int, ...]:
        return tuple(id(p) for p in self.engine.isolating(cls, Direction.INGRESS))

    def _content_key(self, cls: PodClass, direction: Direction) -> tuple[object, ...]:
        """What a verdict against an address can depend on, by content: fleets stamp
        the same policies into thousands of namespaces, and their (memoised) rules
        are shared objects, so one evaluation serves them all."""
        return tuple(
            (
                getattr(p, "api", None),
                getattr(p, "tier_order", None),
                getattr(p, "priority", None),
                getattr(p, "tier_passes", None),
                self.engine.is_isolated(cls, direction),
                direction in p.isolates,
                tuple(id(r) for r in p.rules(direction)),
            )
            for p in self.engine.selecting(cls)
        )

    def from_other_namespaces(self, cls: PodClass) -> tuple[_Admission, _Admission]:
        """(admitted from some other namespace, admitted from every namespace).

        Read from the class's decision plan (engine.plan): with one tier of allow rules
        (NetworkPolicy, allow-only Cilium or Calico policies) the answer is exact; when
        tiers, deny or pass rules are involved it is the union of the allow rules less
        what a deny of every pod removes, which can only overstate exposure (said in
        the reasons).
        """
        key = ("ns", self._isolating_key(cls), cls.ports, cls.namespace)
        other = self._cache.get(key)
        every = self._cache.get(("all", *key[1:]))
        if other is not None and every is not None:
            return other, every
        other, every = _Admission(), _Admission()
        plan = self.engine.plan(cls, Direction.INGRESS)
        if not plan.tiers or (not plan.isolated and plan.simple):
            other.ports = every.ports = ALL
            other.unisolated = every.unisolated = True
            other.notes.append(f"{_names(cls)} is not isolated for ingress")
            every.notes.append(f"{_names(cls)} is not isolated for ingress")
        else:
            denied_all = NONE
            for policy, rule in _plan_rules(plan):
                action = getattr(rule, "action", "Allow")
                reach = self._peer_reach(rule, cls.namespace)
                if reach is None:
                    continue
                ports = self.engine.rule_ports(rule.ports, cls)
                if action == "Deny":
                    if reach == "every":
                        denied_all = denied_all | ports
                    continue
                if action != "Allow":
                    continue
                other.add(ports, policy, rule)
                if reach == "every":
                    every.add(ports, policy, rule)
            if not plan.simple:
                for adm in (other, every):
                    adm.ports = _minus(adm.ports, denied_all)
                    adm.notes.append(
                        "tiers or deny rules apply: the union of allow rules is an upper bound"
                    )
            if not plan.isolated:
                # Whatever no tier decides falls to the Kubernetes default (allow).
                other.ports = every.ports = ALL
                other.unisolated = every.unisolated = True
                other.notes.append(f"{_names(cls)} is not isolated for ingress")
                every.notes.append(f"{_names(cls)} is not isolated for ingress")
        self._cache[key] = other
        self._cache[("all", *key[1:])] = every
        return other, every

    def _peer_reach(self, rule: Rule, own: str) -> str | None:
        """How far a rule's peers reach across namespaces: "every" namespace (future
        ones too), "other" (some other existing namespace), or None."""
        if rule.peers is None:
            return "every"
        reach: str | None = None
        for peer in rule.peers:
            if isinstance(peer, PodPeer):
                if peer.namespace_selector is None:
                    continue
                if peer.namespace_selector.is_empty:
                    return "every"
                if any(n != own for n in self.engine.namespaces_matching(peer.namespace_selector)):
                    reach = "other"
                continue
            if _reaches_every_namespace(peer):
                return "every"
            # Endpoint selectors of other APIs: a named or selected other namespace
            # counts even before pods exist there, as for NetworkPolicy peers.
            if (
                isinstance(peer, EndpointPeer)
                and any(n != own for n in self._endpoint_namespaces(peer))
            ) or any(c.namespace != own for c in self.engine.peer_classes(peer)):
                reach = "other"
        return reach

    def _endpoint_namespaces(self, peer: EndpointPeer) -> Iterable[str]:
        if peer.namespace is not None:
            return (peer.namespace,)
        if peer.namespaces_hint is not None:
            return peer.namespaces_hint
        if peer.namespace_selector is not None:
            return self.engine.namespaces_matching(peer.namespace_selector)
        return ()

    def from_any_pod(self, cls: PodClass) -> _Admission:
        """What an unknown pod in an unknown namespace may open: only rules whose peers
        reach every namespace admit it (as np-guard/netpol-analyzer models it)."""
        _, every = self.from_other_namespaces(cls)
        found = _Admission(every.ports, list(every.objects), list(every.notes))
        found.rules = [
            (p, r)
            for p, r in every.rules
            if r.peers is None
            or any(
                _reaches_every_namespace(x)
                or (
                    isinstance(x, PodPeer)
                    and x.pod_selector.is_empty
                    and x.namespace_selector is not None
                    and x.namespace_selector.is_empty
                )
                for x in r.peers
            )
        ]
        found.unisolated = every.unisolated
        if not every.unisolated:
            ports = NONE
            for _, r in found.rules:
                ports = ports | self.engine.rule_ports(r.ports, cls)
            found.ports = ports & every.ports
            found.objects = [o for o in found.objects if any(p.id == o for p, _ in found.rules)]
        return found

    def from_pods(self, cls: PodClass, sources: Sequence[PodClass]) -> _Admission:
        """Admitted from these pods, as the engine decides it (every policy API)."""
        found = _Admission()
        for src in sources:
            decision = self.engine.decide(Direction.INGRESS, cls, src)
            found.ports = found.ports | decision.ports
            if not decision.isolated and decision.ports:
                found.notes.append(f"{_names(cls)} is not isolated for ingress")
            for m in decision.matches:
                found.add(m.ports, m.policy, m.rule)
        return found

    def from_internet(self, cls: PodClass, ranges: Sequence[AddressRange] = ()) -> _Admission:
        """Admitted from public addresses (within `ranges` when given)."""
        atoms = [a for a in self.public_atoms if not ranges or any(r.contains(a) for r in ranges)]
        return self._from_addresses(cls, Direction.INGRESS, atoms, ("net", tuple(ranges)))

    def internet_egress(self, cls: PodClass) -> _Admission:
        """What the class may open towards public addresses."""
        return self._from_addresses(cls, Direction.EGRESS, self.public_atoms, ("egress",))

    def _from_addresses(
        self,
        cls: PodClass,
        direction: Direction,
        addresses: Sequence[AddressRange],
        tag: tuple[object, ...],
    ) -> _Admission:
        """The ports `cls` admits from (ingress) or opens to (egress) any of `addresses`.

        Memoised by what such a verdict can depend on, by content (see `_address_key`);
        the cache keeps rule *positions*, turned back into this class's own policies.
        """
        policies = self.engine.selecting(cls)
        key = (*tag, self._address_key(cls, direction, policies))
        hit = self._address_cache.get(key)
        if hit is None:
            ports, isolated, matched = NONE, True, set()
            for atom in addresses:
                decision = self.engine.decide(direction, cls, atom)
                ports = ports | decision.ports
                if not decision.isolated:
                    isolated = False
                for m in decision.matches:
                    if getattr(m.rule, "action", "Allow") in ("Allow", "Accept") and m.ports:
                        pi = next(i for i, p in enumerate(policies) if p is m.policy)
                        matched.add((pi, m.rule.index, m.rule.direction))
            hit = (ports, isolated, tuple(sorted(matched)))
            self._address_cache[key] = hit
        ports, isolated, positions = hit
        found = _Admission(ports=ports)
        if not isolated:
            found.notes.append(f"{_names(cls)} is not isolated for {direction}")
            found.objects.append(f"no {direction} isolation")
        for pi, ri, _ in positions:
            policy = policies[pi]
            rule = next(r for r in policy.rules(direction) if r.index == ri)
            if policy.id not in found.objects:
                found.objects.append(policy.id)
            found.rules.append((policy, rule))
        return found

    def _address_key(
        self, cls: PodClass, direction: Direction, policies: Sequence[Policy]
    ) -> tuple[object, ...]:
        """Fleets stamp the same policies into thousands of namespaces; against an
        address only their order, isolation and address-capable peers matter (pod and
        endpoint selectors never match an address), plus the class's named ports."""
        return (
            self.engine.is_isolated(cls, direction),
            cls.ports if direction is Direction.INGRESS else (),
            tuple(
                (
                    getattr(p, "api", None),
                    getattr(p, "tier_order", None),
                    getattr(p, "priority", None),
                    getattr(p, "tier_passes", None),
                    direction in p.isolates,
                    tuple(
                        (
                            getattr(r, "action", None),
                            r.index,
                            None
                            if r.peers is None
                            else tuple(x for x in r.peers if not _selects_pods_only(x)),
                            r.ports,
                        )
                        for r in p.rules(direction)
                    ),
                )
                for p in policies
            ),
        )

    # -- the report -----------------------------------------------------------------------

    def run(self) -> ExposureReport:
        report = ExposureReport(
            controller_namespaces=frozenset(c.namespace for c in self.controllers)
        )
        backed: set[int] = set()
        for svc in self.engine.snapshot.services:
            classes = self.backing(svc)
            backed.update(c.index for c in classes)
            if classes:
                self._namespace_exposures(
                    report,
                    svc.namespace,
                    svc.name,
                    "Service",
                    classes,
                    svc.ports,
                    (f"Service {svc.id}",),
                )
                self._internet_service(report, svc, classes)
        for cls in self.engine.classes:
            for wl in cls.workloads:
                if cls.index not in backed:
                    self._namespace_exposures(
                        report, wl.namespace, wl.name, wl.kind, [cls], None, ()
                    )
            self._host_exposure(report, cls)
        self._routed(report)
        for cls in self.engine.classes:
            adm = self.internet_egress(cls)
            if adm.ports:
                for wl in cls.workloads:
                    report.internet_egress.append(
                        InternetEgress(wl.namespace, wl.id, adm.ports, tuple(adm.objects))
                    )
        report.exposures = _merged(report.exposures)
        report.exposures.sort(key=lambda e: (e.namespace, e.name, e.category))
        report.internet_egress.sort(key=lambda e: e.workload)
        report.findings = self._findings(report)
        return report

    def _namespace_exposures(
        self,
        report: ExposureReport,
        namespace: str,
        name: str,
        kind: str,
        classes: Sequence[PodClass],
        ports: Sequence[ServicePort] | None,
        objects: tuple[str, ...],
    ) -> None:
        other_p = every_p = NONE
        other_o: list[str] = []
        every_o: list[str] = []
        other_w: list[_Admission] = []
        every_w: list[_Admission] = []
        for cls in classes:
            other, every = self.from_other_namespaces(cls)
            target = ALL if ports is None else self.target_ports(ports, cls)
            if other.ports & target:
                other_p = other_p | (other.ports & target)
                other_o += [o for o in other.objects if o not in other_o]
                other_w.append(other)
            if every.ports & target:
                every_p = every_p | (every.ports & target)
                every_o += [o for o in every.objects if o not in every_o]
                every_w.append(every)
        wls = _workloads(classes)
        for category, got, objs, why in (
            (Category.OTHER_NAMESPACES, other_p, other_o, other_w),
            (Category.ALL_NAMESPACES, every_p, every_o, every_w),
        ):
            if got:
                report.exposures.append(
                    Exposure(
                        namespace,
                        name,
                        kind,
                        category,
                        True,
                        True,
                        got,
                        (*objects, *(objs or ["no ingress isolation"])),
                        wls,
                        tuple(why),
                    )
                )

    def _internet_service(
        self, report: ExposureReport, svc: Service, classes: Sequence[PodClass]
    ) -> None:
        """LoadBalancer (narrowed by loadBalancerSourceRanges), NodePort, externalIPs.

        The node ports a LoadBalancer also allocates are taken to sit behind the
        cloud firewall, as they do on managed clusters; a NodePort Service is
        reachable wherever its nodes are.
        """
        ways = []
        if svc.type == "LoadBalancer":
            ways.append("LoadBalancer")
        elif svc.type == "NodePort":
            ways.append("NodePort")
        if svc.external_ips:
            ways.append("externalIPs " + ", ".join(svc.external_ips))
        if not ways:
            return
        narrowed = svc.type == "LoadBalancer" and not svc.external_ips
        ranges = tuple(AddressRange.of(n) for n in svc.source_ranges) if narrowed else ()
        self._internet(
            report,
            svc.namespace,
            svc.name,
            "Service",
            classes,
            lambda c: self.target_ports(svc.ports, c),
            ranges,
            (f"Service {svc.id} ({', '.join(ways)})",),
        )

    def _internet(
        self,
        report: ExposureReport,
        namespace: str,
        name: str,
        kind: str,
        classes: Sequence[PodClass],
        target_of: Callable[[PodClass], PortSet],
        ranges: tuple[AddressRange, ...],
        objects: tuple[str, ...],
    ) -> None:
        got = NONE
        objs: list[str] = []
        why: list[_Admission] = []
        notes: list[str] = []
        for cls in classes:
            adm = self.from_internet(cls, ranges)
            hit = adm.ports & target_of(cls)
            if hit:
                got = got | hit
                objs += [o for o in adm.objects if o not in objs]
                why.append(adm)
        if ranges and not got:
            notes.append("loadBalancerSourceRanges admit no public address")
        if not got:
            for cls in classes:
                by = ", ".join(p.id for p in self.engine.isolating(cls, Direction.INGRESS))
                notes.append(
                    f"{_names(cls)} is isolated for ingress by {by or 'its policies'} and no "
                    "rule admits a public address on a targeted port"
                )
        report.exposures.append(
            Exposure(
                namespace,
                name,
                kind,
                Category.INTERNET,
                True,
                bool(got),
                got,
                (*objects, *(objs or (["no ingress isolation"] if got else []))),
                _workloads(classes),
                tuple(why),
                tuple(notes),
            )
        )

    def _host_exposure(self, report: ExposureReport, cls: PodClass) -> None:
        host_ports = [cp for cp in cls.ports if cp.host_port]
        if not cls.host_network and not host_ports:
            return
        for wl in cls.workloads:
            if cls.host_network:
                ports = NONE
                for cp in cls.ports:
                    ports = ports | PortSet.of(cp.protocol, cp.port)
                report.exposures.append(
                    Exposure(
                        wl.namespace,
                        wl.name,
                        wl.kind,
                        Category.INTERNET,
                        True,
                        True,
                        ports or ALL,
                        (f"{wl.id} hostNetwork",),
                        (wl.id,),
                        (),
                        ("hostNetwork pods are not isolated by NetworkPolicy",),
                    )
                )
                continue

            def targets(c: PodClass, hp: Sequence[object] = host_ports) -> PortSet:
                out = NONE
                for cp in c.ports:
                    if cp.host_port:
                        out = out | PortSet.of(cp.protocol, cp.port)
                return out

            self._internet(
                report,
                wl.namespace,
                wl.name,
                wl.kind,
                [cls],
                targets,
                (),
                (f"{wl.id} hostPort " + ", ".join(str(cp.host_port) for cp in host_ports),),
            )

    def _controller_admission(self, cls: PodClass, sources: Sequence[PodClass]) -> _Admission:
        return self.from_pods(cls, sources) if sources else self.from_any_pod(cls)

    def _routed(self, report: ExposureReport) -> None:
        snap = self.engine.snapshot
        for ing in snap.ingresses:
            for backend in ing.backends:
                self._route_backend(
                    report,
                    Category.INGRESS,
                    backend,
                    f"{ing.ref.kind} {ing.namespace}/{ing.ref.name}",
                    self.controllers,
                )
        gateways = {(g.namespace, g.name): g for g in snap.gateways}
        for route in snap.routes:
            for parent in route.parents:
                gw = gateways.get((parent.namespace, parent.name))
                if gw is None or not self._attaches(gw, route, parent.section):
                    continue
                pods = [
                    c
                    for c in self.engine.classes_by_ns.get(gw.namespace, ())
                    if c.labels.get(GATEWAY_NAME_LABEL) == gw.name
                ] or self.controllers
                for backend in route.backends:
                    if not self._granted(route, backend):
                        report.findings.append(_not_granted(route, backend))
                        continue
                    self._route_backend(
                        report,
                        Category.GATEWAY,
                        backend,
                        f"{route.kind} {route.namespace}/{route.ref.name} via Gateway "
                        f"{gw.namespace}/{gw.name}",
                        pods,
                    )

    def _granted(self, route: GatewayRoute, backend: Backend) -> bool:
        """A backendRef into another namespace needs a ReferenceGrant there."""
        return backend.namespace == route.namespace or any(
            g.namespace == backend.namespace
            and g.allows(route.kind, route.namespace, backend.service)
            for g in self.engine.snapshot.reference_grants
        )

    def _attaches(self, gw: Gateway, route: GatewayRoute, section: str | None) -> bool:
        ns = self.engine.namespaces.get(route.namespace)
        for listener in gw.listeners:
            if section is not None and listener.name != section:
                continue
            if listener.kinds and route.kind not in listener.kinds:
                continue
            if listener.allowed_from == "All":
                return True
            if listener.allowed_from == "Same" and route.namespace == gw.namespace:
                return True
            if (
                listener.allowed_from == "Selector"
                and ns is not None
                and (listener.selector or EVERYTHING).matches(ns.labels)
            ):
                return True
        return False

    def _route_backend(
        self,
        report: ExposureReport,
        category: Category,
        backend: Backend,
        via: str,
        sources: Sequence[PodClass],
    ) -> None:
        svc = self.services.get((backend.namespace, backend.service))
        if svc is None:
            report.exposures.append(
                Exposure(
                    backend.namespace,
                    backend.service,
                    "Service",
                    category,
                    True,
                    False,
                    NONE,
                    (via,),
                    (),
                    (),
                    (f"Service {backend.namespace}/{backend.service} does not exist",),
                )
            )
            return
        ports = _backend_ports(svc, backend)
        classes = self.backing(svc)
        got = NONE
        objs: list[str] = [via, f"Service {svc.id}"]
        why: list[_Admission] = []
        per_workload: dict[str, PortSet] = defaultdict(lambda: NONE)
        for cls in classes:
            target = self.target_ports(ports, cls)
            if backend.target_port and isinstance(backend.port, str) and not target:
                target = _named(cls, backend.port)
            adm = self._controller_admission(cls, sources)
            hit = adm.ports & target
            if hit:
                got = got | hit
                objs += [o for o in adm.objects if o not in objs]
                why.append(adm)
                for wl in cls.workloads:
                    per_workload[wl.id] = per_workload[wl.id] | hit
        report.exposures.append(
            Exposure(
                svc.namespace,
                svc.name,
                "Service",
                category,
                True,
                bool(got),
                got,
                tuple(objs),
                tuple(sorted(per_workload)) or _workloads(classes),
                tuple(why),
            )
        )

    # -- findings -----------------------------------------------------------------------

    def _findings(self, report: ExposureReport) -> list[Finding]:
        found = list(report.findings)
        engine, cfg = self.engine, self.config
        for policy in engine.snapshot.policies:
            if Direction.EGRESS in policy.isolates:
                for rule in policy.egress:
                    if rule.all_ports and any(
                        isinstance(p, IPBlockPeer)
                        and p.block.cidr.prefixlen == 0
                        and not p.block.excepts
                        for p in rule.peers or ()
                    ):
                        found.append(
                            Finding(
                                Check.EGRESS_INTERNET_ANY_PORT,
                                Severity.MEDIUM,
                                policy.namespace,
                                policy.id,
                                f"{policy.id} egress rule #{rule.index} allows "
                                "every port to every address (ipBlock /0)",
                                direction="egress",
                            )
                        )
            if Direction.INGRESS in policy.isolates:
                yield_db = self._database_rule(policy)
                if yield_db:
                    found.append(yield_db)
        for name, ns in engine.namespaces.items():
            if ns.labels.get(cfg.sensitive_label) != cfg.sensitive_value:
                continue
            for cls in engine.classes_by_ns.get(name, ()):
                _, every = self.from_other_namespaces(cls)
                if every.ports:
                    found.append(
                        Finding(
                            Check.SENSITIVE_NAMESPACE_OPEN,
                            Severity.HIGH,
                            name,
                            _names(cls),
                            f"{_names(cls)} in sensitive namespace {name} admits every namespace "
                            f"on {every.ports} ({', '.join(every.objects) or 'not isolated'})",
                            direction="ingress",
                        )
                    )
        return found

    def _database_rule(self, policy: Policy) -> Finding | None:
        selected = [
            c
            for c in self.engine.classes_by_ns.get(policy.namespace, ())
            if any(p is policy for p in self.engine.selecting(c))
        ]
        for rule in policy.ingress:
            if rule.peers is not None and not any(
                isinstance(p, PodPeer)
                and p.namespace_selector is not None
                and p.namespace_selector.is_empty
                for p in rule.peers
            ):
                continue
            hits = set()
            for cls in selected:
                ports = self.engine.rule_ports(rule.ports, cls)
                for cp in cls.ports:
                    if cp.port in self.config.database_ports and ports.contains(
                        cp.protocol, cp.port
                    ):
                        hits.add(cp.port)
            # A rule naming a database port opens it whether or not the pods declare it.
            for m in rule.ports or ():
                if (
                    isinstance(m, PortRange)
                    and m.start == m.end
                    and m.start in self.config.database_ports
                ):
                    hits.add(m.start)
            if hits:
                return Finding(
                    Check.DATABASE_PORT_ALL_NAMESPACES,
                    Severity.HIGH,
                    policy.namespace,
                    policy.id,
                    f"{policy.id} ingress rule #{rule.index} admits every namespace to database "
                    f"port(s) {', '.join(map(str, sorted(hits)))}",
                    direction="ingress",
                )
        return None


def _plan_rules(plan: object) -> Iterable[tuple[Policy, Rule]]:
    for tier in getattr(plan, "tiers", ()):
        yield from tier.rules


def _reaches_every_namespace(peer: object) -> bool:
    """Peers of other policy APIs that admit pods of every namespace, future ones too."""
    if type(peer).__name__ == "EntityPeer":
        return str(getattr(peer, "entity", "")) in ("cluster", "all")
    if type(peer).__name__ == "EndpointPeer":
        selector = getattr(peer, "selector", None)
        return (
            getattr(peer, "namespace", None) is None
            and getattr(peer, "namespaces_hint", None) is None
            and getattr(peer, "not_selector", None) is None
            and getattr(peer, "service_accounts", None) is None
            and (
                getattr(peer, "namespace_selector", None) is None
                or getattr(getattr(peer, "namespace_selector", None), "is_empty", False)
            )
            and getattr(selector, "is_empty", False)
        )
    return False


def _minus(ports: PortSet, removed: PortSet) -> PortSet:
    """Ports in `ports` not in `removed` (per protocol range subtraction)."""
    if not removed:
        return ports
    out = NONE
    for proto in Protocol:
        for lo, hi in ports.ranges(proto):
            start = lo
            for rlo, rhi in removed.ranges(proto):
                if rhi < start or rlo > hi:
                    continue
                if rlo > start:
                    out = out | PortSet.of(proto, start, rlo - 1)
                start = max(start, rhi + 1)
            if start <= hi:
                out = out | PortSet.of(proto, start, hi)
    return out


def _merged(exposures: list[Exposure]) -> list[Exposure]:
    """One entry per Service (or workload) and category: several routes to one Service,
    one route attached twice, or a workload whose pods differ in labels, are unioned."""
    out: dict[tuple[str, str, str, Category], Exposure] = {}
    for e in exposures:
        key = (e.namespace, e.name, e.kind, e.category)
        prev = out.get(key)
        if prev is None:
            out[key] = e
            continue
        out[key] = Exposure(
            e.namespace,
            e.name,
            e.kind,
            e.category,
            prev.declared or e.declared,
            prev.permitted or e.permitted,
            prev.ports | e.ports,
            (*prev.objects, *(o for o in e.objects if o not in prev.objects)),
            tuple(sorted({*prev.workloads, *e.workloads})),
            (*prev.why, *e.why),
            (*prev.notes, *(n for n in e.notes if n not in prev.notes)),
        )
    return list(out.values())


def _not_granted(route: GatewayRoute, backend: Backend) -> Finding:
    name = f"{route.kind} {route.namespace}/{route.ref.name}"
    return Finding(
        Check.ROUTE_BACKEND_NOT_GRANTED,
        Severity.INFO,
        route.namespace,
        name,
        f"{name} refers to Service {backend.namespace}/{backend.service} without a "
        f"ReferenceGrant in {backend.namespace}: the backend is not exposed through it",
    )


def _backend_ports(svc: Service, backend: Backend) -> tuple[ServicePort, ...]:
    if backend.port is None:
        return svc.ports
    if backend.target_port:
        return tuple(sp for sp in svc.ports if sp.target == backend.port or sp.name == backend.port)
    sp = svc.find_port(backend.port)
    return (sp,) if sp else ()


def _named(cls: PodClass, name: str) -> PortSet:
    out = NONE
    for cp in cls.ports:
        if cp.name == name:
            out = out | PortSet.of(cp.protocol, cp.port)
    return out


def _selects_pods_only(peer: object) -> bool:
    """Peers that can never match an address (pod and endpoint selectors)."""
    return type(peer).__name__ in ("PodPeer", "EndpointPeer")


def _workloads(classes: Iterable[PodClass]) -> tuple[str, ...]:
    return tuple(sorted({w.id for c in classes for w in c.workloads}))


def _names(cls: PodClass) -> str:
    return ", ".join(w.id for w in cls.workloads)

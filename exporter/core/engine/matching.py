"""Peer and rule matching: which pod classes and address atoms a peer covers, and the
ports a rule opens towards a destination (named ports resolve on the destination pod)."""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Mapping

from exporter.core.addresses import MAX_ADDRESS as _MAX_ADDRESS
from exporter.core.addresses import AddressRange, IPBlock
from exporter.core.engine.classes import (
    CALICO_NAMESPACE,
    CALICO_ORCHESTRATOR,
    CALICO_SA,
    CILIUM_NAMESPACE,
    CILIUM_NS_LABELS,
    CILIUM_SA,
    Endpoint,
    PodClass,
)
from exporter.core.engine.peers import ENTITY_FAMILIES, range_matches
from exporter.core.model import (
    ContainerPort,
    IPNetwork,
    Namespace,
)
from exporter.core.policies import (
    EndpointPeer,
    Entity,
    EntityPeer,
    IPBlockPeer,
    LabelView,
    NamedPeer,
    NamedPort,
    NetworkPeer,
    Peer,
    PodPeer,
    PortMatch,
    Selector,
)
from exporter.core.ports import ALL, NONE, PortSet
from exporter.core.selectors import LabelSelector, Operator


class LabelSets:
    """The distinct pod label sets of a cluster, each numbered, with the sets each pod
    selector matches cached."""

    def __init__(self, classes: list[PodClass]) -> None:
        numbers: dict[frozenset[tuple[str, str]], int] = {}
        self.sets: list[Mapping[str, str]] = []
        self.of_class: list[int] = []
        for cls in classes:
            key = frozenset(cls.labels.items())
            n = numbers.get(key)
            if n is None:
                n = numbers[key] = len(self.sets)
                self.sets.append(cls.labels)
            self.of_class.append(n)
        self._matching: dict[LabelSelector, frozenset[int]] = {}

    def matching(self, selector: LabelSelector) -> frozenset[int]:
        found = self._matching.get(selector)
        if found is None:
            found = self._matching[selector] = frozenset(
                n for n, labels in enumerate(self.sets) if selector.matches(labels)
            )
        return found


class Matching:
    """The first layer of `Engine`: matching peers to pod classes and address atoms,
    each answer cached per peer."""

    # Built by `Engine.__init__` (exporter.core.engine.build).
    namespaces: Mapping[str, Namespace]
    classes: list[PodClass]
    classes_by_ns: dict[str, list[PodClass]]
    atoms: list[AddressRange]
    _atom_index: dict[AddressRange, int]
    _views: dict[tuple[LabelView, int], Mapping[str, str]]
    _ns_selector_cache: dict[Selector, list[str]]
    _ns_index: dict[tuple[str, str], list[str]] | None
    _peer_cache: dict[Peer, list[PodClass]]
    _peer_ids: dict[Peer, frozenset[int]]
    _block_cache: dict[IPBlock, list[int]]
    _peer_atoms: dict[Peer, frozenset[int]]
    _pod_ns_label_keys: frozenset[str] | None
    _label_sets: LabelSets | None
    _named_cache: dict[tuple[tuple[PortMatch, ...], tuple[ContainerPort, ...]], PortSet]

    def labels(self, cls: PodClass, view: LabelView) -> Mapping[str, str]:
        """The labels a selector of `view` sees on `cls` (Cilium identity labels:
        docs/semantics.md §3.2)."""
        if view is LabelView.POD:
            return cls.labels
        key = (view, cls.index)
        found = self._views.get(key)
        if found is None:
            out = dict(cls.labels)
            ns = self.namespaces.get(cls.namespace)
            if view is LabelView.CILIUM:
                out[CILIUM_NAMESPACE] = cls.namespace
                if ns is not None:
                    for k, v in ns.labels.items():
                        out[CILIUM_NS_LABELS + k] = v
                if cls.service_account:
                    out[CILIUM_SA] = cls.service_account
            else:
                out[CALICO_NAMESPACE] = cls.namespace
                out[CALICO_ORCHESTRATOR] = "k8s"
                if cls.service_account:
                    out[CALICO_SA] = cls.service_account
            found = out
            self._views[key] = found
        return found

    def namespaces_matching(self, selector: Selector) -> list[str]:
        """Namespaces whose labels match. A label selector's `In` requirement narrows
        the candidates through a label index first: 10,000 namespaces times thousands
        of distinct selectors is otherwise tens of millions of matches."""
        found = self._ns_selector_cache.get(selector)
        if found is None:
            candidates: Iterable[str] = self.namespaces
            narrowing = (
                [r for r in selector.requirements if r.operator is Operator.IN]
                if isinstance(selector, LabelSelector)
                else []
            )
            if narrowing:
                index = self._namespace_label_index()
                best = min(
                    narrowing,
                    key=lambda r: sum(len(index.get((r.key, v), ())) for v in r.values),
                )
                candidates = sorted({n for v in best.values for n in index.get((best.key, v), ())})
            found = [n for n in candidates if selector.matches(self.namespaces[n].labels)]
            self._ns_selector_cache[selector] = found
        return found

    def _namespace_label_index(self) -> dict[tuple[str, str], list[str]]:
        if self._ns_index is None:
            index: dict[tuple[str, str], list[str]] = defaultdict(list)
            for name, ns in self.namespaces.items():
                for item in ns.labels.items():
                    index[item].append(name)
            self._ns_index = dict(index)
        return self._ns_index

    def peer_classes(self, peer: Peer) -> list[PodClass]:
        """The pod classes a peer selects (pod selectors never select hostNetwork pods)."""
        found = self._peer_cache.get(peer)
        if found is None:
            found = self._peer_classes(peer)
            self._peer_cache[peer] = found
        return found

    def _peer_classes(self, peer: Peer) -> list[PodClass]:
        if isinstance(peer, PodPeer):
            if peer.namespace_selector is None:
                spaces = [peer.namespace]
            else:
                spaces = self.namespaces_matching(peer.namespace_selector)
            selector = peer.pod_selector
            if not selector.requirements:  # `podSelector: {}`: no label to look at
                return [
                    cls
                    for ns in spaces
                    for cls in self.classes_by_ns.get(ns, ())
                    if not cls.host_network
                ]
            if len(spaces) == 1:
                return [
                    cls
                    for cls in self.classes_by_ns.get(spaces[0], ())
                    if not cls.host_network and selector.matches(cls.labels)
                ]
            # Across namespaces the same few label sets repeat (app=web in each of
            # them): the selector is matched once per distinct set.
            sets = self._label_sets
            if sets is None:
                sets = self._label_sets = LabelSets(self.classes)
            ok = sets.matching(selector)
            of = sets.of_class
            return [
                cls
                for ns in spaces
                for cls in self.classes_by_ns.get(ns, ())
                if not cls.host_network and of[cls.index] in ok
            ]
        if isinstance(peer, EndpointPeer):
            return [c for c in self._endpoint_candidates(peer) if self._endpoint_matches(peer, c)]
        if isinstance(peer, EntityPeer):
            entity = peer.entity
            if entity in (Entity.CLUSTER, Entity.ALL):
                return list(self.classes)
            if entity in (Entity.HOST, Entity.REMOTE_NODE):
                return [c for c in self.classes if c.host_network]
            return []
        if isinstance(peer, NetworkPeer):
            if peer.selector is not None:
                return self.peer_classes(peer.selector) if peer.pods else []
            return list(self.classes) if peer.pods else []
        return []

    def _endpoint_candidates(self, peer: EndpointPeer) -> Iterable[PodClass]:
        if peer.namespace is not None:
            return self.classes_by_ns.get(peer.namespace, ())
        spaces: Iterable[str]
        if peer.namespace_selector is not None:
            spaces = self.namespaces_matching(peer.namespace_selector)
        elif peer.namespaces_hint is not None:
            spaces = sorted(peer.namespaces_hint)
        else:
            hinted = self._cilium_namespace_label_hint(peer)
            if hinted is None:
                return self.classes
            spaces = hinted
        return [c for n in spaces for c in self.classes_by_ns.get(n, ())]

    def _cilium_namespace_label_hint(self, peer: EndpointPeer) -> list[str] | None:
        """The only namespaces a Cilium endpoint selector can match when it requires a
        namespace label (`k8s:io.cilium.k8s.namespace.labels.KEY in (...)`, what a
        namespaceSelector becomes in a CiliumNetworkPolicy): from the namespace label
        index, instead of matching every pod class of the cluster. None when the
        selector has no such requirement, or a pod carries a label with that key itself
        (then the pod's own label is visible where its namespace lacks one)."""
        selector = peer.selector
        if peer.view is not LabelView.CILIUM or not isinstance(selector, LabelSelector):
            return None
        if self._pod_ns_label_keys is None:
            self._pod_ns_label_keys = frozenset(
                k for c in self.classes for k in c.labels if k.startswith(CILIUM_NS_LABELS)
            )
        found: set[str] | None = None
        for req in selector.requirements:
            if (
                req.operator is Operator.IN
                and req.key.startswith(CILIUM_NS_LABELS)
                and req.key not in self._pod_ns_label_keys
            ):
                key = req.key[len(CILIUM_NS_LABELS) :]
                index = self._namespace_label_index()
                names = {n for v in req.values for n in index.get((key, v), ())}
                found = names if found is None else found & names
        return sorted(found) if found is not None else None

    def _endpoint_matches(self, peer: EndpointPeer, cls: PodClass) -> bool:
        if cls.host_network:
            return False
        if peer.namespace is not None and cls.namespace != peer.namespace:
            return False
        if peer.namespace_selector is not None:
            ns = self.namespaces.get(cls.namespace)
            if ns is None or not peer.namespace_selector.matches(ns.labels):
                return False
        if peer.service_accounts is not None and cls.service_account not in peer.service_accounts:
            return False
        labels = self.labels(cls, peer.view)
        if peer.not_selector is not None and peer.not_selector.matches(labels):
            return False
        return peer.selector.matches(labels)

    def peer_class_ids(self, peer: Peer) -> frozenset[int]:
        found = self._peer_ids.get(peer)
        if found is None:
            found = frozenset(c.index for c in self.peer_classes(peer))
            self._peer_ids[peer] = found
        return found

    def peer_atoms(self, peer: Peer) -> frozenset[int]:
        """Indices of the address atoms a peer covers."""
        found = self._peer_atoms.get(peer)
        if found is None:
            found = frozenset(self._peer_atom_list(peer))
            self._peer_atoms[peer] = found
        return found

    def _peer_atom_list(self, peer: Peer) -> Iterable[int]:
        if isinstance(peer, IPBlockPeer):
            return self._atoms_in(peer.block)
        if isinstance(peer, EntityPeer):
            families = ENTITY_FAMILIES.get(peer.entity, ())
            return [i for i, a in enumerate(self.atoms) if a.family in families]
        if isinstance(peer, NetworkPeer):
            if peer.selector is not None:
                return ()  # an endpoint selector matches endpoints, never addresses
            inside: set[int] = set()
            for block in peer.blocks:
                inside.update(self._atoms_in(block))
            for block in peer.excluded:
                inside.difference_update(self._atoms_in(block))
            return inside
        return ()

    def _atoms_in(self, block: IPBlock) -> list[int]:
        """Atoms are sorted and never straddle a block boundary, so a block covers a
        contiguous index range (found by bisection), less its excepts' ranges."""
        found = self._block_cache.get(block)
        if found is None:
            found = self._atom_span(block.cidr)
            for exc in block.excepts:
                hole = set(self._atom_span(exc))
                found = [i for i in found if i not in hole]
            self._block_cache[block] = found
        return found

    def _atom_span(self, net: IPNetwork) -> list[int]:
        rng = AddressRange.of(net)
        lo = bisect.bisect_left(self.atoms, AddressRange(rng.family, rng.first, -1))
        hi = bisect.bisect_right(self.atoms, AddressRange(rng.family, rng.last, _MAX_ADDRESS))
        return list(range(lo, hi))

    def peer_matches(self, peer: Peer, endpoint: Endpoint) -> bool:
        if isinstance(endpoint, AddressRange):
            index = self._atom_index.get(endpoint)
            if index is not None:
                return index in self.peer_atoms(peer)
            # An address range that is not one of our atoms (a caller's own split).
            return range_matches(peer, endpoint)
        if isinstance(peer, IPBlockPeer | NamedPeer):
            return False
        # Membership in the peer's (cached) class set: connectivity asks this for every
        # pair of classes, so matching selectors each time would dominate.
        return endpoint.index in self.peer_class_ids(peer)

    def rule_ports(self, ports: tuple[PortMatch, ...] | None, dst: Endpoint) -> PortSet:
        """Ports a rule admits towards `dst`; named ports resolve on the destination pod."""
        if ports is None:
            return ALL
        dst_ports = dst.ports if isinstance(dst, PodClass) else ()
        key = (ports, dst_ports)
        found = self._named_cache.get(key)
        if found is None:
            found = NONE
            for match in ports:
                if isinstance(match, NamedPort):
                    for cp in dst_ports:
                        if cp.name == match.name and cp.protocol is match.protocol:
                            found = found | PortSet.of(cp.protocol, cp.port)
                else:
                    found = found | PortSet.of(match.protocol, match.start, match.end)
            self._named_cache[key] = found
        return found

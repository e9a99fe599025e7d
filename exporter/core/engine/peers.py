"""What a peer or a rule covers on its own, with no cluster at hand.

The one place that answers "does this cover everything": every pod of every namespace
(present and future), every outside address of some address families, or both. The
engine's isolation (a deny-everything rule), coverage (a rule admitting everything) and
exposure (peers reaching every namespace) all ask here, so they cannot disagree.
"""

from __future__ import annotations

from collections.abc import Iterable

from exporter.core.addresses import AddressRange
from exporter.core.engine.classes import CILIUM_NAMESPACE
from exporter.core.policies import (
    EndpointPeer,
    Entity,
    EntityPeer,
    IPBlockPeer,
    LabelView,
    NetworkPeer,
    Peer,
    PodPeer,
    Rule,
    Selector,
)
from exporter.core.selectors import LabelSelector

ENTITY_FAMILIES: dict[Entity, tuple[int, ...]] = {
    Entity.WORLD: (4, 6),
    Entity.ALL: (4, 6),
    Entity.WORLD_IPV4: (4,),
    Entity.WORLD_IPV6: (6,),
}
"""The address families of external addresses a Cilium entity covers."""


def covers_every_pod(peer: Peer) -> bool:
    """Whether a peer matches every pod of every namespace (present and future)."""
    if isinstance(peer, PodPeer):
        return (
            peer.pod_selector.is_empty
            and peer.namespace_selector is not None
            and peer.namespace_selector.is_empty
        )
    if isinstance(peer, EndpointPeer):
        only_ns = all(
            k == CILIUM_NAMESPACE for k in selector_keys(peer.selector)
        ) and peer.selector.matches({CILIUM_NAMESPACE: "\x00any"})
        return (
            (peer.selector.is_empty or (peer.view is LabelView.CILIUM and only_ns))
            and peer.namespace is None
            and (peer.namespace_selector is None or peer.namespace_selector.is_empty)
            and peer.not_selector is None
            and peer.service_accounts is None
        )
    if isinstance(peer, EntityPeer):
        return peer.entity in (Entity.ALL, Entity.CLUSTER)
    if isinstance(peer, NetworkPeer):
        return peer.pods and peer.selector is None
    return False


def covered_families(peer: Peer) -> frozenset[int]:
    """The address families (4, 6) of which a peer covers every outside address."""
    if isinstance(peer, IPBlockPeer):
        block = peer.block
        whole = block.cidr.prefixlen == 0 and not block.excepts
        return frozenset({block.cidr.version}) if whole else frozenset()
    if isinstance(peer, NetworkPeer):
        if peer.excluded:
            return frozenset()
        return frozenset(b.cidr.version for b in peer.blocks if b.cidr.prefixlen == 0)
    if isinstance(peer, EntityPeer):
        return frozenset(ENTITY_FAMILIES.get(peer.entity, ()))
    return frozenset()


def covers_every_address(peer: Peer, families: Iterable[int] = (4,)) -> bool:
    """Whether a peer covers every outside address of `families` (by default IPv4)."""
    return set(families) <= covered_families(peer)


def covers_everything(rule: Rule, families: Iterable[int]) -> bool:
    """Whether a rule's peers cover every pod and every outside address of `families`,
    on whatever ports the rule names; a rule without peers covers everything."""
    if rule.peers is None:
        return True
    covered: set[int] = set()
    for peer in rule.peers:
        covered |= covered_families(peer)
    return set(families) <= covered and any(covers_every_pod(p) for p in rule.peers)


def selector_keys(selector: Selector) -> frozenset[str]:
    if isinstance(selector, LabelSelector):
        return frozenset(r.key for r in selector.requirements)
    return selector.keys()


def range_matches(peer: Peer, rng: AddressRange) -> bool:
    """Whether a peer covers an address range (the range lies inside, as atoms do)."""
    if isinstance(peer, IPBlockPeer):
        return peer.block.contains(rng)
    if isinstance(peer, EntityPeer):
        return rng.family in ENTITY_FAMILIES.get(peer.entity, ())
    if isinstance(peer, NetworkPeer):
        if peer.selector is not None:
            return False
        inside = any(AddressRange.of(b.cidr).contains(rng) for b in peer.blocks)
        return inside and not any(
            AddressRange.of(b.cidr).first <= rng.last and rng.first <= AddressRange.of(b.cidr).last
            for b in peer.excluded
        )
    return False

"""What a peer covers on its own, with no cluster at hand: every pod, every address,
an address range."""

from __future__ import annotations

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


def covers_every_address(peer: Peer) -> bool:
    """Whether a peer covers every IPv4 address outside the cluster."""
    if isinstance(peer, IPBlockPeer):
        return peer.block.cidr.prefixlen == 0 and not peer.block.excepts
    if isinstance(peer, NetworkPeer):
        return not peer.excluded and any(b.cidr.prefixlen == 0 for b in peer.blocks)
    if isinstance(peer, EntityPeer):
        return peer.entity in (Entity.WORLD, Entity.ALL, Entity.WORLD_IPV4)
    return False


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

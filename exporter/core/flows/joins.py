"""Joins of the flow counts with the static scan: unused permitted exposures and
namespaces whose default deny the datapath contradicts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol


class ExposureLike(Protocol):
    """What `unused_exposures` needs of `exporter.core.exposure.Exposure`."""

    @property
    def namespace(self) -> str: ...
    @property
    def category(self) -> str: ...
    @property
    def permitted(self) -> bool: ...
    @property
    def workloads(self) -> tuple[str, ...]: ...


INTERNET_PEERS = frozenset({"reserved:world", "reserved:host", "reserved:remote-node"})
"""Sources that count as use of an internet exposure: the internet itself, and the nodes
(LoadBalancer / NodePort traffic SNATed to the node with externalTrafficPolicy Cluster)."""


def peer_category(
    namespace: str, peer: str, controller_namespaces: frozenset[str] = frozenset()
) -> frozenset[str]:
    """The exposure categories that an admitted ingress connection from `peer` to a
    workload in `namespace` exercises."""
    if peer == namespace:
        return frozenset()
    if peer in INTERNET_PEERS:
        return frozenset({"internet"})
    if peer == "reserved:ingress":
        return frozenset({"ingress", "gateway"})
    if peer.startswith("reserved:"):
        return frozenset()
    cats = {"other_namespaces", "all_namespaces"}
    if peer in controller_namespaces:
        cats |= {"ingress", "gateway"}
    return frozenset(cats)


def _workload_name(workload_id: str) -> str:
    """`ns/name[Kind]` (core.model.Workload.id) -> `name` (Hubble's workload name)."""
    name = workload_id.split("/", 1)[-1]
    return name.split("[", 1)[0]


def unused_exposures(
    exposures: Iterable[ExposureLike],
    last_used: Mapping[tuple[str, str, str], int],
    now: float,
    days: float,
    controller_namespaces: frozenset[str] = frozenset(),
) -> dict[tuple[str, str], int]:
    """(namespace, category) -> permitted exposures that no admitted ingress connection
    used in the last `days` days (flows are matched on the enforcing workload's name)."""
    since = now - days * 86_400
    used: set[tuple[str, str, str]] = set()
    for (ns, wl, peer), end in last_used.items():
        if end >= since:
            for cat in peer_category(ns, peer, controller_namespaces):
                used.add((ns, wl, cat))
    out: dict[tuple[str, str], int] = {}
    for e in exposures:
        if not e.permitted:
            continue
        cat = str(e.category)
        names = [_workload_name(w) for w in e.workloads]
        key = (e.namespace, cat)
        out.setdefault(key, 0)
        if not any((e.namespace, n, cat) in used for n in names):
            out[key] += 1
    return out


def default_deny_disagreements(
    default_deny: Mapping[tuple[str, str], bool], signals: Mapping[tuple[str, str], int]
) -> dict[tuple[str, str], int]:
    """(namespace, direction) -> connections the datapath admitted with an allow-all rule
    or in policy-audit mode where the scan says default-deny is in force: a sign that the
    scan and the datapath disagree (missing policy kinds, audit mode, stale scan).
    Every default-deny namespace/direction is present (0 when they agree)."""
    return {
        (ns, direction): signals.get((ns, direction), 0)
        for (ns, direction), deny in default_deny.items()
        if deny
    }

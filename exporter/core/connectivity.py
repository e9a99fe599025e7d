"""The pairwise connectivity list: allowed connections between workloads and address ranges.

Class-level verdicts are folded into workloads (the union over the workload's classes:
what some pod of the source workload may open to some pod of the destination), and
adjacent address atoms with the same verdict are merged into one range. A workload's
connections to itself and external-to-external pairs are left out.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from exporter.core.addresses import AddressRange, merge_adjacent
from exporter.core.engine import Endpoint, Engine, PodClass
from exporter.core.ports import NONE, PortSet


@dataclass(frozen=True, slots=True)
class Connection:
    """One allowed connection: a source and a destination, each a workload id
    (`ns/name[Kind]`), an address range or a named destination (`fqdn:...`), and the
    ports it may use."""

    src: str
    dst: str
    conns: PortSet

    def to_json(self) -> dict[str, object]:
        """The `connectivity -o json` entry (docs/json-output.md)."""
        return {"src": self.src, "dst": self.dst, "conns": self.conns.to_json()}


def connectivity(engine: Engine) -> list[Connection]:
    """Every allowed connection of the cluster, sorted by source and destination: class
    verdicts folded into workloads, adjacent address atoms with the same ports merged
    into ranges, and egress to named destinations. Costs classes squared: opt-in."""
    pairs: dict[tuple[str, str], PortSet] = defaultdict(lambda: NONE)
    to_ext: dict[str, dict[AddressRange, PortSet]] = defaultdict(dict)
    from_ext: dict[str, dict[AddressRange, PortSet]] = defaultdict(dict)
    for src, dst, ports in engine.class_connectivity():
        if isinstance(src, PodClass) and isinstance(dst, PodClass):
            for s in _ids(src):
                for d in _ids(dst):
                    if s != d:
                        pairs[(s, d)] = pairs[(s, d)] | ports
        elif isinstance(src, PodClass) and isinstance(dst, AddressRange):
            for s in _ids(src):
                to_ext[s][dst] = to_ext[s].get(dst, NONE) | ports
        elif isinstance(src, AddressRange) and isinstance(dst, PodClass):
            for d in _ids(dst):
                from_ext[d][src] = from_ext[d].get(src, NONE) | ports
    out = [Connection(s, d, p) for (s, d), p in pairs.items()]
    for wl, by_atom in to_ext.items():
        out.extend(Connection(wl, str(rng), p) for rng, p in _merge_ranges(by_atom))
    for wl, by_atom in from_ext.items():
        out.extend(Connection(str(rng), wl, p) for rng, p in _merge_ranges(by_atom))
    # Egress to named destinations (Cilium toFQDNs/toServices): `fqdn:api.example.com`.
    for cls in engine.classes:
        for name, ports in engine.named_destinations(cls).items():
            out.extend(Connection(s, name, ports) for s in _ids(cls))
    out.sort(key=lambda c: (c.src, c.dst))
    return out


def _ids(endpoint: Endpoint) -> list[str]:
    assert isinstance(endpoint, PodClass)
    return [w.id for w in endpoint.workloads]


def _merge_ranges(by_atom: dict[AddressRange, PortSet]) -> list[tuple[AddressRange, PortSet]]:
    by_ports: dict[PortSet, list[AddressRange]] = defaultdict(list)
    for rng, ports in by_atom.items():
        by_ports[ports].append(rng)
    out = [(rng, ports) for ports, rngs in by_ports.items() for rng in merge_adjacent(rngs)]
    out.sort(key=lambda item: item[0])
    return out

"""The pairwise connectivity list: allowed connections between workloads and address ranges.

Class-level verdicts are folded into workloads (the union over the workload's classes:
what some pod of the source workload may open to some pod of the destination), and
adjacent address atoms with the same verdict are merged into one range. A workload's
connections to itself and external-to-external pairs are left out.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from exporter.core.addresses import AddressRange, parse_address
from exporter.core.engine import Endpoint, Engine, PodClass
from exporter.core.ports import PortSet


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


class JsonEntries:
    """`json.dumps(c.to_json())` for many connections, with the JSON of each name and
    each port set worked out once: the same few thousand names and port sets make up
    millions of entries, and serialising them one dict at a time was a third of the
    time `connectivity -o json` took on 2,000 namespaces. The text is byte-identical."""

    def __init__(self) -> None:
        self._names: dict[str, str] = {}
        self._ports: dict[PortSet, str] = {}

    def __call__(self, c: Connection) -> str:
        names = self._names
        src = names.get(c.src)
        if src is None:
            src = names[c.src] = json.dumps(c.src)
        dst = names.get(c.dst)
        if dst is None:
            dst = names[c.dst] = json.dumps(c.dst)
        conns = self._ports.get(c.conns)
        if conns is None:
            conns = self._ports[c.conns] = json.dumps(c.conns.to_json())
        return f'{{"src": {src}, "dst": {dst}, "conns": {conns}}}'


def connectivity(engine: Engine, keep: EndpointFilter | None = None) -> list[Connection]:
    """Every allowed connection of the cluster, sorted by source and destination: class
    verdicts folded into workloads, adjacent address atoms with the same ports merged
    into ranges, and egress to named destinations. Costs classes squared: opt-in."""
    return [c for block in connectivity_blocks(engine, keep) for c in block]


Progress = Callable[[int, int], None]
"""Called with (source namespaces done, source namespaces in all)."""


def connectivity_blocks(
    engine: Engine, keep: EndpointFilter | None = None, progress: Progress | None = None
) -> Iterator[list[Connection]]:
    """`connectivity` a source namespace at a time, so a caller can write each block
    out and forget it (2,000 namespaces are hundreds of MB of connections): the blocks,
    concatenated, are exactly the sorted list. Connections from outside addresses are
    computed first (they are few) and slotted in where they sort."""
    order = sorted(engine.classes_by_ns, key=lambda n: f"{n}/")
    sources = [c for ns in order for c in engine.classes_by_ns[ns]]
    position = {ns: i for i, ns in enumerate(order)}
    atoms = _Atoms(engine.atoms)
    from_ext: dict[str, dict[int, PortSet]] = defaultdict(dict)
    external: list[Connection] | None = None
    ids = _IdCache()
    block = _Block(ids)
    current = 0
    last_src: PodClass | None = None
    # A namespace filter also narrows the walk itself (engine.class_connectivity).
    namespaces = set(keep.namespaces) if keep and keep.namespaces else None
    for src, dst, ports in engine.class_connectivity(
        keep.pair if keep else None, sources, outside_first=True, namespaces=namespaces
    ):
        if isinstance(src, AddressRange):
            ai = atoms.index(src)
            for d in ids(dst):
                found = from_ext[d]
                prev = found.get(ai)
                found[ai] = ports if prev is None else prev | ports
            continue
        if src is not last_src:
            if external is None:
                external = _external(from_ext, atoms)
                from_ext.clear()
            assert isinstance(src, PodClass)
            index = position[src.namespace]
            while current < index:  # namespaces done (some with no pod-to-pod connection)
                yield from _flush(engine, keep, order[current], block, external, atoms)
                block = _Block(ids)
                current += 1
                if progress is not None:
                    progress(current, len(order))
            last_src = src
            add_class, add_atom = block.adder(src)
        if isinstance(dst, PodClass):
            add_class(dst, ports)
        else:
            add_atom(atoms.index(dst), ports)
    if external is None:
        external = _external(from_ext, atoms)
    while current < len(order):
        yield from _flush(engine, keep, order[current], block, external, atoms)
        block = _Block(ids)
        current += 1
        if progress is not None:
            progress(current, len(order))
    if external:
        yield external


class _Block:
    """The connections of one source namespace, folded into workloads; address atoms
    are kept by their index in `engine.atoms` until they are merged into ranges."""

    def __init__(self, ids: _IdCache) -> None:
        self.ids = ids
        self.pairs: dict[tuple[str, str], PortSet] = {}
        self.to_ext: dict[str, dict[int, PortSet]] = defaultdict(dict)

    def adder(
        self, src: PodClass
    ) -> tuple[Callable[[PodClass, PortSet], None], Callable[[int, PortSet], None]]:
        """Two functions adding `src`'s connections to a class and to an atom: the pair
        walk calls them millions of times, so the source's ids are looked up once."""
        pairs = self.pairs
        ids = self.ids
        sources = ids(src)
        targets = [self.to_ext[s] for s in sources]

        def add_class(dst: PodClass, ports: PortSet) -> None:
            for s in sources:
                for d in ids(dst):
                    if s != d:
                        key = (s, d)
                        prev = pairs.get(key)
                        pairs[key] = ports if prev is None else prev | ports

        def add_atom(atom: int, ports: PortSet) -> None:
            for found in targets:
                prev = found.get(atom)
                found[atom] = ports if prev is None else prev | ports

        return add_class, add_atom


class _IdCache:
    """The workload ids of each class, worked out once (`PodClass.workloads` sorts a
    set on every call, and the pair loop would ask millions of times)."""

    def __init__(self) -> None:
        self._by_index: dict[int, list[str]] = {}

    def __call__(self, endpoint: Endpoint) -> list[str]:
        assert isinstance(endpoint, PodClass)
        found = self._by_index.get(endpoint.index)
        if found is None:
            found = self._by_index[endpoint.index] = _ids(endpoint)
        return found


def _external(from_ext: dict[str, dict[int, PortSet]], atoms: _Atoms) -> list[Connection]:
    out = [
        Connection(rng, wl, p)
        for wl, by_atom in from_ext.items()
        for rng, p in atoms.merge(by_atom)
    ]
    out.sort(key=lambda c: (c.src, c.dst))
    return out


def _flush(
    engine: Engine,
    keep: EndpointFilter | None,
    namespace: str,
    block: _Block,
    external: list[Connection],
    atoms: _Atoms,
) -> Iterator[list[Connection]]:
    out = [Connection(s, d, p) for (s, d), p in block.pairs.items()]
    for wl, by_atom in block.to_ext.items():
        out.extend(Connection(wl, rng, p) for rng, p in atoms.merge(by_atom))
    # Egress to named destinations (Cilium toFQDNs/toServices): `fqdn:api.example.com`.
    for cls in engine.classes_by_ns.get(namespace, ()):
        if keep is not None and not keep.source(cls):
            continue
        for name, ports in engine.named_destinations(cls).items():
            out.extend(Connection(s, name, ports) for s in _ids(cls))
    prefix = f"{namespace}/"
    earlier = 0  # outside sources that sort before this namespace come first
    while earlier < len(external) and external[earlier].src < prefix:
        earlier += 1
    if earlier:
        yield external[:earlier]
        del external[:earlier]
    if out:
        out.sort(key=lambda c: (c.src, c.dst))
        yield out


@dataclass(frozen=True, slots=True)
class EndpointFilter:
    """Which connections to compute (`connectivity --from/--to/--namespace`): each a
    namespace `ns`, a workload `ns/name`, or an address, CIDR or range; several values
    of one option are alternatives. Filtering before the pairs are computed is what
    makes a question about one namespace of a 2,000-namespace cluster cheap."""

    sources: tuple[str, ...] = ()
    destinations: tuple[str, ...] = ()
    namespaces: tuple[str, ...] = ()
    """Either side in one of these namespaces."""

    def source(self, endpoint: Endpoint) -> bool:
        return not self.sources or any(_matches(endpoint, s) for s in self.sources)

    def pair(self, src: Endpoint, dst: Endpoint) -> bool:
        if self.destinations and not any(_matches(dst, d) for d in self.destinations):
            return False
        if self.namespaces and not any(
            _in_namespace(e, ns) for e in (src, dst) for ns in self.namespaces
        ):
            return False
        return self.source(src)

    def connection(self, c: Connection) -> bool:
        """For connections computed elsewhere (through the ingress controller)."""

        def side(text: str, wanted: tuple[str, ...]) -> bool:
            return not wanted or any(
                text == w or text.startswith(f"{w}/") or text.split("[")[0] == w for w in wanted
            )

        in_ns = not self.namespaces or any(
            c.src.startswith(f"{ns}/") or c.dst.startswith(f"{ns}/") for ns in self.namespaces
        )
        return in_ns and side(c.src, self.sources) and side(c.dst, self.destinations)


def _in_namespace(endpoint: Endpoint, namespace: str) -> bool:
    return isinstance(endpoint, PodClass) and endpoint.namespace == namespace


def _matches(endpoint: Endpoint, wanted: str) -> bool:
    if isinstance(endpoint, PodClass):
        if "/" not in wanted:
            return endpoint.namespace == wanted
        return any(f"{w.namespace}/{w.name}" == wanted.split("[")[0] for w in endpoint.workloads)
    try:
        asked = parse_address(wanted)
    except ValueError:
        return False
    return (
        endpoint.family == asked.family
        and endpoint.first <= asked.last
        and asked.first <= endpoint.last
    )


def _ids(endpoint: Endpoint) -> list[str]:
    assert isinstance(endpoint, PodClass)
    return [w.id for w in endpoint.workloads]


class _Atoms:
    """Address atoms by index: adjacent atoms of one family have consecutive indexes
    (`engine.atoms` partitions each family's space in order), so merging a source's
    per-atom verdicts into ranges is a walk over sorted ints, not a sort of ranges."""

    def __init__(self, atoms: list[AddressRange]) -> None:
        self.atoms = atoms
        # By identity: the engine yields its own atom objects, and hashing a frozen
        # dataclass per connection costs more than the rest of the bookkeeping.
        self._by_id = {id(a): i for i, a in enumerate(atoms)}
        self._by_value = {a: i for i, a in enumerate(atoms)}
        self._text: dict[tuple[int, int], str] = {}

    def index(self, atom: AddressRange) -> int:
        found = self._by_id.get(id(atom))
        return found if found is not None else self._by_value[atom]

    def merge(self, by_atom: dict[int, PortSet]) -> list[tuple[str, PortSet]]:
        """(range text, ports) for runs of adjacent atoms with equal ports, in address
        order."""
        by_ports: dict[PortSet, list[int]] = defaultdict(list)
        for ai, ports in by_atom.items():
            by_ports[ports].append(ai)
        runs: list[tuple[int, int, PortSet]] = []
        atoms = self.atoms
        for ports, indexes in by_ports.items():
            indexes.sort()
            start = prev = indexes[0]
            for ai in indexes[1:]:
                if ai != prev + 1 or atoms[ai].family != atoms[prev].family:
                    runs.append((start, prev, ports))
                    start = ai
                prev = ai
            runs.append((start, prev, ports))
        runs.sort(key=_first)
        return [(self._range_text(a, b), ports) for a, b, ports in runs]

    def _range_text(self, first: int, last: int) -> str:
        found = self._text.get((first, last))
        if found is None:
            a, b = self.atoms[first], self.atoms[last]
            found = self._text[(first, last)] = str(AddressRange(a.family, a.first, b.last))
        return found


def _first(run: tuple[int, int, PortSet]) -> int:
    return run[0]

"""Sets of transport ports: what a connection verdict is made of.

A `PortSet` holds, per protocol, sorted disjoint inclusive ranges over 1..65535.
"All connections" means every port of TCP, UDP and SCTP: the protocols NetworkPolicy
defines (kubernetes/website network-policies.md, "Network traffic filtering").
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from exporter.core.model import Protocol

MIN_PORT = 1
MAX_PORT = 65535
Ranges = tuple[tuple[int, int], ...]


def _merge(ranges: Iterable[tuple[int, int]]) -> Ranges:
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + 1:
            if hi > out[-1][1]:
                out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return tuple(out)


def _subtract(a: Ranges, b: Ranges) -> Ranges:
    out: list[tuple[int, int]] = []
    for lo, hi in a:
        for blo, bhi in b:
            if bhi < lo or blo > hi:
                continue
            if blo > lo:
                out.append((lo, blo - 1))
            lo = bhi + 1
            if lo > hi:
                break
        if lo <= hi:
            out.append((lo, hi))
    return tuple(out)


def _intersect(a: Ranges, b: Ranges) -> Ranges:
    out: list[tuple[int, int]] = []
    i = j = 0
    while i < len(a) and j < len(b):
        lo = max(a[i][0], b[j][0])
        hi = min(a[i][1], b[j][1])
        if lo <= hi:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return tuple(out)


@dataclass(frozen=True, slots=True)
class PortSet:
    tcp: Ranges = ()
    udp: Ranges = ()
    sctp: Ranges = ()

    @staticmethod
    def of(protocol: Protocol, start: int, end: int | None = None) -> PortSet:
        rng = ((start, start if end is None else end),)
        if protocol is Protocol.TCP:
            return PortSet(tcp=rng)
        if protocol is Protocol.UDP:
            return PortSet(udp=rng)
        return PortSet(sctp=rng)

    @staticmethod
    def whole(protocol: Protocol) -> PortSet:
        return PortSet.of(protocol, MIN_PORT, MAX_PORT)

    def ranges(self, protocol: Protocol) -> Ranges:
        if protocol is Protocol.TCP:
            return self.tcp
        if protocol is Protocol.UDP:
            return self.udp
        return self.sctp

    def __or__(self, other: PortSet) -> PortSet:
        if other is self or not other:
            return self
        if not self:
            return other
        return PortSet(
            _merge(self.tcp + other.tcp),
            _merge(self.udp + other.udp),
            _merge(self.sctp + other.sctp),
        )

    def __and__(self, other: PortSet) -> PortSet:
        if self is ALL:
            return other
        if other is ALL:
            return self
        return PortSet(
            _intersect(self.tcp, other.tcp),
            _intersect(self.udp, other.udp),
            _intersect(self.sctp, other.sctp),
        )

    def __sub__(self, other: PortSet) -> PortSet:
        """The ports of `self` not in `other` (what a deny or an earlier rule leaves over)."""
        if not other or not self:
            return self
        if other is ALL:
            return NONE
        return PortSet(
            _subtract(self.tcp, other.tcp),
            _subtract(self.udp, other.udp),
            _subtract(self.sctp, other.sctp),
        )

    def __bool__(self) -> bool:
        return bool(self.tcp or self.udp or self.sctp)

    @property
    def is_all(self) -> bool:
        return self.tcp == _FULL and self.udp == _FULL and self.sctp == _FULL

    def contains(self, protocol: Protocol, port: int) -> bool:
        return any(lo <= port <= hi for lo, hi in self.ranges(protocol))

    def items(self) -> Iterator[str]:
        """`TCP/80`, `UDP/53`, `TCP/8000-9000`, ordered by protocol then port."""
        for proto in Protocol:
            for lo, hi in self.ranges(proto):
                yield f"{proto}/{lo}" if lo == hi else f"{proto}/{lo}-{hi}"

    def to_json(self) -> str | list[str]:
        return "all" if self.is_all else list(self.items())

    def __str__(self) -> str:
        if self.is_all:
            return "all"
        return ", ".join(self.items()) or "none"


_FULL: Ranges = ((MIN_PORT, MAX_PORT),)
ALL = PortSet(_FULL, _FULL, _FULL)
NONE = PortSet()


def parse_port_item(text: str) -> PortSet:
    """Parse `TCP/80` or `UDP/1000-2000` (the CLI's and JSON's port notation)."""
    proto_text, _, rest = text.partition("/")
    try:
        proto = Protocol(proto_text.upper())
    except ValueError:
        raise ValueError(f"unknown protocol in {text!r} (want TCP, UDP or SCTP)") from None
    lo_text, _, hi_text = rest.partition("-")
    try:
        lo = int(lo_text)
        hi = int(hi_text) if hi_text else lo
    except ValueError:
        raise ValueError(f"bad port in {text!r}") from None
    if not (MIN_PORT <= lo <= hi <= MAX_PORT):
        raise ValueError(f"port out of range in {text!r}")
    return PortSet.of(proto, lo, hi)

"""IP address space outside the cluster, as ranges that policies can tell apart.

Reachability to and from external addresses is computed per *atom*: a maximal
address range that no ipBlock boundary (cidr or except) cuts. Every address in an
atom gets the same verdict from every policy, so a handful of atoms stands for the
whole Internet.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from exporter.core.model import IPNetwork

_MAX = {4: (1 << 32) - 1, 6: (1 << 128) - 1}
MAX_ADDRESS = _MAX[6]

# Addresses that are not the public internet: RFC 1918, CGNAT (RFC 6598), "this
# network", loopback, link-local, and IPv6 loopback, ULA and link-local.
NON_PUBLIC: tuple[IPNetwork, ...] = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "::1/128",
        "fc00::/7",
        "fe80::/10",
    )
)


def is_public(atom: AddressRange) -> bool:
    return not any(AddressRange.of(n).contains(atom) for n in NON_PUBLIC)


@dataclass(frozen=True, slots=True, order=True)
class AddressRange:
    family: int
    first: int
    last: int

    @staticmethod
    def of(net: IPNetwork) -> AddressRange:
        return AddressRange(net.version, int(net.network_address), int(net.broadcast_address))

    @staticmethod
    def everything(family: int) -> AddressRange:
        return AddressRange(family, 0, _MAX[family])

    def contains(self, other: AddressRange) -> bool:
        return self.family == other.family and self.first <= other.first and other.last <= self.last

    def __str__(self) -> str:
        """CIDR notation when the range is one prefix, `first-last` otherwise."""
        nets = list(
            ipaddress.summarize_address_range(self._addr(self.first), self._addr(self.last))
        )
        if len(nets) == 1:
            return str(nets[0])
        return f"{self._addr(self.first)}-{self._addr(self.last)}"

    def _addr(self, value: int) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
        if self.family == 4:
            return ipaddress.IPv4Address(value)
        return ipaddress.IPv6Address(value)


@dataclass(frozen=True, slots=True)
class IPBlock:
    """`cidr` minus `excepts`: the address set of one ipBlock peer."""

    cidr: IPNetwork
    excepts: tuple[IPNetwork, ...] = ()

    def contains(self, atom: AddressRange) -> bool:
        """Whether the atom lies inside the block (atoms never straddle a boundary)."""
        if not AddressRange.of(self.cidr).contains(atom):
            return False
        return not any(AddressRange.of(e).contains(atom) for e in self.excepts)

    def __str__(self) -> str:
        if not self.excepts:
            return str(self.cidr)
        return f"{self.cidr} except {', '.join(str(e) for e in self.excepts)}"


def atoms(blocks: Iterable[IPBlock], families: Iterable[int]) -> list[AddressRange]:
    """Split each family's whole space at every block boundary."""
    cuts: dict[int, set[int]] = {f: {0} for f in families}
    for block in set(blocks):
        for net in (block.cidr, *block.excepts):
            if net.version not in cuts:
                continue
            rng = AddressRange.of(net)
            cuts[net.version].add(rng.first)
            if rng.last < _MAX[net.version]:
                cuts[net.version].add(rng.last + 1)
    out: list[AddressRange] = []
    for family in sorted(cuts):
        points = sorted(cuts[family])
        for i, start in enumerate(points):
            end = points[i + 1] - 1 if i + 1 < len(points) else _MAX[family]
            out.append(AddressRange(family, start, end))
    return out


def merge_adjacent(ranges: list[AddressRange]) -> list[AddressRange]:
    """Join touching ranges of one family (for output after per-atom verdicts)."""
    out: list[AddressRange] = []
    for rng in sorted(ranges):
        if out and out[-1].family == rng.family and out[-1].last + 1 == rng.first:
            out[-1] = AddressRange(rng.family, out[-1].first, rng.last)
        else:
            out.append(rng)
    return out


def parse_address(text: str) -> AddressRange:
    """An address, a CIDR or a `first-last` range, as a user writes it on the command line."""
    if "-" in text and "/" not in text:
        lo_text, hi_text = text.split("-", 1)
        lo, hi = ipaddress.ip_address(lo_text), ipaddress.ip_address(hi_text)
        if lo.version != hi.version or int(lo) > int(hi):
            raise ValueError(f"bad address range {text!r}")
        return AddressRange(lo.version, int(lo), int(hi))
    return AddressRange.of(ipaddress.ip_network(text, strict=False))

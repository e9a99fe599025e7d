"""PortSet algebra and notation; external address atoms, ranges and parsing.

"All connections" = every port of TCP, UDP and SCTP (docs/semantics.md §1.5, website
"Network traffic filtering"); address atoms are the maximal ranges no ipBlock boundary
cuts (exporter/core/addresses.py).
"""

from __future__ import annotations

import ipaddress
import itertools

import pytest

from exporter.core.addresses import AddressRange, IPBlock, atoms, merge_adjacent, parse_address
from exporter.core.model import Protocol
from exporter.core.ports import ALL, NONE, PortSet, parse_port_item

TCP, UDP, SCTP = Protocol.TCP, Protocol.UDP, Protocol.SCTP


def ps(*items: str) -> PortSet:
    total = NONE
    for item in items:
        total = total | parse_port_item(item)
    return total


# -- PortSet -------------------------------------------------------------------------------

UNION = [
    pytest.param(("TCP/80",), ("TCP/443",), ["TCP/80", "TCP/443"], id="disjoint"),
    pytest.param(("TCP/80-90",), ("TCP/85-100",), ["TCP/80-100"], id="overlapping-merge"),
    pytest.param(("TCP/80-90",), ("TCP/91-95",), ["TCP/80-95"], id="adjacent-merge"),
    pytest.param(("TCP/80-90",), ("TCP/92",), ["TCP/80-90", "TCP/92"], id="gap-kept"),
    pytest.param(("TCP/80-100",), ("TCP/85",), ["TCP/80-100"], id="contained"),
    pytest.param(("UDP/53",), ("TCP/53",), ["TCP/53", "UDP/53"], id="protocols-separate"),
    pytest.param(("SCTP/9",), ("UDP/9", "TCP/9"), ["TCP/9", "UDP/9", "SCTP/9"], id="order"),
    pytest.param((), ("TCP/1",), ["TCP/1"], id="none-is-identity"),
]


@pytest.mark.parametrize(("left", "right", "expected"), UNION)
def test_union(left: tuple[str, ...], right: tuple[str, ...], expected: list[str]) -> None:
    assert list((ps(*left) | ps(*right)).items()) == expected
    assert list((ps(*right) | ps(*left)).items()) == expected


INTERSECTION = [
    pytest.param(("TCP/80-90",), ("TCP/85-100",), [], ["TCP/85-90"], id="overlap"),
    pytest.param(("TCP/80",), ("TCP/81",), [], [], id="disjoint-empty"),
    pytest.param(("TCP/80",), ("UDP/80",), [], [], id="protocol-differs"),
    pytest.param(
        ("TCP/1-10", "TCP/20-30"), ("TCP/5-25",), [], ["TCP/5-10", "TCP/20-25"], id="two-ranges"
    ),
    pytest.param(("TCP/80", "UDP/53"), (), ["all"], ["TCP/80", "UDP/53"], id="all-is-identity"),
]


@pytest.mark.parametrize(("left", "right", "right_all", "expected"), INTERSECTION)
def test_intersection(
    left: tuple[str, ...], right: tuple[str, ...], right_all: list[str], expected: list[str]
) -> None:
    other = ALL if right_all else ps(*right)
    assert list((ps(*left) & other).items()) == expected
    assert list((other & ps(*left)).items()) == expected


def test_all_built_from_parts_is_all_and_intersects_like_all() -> None:
    built = ps("TCP/1-65535", "UDP/1-100", "UDP/101-65535", "SCTP/1-65535")
    assert built.is_all
    assert built == ALL
    assert str(built) == "all"
    assert built.to_json() == "all"
    assert (built & ps("UDP/53")) == ps("UDP/53")


@pytest.mark.parametrize(
    ("items", "is_all"),
    [
        pytest.param(("TCP/1-65535", "UDP/1-65535"), False, id="no-sctp"),
        pytest.param(("TCP/1-65535", "UDP/1-65535", "SCTP/2-65535"), False, id="sctp-missing-1"),
        pytest.param(("TCP/1-65535", "UDP/1-65535", "SCTP/1-65535"), True, id="every-protocol"),
        pytest.param((), False, id="none"),
    ],
)
def test_is_all(items: tuple[str, ...], is_all: bool) -> None:
    assert ps(*items).is_all is is_all


def test_items_json_and_str() -> None:
    ports = ps("UDP/53", "TCP/8000-9000", "TCP/443", "SCTP/3868")
    assert list(ports.items()) == ["TCP/443", "TCP/8000-9000", "UDP/53", "SCTP/3868"]
    assert ports.to_json() == ["TCP/443", "TCP/8000-9000", "UDP/53", "SCTP/3868"]
    assert str(ports) == "TCP/443, TCP/8000-9000, UDP/53, SCTP/3868"
    assert str(NONE) == "none"
    assert NONE.to_json() == []
    assert not NONE
    assert ports


def test_contains() -> None:
    ports = ps("TCP/8000-8100")
    assert ports.contains(TCP, 8000) and ports.contains(TCP, 8100) and ports.contains(TCP, 8050)
    assert not ports.contains(TCP, 7999) and not ports.contains(TCP, 8101)
    assert not ports.contains(UDP, 8050)


def test_of_and_whole() -> None:
    assert PortSet.of(UDP, 53) == PortSet(udp=((53, 53),))
    assert PortSet.of(SCTP, 1, 5) == PortSet(sctp=((1, 5),))
    assert PortSet.whole(TCP) == PortSet(tcp=((1, 65535),))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("TCP/80", PortSet(tcp=((80, 80),))),
        ("udp/53", PortSet(udp=((53, 53),))),
        ("SCTP/1000-2000", PortSet(sctp=((1000, 2000),))),
        ("TCP/1-65535", PortSet(tcp=((1, 65535),))),
    ],
)
def test_parse_port_item(text: str, expected: PortSet) -> None:
    assert parse_port_item(text) == expected


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("ICMP/8", "unknown protocol"),
        ("TCP/http", "bad port"),
        ("TCP/0", "out of range"),
        ("TCP/65536", "out of range"),
        ("TCP/90-80", "out of range"),
    ],
)
def test_parse_port_item_errors(text: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        parse_port_item(text)


# -- addresses -------------------------------------------------------------------------------


def net(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network(text)


@pytest.mark.parametrize(
    ("first", "last", "family", "text"),
    [
        pytest.param("10.0.0.0", "10.255.255.255", 4, "10.0.0.0/8", id="one-prefix-cidr"),
        pytest.param("0.0.0.0", "255.255.255.255", 4, "0.0.0.0/0", id="everything-v4"),
        pytest.param("203.0.113.7", "203.0.113.7", 4, "203.0.113.7/32", id="single-address"),
        pytest.param("10.0.0.0", "10.0.0.2", 4, "10.0.0.0-10.0.0.2", id="not-a-prefix-range"),
        pytest.param("11.0.0.0", "255.255.255.255", 4, "11.0.0.0-255.255.255.255", id="tail"),
        pytest.param("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 6, "::/0", id="v6-all"),
        pytest.param("2001:db8::", "2001:db8::5", 6, "2001:db8::-2001:db8::5", id="v6-range"),
    ],
)
def test_range_formatting(first: str, last: str, family: int, text: str) -> None:
    rng = AddressRange(family, int(ipaddress.ip_address(first)), int(ipaddress.ip_address(last)))
    assert str(rng) == text


@pytest.mark.parametrize(
    ("text", "first", "last"),
    [
        pytest.param("203.0.113.7", "203.0.113.7", "203.0.113.7", id="address"),
        pytest.param("10.0.0.0/8", "10.0.0.0", "10.255.255.255", id="cidr"),
        pytest.param("10.1.2.3/8", "10.0.0.0", "10.255.255.255", id="cidr-host-bits"),
        pytest.param("10.0.0.5-10.0.0.9", "10.0.0.5", "10.0.0.9", id="range"),
        pytest.param("2001:db8::1", "2001:db8::1", "2001:db8::1", id="v6-address"),
        pytest.param(
            "2001:db8::/32", "2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", id="v6-cidr"
        ),
    ],
)
def test_parse_address(text: str, first: str, last: str) -> None:
    rng = parse_address(text)
    assert rng.first == int(ipaddress.ip_address(first))
    assert rng.last == int(ipaddress.ip_address(last))
    assert rng.family == ipaddress.ip_address(first).version


@pytest.mark.parametrize(
    "text",
    ["10.0.0.9-10.0.0.5", "10.0.0.1-2001:db8::1", "not-an-address", "10.0.0.300", "shop/web"],
)
def test_parse_address_errors(text: str) -> None:
    with pytest.raises(ValueError):
        parse_address(text)


def test_atoms_split_at_every_cidr_and_except_boundary() -> None:
    blocks = [IPBlock(net("10.0.0.0/8"), (net("10.1.0.0/16"),)), IPBlock(net("192.168.0.0/16"))]
    got = [str(a) for a in atoms(blocks, [4])]
    assert got == [
        "0.0.0.0-9.255.255.255",
        "10.0.0.0/16",
        "10.1.0.0/16",
        "10.2.0.0-10.255.255.255",
        "11.0.0.0-192.167.255.255",
        "192.168.0.0/16",
        "192.169.0.0-255.255.255.255",
    ]
    # Atoms partition the whole space: contiguous, no overlap, first 0, last max.
    found = atoms(blocks, [4])
    assert found[0].first == 0 and found[-1].last == 2**32 - 1
    assert all(a.last + 1 == b.first for a, b in itertools.pairwise(found))


def test_atoms_without_blocks_is_each_whole_family() -> None:
    assert [str(a) for a in atoms([], [4, 6])] == ["0.0.0.0/0", "::/0"]
    # A block of a family not analysed adds no cut.
    assert [str(a) for a in atoms([IPBlock(net("2001:db8::/32"))], [4])] == ["0.0.0.0/0"]


def test_ip_block_contains_atoms_inside_cidr_outside_except() -> None:
    block = IPBlock(net("10.0.0.0/8"), (net("10.1.0.0/16"),))
    by_text = {str(a): block.contains(a) for a in atoms([block], [4])}
    assert by_text == {
        "0.0.0.0-9.255.255.255": False,
        "10.0.0.0/16": True,
        "10.1.0.0/16": False,
        "10.2.0.0-10.255.255.255": True,
        "11.0.0.0-255.255.255.255": False,
    }
    assert str(block) == "10.0.0.0/8 except 10.1.0.0/16"
    assert str(IPBlock(net("0.0.0.0/0"))) == "0.0.0.0/0"


def test_merge_adjacent_joins_touching_ranges_of_one_family() -> None:
    parts = [
        parse_address("10.0.0.0/9"),
        parse_address("10.128.0.0/9"),
        parse_address("12.0.0.0/8"),
    ]
    merged = merge_adjacent([*parts, parse_address("::/0")])
    assert [str(r) for r in merged] == ["10.0.0.0/8", "12.0.0.0/8", "::/0"]

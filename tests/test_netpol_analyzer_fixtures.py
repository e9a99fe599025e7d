"""netfence's connectivity list against np-guard/netpol-analyzer's golden outputs.

Each case in `tests/fixtures/netpol-analyzer/<case>/` has the analyzer's input
manifests in `input/` and its expected connectivity list in
`expected/connlist_output.txt` (see the SOURCES.md there: Apache-2.0,
np-guard/netpol-analyzer @ e54a33430edb). The expected lines encode upstream
Kubernetes NetworkPolicy semantics (docs/semantics.md §1), so for
NetworkPolicy-only cases netfence must produce exactly the same set of lines.

Format of a line: `SRC => DST : CONNS`, endpoints `ns/name[Kind]`,
`a.b.c.d-e.f.g.h[External]` or `{ingress-controller}`; CONNS `All Connections` or a
comma-separated list such as `TCP 80,UDP 80` / `TCP 1-8079,8081-65535` where a
token starting with a protocol name switches the protocol.

`{ingress-controller}` lines come from the exposure analysis (Ingress and OpenShift
Route backends admitted from an ingress controller pod of unknown namespace).

Cases with AdminNetworkPolicy/BaselineAdminNetworkPolicy objects (issue 4) are real
tests: the tiered engine (docs/semantics.md §2.2) gives the expected connections.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from exporter import usecases
from exporter.core.addresses import parse_address
from exporter.core.findings import InputError

FIXTURES = Path(__file__).parent / "fixtures" / "netpol-analyzer"
INGRESS_CONTROLLER = "{ingress-controller}"
PROTOCOLS = ("TCP", "UDP", "SCTP")

Conns = str | tuple[str, ...]
Line = tuple[str, str, Conns]

_ANP_KIND = re.compile(r"^\s*kind:\s*[\"']?(AdminNetworkPolicy|BaselineAdminNetworkPolicy)\b", re.M)
_INPUT_SUFFIXES = {".yaml", ".yml", ".json"}

# Input errors each case is expected to produce when loaded; every other case: none.
# netpol_named_port_test/pods.yaml deliberately misspells `containerPort` as
# `containerport` on pod-a's second port (upstream test data).
EXPECTED_INPUT_ERRORS: dict[str, list[tuple[str, ...]]] = {
    "netpol_named_port_test": [("Deployment helloworld/pod-a", "containerPort")],
}


# --- parsing the analyzer's text format -------------------------------------------


def parse_endpoint(text: str) -> str:
    text = text.strip()
    if text.endswith("[External]"):
        return str(parse_address(text.removesuffix("[External]")))
    return text


def parse_conns(text: str) -> Conns:
    """`All Connections` -> "all"; `TCP 80,UDP 53-54` -> ("TCP/80", "UDP/53-54")."""
    text = text.strip()
    if text == "All Connections":
        return "all"
    items: set[str] = set()
    proto: str | None = None
    for token in text.split(","):
        token = token.strip()
        head, _, rest = token.partition(" ")
        if head in PROTOCOLS:
            proto, token = head, rest.strip()
        if proto is None or not token:
            raise ValueError(f"cannot parse connections {text!r}")
        lo, _, hi = token.partition("-")
        int(lo), int(hi or lo)  # validate
        items.add(f"{proto}/{token}")
    return tuple(sorted(items))


def parse_connlist(path: Path) -> set[Line]:
    out: set[Line] = set()
    for raw in path.read_text().splitlines():
        if not raw.strip():
            continue
        pair, sep, conns = raw.rpartition(" : ")
        src, arrow, dst = pair.partition(" => ")
        if not sep or not arrow:
            raise ValueError(f"{path}: cannot parse line {raw!r}")
        out.add((parse_endpoint(src), parse_endpoint(dst), parse_conns(conns)))
    return out


def test_parse_conns_switches_protocol_per_token() -> None:
    assert parse_conns("All Connections") == "all"
    assert parse_conns("TCP 80,UDP 80") == ("TCP/80", "UDP/80")
    assert parse_conns("TCP 1-8079,8081-65535") == ("TCP/1-8079", "TCP/8081-65535")
    assert parse_conns("UDP 53,TCP 8000-9000,80") == ("TCP/80", "TCP/8000-9000", "UDP/53")
    assert parse_endpoint("0.0.0.0-255.255.255.255[External]") == "0.0.0.0/0"
    assert parse_endpoint("10.0.0.0-10.0.0.255[External]") == "10.0.0.0/24"
    assert parse_endpoint("10.0.0.1-10.0.0.2[External]") == "10.0.0.1-10.0.0.2"


# --- netfence's side ----------------------------------------------------------------


def netfence_lines(case: Path) -> tuple[set[Line], list[InputError]]:
    conns, errors = usecases.connections([case / "input"])
    lines: set[Line] = set()
    for c in conns:
        js = c.to_json()
        value = js["conns"]
        norm: Conns = "all" if value == "all" else tuple(sorted(value))  # type: ignore[arg-type]
        lines.add((str(js["src"]), str(js["dst"]), norm))
    return lines, errors


def has_admin_policies(case: Path) -> bool:
    return any(
        _ANP_KIND.search(f.read_text())
        for f in (case / "input").rglob("*")
        if f.is_file() and f.suffix in _INPUT_SUFFIXES
    )


def _fmt(line: Line) -> str:
    src, dst, conns = line
    return f"{src} => {dst} : {conns if isinstance(conns, str) else ', '.join(conns)}"


def assert_same(expected: set[Line], actual: set[Line], what: str) -> None:
    missing, extra = sorted(expected - actual, key=str), sorted(actual - expected, key=str)
    if missing or extra:
        msg = [f"{what}: {len(missing)} missing, {len(extra)} extra"]
        msg += ["missing (expected by netpol-analyzer, not produced by netfence):"]
        msg += [f"  - {_fmt(x)}" for x in missing] or ["  (none)"]
        msg += ["extra (produced by netfence, not expected):"]
        msg += [f"  + {_fmt(x)}" for x in extra] or ["  (none)"]
        pytest.fail("\n".join(msg), pytrace=False)


# --- parametrization ----------------------------------------------------------------

ALL_CASES = sorted(p for p in FIXTURES.iterdir() if p.is_dir() and (p / "input").is_dir())
CONNLIST_CASES = [p for p in ALL_CASES if (p / "expected" / "connlist_output.txt").is_file()]
INGRESS_CASES = [
    p
    for p in CONNLIST_CASES
    if any(
        s == INGRESS_CONTROLLER
        for s, _, _ in parse_connlist(p / "expected" / "connlist_output.txt")
    )
]


def _params(cases: list[Path], extra_marks: tuple[pytest.MarkDecorator, ...] = ()) -> list:
    out = []
    for case in cases:
        marks = list(extra_marks)
        out.append(pytest.param(case, id=case.name, marks=marks))
    return out


def test_fixture_inventory() -> None:
    """Guards against the parametrization silently shrinking (e.g. a bad copy)."""
    assert len(ALL_CASES) == 15
    assert {p.name for p in CONNLIST_CASES} >= {
        "acs-security-demos",
        "k8s_ingress_test",
        "minimal_test_in_ns",
        "netpol_named_port_test",
        "onlineboutique",
        "with_end_port_example",
    }
    assert {p.name for p in INGRESS_CASES} == {"acs-security-demos", "k8s_ingress_test"}
    assert {p.name for p in ALL_CASES if has_admin_policies(p)} == {
        "anp_np_banp_core_test",
        "anp_test_1_deny_traffic_at_cluster_level",
        "anp_test_2_allow_traffic_at_cluster_level",
        "anp_test_3_pass_traffic",
        "anp_with_np_and_banp_pass_test",
        "exposure_test_with_anp_1",
    }


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name) for c in ALL_CASES])
def test_loading_inputs_gives_only_the_expected_input_errors(case: Path) -> None:
    _, errors = usecases.connections([case / "input"])
    wanted = EXPECTED_INPUT_ERRORS.get(case.name, [])
    texts = [str(e) for e in errors]
    assert len(texts) == len(wanted), f"unexpected input errors: {texts}"
    for fragments, text in zip(wanted, texts, strict=True):
        for fragment in fragments:
            assert fragment in text, f"error {text!r} should mention {fragment!r}"


@pytest.mark.parametrize("case", _params(CONNLIST_CASES))
def test_connlist_matches_netpol_analyzer(case: Path) -> None:
    expected = parse_connlist(case / "expected" / "connlist_output.txt")
    actual, _ = netfence_lines(case)
    assert_same(expected, actual, f"{case.name} connectivity")


@pytest.mark.parametrize("case", _params(INGRESS_CASES))
def test_ingress_controller_lines_are_compared(case: Path) -> None:
    """The cases with routed backends really exercise the `{ingress-controller}` source."""
    actual, _ = netfence_lines(case)
    assert any(line[0] == INGRESS_CONTROLLER for line in actual)

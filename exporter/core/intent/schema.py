"""The intent file: what a platform team says it wants (docs/intent.md).

Parsing is hand-written over the plain mapping the YAML loader produced, not pydantic:
the core is standard library only (so `scan`, `serve`, tests and reports share it with
no third-party import), and the checks need the file's own vocabulary (exposure
categories, directions, port items) that a schema library would only wrap. Every
problem is collected with its key path (`guardrails[0].exceptions[1].expires`) and
reported at once; the loader adds the file and line.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from exporter.core.addresses import AddressRange
from exporter.core.exposure import Category
from exporter.core.findings import Severity
from exporter.core.model import Direction
from exporter.core.ports import ALL, PortSet, parse_port_item
from exporter.core.selectors import EVERYTHING, LabelSelector, SelectorError, parse_label_selector

UNOWNED = "unowned"
"""The team of a namespace no rule names a team for."""

_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_LABEL_KEY = re.compile(
    r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)


class IntentError(ValueError):
    """An unusable intent file: every problem, each `key: message` (the loader prefixes
    file and line)."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = list(problems)


@dataclass(frozen=True, slots=True)
class Problem:
    path: tuple[str | int, ...]
    message: str
    source: str = ""
    line: int | None = None

    @property
    def key(self) -> str:
        out = ""
        for part in self.path:
            out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
        return out or "(top level)"

    def __str__(self) -> str:
        where = self.source + (f":{self.line}" if self.line else "")
        return f"{where + ': ' if where else ''}{self.key}: {self.message}"


@dataclass(frozen=True, slots=True)
class Teams:
    """Who owns what. Precedence: the explicit map, then the namespace label, then the
    namespace annotation, else `unowned`. `pod_label` names the team of a workload
    inside a namespace (shared namespaces): its workload-level violations carry that
    team; the namespace itself keeps its own."""

    namespace_label: str | None = None
    namespace_annotation: str | None = None
    namespaces: Mapping[str, str] = field(default_factory=dict)
    pod_label: str | None = None


@dataclass(frozen=True, slots=True)
class GuardrailException:
    namespace: str
    reason: str
    owner: str
    expires: dt.date
    """The last day the exception holds (inclusive)."""
    object: str | None = None
    """Only violations on this object (`Service ns/name`, a workload `ns/name[Kind]`,
    or a bare name); None: every violation of the guardrail in the namespace."""

    def covers(self, namespace: str, obj: str, name: str) -> bool:
        return namespace == self.namespace and self.object in (None, obj, name)


@dataclass(frozen=True, slots=True)
class EgressAllow:
    cidr: AddressRange
    text: str
    ports: PortSet = ALL


@dataclass(frozen=True, slots=True)
class Guardrail:
    name: str
    namespace_selector: LabelSelector
    severity: Severity = Severity.HIGH
    description: str = ""
    require_default_deny: tuple[Direction, ...] = ()
    forbid_exposure: tuple[Category, ...] = ()
    internet_egress: tuple[EgressAllow, ...] | None = None
    """None: not checked; otherwise internet egress is forbidden except to these."""
    require_policy_for_every_pod: bool = False
    exceptions: tuple[GuardrailException, ...] = ()


@dataclass(frozen=True, slots=True)
class IntendedExposure:
    namespace: str
    name: str
    """Service or workload name; `*`: every one in the namespace."""
    exposures: tuple[str, ...]
    """Exposure categories, or `internet_egress` (a workload's egress to the internet)."""
    reason: str

    def covers(self, namespace: str, name: str, category: str) -> bool:
        return (
            namespace == self.namespace and self.name in ("*", name) and category in self.exposures
        )


@dataclass(frozen=True, slots=True)
class BaselineSpec:
    directory: str
    """As written in the file (the loader resolves it against the file's folder)."""
    namespace_selector: LabelSelector
    severity: Severity = Severity.HIGH


@dataclass(frozen=True, slots=True)
class Intent:
    teams: Teams = field(default_factory=Teams)
    namespace_labels: tuple[str, ...] = ()
    """Namespace labels copied onto netfence_namespace_info (allowlist)."""
    guardrails: tuple[Guardrail, ...] = ()
    intended_exposures: tuple[IntendedExposure, ...] = ()
    baseline: BaselineSpec | None = None

    def intended(self, namespace: str, name: str, category: str) -> IntendedExposure | None:
        return next(
            (i for i in self.intended_exposures if i.covers(namespace, name, category)), None
        )


Path_ = tuple[str | int, ...]
E = TypeVar("E")


class _Reader:
    """Typed access to the raw mapping, collecting problems instead of raising."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def bad(self, path: Path_, message: str) -> None:
        self.problems.append(Problem(path, message))

    def mapping(
        self, raw: object, path: Path_, known: Sequence[str], required: Sequence[str] = ()
    ) -> dict[str, Any]:
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            self.bad(path, f"expected a mapping, got {_type(raw)}")
            return {}
        for key in raw:
            if key not in known:
                self.bad((*path, str(key)), f"unknown key (known: {', '.join(known)})")
        for key in required:
            if key not in raw:
                self.bad((*path, key), "is required")
        return {k: v for k, v in raw.items() if k in known}

    def string(self, raw: object, path: Path_, pattern: re.Pattern[str] | None = None) -> str:
        if not isinstance(raw, str) or not raw.strip():
            self.bad(path, f"expected a non-empty string, got {_type(raw)}")
            return ""
        if pattern is not None and not pattern.match(raw):
            self.bad(path, f"{raw!r} is not a valid name (lowercase letters, digits, '-')")
        return raw

    def label_key(self, raw: object, path: Path_) -> str:
        value = self.string(raw, path)
        if value and not _LABEL_KEY.match(value):
            self.bad(path, f"{value!r} is not a valid label key")
        return value

    def strings(self, raw: object, path: Path_) -> list[str]:
        if raw is None:
            return []
        if isinstance(raw, str):
            raw = [raw]
        if not isinstance(raw, list):
            self.bad(path, f"expected a list, got {_type(raw)}")
            return []
        return [self.string(v, (*path, i)) for i, v in enumerate(raw)]

    def items(self, raw: object, path: Path_) -> list[tuple[Path_, object]]:
        if raw is None:
            return []
        if not isinstance(raw, list):
            self.bad(path, f"expected a list, got {_type(raw)}")
            return []
        return [((*path, i), v) for i, v in enumerate(raw)]

    def choices(self, raw: object, path: Path_, parse: Callable[[str], E], what: str) -> list[E]:
        out: list[E] = []
        for i, text in enumerate(self.strings(raw, path)):
            if not text:
                continue
            try:
                out.append(parse(text))
            except ValueError:
                self.bad((*path, i), f"{text!r} is not {what}")
        return out

    def selector(self, raw: object, path: Path_) -> LabelSelector:
        try:
            return parse_label_selector(raw if raw is not None else {}, ".".join(map(str, path)))
        except SelectorError as exc:
            self.bad(path, str(exc).split(": ", 1)[-1])
            return EVERYTHING

    def severity(self, raw: object, path: Path_) -> Severity:
        if raw is None:
            return Severity.HIGH
        try:
            return Severity(str(raw))
        except ValueError:
            self.bad(path, f"{raw!r} is not a severity ({', '.join(s.value for s in Severity)})")
            return Severity.HIGH

    def boolean(self, raw: object, path: Path_) -> bool:
        if raw is None:
            return False
        if not isinstance(raw, bool):
            self.bad(path, f"expected true or false, got {_type(raw)}")
            return False
        return raw

    def date(self, raw: object, path: Path_) -> dt.date:
        if isinstance(raw, dt.datetime):
            return raw.date()
        if isinstance(raw, dt.date):
            return raw
        try:
            return dt.date.fromisoformat(str(raw)) if isinstance(raw, str) else _raise()
        except ValueError:
            self.bad(path, f"{raw!r} is not a date (want YYYY-MM-DD)")
            return dt.date.min


def _raise() -> dt.date:
    raise ValueError


def _type(raw: object) -> str:
    return "nothing" if raw is None else type(raw).__name__


_TOP = (
    "apiVersion",
    "kind",
    "teams",
    "namespace_labels",
    "guardrails",
    "intended_exposures",
    "baseline",
)
_GUARDRAIL = (
    "name",
    "description",
    "severity",
    "namespace_selector",
    "require_default_deny",
    "forbid_exposure",
    "internet_egress",
    "require_policy_for_every_pod",
    "exceptions",
)
API_VERSION = "netfence.io/v1alpha1"
INTENDED_KINDS = (*(str(c) for c in Category), "internet_egress")


def _intended_kind(text: str) -> str:
    if text not in INTENDED_KINDS:
        raise ValueError(text)
    return text


KIND = "Intent"


def parse_intent(raw: object) -> Intent:
    """Validate the whole file; raise IntentError with every problem found."""
    r = _Reader()
    top = r.mapping(raw, (), _TOP)
    if "apiVersion" in top and top["apiVersion"] != API_VERSION:
        r.bad(("apiVersion",), f"{top['apiVersion']!r} is not supported (want {API_VERSION})")
    if "kind" in top and top["kind"] != KIND:
        r.bad(("kind",), f"{top['kind']!r} is not {KIND!r}")
    teams = _teams(r, top.get("teams"))
    labels = [
        r.label_key(v, ("namespace_labels", i))
        for i, v in enumerate(r.strings(top.get("namespace_labels"), ("namespace_labels",)))
    ]
    guardrails = [_guardrail(r, p, g) for p, g in r.items(top.get("guardrails"), ("guardrails",))]
    seen: set[str] = set()
    for i, g in enumerate(guardrails):
        if g.name and g.name in seen:
            r.bad(("guardrails", i, "name"), f"{g.name!r} is used by an earlier guardrail")
        seen.add(g.name)
    intended = [
        _intended(r, p, x)
        for p, x in r.items(top.get("intended_exposures"), ("intended_exposures",))
    ]
    baseline = _baseline(r, top["baseline"]) if top.get("baseline") is not None else None
    if r.problems:
        raise IntentError(r.problems)
    return Intent(teams, tuple(dict.fromkeys(labels)), tuple(guardrails), tuple(intended), baseline)


def _teams(r: _Reader, raw: object) -> Teams:
    path: Path_ = ("teams",)
    m = r.mapping(raw, path, ("namespace_label", "namespace_annotation", "namespaces", "pod_label"))
    explicit: dict[str, str] = {}
    names = m.get("namespaces")
    if names is not None and not isinstance(names, dict):
        r.bad((*path, "namespaces"), f"expected a mapping of namespace: team, got {_type(names)}")
    elif names:
        for ns, team in names.items():
            explicit[str(ns)] = r.string(team, (*path, "namespaces", str(ns)), _NAME)
    return Teams(
        namespace_label=r.label_key(m["namespace_label"], (*path, "namespace_label"))
        if "namespace_label" in m
        else None,
        namespace_annotation=r.label_key(m["namespace_annotation"], (*path, "namespace_annotation"))
        if "namespace_annotation" in m
        else None,
        namespaces=explicit,
        pod_label=r.label_key(m["pod_label"], (*path, "pod_label")) if "pod_label" in m else None,
    )


def _guardrail(r: _Reader, path: Path_, raw: object) -> Guardrail:
    m = r.mapping(raw, path, _GUARDRAIL, required=("name", "namespace_selector"))
    name = r.string(m["name"], (*path, "name"), _NAME) if "name" in m else ""
    egress: tuple[EgressAllow, ...] | None = None
    if "internet_egress" in m:
        e = r.mapping(m["internet_egress"], (*path, "internet_egress"), ("allow",))
        egress = tuple(
            a
            for p, x in r.items(e.get("allow"), (*path, "internet_egress", "allow"))
            if (a := _egress_allow(r, p, x)) is not None
        )
    g = Guardrail(
        name=name,
        namespace_selector=r.selector(m.get("namespace_selector"), (*path, "namespace_selector")),
        severity=r.severity(m.get("severity"), (*path, "severity")),
        description=str(m.get("description") or ""),
        require_default_deny=tuple(
            dict.fromkeys(
                r.choices(
                    m.get("require_default_deny"),
                    (*path, "require_default_deny"),
                    Direction,
                    "a direction (ingress, egress)",
                )
            )
        ),
        forbid_exposure=tuple(
            dict.fromkeys(
                r.choices(
                    m.get("forbid_exposure"),
                    (*path, "forbid_exposure"),
                    Category,
                    "an exposure category (" + ", ".join(Category) + ")",
                )
            )
        ),
        internet_egress=egress,
        require_policy_for_every_pod=r.boolean(
            m.get("require_policy_for_every_pod"), (*path, "require_policy_for_every_pod")
        ),
        exceptions=tuple(
            _exception(r, p, x) for p, x in r.items(m.get("exceptions"), (*path, "exceptions"))
        ),
    )
    rules = (
        "require_default_deny",
        "forbid_exposure",
        "internet_egress",
        "require_policy_for_every_pod",
    )
    if isinstance(raw, dict) and not any(k in m for k in rules):
        r.bad(path, f"a guardrail needs at least one rule ({', '.join(rules)})")
    return g


def _egress_allow(r: _Reader, path: Path_, raw: object) -> EgressAllow | None:
    m = r.mapping(raw, path, ("cidr", "ports"), required=("cidr",))
    if "cidr" not in m:
        return None
    text = r.string(m["cidr"], (*path, "cidr"))
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        r.bad((*path, "cidr"), f"{text!r} is not a CIDR")
        return None
    ports = ALL
    if m.get("ports") is not None:
        ports = PortSet()
        for i, item in enumerate(r.strings(m["ports"], (*path, "ports"))):
            try:
                ports = ports | parse_port_item(item if "/" in item else f"TCP/{item}")
            except ValueError as exc:
                r.bad((*path, "ports", i), f"{exc} (want e.g. TCP/443)")
    return EgressAllow(AddressRange.of(net), str(net), ports)


def _exception(r: _Reader, path: Path_, raw: object) -> GuardrailException:
    m = r.mapping(
        raw,
        path,
        ("namespace", "object", "reason", "owner", "expires"),
        required=("namespace", "reason", "owner", "expires"),
    )
    return GuardrailException(
        namespace=r.string(m["namespace"], (*path, "namespace")) if "namespace" in m else "",
        reason=r.string(m["reason"], (*path, "reason")) if "reason" in m else "",
        owner=r.string(m["owner"], (*path, "owner")) if "owner" in m else "",
        expires=r.date(m["expires"], (*path, "expires")) if "expires" in m else dt.date.min,
        object=r.string(m["object"], (*path, "object")) if "object" in m else None,
    )


def _intended(r: _Reader, path: Path_, raw: object) -> IntendedExposure:
    m = r.mapping(
        raw,
        path,
        ("namespace", "name", "exposure", "reason"),
        required=("namespace", "name", "exposure", "reason"),
    )
    return IntendedExposure(
        namespace=r.string(m["namespace"], (*path, "namespace")) if "namespace" in m else "",
        name=r.string(m["name"], (*path, "name")) if "name" in m else "",
        exposures=tuple(
            r.choices(
                m.get("exposure"),
                (*path, "exposure"),
                _intended_kind,
                "an exposure category (" + ", ".join(INTENDED_KINDS) + ")",
            )
        ),
        reason=r.string(m["reason"], (*path, "reason")) if "reason" in m else "",
    )


def _baseline(r: _Reader, raw: object) -> BaselineSpec:
    path: Path_ = ("baseline",)
    m = r.mapping(
        raw, path, ("directory", "namespace_selector", "severity"), required=("directory",)
    )
    return BaselineSpec(
        directory=r.string(m["directory"], (*path, "directory")) if "directory" in m else "",
        namespace_selector=r.selector(m.get("namespace_selector"), (*path, "namespace_selector")),
        severity=r.severity(m.get("severity"), (*path, "severity")),
    )

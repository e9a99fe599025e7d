"""Which policies allow traffic: Hubble names them on every forwarded policy verdict
(`ingress_allowed_by` / `egress_allowed_by`), so the quarterly review can ask "which
policies allowed nothing in the last 90 days?" (docs/hubble.md, "Stale policies").

Policies are keyed by (namespace, name) -- `namespace` empty when cluster-wide -- as
Hubble names them: its `kind` is only sent by Cilium 1.17 and later. Two policies of
different kinds with one name in one namespace are then one key: a use of either marks
both used, so the answer can err only towards "used", never claim a used policy stale.

Nothing is claimed before the flows seen cover the whole window: until then a policy
without a recorded use is *unknown*, not unused.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from exporter.core.findings import Check, Finding, Severity
from exporter.core.model import Direction
from exporter.core.policies import Action, Policy

PolicyKey = tuple[str, str]
"""(namespace or "" when cluster-wide, name)."""

HUBBLE_KINDS = frozenset({"NetworkPolicy", "CiliumNetworkPolicy", "CiliumClusterwideNetworkPolicy"})
"""The kinds Cilium enforces, and so the only ones Hubble can name as allowing a flow."""

OTHER = "other"
DEFAULT_WINDOW_SECONDS = 90 * 86_400.0


def allowing_policies(policies: Iterable[Policy]) -> dict[PolicyKey, str]:
    """The policies whose use Hubble can report -- of kinds Cilium enforces, with at
    least one allow rule in effect -- as (namespace, name) -> kind. A policy that only
    isolates (default-deny) allows nothing by design and is never a stale candidate."""
    out: dict[PolicyKey, str] = {}
    for p in policies:
        if p.ref.kind in HUBBLE_KINDS and any(
            r.action is Action.ALLOW for d in Direction for r in p.effective_rules(d)
        ):
            out[(p.ref.namespace or "", p.ref.name)] = p.ref.kind
    return out


def policy_label(key: PolicyKey) -> str:
    """`namespace/name`, or `name` when cluster-wide (as netfence_denied_flows_total)."""
    ns, name = key
    return f"{ns}/{name}" if ns else name


class BoundedPolicyCounts:
    """Allowed connections per policy as bounded, monotonic counter labels: the `top_n`
    busiest policies of each namespace have their own label (sticky once admitted), the
    rest count under `other`. A policy admitted later leaves what `other` had already
    exported for it there, and counts the rest under its own label."""

    def __init__(self, top_n: int) -> None:
        self.top_n = top_n
        self._lock = threading.Lock()
        self._admitted: dict[str, dict[str, int]] = {}
        """namespace -> admitted label -> what `other` had exported for it (kept there)."""
        self._in_other: dict[str, dict[str, int]] = {}
        """namespace -> label not admitted -> its count at the last collection."""

    def counts(self, use: Mapping[PolicyKey, tuple[int, int]]) -> dict[tuple[str, str], int]:
        """(namespace, policy label or `other`) -> allowed connections."""
        per: dict[str, dict[str, int]] = {}
        for key, (count, _end) in use.items():
            per.setdefault(key[0], {})[policy_label(key)] = count
        out: dict[tuple[str, str], int] = {}
        with self._lock:
            for gone in set(self._admitted) - set(per):
                del self._admitted[gone]  # a forgotten namespace starts over
                self._in_other.pop(gone, None)
            for ns, counts in per.items():
                admitted = self._admitted.setdefault(ns, {})
                shown = self._in_other.setdefault(ns, {})
                busiest = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
                for label, _n in busiest:
                    if len(admitted) >= self.top_n:
                        break
                    if label not in admitted:
                        admitted[label] = shown.pop(label, 0)
                other = 0
                for label, n in counts.items():
                    base = admitted.get(label)
                    if base is None:
                        other += n
                        shown[label] = n
                    else:
                        other += min(base, n)
                        out[(ns, label)] = max(n - base, 0)
                if other or len(admitted) < len(counts):
                    out[(ns, OTHER)] = other
        return out


@dataclass(frozen=True, slots=True)
class StalePolicies:
    """The answer for one cluster: unknown (`known` False) until flows cover the window."""

    known: bool
    observed_since: int | None
    window_seconds: float
    unused: tuple[PolicyKey, ...] = ()
    candidates: tuple[PolicyKey, ...] = ()

    def by_namespace(self) -> dict[str, int]:
        """namespace -> unused policies (0 for namespaces with candidates and none unused)."""
        out = dict.fromkeys((k[0] for k in self.candidates), 0)
        for ns, _name in self.unused:
            out[ns] += 1
        return out

    def findings(self, kinds: Mapping[PolicyKey, str]) -> list[Finding]:
        days = round(self.window_seconds / 86_400)
        return [
            Finding(
                Check.UNUSED_POLICY,
                Severity.LOW,
                key[0],
                f"{kinds.get(key, 'Policy')} {policy_label(key)}",
                f"allowed no connection Hubble saw in the last {days} days "
                "(review whether it is still needed)",
            )
            for key in self.unused
        ]


def stale_policies(
    candidates: Iterable[PolicyKey],
    last_used: Mapping[PolicyKey, int],
    observed_since: int | None,
    now: float,
    window_seconds: float = DEFAULT_WINDOW_SECONDS,
) -> StalePolicies:
    """`candidates`: the cluster's policies with an allow rule, of kinds Cilium enforces.
    `last_used`: end of the last hour each one allowed a connection (store and memory).
    `observed_since`: when flows were first counted for the cluster (None: never)."""
    keys = tuple(sorted(set(candidates)))
    if observed_since is None or now - observed_since < window_seconds:
        return StalePolicies(False, observed_since, window_seconds, candidates=keys)
    since = now - window_seconds
    unused = tuple(k for k in keys if last_used.get(k, 0) < since)
    return StalePolicies(True, observed_since, window_seconds, unused, keys)

"""The aggregator: one dict increment per decoded flow on the hot path; bounded labels,
hourly roll-ups and snapshots when asked (see the package docstring)."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from exporter.core.flows.vocabulary import (
    AUDIT,
    DEFAULT_DENY,
    DIRECTIONS,
    DROP_REASONS,
    DROPPED,
    EVENT_DROP,
    EVENT_L7,
    EVENT_POLICY_VERDICT,
    HOUR,
    INGRESS,
    LOST_EVENT_SOURCES,
    MATCH_ALL,
    OTHER,
    OTHER_NAMESPACE,
    VERDICTS,
)

# -- hot path keys ------------------------------------------------------------------------
# One dict for all three event kinds:
#   (kind, hour, namespace, workload, direction, verdict, detail, attribution, peer) -> n
# kind 5 (connection): detail = drop reason when dropped, else policy_match_type;
#                      attribution = policy ("" when none)
# kind 1 (drop):       verdict = 2, detail = drop reason, attribution = ""
# kind 129 (l7):       detail = 0, attribution = L7 protocol ("http", "dns", "kafka", "")
Key = tuple[int, int, str, str, int, int, int, str, str]


DEFAULT_TOP_N = 20
MAX_POLICIES = 100_000
"""Distinct allowing policies an aggregator keeps (a cluster's policies, with room)."""
DEFAULT_NAMESPACE_TTL_SECONDS = 86_400.0


@dataclass(frozen=True, slots=True)
class FlowsConfig:
    cluster: str
    shard: str = "0"
    """Label of this consumer process when a cluster's stream is split (docs/hubble.md)."""
    top_n: int = DEFAULT_TOP_N
    """Workloads and policies per namespace with their own label; the rest is `other`."""
    max_namespaces: int = 2000
    """Enforcing namespaces with their own label; the rest is `_other` (docs/metrics.md)."""
    matrix_top_n: int = 500
    """Namespace pairs of `namespace_flows_total` with both names; beyond them the peer
    namespace is `_other`."""
    namespace_ttl_seconds: float = DEFAULT_NAMESPACE_TTL_SECONDS
    """Series of a namespace without flows for this long are dropped."""
    rollup_grace_seconds: float = 300.0
    """An hour is rolled up into the store this long after it ended (late flows)."""
    signal_window_seconds: float = 86_400.0
    """Window of `default_deny_disagreements`."""


@dataclass(frozen=True, slots=True)
class RollupRow:
    """One hour of one series, for the store (adds up: late flows give a second row)."""

    hour: int
    """Start of the hour, seconds since the epoch."""
    kind: str
    """connection | drop | l7"""
    namespace: str
    direction: str
    verdict: str
    reason: str
    policy: str
    peer: str
    """The other side: its namespace, or reserved:world, reserved:host, ..."""
    count: int


_KIND_NAMES = {EVENT_POLICY_VERDICT: "connection", EVENT_DROP: "drop", EVENT_L7: "l7"}

Labels = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class FlowSnapshot:
    """Counters since the process started (monotonic), bounded labels. Label tuples are
    in the order of the `*_LABELS` constants below; cluster and shard are implied."""

    cluster: str
    shard: str
    policy_verdicts: Mapping[Labels, int] = field(default_factory=dict)
    denied: Mapping[Labels, int] = field(default_factory=dict)
    workload_verdicts: Mapping[Labels, int] = field(default_factory=dict)
    dropped_packets: Mapping[Labels, int] = field(default_factory=dict)
    l7: Mapping[Labels, int] = field(default_factory=dict)
    namespace_matrix: Mapping[Labels, int] = field(default_factory=dict)
    lost_events: Mapping[str, int] = field(default_factory=dict)
    flows: int = 0
    """Events counted (connections + drops + L7 requests)."""
    ignored: int = 0
    """Events received that are not counted (other types, L7 responses)."""

    def to_json(self) -> dict[str, object]:
        """Stable JSON form (`netfence flows replay -o json`): one list per family, each
        row its labels plus `count`, sorted by labels."""

        def rows(data: Mapping[Labels, int], names: tuple[str, ...]) -> list[dict[str, object]]:
            return [
                {**dict(zip(names, k, strict=True)), "count": v} for k, v in sorted(data.items())
            ]

        return {
            "cluster": self.cluster,
            "shard": self.shard,
            "flows": self.flows,
            "ignored": self.ignored,
            "policy_verdicts": rows(self.policy_verdicts, POLICY_VERDICTS_LABELS),
            "denied": rows(self.denied, DENIED_LABELS),
            "workload_verdicts": rows(self.workload_verdicts, WORKLOAD_VERDICTS_LABELS),
            "dropped_packets": rows(self.dropped_packets, DROPPED_PACKETS_LABELS),
            "l7": rows(self.l7, L7_LABELS),
            "namespace_matrix": rows(self.namespace_matrix, MATRIX_LABELS),
            "lost_events": dict(sorted(self.lost_events.items())),
        }


POLICY_VERDICTS_LABELS = ("namespace", "direction", "verdict")
DENIED_LABELS = ("namespace", "direction", "reason", "policy")
WORKLOAD_VERDICTS_LABELS = ("namespace", "workload", "direction", "verdict", "policy")
DROPPED_PACKETS_LABELS = ("namespace", "workload", "direction", "reason")
L7_LABELS = ("namespace", "workload", "direction", "verdict", "protocol")
MATRIX_LABELS = ("source_namespace", "destination_namespace", "direction", "verdict")


class _Bounded:
    """Maps full-resolution counters onto bounded labels, keeping every output monotonic.

    Each full key is mapped to a label tuple; when the mapping of a key changes (its
    workload or policy was admitted), what it had counted so far stays with the old
    label (`frozen`) and the new label counts from there (`base`)."""

    __slots__ = ("frozen", "mapped")

    def __init__(self) -> None:
        self.mapped: dict[Key, tuple[Labels, int]] = {}
        self.frozen: dict[Labels, int] = {}

    def add(self, out: dict[Labels, int], key: Key, labels: Labels, count: int) -> None:
        prev = self.mapped.get(key)
        if prev is None:
            self.mapped[key] = (labels, 0)
            base = 0
        elif prev[0] != labels:
            old, base = prev
            self.frozen[old] = self.frozen.get(old, 0) + count - base
            base = count
            self.mapped[key] = (labels, base)
        else:
            base = prev[1]
        if count - base:
            out[labels] = out.get(labels, 0) + count - base

    def finish(self, out: dict[Labels, int]) -> dict[Labels, int]:
        for labels, n in self.frozen.items():
            out[labels] = out.get(labels, 0) + n
        return out

    def forget(self, namespaces: set[str]) -> None:
        self.mapped = {k: v for k, v in self.mapped.items() if k[2] not in namespaces}
        self.frozen = {k: v for k, v in self.frozen.items() if k[0] not in namespaces}


class Aggregator:
    def __init__(self, config: FlowsConfig) -> None:
        self.config = config
        self._counts: dict[Key, int] = {}
        """Open hours (not yet rolled up)."""
        self._totals: dict[Key, int] = {}
        """Closed hours, with the hour set to 0."""
        self._lost: dict[int, int] = {}
        self._ignored = 0
        self._lock = threading.Lock()
        self._snap_lock = threading.Lock()
        self._rollups: list[RollupRow] = []
        self._last_used: dict[tuple[str, str, str], int] = {}
        """(namespace, workload, peer) -> end of the last hour with an admitted ingress."""
        self._policy_use: dict[tuple[str, str], tuple[int, int]] = {}
        """(namespace, name) of a policy Hubble named as allowing a connection ->
        (connections it allowed, end of the last hour it did); see core/policy_use.py."""
        self._signals: dict[tuple[int, str, str], int] = {}
        """(hour, namespace, direction) -> connections forwarded by allow-all or audit."""
        self._ns_seen: dict[str, float] = {}
        self._ns_counts: dict[str, int] = {}
        self._forget: set[str] = set()
        self._admitted_workloads: dict[str, set[str]] = {}
        self._admitted_policies: dict[str, set[str]] = {}
        self._admitted_namespaces: set[str] = set()
        self._admitted_pairs: set[tuple[str, str]] = set()
        self._bounded: dict[str, _Bounded] = {}

    # -- hot path (consumer thread) ------------------------------------------------------

    @property
    def counts(self) -> dict[Key, int]:
        """The live dict of open hours, for sources that inline the increment of
        `connection`/`drop`/`l7` (same `Key` layout; consumer thread only). It is the same
        object for the aggregator's lifetime."""
        return self._counts

    def connection(
        self,
        seconds: int,
        namespace: str,
        workload: str,
        direction: int,
        verdict: int,
        detail: int,
        policy: str,
        peer: str,
    ) -> None:
        """A policy-verdict event. `detail`: the drop reason when dropped, else the
        policy_match_type. `peer`: the other side's namespace or `reserved_peer(...)`."""
        key = (5, seconds // HOUR, namespace, workload, direction, verdict, detail, policy, peer)
        c = self._counts
        c[key] = c.get(key, 0) + 1

    def drop(
        self, seconds: int, namespace: str, workload: str, direction: int, reason: int, peer: str
    ) -> None:
        """A drop event (one per dropped packet)."""
        key = (1, seconds // HOUR, namespace, workload, direction, DROPPED, reason, "", peer)
        c = self._counts
        c[key] = c.get(key, 0) + 1

    def l7(
        self,
        seconds: int,
        namespace: str,
        workload: str,
        direction: int,
        verdict: int,
        protocol: str,
        peer: str,
    ) -> None:
        """An L7 request record (responses are not counted: one verdict per request)."""
        key = (129, seconds // HOUR, namespace, workload, direction, verdict, 0, protocol, peer)
        c = self._counts
        c[key] = c.get(key, 0) + 1

    def allowed_by(self, seconds: int, namespace: str, name: str) -> None:
        """A forwarded connection that Hubble says this policy allowed (one call per
        policy it names). At most MAX_POLICIES distinct policies are kept."""
        key = (namespace, name)
        use = self._policy_use
        prev = use.get(key)
        end = (seconds // HOUR + 1) * HOUR
        if prev is None:
            if len(use) < MAX_POLICIES:
                use[key] = (1, end)
        else:
            use[key] = (prev[0] + 1, end if end > prev[1] else prev[1])

    def policy_use(self) -> dict[tuple[str, str], tuple[int, int]]:
        """(namespace, name) -> (connections allowed, end of the last hour). Any thread."""
        return dict(self._policy_use)

    def ignore(self, n: int = 1) -> None:
        self._ignored += n

    def lost(self, source: int, events: int) -> None:
        """Relay or Hubble reported `events` lost (ring buffer overrun, queue full)."""
        self._lost[source] = self._lost.get(source, 0) + events

    # -- maintenance (consumer thread) ---------------------------------------------------

    def forget_namespaces(self, namespaces: Iterable[str]) -> None:
        """Namespaces deleted from the cluster (from a scan): their series go at `tick`.
        Safe from any thread."""
        self._forget = self._forget | set(namespaces)

    def tick(self, now: float) -> None:
        """Roll up closed hours, expire idle or deleted namespaces. Consumer thread only."""
        closed_before = int((now - self.config.rollup_grace_seconds) // HOUR)
        closed = [k for k in self._counts if k[1] < closed_before]
        forget, self._forget = self._forget, set()
        ttl = self.config.namespace_ttl_seconds
        forget |= {ns for ns, seen in self._ns_seen.items() if now - seen > ttl}
        if not closed and not forget:
            return
        with self._lock:
            rows = self._close(closed)
            if forget:
                self._drop_namespaces(forget)
        self._rollups.extend(rows)

    def _close(self, keys: list[Key]) -> list[RollupRow]:
        rows: dict[tuple[int, str, str, str, str, str, str, str], int] = {}
        totals = self._totals
        for key in keys:
            n = self._counts.pop(key)
            kind, hour, ns, wl, direction, verdict, detail, attribution, peer = key
            total_key = (kind, 0, ns, wl, direction, verdict, detail, attribution, peer)
            totals[total_key] = totals.get(total_key, 0) + n
            reason = DROP_REASONS.get(detail, str(detail)) if verdict == DROPPED else ""
            policy = attribution if kind != EVENT_L7 else ""
            row_key = (
                hour,
                _KIND_NAMES[kind],
                ns,
                DIRECTIONS.get(direction, "unknown"),
                VERDICTS.get(verdict, str(verdict)),
                reason,
                policy,
                peer,
            )
            rows[row_key] = rows.get(row_key, 0) + n
            self._observe_hour(key, n)
        return [RollupRow(k[0] * HOUR, *k[1:], count=n) for k, n in sorted(rows.items())]

    def _observe_hour(self, key: Key, n: int) -> None:
        kind, hour, ns, wl, direction, verdict, detail, _attr, peer = key
        if kind != EVENT_POLICY_VERDICT or verdict == DROPPED:
            return
        if direction == INGRESS:
            used = (ns, wl, peer)
            end = (hour + 1) * HOUR
            if self._last_used.get(used, 0) < end:
                self._last_used[used] = end
        if verdict == AUDIT or detail == MATCH_ALL:
            sig = (hour, ns, DIRECTIONS.get(direction, "unknown"))
            self._signals[sig] = self._signals.get(sig, 0) + n

    def _drop_namespaces(self, namespaces: set[str]) -> None:
        self._totals = {k: v for k, v in self._totals.items() if k[2] not in namespaces}
        for key in [k for k in self._counts if k[2] in namespaces]:
            del self._counts[key]  # in place: sources hold a reference (`counts`)
        self._last_used = {k: v for k, v in self._last_used.items() if k[0] not in namespaces}
        self._signals = {k: v for k, v in self._signals.items() if k[1] not in namespaces}
        self._policy_use = {k: v for k, v in self._policy_use.items() if k[0] not in namespaces}
        with self._snap_lock:
            self._admitted_namespaces -= namespaces
            self._admitted_pairs = {
                p for p in self._admitted_pairs if p[0] not in namespaces and p[1] not in namespaces
            }
            for ns in namespaces:
                self._ns_seen.pop(ns, None)
                self._ns_counts.pop(ns, None)
                self._admitted_workloads.pop(ns, None)
                self._admitted_policies.pop(ns, None)
            for bounded in self._bounded.values():
                bounded.forget(namespaces)

    def take_rollups(self) -> list[RollupRow]:
        """Rows of the hours closed since the last call (for the store). Any thread."""
        rows, self._rollups = self._rollups, []
        return rows

    def flush(self) -> None:
        """Close every open hour now (end of a replay, shutdown)."""
        with self._lock:
            rows = self._close(list(self._counts))
        self._rollups.extend(rows)

    # -- reading (any thread) ------------------------------------------------------------

    def _merged(self) -> dict[Key, int]:
        with self._lock:
            counts = self._counts.copy()
            merged = self._totals.copy()
        for (kind, _h, ns, wl, direction, verdict, detail, attribution, peer), n in counts.items():
            key = (kind, 0, ns, wl, direction, verdict, detail, attribution, peer)
            merged[key] = merged.get(key, 0) + n
        return merged

    def last_used(self) -> dict[tuple[str, str, str], int]:
        """(namespace, workload, peer) -> end of the last hour (epoch seconds) in which an
        ingress connection to the workload from that peer was admitted."""
        with self._lock:
            used = dict(self._last_used)
            open_keys = list(self._counts)
        for kind, hour, ns, wl, direction, verdict, _d, _a, peer in open_keys:
            if kind == EVENT_POLICY_VERDICT and direction == INGRESS and verdict != DROPPED:
                end = (hour + 1) * HOUR
                if used.get((ns, wl, peer), 0) < end:
                    used[(ns, wl, peer)] = end
        return used

    def signals(self, now: float) -> dict[tuple[str, str], int]:
        """(namespace, direction) -> connections admitted by an allow-all rule or in audit
        mode during the signal window (input of `default_deny_disagreements`)."""
        since = int((now - self.config.signal_window_seconds) // HOUR)
        with self._lock:
            sig = {k: v for k, v in self._signals.items() if k[0] >= since}
            counts = [(k, v) for k, v in self._counts.items() if k[1] >= since]
        out: dict[tuple[str, str], int] = {}
        for (_h, ns, dname), n in sig.items():
            out[(ns, dname)] = out.get((ns, dname), 0) + n
        for (kind, _h, ns, _w, direction, verdict, detail, _a, _p), n in counts:
            if kind != EVENT_POLICY_VERDICT or verdict == DROPPED:
                continue
            if verdict == AUDIT or detail == MATCH_ALL:
                key = (ns, DIRECTIONS.get(direction, "unknown"))
                out[key] = out.get(key, 0) + n
        return out

    def snapshot(self, now: float) -> FlowSnapshot:
        merged = self._merged()
        with self._snap_lock:
            return self._snapshot(merged, now)

    def _snapshot(self, merged: dict[Key, int], now: float) -> FlowSnapshot:
        top_n = self.config.top_n
        ns_counts: dict[str, int] = {}
        wl_counts: dict[str, dict[str, int]] = {}
        pol_counts: dict[str, dict[str, int]] = {}
        pair_counts: dict[tuple[str, str], int] = {}
        for key, n in merged.items():
            ns, wl, attribution = key[2], key[3], key[7]
            ns_counts[ns] = ns_counts.get(ns, 0) + n
            if key[0] == EVENT_POLICY_VERDICT and not key[8].startswith("reserved:"):
                pair = (key[8], ns) if key[4] == INGRESS else (ns, key[8])
                pair_counts[pair] = pair_counts.get(pair, 0) + n
            per = wl_counts.setdefault(ns, {})
            per[wl] = per.get(wl, 0) + n
            if key[0] == EVENT_POLICY_VERDICT and attribution and attribution != DEFAULT_DENY:
                pp = pol_counts.setdefault(ns, {})
                pp[attribution] = pp.get(attribution, 0) + n
        for ns, n in ns_counts.items():
            if self._ns_counts.get(ns) != n:
                self._ns_counts[ns] = n
                self._ns_seen[ns] = now
            elif ns not in self._ns_seen:
                self._ns_seen[ns] = now
        admitted_ns = self._admitted_namespaces
        _admit_top(admitted_ns, ns_counts, self.config.max_namespaces)
        _admit_top(
            self._admitted_pairs,
            {p: n for p, n in pair_counts.items() if p[0] in admitted_ns or p[1] in admitted_ns},
            self.config.matrix_top_n,
        )
        _admit(self._admitted_workloads, wl_counts, top_n)
        _admit(self._admitted_policies, pol_counts, top_n)

        def ns_label(ns: str) -> str:
            return ns if ns in admitted_ns else OTHER_NAMESPACE

        def wl_label(ns: str, wl: str) -> str:
            if not wl or (ns in admitted_ns and wl in self._admitted_workloads.get(ns, ())):
                return wl
            return OTHER

        def pol_label(ns: str, pol: str) -> str:
            if not pol or pol == DEFAULT_DENY:
                return pol
            if ns in admitted_ns and pol in self._admitted_policies.get(ns, ()):
                return pol
            return OTHER

        def peer_label(pair: tuple[str, str], peer: str) -> str:
            if peer.startswith("reserved:") or pair in self._admitted_pairs:
                return peer
            return OTHER_NAMESPACE

        b = self._bounded
        denied_b = b.setdefault("denied", _Bounded())
        wv_b = b.setdefault("workload_verdicts", _Bounded())
        dp_b = b.setdefault("dropped_packets", _Bounded())
        l7_b = b.setdefault("l7", _Bounded())
        pv_b = b.setdefault("policy_verdicts", _Bounded())
        matrix_b = b.setdefault("matrix", _Bounded())
        policy_verdicts: dict[Labels, int] = {}
        denied: dict[Labels, int] = {}
        workload_verdicts: dict[Labels, int] = {}
        dropped: dict[Labels, int] = {}
        l7: dict[Labels, int] = {}
        matrix: dict[Labels, int] = {}
        flows = 0
        for key, n in merged.items():
            kind, _h, ns, wl, direction, verdict, detail, attribution, peer = key
            flows += n
            dname = DIRECTIONS.get(direction, "unknown")
            vname = VERDICTS.get(verdict, str(verdict))
            nsl = ns_label(ns)
            if kind == EVENT_POLICY_VERDICT:
                pv_b.add(policy_verdicts, key, (nsl, dname, vname), n)
                pol = pol_label(ns, attribution)
                if verdict == DROPPED:
                    reason = DROP_REASONS.get(detail, str(detail))
                    denied_b.add(denied, key, (nsl, dname, reason, pol), n)
                wv_b.add(workload_verdicts, key, (nsl, wl_label(ns, wl), dname, vname, pol), n)
                if direction == INGRESS:
                    mk = (peer_label((peer, ns), peer), nsl, dname, vname)
                else:
                    mk = (nsl, peer_label((ns, peer), peer), dname, vname)
                matrix_b.add(matrix, key, mk, n)
            elif kind == EVENT_DROP:
                reason = DROP_REASONS.get(detail, str(detail))
                dp_b.add(dropped, key, (nsl, wl_label(ns, wl), dname, reason), n)
            else:
                l7_b.add(l7, key, (nsl, wl_label(ns, wl), dname, vname, attribution), n)
        return FlowSnapshot(
            cluster=self.config.cluster,
            shard=self.config.shard,
            policy_verdicts=pv_b.finish(policy_verdicts),
            denied=denied_b.finish(denied),
            workload_verdicts=wv_b.finish(workload_verdicts),
            dropped_packets=dp_b.finish(dropped),
            l7=l7_b.finish(l7),
            namespace_matrix=matrix_b.finish(matrix),
            lost_events={LOST_EVENT_SOURCES.get(s, str(s)): n for s, n in self._lost.items()},
            flows=flows,
            ignored=self._ignored,
        )


_Name = TypeVar("_Name", str, tuple[str, str])


def _admit_top(admitted: set[_Name], counts: dict[_Name, int], limit: int) -> None:
    """Sticky top-N over one set: free slots go to the busiest names not admitted yet."""
    if len(admitted) >= limit:
        return
    for name, _n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        if len(admitted) >= limit:
            break
        admitted.add(name)


def _admit(admitted: dict[str, set[str]], counts: dict[str, dict[str, int]], top_n: int) -> None:
    """Sticky top-N: free slots go to the busiest names not admitted yet."""
    for ns, per in counts.items():
        have = admitted.setdefault(ns, set())
        if len(have) >= top_n:
            continue
        for name, _n in sorted(per.items(), key=lambda kv: (-kv[1], kv[0])):
            if len(have) >= top_n:
                break
            if name and name != OTHER:
                have.add(name)

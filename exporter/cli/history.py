"""`netfence history`: the change log of the history store, newest first, or the state
of a cluster at one moment (`--at`), in the shape of `scan`'s coverage output.

Times (`--since`, `--until`, `--at`) are ISO dates or date-times (UTC unless they carry
an offset), `now`, or an offset back from now such as `7d`, `12h`, `1h30m`. The store is
only read: an older store is migrated by `netfence serve`, never by this command.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, TextIO

from exporter import usecases
from exporter.cli.commands import Command, Subparsers
from exporter.cli.output import EXIT_OK, dump_json, table
from exporter.core.history import Change, ChangeKind, ClusterState, EvidenceGap, HistoryReader

DEFAULT_SINCE = "7d"


def parse_time(text: str, now: float) -> float:
    """`2026-10-03`, `2026-10-03T14:05`, `2026-10-03 14:05:00+02:00`, `now`, `7d`."""
    from exporter.config.values import parse_duration

    value = text.strip()
    if value == "now":
        return now
    if value[:1].isdigit() and not value.replace(".", "", 1).isdigit():
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
            return parsed.timestamp()
    try:
        return now - parse_duration(value)
    except ValueError:
        raise usecases.UsageError(
            f"bad time {text!r} (want an ISO date such as 2026-10-03 or 2026-10-03T14:05, "
            "`now`, or an offset back from now such as 7d or 12h)"
        ) from None


def iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat().replace("+00:00", "Z")


def _minute(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M")


def add_parser(sub: Subparsers) -> None:
    p = sub.add_parser(
        "history",
        help="what changed, newest first (or the state at a time, --at) from the store",
        description="The change log of the history store, newest first: default-deny "
        "gained or lost, policies created, modified and deleted, findings opened and "
        "resolved, exposures added and removed, namespaces created and deleted, and the "
        "stretches without evidence. --at T shows the state at T instead "
        "(docs/history.md). Times: ISO dates (UTC), `now`, or offsets such as 7d.",
    )
    p.add_argument(
        "--store",
        required=True,
        metavar="URL",
        help="sqlite:///PATH or postgresql://USER@HOST/DB (as given to `serve`)",
    )
    p.add_argument("--cluster", metavar="NAME", help="one cluster (default: every cluster)")
    p.add_argument("--namespace", metavar="NS", help="one namespace")
    p.add_argument("--since", default=DEFAULT_SINCE, metavar="T", help="default 7d")
    p.add_argument("--until", default="now", metavar="T", help="default now")
    p.add_argument("--at", metavar="T", help="show the state at T instead of the changes")
    p.add_argument("-o", "--output", choices=("table", "json"), default="table")


def run(args: argparse.Namespace, out: TextIO) -> int:
    from exporter.store import Store, StoreError

    now = time.time()
    try:
        store = Store.open(args.store, clock=lambda: now, migrate=False, connect_attempts=1)
    except StoreError as exc:
        raise usecases.UsageError(str(exc)) from None
    try:
        history = store.history
        if args.at is not None:
            return _state(history, args, parse_time(args.at, now), out)
        since, until = parse_time(args.since, now), parse_time(args.until, now)
        if until <= since:
            raise usecases.UsageError(f"--until ({iso(until)}) is not after --since ({iso(since)})")
        clusters = [args.cluster] if args.cluster else list(history.clusters())
        changes = sorted(
            history.changes(args.cluster, since, until, args.namespace),
            key=lambda c: (c.at, c.cluster, c.namespace),
            reverse=True,
        )
        gaps = [g for c in clusters for g in history.gaps(c, since, until)]
        if args.output == "json":
            dump_json(_changes_json(since, until, changes, gaps), out, inline_below=1)
        else:
            _changes_table(changes, gaps, out)
        return EXIT_OK
    finally:
        store.close()


# -- the change log ----------------------------------------------------------------------

_VERBS = {
    ChangeKind.NAMESPACE_CREATED: "namespace created",
    ChangeKind.NAMESPACE_DELETED: "namespace deleted",
    ChangeKind.DEFAULT_DENY_GAINED: "default-deny gained",
    ChangeKind.DEFAULT_DENY_LOST: "default-deny lost",
    ChangeKind.DEFAULT_DENY_UNKNOWN: "default-deny unknown",
    ChangeKind.POLICY_CREATED: "created",
    ChangeKind.POLICY_MODIFIED: "modified",
    ChangeKind.POLICY_DELETED: "deleted",
    ChangeKind.FINDING_OPENED: "finding opened:",
    ChangeKind.FINDING_RESOLVED: "finding resolved:",
    ChangeKind.EXPOSURE_ADDED: "exposure added:",
    ChangeKind.EXPOSURE_REMOVED: "exposure removed:",
}


def describe(change: Change) -> str:
    """One line for people, e.g. "ingress default-deny lost  (NetworkPolicy
    payments/default-deny deleted)"."""
    kind = change.kind
    verb = _VERBS[kind]
    if kind in (ChangeKind.NAMESPACE_CREATED, ChangeKind.NAMESPACE_DELETED):
        text = verb
    elif kind.value.startswith("default-deny"):
        text = f"{change.subject} {verb}"
    elif kind.value.startswith("policy"):
        policy_kind, _, rest = change.subject.partition("/")
        text = f"{policy_kind} {rest} {verb}"
    else:
        text = f"{verb} {change.subject}"
    return f"{text}  ({change.detail})" if change.detail else text


def _changes_table(changes: Sequence[Change], gaps: Sequence[EvidenceGap], out: TextIO) -> None:
    if not changes:
        out.write("no changes in this period\n")
    else:
        rows: list[tuple[str, ...]] = [("TIME (UTC)", "CLUSTER", "NAMESPACE", "CHANGE")]
        rows += [(_minute(c.at), c.cluster, c.namespace or "-", describe(c)) for c in changes]
        table(rows, out)
    if gaps:
        out.write("\nNO EVIDENCE (no successful scan; nothing is known about these periods)\n")
        for g in sorted(gaps, key=lambda g: g.start, reverse=True):
            out.write(f"  {g.cluster}  {_minute(g.start)} -> {_minute(g.end)}\n")


def _changes_json(
    since: float, until: float, changes: Sequence[Change], gaps: Sequence[EvidenceGap]
) -> dict[str, Any]:
    return {
        "since": iso(since),
        "until": iso(until),
        "changes": [
            {
                "at": iso(c.at),
                "cluster": c.cluster,
                "kind": str(c.kind),
                "namespace": c.namespace,
                "subject": c.subject,
                "direction": c.direction,
                "detail": c.detail,
            }
            for c in changes
        ],
        "gaps": [{"cluster": g.cluster, "start": iso(g.start), "end": iso(g.end)} for g in gaps],
    }


# -- the state at T ----------------------------------------------------------------------


def _state(history: HistoryReader, args: argparse.Namespace, at: float, out: TextIO) -> int:
    cluster = args.cluster
    if cluster is None:
        known = list(history.clusters())
        if len(known) != 1:
            raise usecases.UsageError(
                f"--at needs --cluster: the store holds {', '.join(known) or 'no cluster'}"
            )
        cluster = known[0]
    state = history.state_at(cluster, at)
    if args.namespace is not None:
        import dataclasses

        state = dataclasses.replace(
            state, namespaces=tuple(n for n in state.namespaces if n.namespace == args.namespace)
        )
    if args.output == "json":
        dump_json(state_json(state), out)
    else:
        _state_table(state, out)
    return EXIT_OK


def state_json(state: ClusterState) -> dict[str, Any]:
    """`scan -o json`'s coverage part (summary and namespaces), as of `state.at`;
    unknowns are null."""
    scan = state.scan
    namespaces = state.namespaces
    dd = {
        d: _count([getattr(n, f"{d}_default_deny") for n in namespaces])
        for d in ("ingress", "egress")
    }
    return {
        "cluster": state.cluster,
        "at": iso(state.at),
        "scan": None
        if scan is None
        else {
            "started_at": iso(scan.started_at),
            "degraded": scan.degraded,
            "version": scan.version,
        },
        "evidence_gap": state.evidence_gap,
        "pods_sampled_at": None if state.pods_sampled_at is None else iso(state.pods_sampled_at),
        "summary": {
            "namespaces": len(namespaces) if scan is not None else None,
            "pods": _sum([n.pods for n in namespaces]),
            "policies": len(state.policies) if scan is not None else None,
            "default_deny_namespaces": dd,
            "findings": len(state.findings) if scan is not None else None,
        },
        "namespaces": [
            {
                "name": n.namespace,
                "pods": n.pods,
                "ingress": {
                    "default_deny": n.ingress_default_deny,
                    "isolated_pods": n.ingress_isolated_pods,
                },
                "egress": {
                    "default_deny": n.egress_default_deny,
                    "isolated_pods": n.egress_isolated_pods,
                },
                "exposure": dict(n.exposures),
                "internet_egress_workloads": n.internet_egress_workloads,
            }
            for n in namespaces
        ],
    }


def _count(values: Sequence[bool | None]) -> int | None:
    return None if any(v is None for v in values) else sum(1 for v in values if v)


def _sum(values: Sequence[int | None]) -> int | None:
    return None if any(v is None for v in values) else sum(v or 0 for v in values)


def _yes(flag: bool | None) -> str:
    return "unknown" if flag is None else "yes" if flag else "NO"


def _of(part: int | None, whole: int | None) -> str:
    return f"{'?' if part is None else part}/{'?' if whole is None else whole}"


def _state_table(state: ClusterState, out: TextIO) -> None:
    if state.scan is None:
        out.write(f"{state.cluster}: no successful scan at or before {iso(state.at)}: unknown\n")
        return
    out.write(
        f"{state.cluster} at {iso(state.at)}: as seen by the scan of {iso(state.scan.started_at)}"
        + (f"; pods sampled at {iso(state.pods_sampled_at)}" if state.pods_sampled_at else "")
        + "\n"
    )
    if state.evidence_gap:
        out.write("WARNING: no evidence at this time (the last scan is too old to vouch for it)\n")
    rows: list[tuple[str, ...]] = [
        ("NAMESPACE", "PODS", "INGRESS DEFAULT-DENY", "ISOLATED", "EGRESS DEFAULT-DENY", "ISOLATED")
    ]
    for n in state.namespaces:
        rows.append(
            (
                n.namespace,
                "?" if n.pods is None else str(n.pods),
                _yes(n.ingress_default_deny),
                _of(n.ingress_isolated_pods, n.pods),
                _yes(n.egress_default_deny),
                _of(n.egress_isolated_pods, n.pods),
            )
        )
    out.write("\n")
    table(rows, out)
    summary = state_json(state)["summary"]
    dd = summary["default_deny_namespaces"]
    pods = "?" if summary["pods"] is None else summary["pods"]
    out.write(
        f"\n{summary['namespaces']} namespaces, {pods} pods, {summary['policies']} policies; "
        f"default-deny ingress in {_unknown(dd['ingress'])}, egress in {_unknown(dd['egress'])}\n"
    )
    if state.findings:
        out.write(f"\nOPEN FINDINGS ({len(state.findings)})\n")
        for f in state.findings:
            out.write(f"  [{f.severity}] {f.check} {f.namespace or '-'}: {f.message}\n")


def _unknown(value: int | None) -> str:
    return "unknown" if value is None else str(value)


COMMAND = Command("history", add_parser, run, exit_fast=True)

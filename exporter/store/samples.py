"""Volatile counts (pods, isolated pods per direction) as periodic samples.

Under autoscaling these change on nearly every scan, so recording them as intervals
would write a row per namespace per scan. Instead a writer keeps, per cluster:

- a *full* frame (every namespace's three counts) at most every `sample_interval`
  seconds (default hourly), and only when some count differs from what is recorded;
- a *partial* frame, at once, for the namespaces that appeared or whose evidence
  (default-deny, exposures) changed in this scan, so that counts shown beside a
  default-deny change belong to the same scan (a policy change moves isolated-pod
  counts in the same moment).

A frame is two compressed blobs: the sorted namespace names (stored once per distinct
set, in `pod_sample_names`, since the set rarely changes) and the counts in that order.
"Pods at T" is the latest full frame at or before T with the partial frames after it
(up to T) laid over it: exact for namespaces whose evidence changed, otherwise at most
one sample interval (plus one scan interval) old.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass

Counts = tuple[int, int, int]
"""pods, ingress-isolated pods, egress-isolated pods."""


@dataclass(frozen=True, slots=True)
class Frame:
    """The counts in force: the last full frame with later partial frames laid over."""

    full_at: float
    counts: Mapping[str, Counts]
    at: float
    """Time of the latest frame (full or partial) in `counts`."""


def names_blob(names: Sequence[str]) -> tuple[str, bytes]:
    raw = json.dumps(list(names), separators=(",", ":")).encode()
    return hashlib.sha256(raw).hexdigest(), zlib.compress(raw, 6)


def counts_blob(names: Sequence[str], counts: Mapping[str, Counts]) -> bytes:
    flat = [v for name in names for v in counts[name]]
    return zlib.compress(json.dumps(flat, separators=(",", ":")).encode(), 6)


def decode(names: bytes, counts: bytes) -> dict[str, Counts]:
    listed: list[str] = json.loads(zlib.decompress(names))
    flat: list[int] = json.loads(zlib.decompress(counts))
    return {name: (flat[3 * i], flat[3 * i + 1], flat[3 * i + 2]) for i, name in enumerate(listed)}


def plan(
    previous: Frame | None,
    counts: Mapping[str, Counts],
    at: float,
    interval: float,
    touched: Set[str],
) -> tuple[bool, dict[str, Counts]] | None:
    """What a scan at `at` writes: (full?, counts) or None (see the module doc)."""
    if previous is None:
        return (True, dict(counts)) if counts else None
    if at - previous.full_at >= interval and any(
        previous.counts.get(n) != c for n, c in counts.items()
    ):
        return True, dict(counts)
    before = previous.counts
    changed = {n: counts[n] for n in counts.keys() - before.keys()}  # new namespaces
    changed.update({n: counts[n] for n in touched if n in counts and before.get(n) != counts[n]})
    return (False, changed) if changed else None


def after(previous: Frame | None, full: bool, counts: Mapping[str, Counts], at: float) -> Frame:
    if full or previous is None:
        return Frame(at, dict(counts), at)
    return Frame(previous.full_at, {**previous.counts, **counts}, at)

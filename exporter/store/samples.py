"""Volatile counts (pods, isolated pods per direction) as periodic samples.

Under autoscaling these change on nearly every scan, so recording them as intervals
would write a row per namespace per scan. Instead a writer keeps, per cluster, one
*frame* (every namespace's three counts) at most every `sample_interval` seconds
(default hourly), and only when something differs from the previous frame; a frame is
also written at once when a namespace appears that the previous frame lacks. A frame is
two compressed blobs: the sorted namespace names (stored once per distinct set, in
`pod_sample_names`, since the set rarely changes) and the counts in that order.

So "pods at T" is the latest frame at or before T: exact when counts did not change
since, otherwise at most one sample interval (plus one scan interval) old.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

Counts = tuple[int, int, int]
"""pods, ingress-isolated pods, egress-isolated pods."""


@dataclass(frozen=True, slots=True)
class Frame:
    at: float
    counts: Mapping[str, Counts]


def names_blob(names: Sequence[str]) -> tuple[str, bytes]:
    raw = json.dumps(list(names), separators=(",", ":")).encode("utf-8", "surrogatepass")
    return hashlib.sha256(raw).hexdigest(), zlib.compress(raw, 6)


def counts_blob(names: Sequence[str], counts: Mapping[str, Counts]) -> bytes:
    flat = [v for name in names for v in counts[name]]
    return zlib.compress(json.dumps(flat, separators=(",", ":")).encode(), 6)


def decode(at: float, names: bytes, counts: bytes) -> Frame:
    listed: list[str] = json.loads(zlib.decompress(names))
    flat: list[int] = json.loads(zlib.decompress(counts))
    return Frame(
        at,
        {name: (flat[3 * i], flat[3 * i + 1], flat[3 * i + 2]) for i, name in enumerate(listed)},
    )


def due(previous: Frame | None, counts: Mapping[str, Counts], at: float, interval: float) -> bool:
    """Whether a scan at `at` with these counts writes a frame (see the module doc)."""
    if previous is None:
        return bool(counts)
    if any(name not in previous.counts for name in counts):
        return True
    return at - previous.at >= interval and dict(counts) != dict(previous.counts)

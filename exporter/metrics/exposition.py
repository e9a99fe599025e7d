"""`/metrics` bodies, cached per scan result.

The netfence families only change when a scan completes (or an error is counted), but a
10,000-namespace cluster is ~120,000 series: formatting them costs about a second. So
the body is rendered once per set of results (identity of the immutable
`ClusterMetrics` objects) and content type, optionally ahead of time (`warm`, called by
the service when a scan finishes), and every scrape in between serves the same bytes.
The small `process_*` families are rendered fresh on every scrape and appended.

With gzip, the cached part and the fresh part are two gzip members of one stream
(RFC 1952 §2.2; Go's and Python's readers read concatenated members by default).
"""

from __future__ import annotations

import gzip
import logging
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry
from prometheus_client.core import Metric
from prometheus_client.exposition import choose_encoder, gzip_accepted
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from exporter.core.gc_pause import paused_gc
from exporter.metrics.collector import ClusterMetrics, NetfenceCollector

_EOF = b"# EOF\n"
_SURROGATE = re.compile("[\ud800-\udfff]")
_WARM_ACCEPT = (
    "application/openmetrics-text;version=1.0.0",  # what Prometheus asks for
    "text/plain;version=0.0.4",  # curl, older scrapers
)

log = logging.getLogger(__name__)


class _Fixed(Collector):
    def __init__(self, collector: NetfenceCollector, results: Sequence[ClusterMetrics]) -> None:
        self._collector = collector
        self._results = results

    def collect(self) -> Iterator[Metric]:
        return self._collector.collect_from(self._results)


_NUMBERS: dict[float, str] = {}


def _number(value: float) -> str:
    text = _NUMBERS.get(value)
    if text is None:
        text = floatToGoString(value)  # type: ignore[no-untyped-call]
        if len(_NUMBERS) < 100_000:
            _NUMBERS[value] = text
    return text


def _label(value: str) -> str:
    if "\\" in value or '"' in value or "\n" in value:
        return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")
    return value


def render_families(families: Iterable[Metric], openmetrics: bool) -> bytes | None:
    """The text (0.0.4) or OpenMetrics (1.0) body of plain gauge and counter families,
    byte-for-byte what prometheus_client writes (a test holds it to that), about five
    times faster; None for anything else (the caller then uses prometheus_client)."""
    out: list[str] = []
    for m in families:
        if m.type not in ("gauge", "counter") or m.unit:
            return None
        name = f"{m.name}_total" if m.type == "counter" and not openmetrics else m.name
        doc = m.documentation.replace("\\", r"\\").replace("\n", r"\n")
        if openmetrics:
            doc = doc.replace('"', r"\"")
        out.append(f"# HELP {name} {doc}\n# TYPE {name} {m.type}\n")
        for s in m.samples:
            if s.timestamp is not None or s.exemplar is not None or s.native_histogram:
                return None
            labels = s.labels
            if labels:
                text = ",".join(f'{k}="{_label(labels[k])}"' for k in sorted(labels))
                out.append(f"{s.name}{{{text}}} {_number(s.value)}\n")
            else:
                out.append(f"{s.name} {_number(s.value)}\n")
    if openmetrics:
        out.append("# EOF\n")
    return utf8("".join(out))


def utf8(text: str) -> bytes:
    """Any text as UTF-8: a lone surrogate (a JSON `"\\ud800"` in a Hubble flow or a
    manifest) becomes U+FFFD instead of failing the whole scrape with HTTP 500."""
    try:
        return text.encode()
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text).encode()


def _clean(value: str) -> str:
    return utf8(value).decode()


class _CleanLabels(Collector):
    """A registry's families with every label value made encodable (the slow path,
    taken only when prometheus_client's own encoder met an unencodable string)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterator[Metric]:
        for family in self._registry.collect():
            family.samples = [
                s._replace(labels={k: _clean(v) for k, v in s.labels.items()})
                for s in family.samples
            ]
            yield family


def encode_safely(
    encoder: Callable[[CollectorRegistry], bytes], registry: CollectorRegistry
) -> bytes:
    """`encoder(registry)`, falling back to cleaned label values on a string that
    cannot be UTF-8 encoded: one odd name never costs the whole scrape."""
    try:
        return encoder(registry)
    except UnicodeEncodeError:
        clean = CollectorRegistry(auto_describe=False)
        clean.register(_CleanLabels(registry))
        return encoder(clean)


@dataclass
class _Entry:
    results: tuple[ClusterMetrics, ...]
    bodies: dict[tuple[str, bool], bytes] = field(default_factory=dict)


class Exposition:
    def __init__(
        self,
        collector: NetfenceCollector,
        provider: Callable[[], Sequence[ClusterMetrics]],
        extra: CollectorRegistry | None = None,
    ) -> None:
        self._collector = collector
        self._provider = provider
        self._extra = extra
        self._lock = threading.Lock()
        self._entry = _Entry(())
        self._rendering = 0
        """Renders in progress (outside the lock)."""

    def render(self, accept: str | None, accept_encoding: str | None) -> tuple[bytes, str, bool]:
        """(body, content type, gzipped)."""
        encoder, content_type = choose_encoder(accept or "")
        zipped = gzip_accepted(accept_encoding or "")
        body = self._cached(tuple(self._provider()), encoder, content_type, zipped, scrape=True)
        if self._extra is None:
            return body, content_type, zipped
        extra = encode_safely(encoder, self._extra)
        if zipped:
            return body + gzip.compress(extra, compresslevel=1), content_type, True
        return body + extra, content_type, False

    def warm(self) -> None:
        """Render the current results now (from the scan thread), not at the next scrape."""
        results = tuple(self._provider())
        # Hundreds of thousands of short-lived, acyclic sample objects: freed by reference
        # counting; collections over them would only hold up the scrapes meanwhile.
        with paused_gc():
            for accept in _WARM_ACCEPT:
                encoder, content_type = choose_encoder(accept)
                self._cached(results, encoder, content_type, True)  # the plain body too

    def _cached(
        self,
        results: tuple[ClusterMetrics, ...],
        encoder: Callable[[CollectorRegistry], bytes],
        content_type: str,
        zipped: bool,
        scrape: bool = False,
        reserved: bool = False,
    ) -> bytes:
        """The body for `results`, rendered once. Rendering happens outside the lock, so
        a scrape never waits behind another render: while new results are being rendered
        (the scan thread's `warm`, right after a scan), scrapes are answered with the
        previous results' body, at most one render old, as if they had come a moment
        earlier (netfence_scan_timestamp_seconds in it says which scan it is).

        A `scrape` that finds new results nobody renders yet (published by a scan whose
        warm has not begun) does not render them itself either: it starts a render in
        the background and is answered with the previous body. Only the very first
        scrape, with no body at all, waits for a render. `reserved`: the caller is that
        background render, already counted in `_rendering`."""
        key = (content_type, zipped)
        with self._lock:
            entry = self._entry
            current = _same(entry.results, results)
            body = entry.bodies.get(key)
            others = self._rendering - (1 if reserved else 0)
            if body is not None and (current or others):
                return body
            if body is not None and scrape:
                self._rendering += 1
                threading.Thread(
                    target=self._render_later,
                    args=(results, encoder, content_type, zipped),
                    name="netfence-render",
                    daemon=True,
                ).start()
                return body
            plain = entry.bodies.get((content_type, False)) if current else None
            self._rendering += 1
        try:
            if plain is None:
                plain = self._render_plain(results, encoder, content_type)
            body = gzip.compress(plain, compresslevel=1) if zipped else plain
        finally:
            with self._lock:
                self._rendering -= 1
        with self._lock:
            if not _same(self._entry.results, results):
                if not _same(tuple(self._provider()), results):
                    return body  # newer results arrived meanwhile: do not install old ones
                self._entry = _Entry(results)
            self._entry.bodies[(content_type, False)] = plain
            self._entry.bodies[key] = body
        return body

    def _render_later(
        self,
        results: tuple[ClusterMetrics, ...],
        encoder: Callable[[CollectorRegistry], bytes],
        content_type: str,
        zipped: bool,
    ) -> None:
        try:
            with paused_gc():
                self._cached(results, encoder, content_type, zipped, reserved=True)
        except Exception:
            log.exception("rendering /metrics in the background failed")
        finally:
            with self._lock:
                self._rendering -= 1

    def _render_plain(
        self,
        results: tuple[ClusterMetrics, ...],
        encoder: Callable[[CollectorRegistry], bytes],
        content_type: str,
    ) -> bytes:
        openmetrics = content_type.startswith("application/openmetrics-text")
        fast = render_families(self._collector.collect_from(results), openmetrics)
        if fast is not None and "escaping=" in content_type and "underscores" not in content_type:
            fast = None  # an exotic escaping was asked for: leave it to the library
        if fast is None:
            registry = CollectorRegistry(auto_describe=False)
            registry.register(_Fixed(self._collector, results))
            fast = encode_safely(encoder, registry)
        if self._extra is not None and fast.endswith(_EOF):
            fast = fast[: -len(_EOF)]  # the fresh part ends the OpenMetrics body
        return fast


def _same(a: tuple[ClusterMetrics, ...], b: tuple[ClusterMetrics, ...]) -> bool:
    return len(a) == len(b) and all(x is y for x, y in zip(a, b, strict=True))

"""Scrape latency while scans run (issue 11): scrapes must not wait behind scans.

    .venv/bin/python -m benchmarks.scrape_bench [--out benchmarks/results]
        [--size 2000:20000:10000] [--scrapers 8] [--seconds 20]

A synthetic cluster of NAMESPACES:PODS:POLICIES is served by the real `netfence serve`
pieces (Scanner -> Exposition, warmed after each scan -> MetricsServer on loopback).
`--scrapers` threads fetch `/metrics` as Prometheus does (OpenMetrics, gzip) back to
back, first while nothing else runs (idle), then while the cluster is scanned again and
again (scanning). Latencies are measured in a separate process, so the client's own
GIL waits are not counted against the server. Target: p99 under 100 ms while scanning.

Results: `OUT/scrape-<UTC timestamp>.json` and a summary on stdout. Figures depend on
the machine and on whatever else runs on it: give both with any figure quoted.
"""

from __future__ import annotations

import argparse
import gc
import json
import multiprocessing
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from benchmarks.service_bench import _size, synthetic_objects
from exporter.core.inventory import RawObject
from exporter.metrics import MetricsServer, exposition
from exporter.serve.clusters import Cluster, SourceRead
from exporter.serve.scans import Scanner

ROOT = Path(__file__).resolve().parents[1]
TARGET_P99_SECONDS = 0.1
HEADERS = {
    "Accept": "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5",
    "Accept-Encoding": "gzip",
}


def _scrape_loop(url: str, seconds: float, out: Any) -> None:
    """One scraper (runs in the client process)."""
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        t0 = time.perf_counter()
        with urllib.request.urlopen(urllib.request.Request(url, headers=HEADERS)) as r:
            r.read()
        latencies.append(time.perf_counter() - t0)
    out.put(latencies)


def _client(url: str, scrapers: int, seconds: float, out: Any) -> None:
    """The scrapers, in their own process: N threads, like N Prometheus servers."""
    import queue

    results: queue.Queue[list[float]] = queue.Queue()
    threads = [
        threading.Thread(target=_scrape_loop, args=(url, seconds, results)) for _ in range(scrapers)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    merged: list[float] = []
    while not results.empty():
        merged.extend(results.get())
    out.put(merged)


def _stats(latencies: list[float]) -> dict[str, Any]:
    ordered = sorted(latencies)
    n = len(ordered)

    def pct(p: float) -> float:
        return round(ordered[min(n - 1, int(p * n))], 4) if n else 0.0

    return {
        "scrapes": n,
        "p50_seconds": pct(0.50),
        "p99_seconds": pct(0.99),
        "max_seconds": round(ordered[-1], 4) if n else 0.0,
        "over_0_9_seconds": sum(1 for x in ordered if x > 0.9),
    }


def _measure(url: str, scrapers: int, seconds: float) -> list[float]:
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    proc = ctx.Process(target=_client, args=(url, scrapers, seconds, out))
    proc.start()
    latencies: list[float] = out.get()
    proc.join()
    return latencies


def bench(size: str, scrapers: int, seconds: float) -> dict[str, Any]:
    params = _size(size)
    raws = [RawObject(o, "synthetic") for o in synthetic_objects(params)]
    # In `netfence serve` the objects read are garbage once the scan is done; here they
    # are kept for every scan, so they are moved out of the collector's sight, lest its
    # full collections (seconds over millions of dicts) measure the benchmark's heap.
    gc.freeze()
    scanner = Scanner(
        [Cluster("bench", lambda: SourceRead(raws), "synthetic")],
        freeze_heap=True,  # as serve
    )
    expo = exposition(scanner.metrics, "bench")
    scanner.on_change = expo.warm  # as netfence serve does
    t0 = time.perf_counter()
    scanner.scan("bench")
    scan_seconds = time.perf_counter() - t0
    server = MetricsServer(expo, "127.0.0.1", 0, scanner.healthy, scanner.ready)
    server.start()
    url = f"http://127.0.0.1:{server.port}/metrics"
    try:
        idle = _measure(url, scrapers, seconds)
        stop = threading.Event()
        scans = [0]

        def scan_forever() -> None:
            while not stop.is_set():
                scanner.scan("bench")
                scans[0] += 1

        worker = threading.Thread(target=scan_forever, daemon=True)
        worker.start()
        busy = _measure(url, scrapers, seconds)
        stop.set()
        worker.join()
    finally:
        server.shutdown()
    scanning = _stats(busy)
    return {
        "size": size,
        "scrapers": scrapers,
        "seconds": seconds,
        "scan_seconds": round(scan_seconds, 3),
        "scans_during_measurement": scans[0],
        "idle": _stats(idle),
        "scanning": scanning,
        "target_p99_seconds": TARGET_P99_SECONDS,
        "pass": scanning["p99_seconds"] < TARGET_P99_SECONDS,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scrape_bench")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--size", default="2000:20000:10000")
    parser.add_argument("--scrapers", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args(argv)
    result = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "scrape_under_scan": bench(args.size, args.scrapers, args.seconds),
    }
    print("scrape under scan:", json.dumps(result["scrape_under_scan"]), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    (args.out / f"scrape-{stamp}.json").write_text(json.dumps(result, indent=2) + "\n")
    return 0 if result["scrape_under_scan"]["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())

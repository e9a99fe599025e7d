"""Benchmarks of `netfence serve` (issue 5):

    .venv/bin/python -m benchmarks.service_bench [--out benchmarks/results]
        [--metrics-size 10000:100000:60000] [--live-size 2000:20000:10000] [--repeat 3]

- `metrics`: the synthetic cluster of NAMESPACES:PODS:POLICIES (default the 10,000-
  namespace `large` size) is generated in memory, scanned once, and `/metrics` is
  fetched over HTTP from the real server (MetricsServer + NetfenceCollector) `--repeat`
  times. Target: under 1 s per scrape.
- `live`: the fake Kubernetes API server of the tests (tests/k8s_api_server.py) serves
  a synthetic cluster (default 2,000 namespaces x 5 policies) on loopback; one scan
  through the real `kubernetes` client is timed, list time (paged API reads) apart from
  analysis time (snapshot + coverage + exposure + findings). Target: whole scan < 10 s.

Results: `OUT/service-<UTC timestamp>.json` and a summary on stdout.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from benchmarks.generate import Params, namespace_objects, plan
from exporter import usecases
from exporter.core.inventory import RawObject, build_snapshot
from exporter.metrics import MetricsServer, exposition
from exporter.serve.clusters import Cluster, SourceRead
from exporter.serve.scans import Scanner
from exporter.sources.kubernetes import KubernetesSource, kubeconfig_client
from exporter.sources.manifests import LoadResult

ROOT = Path(__file__).resolve().parents[1]
METRICS_TARGET_SECONDS = 1.0
LIVE_TARGET_SECONDS = 10.0


def _size(text: str) -> Params:
    ns, pods, policies = (int(x) for x in text.split(":"))
    return Params(namespaces=ns, pods=pods, policies=policies)


def synthetic_objects(params: Params) -> list[dict[str, Any]]:
    plans = plan(params)
    rng = random.Random(params.seed * 1_000_003 + 17)  # as benchmarks.generate does
    return [obj for ns in plans for obj in namespace_objects(rng, ns, plans, params.exposure)]


def bench_metrics(params: Params, repeat: int) -> dict[str, Any]:
    objects = synthetic_objects(params)
    raws = [RawObject(o, "synthetic") for o in objects]
    svc = Scanner([Cluster("large", lambda: SourceRead(raws), "")])
    expo = exposition(svc.metrics, "bench")
    started = time.perf_counter()
    svc.scan("large")
    scan_seconds = time.perf_counter() - started
    raws.clear()
    objects.clear()
    gc.collect()
    # One uncached render of the text format (what a scrape would cost without the cache).
    t0 = time.perf_counter()
    exposition(svc.metrics, "bench").render(None, None)
    cold_seconds = time.perf_counter() - t0
    # What `netfence serve` does after each scan (Scanner.on_change): render ahead.
    t0 = time.perf_counter()
    expo.warm()
    warm_seconds = time.perf_counter() - t0
    server = MetricsServer(expo, "127.0.0.1", 0, svc.healthy, svc.ready)
    server.start()
    prometheus = {
        "Accept": "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5",
        "Accept-Encoding": "gzip",
    }
    timings: dict[str, list[float]] = {"prometheus_gzip": [], "plain_text": []}
    size = series = 0
    try:
        for _ in range(repeat):
            for name, headers in (("prometheus_gzip", prometheus), ("plain_text", {})):
                request = urllib.request.Request(
                    f"http://127.0.0.1:{server.port}/metrics", headers=headers
                )
                t0 = time.perf_counter()
                with urllib.request.urlopen(request) as r:
                    body = r.read()
                timings[name].append(round(time.perf_counter() - t0, 4))
                if name == "plain_text":
                    size = len(body)
                    series = sum(1 for ln in body.splitlines() if ln and not ln.startswith(b"#"))
    finally:
        server.shutdown()
    worst = max(max(v) for v in timings.values())
    return {
        "namespaces": params.namespaces,
        "pods": params.pods,
        "policies": params.policies,
        "scan_seconds": round(scan_seconds, 3),
        "uncached_render_seconds": round(cold_seconds, 3),
        "render_after_scan_seconds": round(warm_seconds, 3),
        "scrape_seconds": timings,
        "scrape_seconds_max": worst,
        "series": series,
        "bytes": size,
        "target_seconds": METRICS_TARGET_SECONDS,
        "pass": worst < METRICS_TARGET_SECONDS,
    }


def bench_live(params: Params) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT / "tests"))
    from k8s_api_server import FakeApiServer

    objects = synthetic_objects(params)
    count = len(objects)
    with FakeApiServer(objects) as server, tempfile.TemporaryDirectory() as tmp:
        kubeconfig = server.kubeconfig(Path(tmp) / "kubeconfig")
        source = KubernetesSource(kubeconfig_client(str(kubeconfig), "test"), page_size=500)
        t0 = time.perf_counter()
        read = source.read()
        t1 = time.perf_counter()
        snapshot, errors = build_snapshot(read.objects)
        report = usecases.analyse(LoadResult(snapshot, [*read.errors, *errors]))
        t2 = time.perf_counter()
    total = t2 - t0
    return {
        "namespaces": params.namespaces,
        "pods": params.pods,
        "policies": params.policies,
        "objects": count,
        "objects_read": len(read.objects),
        "requests": read.requests,
        "list_seconds": round(t1 - t0, 3),
        "analysis_seconds": round(t2 - t1, 3),
        "total_seconds": round(total, 3),
        "findings": len(report.findings),
        "errors": len(report.errors),
        "target_seconds": LIVE_TARGET_SECONDS,
        "pass": total < LIVE_TARGET_SECONDS,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.service_bench")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--metrics-size", default="10000:100000:60000", type=_size)
    parser.add_argument("--live-size", default="2000:20000:10000", type=_size)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", choices=("metrics", "live"))
    args = parser.parse_args(argv)
    results: dict[str, Any] = {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    if args.only in (None, "live"):
        results["live_scan"] = bench_live(args.live_size)
        print("live scan:", json.dumps(results["live_scan"]), flush=True)
    if args.only in (None, "metrics"):
        results["metrics"] = bench_metrics(args.metrics_size, args.repeat)
        print("metrics:", json.dumps(results["metrics"]), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    (args.out / f"service-{stamp}.json").write_text(json.dumps(results, indent=2) + "\n")
    ok = all(r.get("pass", True) for r in results.values() if isinstance(r, dict))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

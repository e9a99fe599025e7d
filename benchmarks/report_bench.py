"""Benchmark of the auditor report (issue 14):

    .venv/bin/python -m benchmarks.report_bench [--out benchmarks/results]
        [--namespaces 1000,10000] [--days 90]

For each size, a quarter of history is generated in memory (reports.static_history, so
the figure is the report's own cost, not the store's): one cluster scanned daily for
DAYS days, every day about 2% of namespaces flip default-deny in one direction (with the
policy change that did it), 1% gain or lose an exposure, and every namespace has
Hubble denials each day. Then the view model is built and the PDF rendered (WeasyPrint),
each size in a fresh process so peak memory (ru_maxrss) is that size's alone.

Targets: 1,000 namespaces < 30 s and < 1 GB peak; 10,000 namespaces < 60 s.
Results: `OUT/report-<UTC timestamp>.json` and a summary on stdout. The machine may be
shared: run again when others are idle to confirm.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from exporter.core.history import (
    Change,
    ChangeKind,
    ClusterState,
    DeniedFlows,
    ExposureRecord,
    NamespaceState,
    ScanInfo,
)
from reports.period import Period
from reports.static_history import StaticHistory

DAY = 86_400.0
TARGETS = {1000: (30.0, 1024.0), 10000: (60.0, None)}
CLUSTER = "bench"


def history(namespaces: int, days: int, seed: int = 14) -> tuple[StaticHistory, Period]:
    rnd = random.Random(seed)
    since = 1_782_864_000.0  # 2026-07-01T00:00Z
    period = Period(since, since + days * DAY, f"{days} days")
    names = [f"ns-{i:05d}" for i in range(namespaces)]
    cur = {
        n: NamespaceState(
            n,
            rnd.random() < 0.8,
            rnd.random() < 0.5,
            {
                "internet": int(rnd.random() < 0.05),
                "ingress": int(rnd.random() < 0.2),
                "gateway": 0,
                "other_namespaces": rnd.randint(0, 3),
            },
            rnd.randint(0, 2),
            pods=(p := rnd.randint(1, 40)),
            ingress_isolated_pods=p,
            egress_isolated_pods=p // 2,
            labels={"team": f"t{rnd.randint(0, 50)}"},
        )
        for n in names
    }
    states, changes, flows = [], [], []
    exposures = [
        ExposureRecord(n, f"Service/{n}-web", "internet", since)
        for n, s in cur.items()
        if s.exposures["internet"]
    ]
    for day in range(-1, days):
        at = since + day * DAY + 3600
        if day >= 0:
            for n in rnd.sample(names, max(1, namespaces // 50)):
                s = cur[n]
                ingress = rnd.random() < 0.5
                old = s.ingress_default_deny if ingress else s.egress_default_deny
                new = not old
                cur[n] = NamespaceState(
                    n,
                    new if ingress else s.ingress_default_deny,
                    s.egress_default_deny if ingress else new,
                    s.exposures,
                    s.internet_egress_workloads,
                    s.pods,
                    s.ingress_isolated_pods,
                    s.egress_isolated_pods,
                    s.labels,
                )
                d = "ingress" if ingress else "egress"
                changes.append(
                    Change(
                        at,
                        CLUSTER,
                        ChangeKind.POLICY_MODIFIED,
                        n,
                        f"NetworkPolicy/{n}/default-deny",
                    )
                )
                changes.append(
                    Change(
                        at,
                        CLUSTER,
                        ChangeKind.DEFAULT_DENY_GAINED if new else ChangeKind.DEFAULT_DENY_LOST,
                        n,
                        d,
                        d,
                    )
                )
            for n in rnd.sample(names, max(1, namespaces // 100)):
                changes.append(
                    Change(at, CLUSTER, ChangeKind.EXPOSURE_ADDED, n, f"Service/{n}-api ingress")
                )
            for n in names:
                flows.append(
                    DeniedFlows(
                        CLUSTER,
                        at,
                        n,
                        "ingress",
                        "POLICY_DENIED",
                        "default-deny",
                        rnd.randint(0, 50),
                    )
                )
        scan = ScanInfo(CLUSTER, at, 5.0, True, namespaces=namespaces)
        states.append(
            ClusterState(CLUSTER, at, scan, tuple(cur.values()), (), (), tuple(exposures))
        )
    return StaticHistory(states=states, change_log=changes, flows=flows), period


def one(namespaces: int, days: int, out_dir: Path) -> dict[str, Any]:
    from reports.control_files import load_controls
    from reports.model import Options, build
    from reports.render import render

    t0 = time.perf_counter()
    h, period = history(namespaces, days)
    t1 = time.perf_counter()
    report = build(
        h,
        period,
        clusters=None,
        generated_at=period.until + DAY,
        version="bench",
        options=Options(controls=load_controls()),
    )
    t2 = time.perf_counter()
    done = render(report, out_dir / f"report-{namespaces}.pdf")
    t3 = time.perf_counter()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "namespaces": namespaces,
        "days": days,
        "changes": len(h.change_log),
        "generate_seconds": round(t1 - t0, 2),
        "model_seconds": round(t2 - t1, 2),
        "render_seconds": round(t3 - t2, 2),
        "report_seconds": round(t3 - t1, 2),
        "pages": done.pages,
        "peak_rss_mb": round(peak_mb, 1),
        "pdf_bytes": done.path.stat().st_size,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    ap.add_argument("--namespaces", default="1000,10000")
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one:
        with tempfile.TemporaryDirectory() as tmp:
            print(json.dumps(one(args.one, args.days, Path(tmp))))
        return 0
    results = []
    for n in (int(x) for x in args.namespaces.split(",")):
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "benchmarks.report_bench",
                "--one",
                str(n),
                "--days",
                str(args.days),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        seconds, mb = TARGETS.get(n, (None, None))
        r["target_seconds"], r["target_peak_mb"] = seconds, mb
        r["ok"] = (seconds is None or r["report_seconds"] < seconds) and (
            mb is None or r["peak_rss_mb"] < mb
        )
        results.append(r)
        print(
            f"report {n} namespaces x {args.days} days: model {r['model_seconds']} s, "
            f"PDF {r['render_seconds']} s ({r['pages']} pages), total {r['report_seconds']} s"
            f", peak {r['peak_rss_mb']} MB{'' if r['ok'] else '  OVER TARGET'}"
        )
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    path = args.out / f"report-{stamp}.json"
    path.write_text(json.dumps({"benchmark": "report", "results": results}, indent=1) + "\n")
    print(f"wrote {path}")
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())

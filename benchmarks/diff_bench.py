"""`make bench`: what `netfence diff` of two clusters that differ in one namespace costs,
against the two scans it cannot do without.

    python -m benchmarks.diff_bench --out benchmarks/results [--size large] [--repeat 1]
        [--cpu N | --no-pin]

The base is the `benchmarks.run` data set of the size (generated once and cached in
benchmarks/data/<size>/); the head is the same files (hard links) except one, where one
namespace gains an allow-all ingress policy. Each command runs as its own child process
under the same wrapper as `benchmarks.run` (wall time from spawn to reap, the command's
own peak RSS, pinned to one core): `scan` of each side, then `diff --base --head -o json`.
The figure is `diff_over_two_scans` = diff seconds / (scan base + scan head seconds);
"little more than two scans" means close to 1.

Results: `OUT/diff-bench-<UTC timestamp>.json` and `OUT/diff-latest.json`, and a line
on stdout. On a shared machine the timings are noisy: compare runs with --repeat 3
(fastest run reported) on an idle machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import run as bench

POLICY = """---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: bench-allow-all
  namespace: {namespace}
spec:
  podSelector: {{}}
  policyTypes: [Ingress]
  ingress:
    - {{}}
"""


def make_head(base: Path, head: Path) -> str:
    """`head` = `base` with one namespace opened; returns that namespace."""
    files = sorted(base.rglob("*.yaml"))
    target = files[len(files) // 2]
    namespace = ""
    for line in target.read_text().splitlines():
        if line.startswith("  namespace: "):
            namespace = line.split(":", 1)[1].strip()
            break
    assert namespace, target
    for path in files:
        dest = head / path.relative_to(base)
        dest.parent.mkdir(parents=True, exist_ok=True)
        if path == target:
            dest.write_text(path.read_text() + POLICY.format(namespace=namespace))
        else:
            os.link(path, dest)
    return namespace


def _best(runs: list[bench.Measurement]) -> dict[str, Any]:
    fastest = min(runs, key=lambda m: m.seconds)
    return {
        "seconds": fastest.seconds,
        "cpu_seconds": fastest.cpu_seconds,
        "peak_rss_bytes": max(m.peak_rss_bytes for m in runs),
        "exit_code": fastest.exit_code,
        "runs": [m.seconds for m in runs],
        "timed_out": any(m.timed_out for m in runs),
        "stderr_tail": fastest.stderr_tail if fastest.exit_code not in (0, 1) else "",
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.diff_bench")
    p.add_argument("--out", type=Path, default=bench.DEFAULT_OUT)
    p.add_argument("--data", type=Path, default=bench.DEFAULT_DATA)
    p.add_argument("--size", default="large", help="a benchmarks.run size (default large)")
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--cpu", type=int, default=None)
    p.add_argument("--no-pin", action="store_true")
    p.add_argument("--timeout", type=float, default=bench.DEFAULT_TIMEOUT)
    args = p.parse_args(argv)
    size = bench._parse_sizes(args.size, "--size")[0]
    cpu = None if args.no_pin else (args.cpu if args.cpu is not None else bench._default_cpu())
    data = bench.ensure_data(size, args.data, 1, regenerate=False)
    base = Path(data["dir"])
    netfence = bench._default_netfence()
    with tempfile.TemporaryDirectory(prefix="netfence-diff-bench-", dir=args.data) as tmp:
        head = Path(tmp) / "head"
        namespace = make_head(base, head)
        output = Path(tmp) / "out.json"
        commands = {
            "scan_base": [netfence, "scan", "--manifests", str(base), "-o", "json"],
            "scan_head": [netfence, "scan", "--manifests", str(head), "-o", "json"],
            "diff": [netfence, "diff", "--base", str(base), "--head", str(head), "-o", "json"],
        }
        stages: dict[str, Any] = {}
        summary: dict[str, Any] = {}
        for name, command in commands.items():
            runs = [bench.measure(command, output, cpu, args.timeout) for _ in range(args.repeat)]
            stages[name] = {"command": command, **_best(runs)}
            if name == "diff" and output.stat().st_size:
                summary = json.loads(output.read_text())["summary"]
    two_scans = stages["scan_base"]["seconds"] + stages["scan_head"]["seconds"]
    ratio = stages["diff"]["seconds"] / two_scans if two_scans else None
    ok = all(s["exit_code"] in (0, 1) and not s["timed_out"] for s in stages.values())
    sane = summary.get("namespaces_with_changed_objects") == 1 and summary.get(
        "connections", {}
    ).get("compared")
    report = {
        "benchmark": "diff",
        "schema_version": 1,
        "machine": bench.machine_info(cpu),
        "commit": bench._commit(),
        "size": asdict(size),
        "changed_namespace": namespace,
        "stages": stages,
        "diff_over_two_scans": ratio,
        "diff_summary": summary,
        "ok": bool(ok and sane),
        "note": "wall seconds on a machine other processes may share: noisy; "
        "re-measure with `python -m benchmarks.diff_bench --repeat 3` on an idle machine",
    }
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    text = json.dumps(report, indent=2) + "\n"
    (args.out / f"diff-bench-{stamp}.json").write_text(text)
    (args.out / "diff-latest.json").write_text(text)
    print(
        f"diff {size.name}: scan base {stages['scan_base']['seconds']:.1f} s, scan head "
        f"{stages['scan_head']['seconds']:.1f} s, diff {stages['diff']['seconds']:.1f} s "
        f"= {ratio:.2f} x two scans; peak RSS diff "
        f"{stages['diff']['peak_rss_bytes'] / 1e6:.0f} MB"
        + ("" if report["ok"] else "  (FAILED: see the JSON)")
    )
    shutil.rmtree(Path(tmp), ignore_errors=True)
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())

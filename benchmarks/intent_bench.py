"""What the intent file costs a scan (issue 15): a synthetic cluster scanned with and
without an intent that applies every guardrail kind to every namespace and a two-policy
baseline stamped into every namespace (the worst case: each namespace checked for drift).

    python -m benchmarks.intent_bench [--namespaces 2000 --pods 20000 --policies 12000]
        [--repeat 3] [--data benchmarks/data/intent]

Generates the cluster with benchmarks.generate (reused when present), then times
`netfence scan -o json` with and without `--intent` in child processes (wall time,
interpreter start-up included) and `evaluate_intent` alone in this process. Prints JSON
and writes benchmarks/results/intent-latest.json. On a shared machine the figures are
noisy: compare runs on an idle one.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
NETFENCE = Path(sys.executable).parent / "netfence"
BASELINE = HERE.parent / "examples" / "intent" / "baseline"
INTENT = f"""\
teams: {{namespace_label: team}}
namespace_labels: [team, env]
guardrails:
  - name: default-deny
    namespace_selector: {{}}
    require_default_deny: [ingress, egress]
  - name: no-broad-exposure
    namespace_selector: {{}}
    forbid_exposure: [all_namespaces, internet]
  - name: egress-allowlist
    namespace_selector: {{}}
    internet_egress: {{allow: [{{cidr: 203.0.113.0/24, ports: [TCP/443]}}]}}
  - name: every-pod
    namespace_selector: {{}}
    require_policy_for_every_pod: true
baseline:
  directory: {BASELINE}
  namespace_selector: {{}}
"""


def _scan(manifests: Path, *extra: str) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(
        [str(NETFENCE), "scan", "--manifests", str(manifests), "-o", "json", *extra],
        stdout=subprocess.DEVNULL,
        check=False,
    )
    if proc.returncode not in (0, 1):
        raise SystemExit(f"netfence scan exited {proc.returncode}")
    return time.perf_counter() - t0


def _evaluate(manifests: Path, intent: Path) -> float:
    from exporter.core.coverage import coverage
    from exporter.core.engine import Engine
    from exporter.core.exposure import ExposureAnalysis
    from exporter.core.intent import evaluate_intent
    from exporter.sources.intent import load_intent
    from exporter.sources.manifests import load_manifests

    loaded = load_intent(intent)
    engine = Engine(load_manifests([manifests]).snapshot)
    cov, exp = coverage(engine), ExposureAnalysis(engine).run()
    t0 = time.perf_counter()
    evaluate_intent(loaded.intent, loaded.baseline, engine, cov, exp, dt.date(2026, 1, 1))
    return time.perf_counter() - t0


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.intent_bench")
    p.add_argument("--namespaces", type=int, default=2000)
    p.add_argument("--pods", type=int, default=20000)
    p.add_argument("--policies", type=int, default=12000)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--data", type=Path, default=HERE / "data" / "intent")
    p.add_argument("--out", type=Path, default=HERE / "results")
    args = p.parse_args(argv)
    manifests = args.data / "manifests"
    if not manifests.is_dir():
        subprocess.run(
            [sys.executable, "-m", "benchmarks.generate", "--namespaces", str(args.namespaces),
             "--pods", str(args.pods), "--policies", str(args.policies),
             "--out", str(manifests)],
            check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
    intent = args.data / "intent.yaml"
    intent.write_text(INTENT)
    plain = min(_scan(manifests) for _ in range(args.repeat))
    with_intent = min(_scan(manifests, "--intent", str(intent)) for _ in range(args.repeat))
    alone = min(_evaluate(manifests, intent) for _ in range(args.repeat))
    result = {
        "namespaces": args.namespaces,
        "pods": args.pods,
        "policies": args.policies,
        "scan_seconds": round(plain, 2),
        "scan_with_intent_seconds": round(with_intent, 2),
        "evaluate_intent_seconds": round(alone, 2),
        "note": "best of --repeat; wall time of child processes; noisy on a shared machine",
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "intent-latest.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

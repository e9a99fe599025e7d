"""`make demo`: netfence serve on the demo cluster, with Hubble traffic that keeps flowing.

1. Two hours of recorded flows (examples/demo_flows.py) are written to STATE/flows.jsonl
   and replayed at start, so the hourly roll-ups and the joins with the scan have data.
2. A stand-in for Hubble Relay (examples/demo_relay.py) serves live flows with current
   timestamps from then on, and after --burst-after seconds (env DEMO_BURST_AFTER,
   default 90) a burst of denied connections in namespace payments, for
   --burst-seconds (DEMO_BURST_SECONDS, default 600) at --burst-rate per second
   (DEMO_BURST_RATE, default 20): NetfenceDeniedConnectionSpike fires on it.
3. `netfence serve` runs in this process (Ctrl-C stops it), reading the demo manifests,
   the replayed file and the stand-in's stream.

Usage: python examples/demo.py [--listen HOST:PORT] [--state DIR] [--scan-interval 1m]
                               [--intent FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from demo_flows import flows
from demo_relay import Burst, DemoRelay

from exporter.cli.app import main as netfence

ROOT = Path(__file__).resolve().parents[1]


def _env(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", default="127.0.0.1:9873", help="netfence's /metrics address")
    parser.add_argument("--state", type=Path, default=Path("demo-out"), help="store and flows")
    parser.add_argument("--scan-interval", default="1m")
    parser.add_argument("--intent", type=Path, default=ROOT / "examples" / "intent" / "intent.yaml")
    parser.add_argument("--burst-after", type=float, default=_env("DEMO_BURST_AFTER", 90))
    parser.add_argument("--burst-seconds", type=float, default=_env("DEMO_BURST_SECONDS", 600))
    parser.add_argument("--burst-rate", type=float, default=_env("DEMO_BURST_RATE", 20))
    args = parser.parse_args(argv)

    args.state.mkdir(parents=True, exist_ok=True)
    recorded = args.state / "flows.jsonl"
    with recorded.open("w", encoding="utf-8") as handle:
        for event in flows(time.time()):
            handle.write(json.dumps(event, separators=(",", ":")) + "\n")
    relay = DemoRelay(Burst(args.burst_after, args.burst_seconds, args.burst_rate)).start()
    print(
        f"demo: Hubble Relay stand-in on 127.0.0.1:{relay.port}; a burst of "
        f"{args.burst_rate:g} denied connections/s in namespace payments starts in "
        f"{args.burst_after:g}s (burst_at={relay.started + args.burst_after:.3f}) and lasts "
        f"{args.burst_seconds:g}s",
        file=sys.stderr,
        flush=True,
    )
    try:
        return netfence(
            [
                "serve",
                "--manifests", str(ROOT / "examples" / "demo-cluster"),
                "--cluster-name", "demo",
                "--intent", str(args.intent),
                "--hubble.replay", str(recorded),
                "--hubble.address", f"127.0.0.1:{relay.port}",
                "--web.listen-address", args.listen,
                "--store", f"sqlite:///{args.state.resolve() / 'history.db'}",
                "--scan.interval", args.scan_interval,
            ]
        )  # fmt: skip
    finally:
        relay.stop()


if __name__ == "__main__":
    sys.exit(main())

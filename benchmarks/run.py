"""`make bench`: time netfence on synthetic clusters of growing size.

    python -m benchmarks.run --out benchmarks/results [--sizes small,medium,large]
        [--connectivity-sizes small,medium] [--repeat 1] [--cpu N | --no-pin]

For each size the data set is generated once into `benchmarks/data/<size>/manifests/`
(kept and reused while the generator parameters and the generator's source are
unchanged), then each stage runs in a fresh child process:

- `load`: `python -c` importing `exporter.sources.manifests` and calling
  `load_manifests([Path(DIR)])`, so reading and parsing can be told apart from analysis;
- `scan`: `netfence scan --manifests DIR -o json` (exit 0 or 1 are both success: 1 only
  means findings at or above the default `--fail-on`);
- `connectivity`: `netfence connectivity --manifests DIR -o json`, only for the
  connectivity sizes (its output grows with the square of the workloads).

Why children: wall time then includes interpreter start-up and imports, as a user sees
it, and the peak RSS is that one command's, read from `os.wait4` on exactly that process.
Each command is spawned by a bare wrapper interpreter rather than by the harness itself,
because a child's ru_maxrss starts at the high-water mark of the process it was forked
from; the wrapper's ~10 MB floor is recorded as `machine.rss_floor_bytes`.
Why pinned to one core (`sched_setaffinity`, as `taskset` does): the target is "on one
core", and pinning keeps a many-core CI box from flattering the numbers.

Results: `OUT/bench-<UTC timestamp>.json` and `OUT/latest.json`, plus a table on stdout.
Targets (large scan under 10 s and 1.5 GB peak RSS) are marked pass/fail in the JSON.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from benchmarks import generate

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_DATA = HERE / "data"
DEFAULT_OUT = HERE / "results"
SCHEMA_VERSION = 1
STAGES = ("load", "scan-coverage", "scan", "connectivity")
SUCCESS_CODES = {"load": (0,), "scan-coverage": (0, 1), "scan": (0, 1), "connectivity": (0, 1)}
DEFAULT_TIMEOUT = 600.0
MAX_PARSE_BYTES = 256 * 1024 * 1024  # outputs above this are counted, not parsed


@dataclass(frozen=True, slots=True)
class Size:
    name: str
    namespaces: int
    pods: int
    policies: int


SIZES = {
    s.name: s
    for s in (
        Size("small", 100, 1_000, 600),
        Size("medium", 1_000, 10_000, 6_000),
        Size("large", 10_000, 100_000, 60_000),
        # Issue 11: connectivity, streamed, on 2,000 namespaces.
        Size("connectivity-2k", 2_000, 20_000, 12_000),
    )
}


@dataclass(frozen=True, slots=True)
class Target:
    """A performance promise; checked only when its size and stage were run."""

    size: str
    stage: str
    metric: str
    limit: float
    unit: str

    @property
    def name(self) -> str:
        limit = f"{self.limit / 1e9:g} GB" if self.unit == "bytes" else f"{self.limit:g} s"
        what = "peak RSS" if self.metric == "peak_rss_bytes" else "wall time"
        return f"{self.size} {self.stage} {what} < {limit}"


TARGETS = (
    # Issue 2: coverage + findings (scan --no-exposure) under 10 s and 1.5 GB.
    Target("large", "scan-coverage", "seconds", 10.0, "s"),
    Target("large", "scan-coverage", "peak_rss_bytes", 1.5e9, "bytes"),
    # Issue 3: the full scan including exposure under 15 s and 2 GB.
    Target("large", "scan", "seconds", 15.0, "s"),
    Target("large", "scan", "peak_rss_bytes", 2e9, "bytes"),
    # Issue 11: `connectivity -o json` on 2,000 namespaces under 30 s and 500 MB.
    Target("connectivity-2k", "connectivity", "seconds", 30.0, "s"),
    Target("connectivity-2k", "connectivity", "peak_rss_bytes", 5e8, "bytes"),
)

LOAD_SCRIPT = """\
import json, sys, time
t0 = time.perf_counter()
from pathlib import Path
from exporter.sources.manifests import load_manifests
t1 = time.perf_counter()
result = load_manifests([Path(sys.argv[1])])
t2 = time.perf_counter()
def count(f):
    try:
        return f()
    except Exception:
        return None
snap = result.snapshot
print(json.dumps({
    "import_seconds": round(t1 - t0, 4),
    "load_seconds": round(t2 - t1, 4),
    "files": count(lambda: result.files),
    "documents": count(lambda: result.documents),
    "errors": count(lambda: len(result.errors)),
    "namespaces": count(lambda: len(snap.namespaces)),
    "workloads": count(lambda: len({g.workload for g in snap.pod_groups})),
    "pods": count(lambda: sum(g.pods for g in snap.pod_groups)),
    "policies": count(lambda: len(snap.policies)),
}))
"""


@dataclass(slots=True)
class Measurement:
    """One child process: what ran, how long, how much memory, how it ended."""

    command: list[str]
    seconds: float
    cpu_seconds: float
    peak_rss_bytes: int
    exit_code: int
    timed_out: bool
    output_bytes: int
    stderr_tail: str


@dataclass(slots=True)
class StageResult:
    stage: str
    ok: bool
    seconds: float
    cpu_seconds: float
    peak_rss_bytes: int
    exit_code: int
    runs: list[float] = field(default_factory=list)
    output_bytes: int = 0
    timed_out: bool = False
    command: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    stderr_tail: str = ""

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        if not out["stderr_tail"]:
            del out["stderr_tail"]
        return out


# --------------------------------------------------------------------------- measuring


def _rss_bytes(maxrss: int) -> int:
    # ru_maxrss is in kilobytes on Linux and the BSDs, in bytes on macOS.
    return maxrss if sys.platform == "darwin" else maxrss * 1024


# Runs between the harness and the measured command. A child's ru_maxrss starts from
# the high-water mark of the process it was forked from (Linux carries it across exec),
# so spawning commands straight from the harness -- which may hold a freshly generated
# data set -- would inflate every reading. This wrapper is a bare interpreter (-I -S,
# ~10 MB), pins itself (children inherit it), spawns the command, reaps it with wait4
# and writes: wall seconds, exit code, ru_maxrss, CPU seconds.
WRAPPER = """\
import os, sys, time
report, cpu, argv = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
if cpu >= 0:
    os.sched_setaffinity(0, {cpu})
started = time.perf_counter()
try:
    pid = os.posix_spawnp(argv[0], argv, os.environ)
except OSError as exc:
    sys.stderr.write(f"cannot start {argv[0]}: {exc}\\n")
    sys.exit(127)
_, status, ru = os.wait4(pid, 0)
seconds = time.perf_counter() - started
code = os.waitstatus_to_exitcode(status)
with open(report, "w") as f:
    f.write(f"{seconds} {code} {ru.ru_maxrss} {ru.ru_utime + ru.ru_stime}")
"""


def measure(
    command: Sequence[str],
    stdout: Path,
    cpu: int | None,
    timeout: float,
    env: dict[str, str] | None = None,
) -> Measurement:
    """Run one command under the wrapper and read the command's own rusage.

    `wait4` on the command's pid gives that process's resource usage (and that of any
    children it waited for), so the peak RSS belongs to this command alone. The wrapper
    and the command share a new session, so a timeout kills both.
    """
    with tempfile.TemporaryDirectory(prefix="netfence-measure-") as tmp:
        report = Path(tmp) / "rusage"
        argv = [sys.executable, "-I", "-S", "-c", WRAPPER, str(report)]
        argv += [str(-1 if cpu is None else cpu), *command]
        with (Path(tmp) / "stderr").open("w+b") as err, stdout.open("wb") as out:
            started = time.perf_counter()
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                cwd=ROOT,
                env=env,
                start_new_session=True,
            )
            timed_out = False
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            fallback_seconds = time.perf_counter() - started
            err.seek(0)
            tail = err.read()[-4000:].decode(errors="replace")
        fields = report.read_text().split() if report.exists() else []
    if len(fields) == 4:
        seconds, code = float(fields[0]), int(fields[1])
        rss, cpu_seconds = _rss_bytes(int(fields[2])), float(fields[3])
    else:  # timed out, or the command could not be started
        seconds, code, rss, cpu_seconds = fallback_seconds, proc.returncode, 0, 0.0
    return Measurement(
        command=list(command),
        seconds=seconds,
        cpu_seconds=cpu_seconds,
        peak_rss_bytes=rss,
        exit_code=code,
        timed_out=timed_out,
        output_bytes=stdout.stat().st_size,
        stderr_tail=tail,
    )


def rss_floor(cpu: int | None) -> int | None:
    """Peak RSS reported for `true`: the wrapper's share in every reading (the floor)."""
    true = shutil.which("true")
    if true is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        m = measure([true], Path(tmp) / "out", cpu, 60.0)
    return m.peak_rss_bytes if m.exit_code == 0 else None


def _parse_json(path: Path) -> Any:
    if path.stat().st_size > MAX_PARSE_BYTES:
        return None
    try:
        return json.loads(path.read_bytes())
    except ValueError:
        return None


def _details(stage: str, output: Path, size: Size) -> dict[str, Any]:
    """What the command reported, to catch a fast run that analysed the wrong thing."""
    data = _parse_json(output)
    if stage == "load" and isinstance(data, dict):
        matches = all(data.get(k) == getattr(size, k) for k in ("namespaces", "pods", "policies"))
        return {**data, "counts_match_data": matches}
    if (
        stage in ("scan", "scan-coverage")
        and isinstance(data, dict)
        and isinstance(data.get("summary"), dict)
    ):
        summary = data["summary"]
        matches = all(
            summary.get(k) == getattr(size, k) for k in ("namespaces", "pods", "policies")
        )
        return {"summary": summary, "counts_match_data": matches}
    if stage == "connectivity" and isinstance(data, list):
        return {"connections": len(data)}
    return {}


def run_stage(
    stage: str,
    command: Sequence[str],
    size: Size,
    scratch: Path,
    cpu: int | None,
    timeout: float,
    repeat: int,
) -> StageResult:
    """Run a stage `repeat` times; report the fastest run (least disturbed by noise)
    and the largest peak RSS (memory is the promise that must hold every time)."""
    output = scratch / f"{size.name}-{stage}.out"
    runs: list[Measurement] = []
    for attempt in range(repeat):
        print(
            f"  {size.name} {stage} (run {attempt + 1}/{repeat}) ...",
            end="",
            file=sys.stderr,
            flush=True,
        )
        m = measure(command, output, cpu, timeout)
        runs.append(m)
        print(
            f" {m.seconds:.2f} s, {m.peak_rss_bytes / 2**20:.0f} MiB, exit {m.exit_code}",
            file=sys.stderr,
        )
        if m.exit_code not in SUCCESS_CODES[stage]:
            break
    best = min(runs, key=lambda m: m.seconds)
    failed = next((m for m in runs if m.exit_code not in SUCCESS_CODES[stage]), None)
    shown = failed or best
    result = StageResult(
        stage=stage,
        ok=failed is None,
        seconds=round(best.seconds, 4),
        cpu_seconds=round(best.cpu_seconds, 4),
        peak_rss_bytes=max(m.peak_rss_bytes for m in runs),
        exit_code=shown.exit_code,
        runs=[round(m.seconds, 4) for m in runs],
        output_bytes=shown.output_bytes,
        timed_out=any(m.timed_out for m in runs),
        command=shown.command,
        details=_details(stage, output, size) if failed is None else {},
        stderr_tail=shown.stderr_tail if failed is not None else "",
    )
    output.unlink(missing_ok=True)
    return result


# --------------------------------------------------------------------------- data sets


def _generator_digest() -> str:
    return hashlib.sha256(Path(generate.__file__).read_bytes()).hexdigest()[:16]


def ensure_data(size: Size, data_root: Path, seed: int, regenerate: bool) -> dict[str, Any]:
    """Generate the size's data set unless an identical one is cached.

    Identical means same parameters and same generator source: a changed generator
    makes different data, and comparing timings across different data is meaningless.
    """
    params = generate.Params(size.namespaces, size.pods, size.policies, seed=seed)
    folder = data_root / size.name
    manifests = folder / "manifests"
    params_file = folder / "params.json"
    wanted = {"params": asdict(params), "generator_sha256": _generator_digest()}
    if not regenerate and params_file.is_file() and manifests.is_dir():
        try:
            cached = json.loads(params_file.read_text())
        except ValueError:
            cached = {}
        if {k: cached.get(k) for k in wanted} == wanted:
            return {**cached, "dir": str(manifests), "generated_now": False}
    print(f"  generating {size.name} into {manifests} ...", end="", file=sys.stderr, flush=True)
    tmp = folder / "manifests.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    stats = generate.generate(params, tmp)
    shutil.rmtree(manifests, ignore_errors=True)
    tmp.rename(manifests)
    record = {**wanted, "stats": stats.to_json()}
    params_file.write_text(json.dumps(record, indent=2) + "\n")
    print(f" {stats.seconds:.1f} s, {stats.bytes / 1e6:.1f} MB", file=sys.stderr)
    return {**record, "dir": str(manifests), "generated_now": True}


# --------------------------------------------------------------------------- machine


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def _cpu_model() -> str:
    for line in _read("/proc/cpuinfo").splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def _memory_bytes() -> int | None:
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return None


def _commit() -> str | None:
    """The checked-out commit, read from .git without running git (best effort)."""
    git = ROOT / ".git"
    head = _read(str(git / "HEAD")).strip()
    if not head.startswith("ref: "):
        return head or None
    ref = head[5:]
    value = _read(str(git / ref)).strip()
    if value:
        return value
    for line in _read(str(git / "packed-refs")).splitlines():
        if line.endswith(f" {ref}"):
            return line.split()[0]
    return None


def _netfence_version(netfence: str) -> str | None:
    try:
        done = subprocess.run(
            [netfence, "--version"], capture_output=True, text=True, timeout=60, check=False
        )
    except OSError:
        return None
    return (done.stdout or done.stderr).strip() or None


def machine_info(cpu: int | None) -> dict[str, Any]:
    affinity = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set()
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpus_available": len(affinity) or None,
        "pinned_cpu": cpu,
        "memory_bytes": _memory_bytes(),
        "pyyaml": yaml.__version__,
        "libyaml": bool(getattr(yaml, "__with_libyaml__", False)),
        "rss_floor_bytes": rss_floor(cpu),
    }


# --------------------------------------------------------------------------- the run


def _parse_sizes(text: str, option: str) -> list[Size]:
    """`small,medium` or custom `name=NAMESPACES:PODS:POLICIES` entries."""
    out: list[Size] = []
    for token in filter(None, (t.strip() for t in text.split(","))):
        if token == "none":
            continue
        if "=" in token:
            name, _, spec = token.partition("=")
            try:
                ns, pods, pol = (int(x) for x in spec.split(":"))
            except ValueError:
                raise SystemExit(
                    f"{option}: {token!r} is not NAME=NAMESPACES:PODS:POLICIES"
                ) from None
            out.append(Size(name, ns, pods, pol))
        elif token in SIZES:
            out.append(SIZES[token])
        else:
            raise SystemExit(f"{option}: unknown size {token!r} (known: {', '.join(SIZES)})")
    return out


def _default_cpu() -> int | None:
    if not hasattr(os, "sched_getaffinity"):
        return None
    # The highest-numbered allowed core: core 0 usually takes the most interrupts.
    return max(os.sched_getaffinity(0))


def _default_netfence() -> str:
    beside = Path(sys.executable).parent / "netfence"
    if beside.exists():
        return str(beside)
    return shutil.which("netfence") or str(ROOT / ".venv" / "bin" / "netfence")


def check_targets(sizes: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for t in TARGETS:
        stage = sizes.get(t.size, {}).get("stages", {}).get(t.stage)
        entry: dict[str, Any] = {
            "name": t.name,
            "size": t.size,
            "stage": t.stage,
            "metric": t.metric,
            "limit": t.limit,
            "value": None,
            "pass": None,
        }
        if stage is None:
            entry["note"] = "not run"
        elif not stage["ok"]:
            entry.update(value=stage[t.metric], note="stage failed")
            entry["pass"] = False
        else:
            entry.update(value=stage[t.metric], **{"pass": stage[t.metric] < t.limit})
        out.append(entry)
    return out


def _fmt_mb(n: int | float | None) -> str:
    return "-" if n is None else f"{n / 2**20:,.0f}"


def _exit_text(res: dict[str, Any]) -> str:
    if res["timed_out"]:
        return "TIMEOUT"
    return str(res["exit_code"]) + ("" if res["ok"] else " FAIL")


def table(report: dict[str, Any]) -> str:
    """The compact human summary; the `x prev` column makes the scaling visible."""
    rows = [
        (
            "SIZE",
            "NS",
            "PODS",
            "POLICIES",
            "DATA MB",
            "STAGE",
            "SECONDS",
            "CPU S",
            "PEAK MiB",
            "EXIT",
            "x PREV",
        )
    ]
    previous: dict[str, tuple[float, int]] = {}
    for name, entry in report["sizes"].items():
        first = True
        for stage in STAGES:
            res = entry["stages"].get(stage)
            if res is None:
                continue
            prev = previous.get(stage)
            ratio = "-"
            if prev and prev[0] > 0 and res["ok"]:
                data_ratio = entry["pods"] / max(prev[1], 1)
                ratio = f"{res['seconds'] / prev[0]:.1f}x (data {data_ratio:.3g}x)"
            if res["ok"]:
                previous[stage] = (res["seconds"], entry["pods"])
            rows.append(
                (
                    name if first else "",
                    f"{entry['namespaces']:,}" if first else "",
                    f"{entry['pods']:,}" if first else "",
                    f"{entry['policies']:,}" if first else "",
                    f"{entry['file_bytes'] / 1e6:.1f}" if first else "",
                    stage,
                    f"{res['seconds']:.2f}",
                    f"{res['cpu_seconds']:.2f}",
                    _fmt_mb(res["peak_rss_bytes"]),
                    _exit_text(res),
                    ratio,
                )
            )
            first = False
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    for t in report["targets"]:
        verdict = {True: "PASS", False: "FAIL", None: "not run"}[t["pass"]]
        value = ""
        if t["value"] is not None:
            value = (
                f"{t['value'] / 1e9:.2f} GB"
                if t["metric"] == "peak_rss_bytes"
                else f"{t['value']:.2f} s"
            )
        lines.append(f"target {t['name']}: {value} {verdict}".replace("  ", " "))
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description="Time netfence load/scan/connectivity on synthetic clusters; JSON results.",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results directory")
    parser.add_argument(
        "--sizes",
        default="small,medium,large",
        help=f"comma-separated: {', '.join(SIZES)} or NAME=NAMESPACES:PODS:POLICIES",
    )
    parser.add_argument(
        "--connectivity-sizes",
        default="small,medium",
        help="sizes (among --sizes) that also time `netfence connectivity`; 'none' for none",
    )
    parser.add_argument(
        "--stages",
        default=",".join(STAGES),
        help="subset of load,scan-coverage,scan,connectivity",
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs per stage; the fastest is reported"
    )
    parser.add_argument(
        "--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds per command"
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="data set cache directory")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--regenerate", action="store_true", help="ignore cached data sets")
    parser.add_argument(
        "--netfence", default=None, help="netfence executable (default: the venv's)"
    )
    pin = parser.add_mutually_exclusive_group()
    pin.add_argument("--cpu", type=int, default=None, help="core to pin children to")
    pin.add_argument("--no-pin", action="store_true", help="do not pin children to one core")
    parser.add_argument(
        "--fail-on-targets", action="store_true", help="exit 1 when a checked target fails"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    sizes = _parse_sizes(args.sizes, "--sizes")
    conn_sizes = {t.strip() for t in args.connectivity_sizes.split(",")} - {"", "none"}
    if unknown_sizes := conn_sizes - {s.name for s in sizes} - set(SIZES):
        raise SystemExit(f"--connectivity-sizes: unknown {', '.join(sorted(unknown_sizes))}")
    stages = [s.strip() for s in args.stages.split(",") if s.strip()]
    if unknown := set(stages) - set(STAGES):
        raise SystemExit(f"--stages: unknown {', '.join(sorted(unknown))}")
    if args.repeat < 1:
        raise SystemExit("--repeat must be at least 1")
    cpu = None if args.no_pin else (args.cpu if args.cpu is not None else _default_cpu())
    netfence = args.netfence or _default_netfence()
    started = datetime.now(UTC)
    report: dict[str, Any] = {
        "schema": SCHEMA_VERSION,
        "started_at": started.isoformat(timespec="seconds"),
        "commit": _commit(),
        "machine": machine_info(cpu),
        "settings": {
            "netfence": netfence,
            "netfence_version": _netfence_version(netfence),
            "python_for_load": sys.executable,
            "repeat": args.repeat,
            "timeout_seconds": args.timeout,
            "seed": args.seed,
            "stages": stages,
            "connectivity_sizes": sorted(conn_sizes),
            "measurement": "wall clock from spawn to exit of each command (includes "
            "interpreter start-up); peak RSS and CPU time from os.wait4 on that process, "
            "spawned by a bare wrapper interpreter (floor: machine.rss_floor_bytes); "
            "pinned to one core with sched_setaffinity unless machine.pinned_cpu is null",
        },
        "sizes": {},
    }
    all_ok = True
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="netfence-bench-") as tmp:
        scratch = Path(tmp)
        for size in sizes:
            print(
                f"{size.name}: {size.namespaces} namespaces, {size.pods} pods, "
                f"{size.policies} policies",
                file=sys.stderr,
            )
            data = ensure_data(size, args.data, args.seed, args.regenerate)
            stats = data.get("stats", {})
            entry: dict[str, Any] = {
                "namespaces": size.namespaces,
                "pods": size.pods,
                "policies": size.policies,
                "files": stats.get("files"),
                "file_bytes": stats.get("bytes"),
                "objects": stats.get("kinds"),
                "data_dir": data["dir"],
                "generate_seconds": stats.get("seconds"),
                "generated_now": data["generated_now"],
                "stages": {},
            }
            manifests = data["dir"]
            commands = {
                "load": [sys.executable, "-c", LOAD_SCRIPT, manifests],
                "scan-coverage": [
                    *(netfence, "scan", "--manifests", manifests, "-o", "json", "--no-exposure")
                ],
                "scan": [netfence, "scan", "--manifests", manifests, "-o", "json"],
                "connectivity": [netfence, "connectivity", "--manifests", manifests, "-o", "json"],
            }
            for stage in stages:
                if stage == "connectivity" and size.name not in conn_sizes:
                    continue
                res = run_stage(
                    stage, commands[stage], size, scratch, cpu, args.timeout, args.repeat
                )
                all_ok &= res.ok
                entry["stages"][stage] = res.to_json()
            report["sizes"][size.name] = entry
    report["targets"] = check_targets(report["sizes"])
    report["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    report["ok"] = all_ok
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    text = json.dumps(report, indent=2) + "\n"
    path = args.out / f"bench-{stamp}.json"
    path.write_text(text)
    (args.out / "latest.json").write_text(text)
    print(table(report))
    print(f"\nresults: {path}")
    if not all_ok:
        print("some stages FAILED (see stderr_tail in the JSON)", file=sys.stderr)
        return 1
    if args.fail_on_targets and any(t["pass"] is False for t in report["targets"]):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

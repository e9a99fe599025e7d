"""The program output quoted in the docs, written by the program (`make docs`).

A doc quotes output between two markers:

    <!-- netfence:begin NAME -->
    ...what BLOCKS[NAME]() prints, replaced on every run...
    <!-- netfence:end -->

Each block runs `netfence` in-process (`exporter.cli.main`) on the bundled demo cluster
(or a copy with one change), so an example in the docs is what the program says today.
`python docs/generate.py --check` (and tests/docs/test_doc_blocks.py) fails when a
committed block differs from what the program now prints. Volatile parts (temporary
paths, commit hashes) are normalised to fixed placeholders, never left out.

This script stands above the packages, as a user of the CLI does: import-linter's
contracts (pyproject.toml) cover `exporter` and `reports`, which never import it.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "examples" / "demo-cluster"
WIDTH = 92
BEGIN = re.compile(r"<!-- netfence:begin ([a-z0-9-]+) -->\n")
END = "<!-- netfence:end -->"

# An unparsable NetworkPolicy: the scan example shows a degraded namespace and an input error.
BROKEN_POLICY = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: broken, namespace: payments}
spec:
  podSelector: {}
  ingress:
    - from: [{ipBlock: {cidr: 10.0.0.0}}]
"""

# The pull request of the diff example: an allow-all beside payments' default-deny.
OOPS_POLICY = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: oops-allow-all, namespace: payments}
spec:
  podSelector: {matchLabels: {app: payments-api}}
  ingress: [{}]
"""


def run(argv: Sequence[str]) -> tuple[int, str]:
    """`netfence ARGV` in-process: exit code and standard output (stderr is dropped)."""
    from exporter.cli import main

    out = io.StringIO()
    with contextlib.redirect_stderr(io.StringIO()):
        code = main(list(argv), out)
    return code, out.getvalue()


def compact(value: Any, indent: int = 0, lead: int = 0) -> str:
    """JSON as the docs print it: a value on one line when it fits in WIDTH (after
    `indent` spaces and `lead` characters of its key), else one member per line, two
    spaces deeper."""
    flat = json.dumps(value, ensure_ascii=False)
    if indent + lead + len(flat) <= WIDTH or not isinstance(value, dict | list) or not value:
        return flat
    pad = " " * (indent + 2)
    if isinstance(value, dict):
        items = [
            f"{pad}{json.dumps(k)}: {compact(v, indent + 2, len(k) + 4)}" for k, v in value.items()
        ]
        return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"
    items = [pad + compact(v, indent + 2) for v in value]
    return "[\n" + ",\n".join(items) + "\n" + " " * indent + "]"


def fenced(text: str, lang: str = "") -> str:
    return f"```{lang}\n{text.rstrip()}\n```\n"


@contextlib.contextmanager
def demo_copy(extra: dict[str, str]) -> Iterator[Path]:
    """The demo cluster copied to DIR/manifests, plus `extra` files (relative paths)."""
    with tempfile.TemporaryDirectory(prefix="netfence-docs-") as tmp:
        manifests = Path(tmp) / "manifests"
        shutil.copytree(DEMO, manifests, ignore=shutil.ignore_patterns("README.md"))
        for name, text in extra.items():
            (manifests / name).write_text(text)
        yield manifests


def _json(argv: Sequence[str]) -> Any:
    _code, text = run(argv)
    return json.loads(text)


def _by(items: list[dict[str, Any]], **keys: str) -> dict[str, Any]:
    """The one entry whose fields equal `keys` (a missing entry fails generation)."""
    found = [i for i in items if all(i.get(k) == v for k, v in keys.items())]
    if len(found) != 1:
        raise LookupError(f"expected one entry with {keys}, found {len(found)}")
    return found[0]


def scan_json() -> str:
    """`scan -o json` of the demo with an unparsable policy in payments: a verified and
    an unknown namespace, a finding, the input error."""
    with demo_copy({"payments/broken.yaml": BROKEN_POLICY}) as manifests:
        data = _json(["scan", "--manifests", str(manifests), "-o", "json"])
    prefix = str(manifests.parent) + os.sep
    for error in data["errors"]:
        error["source"] = error["source"].removeprefix(prefix)
    excerpt = {
        "summary": data["summary"],
        "namespaces": [
            _by(data["namespaces"], name="shop"),
            _by(data["namespaces"], name="payments"),
        ],
        "findings": [_by(data["findings"], check="unverifiable-policy")],
        "errors": data["errors"],
    }
    return fenced(compact(excerpt), "json")


def exposure_json() -> str:
    """Two entries of the demo's `exposures` and `internet_egress` lists."""
    data = _json(["scan", "--manifests", str(DEMO), "-o", "json"])
    text = (
        '"exposures": '
        + compact([_by(data["exposures"], name="frontend", category="ingress")])
        + ',\n"internet_egress": '
        + compact([_by(data["internet_egress"], workload="databases/postgres[StatefulSet]")])
    )
    return fenced(text, "json")


def connectivity_json() -> str:
    """Three kinds of entries of the demo's `connectivity -o json`."""
    data = _json(["connectivity", "--manifests", str(DEMO), "-o", "json"])
    picked = [
        _by(data, src="0.0.0.0/0", dst="sandbox/playground[Deployment]"),
        _by(data, src="analytics/etl-worker[Deployment]", dst="10.2.0.0-10.255.255.255"),
        _by(data, src="shop/frontend[Deployment]", dst="shop/cart[Deployment]"),
    ]
    return fenced("[\n" + ",\n".join("  " + json.dumps(p) for p in picked) + "\n]", "json")


def intent_json() -> str:
    """The `intent` key of the demo's scan with its intent file (examples/intent)."""
    intent = ROOT / "examples" / "intent" / "intent.yaml"
    data = _json(["scan", "--manifests", str(DEMO), "--intent", str(intent), "-o", "json"])
    full = data["intent"]
    excerpt = {
        "guardrails": full["guardrails"],
        "teams": full["teams"],
        "namespace_labels": {"shop": full["namespace_labels"]["shop"]},
        "guardrail_violations": [
            _by(full["guardrail_violations"], namespace="team-legacy", rule="default-deny-ingress")
        ],
        "exceptions": full["exceptions"],
        "baseline_drift": [d for d in full["baseline_drift"] if d["state"] != "in_sync"],
        "intended_exposures": full["intended_exposures"],
        "notes": full["notes"],
    }
    return fenced('"intent": ' + compact(excerpt), "json")


EXPLAIN = ["--from", "shop/cart", "--to", "payments/payments-api", "--port", "8443/TCP"]


def explain_json() -> str:
    data = _json(["explain", "--manifests", str(DEMO), *EXPLAIN, "-o", "json"])
    return fenced(compact(data), "json")


def explain_table() -> str:
    """README's example: the table answer, with the command that gives it."""
    _code, text = run(["explain", "--manifests", str(DEMO), *EXPLAIN])
    command = (
        "$ .venv/bin/netfence explain --manifests examples/demo-cluster \\\n"
        "    --from shop/cart --to payments/payments-api --port 8443/TCP\n"
    )
    return fenced(command + text)


def _git(repo: Path, *args: str) -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "docs",
        "GIT_AUTHOR_EMAIL": "docs@example.com",
        "GIT_COMMITTER_NAME": "docs",
        "GIT_COMMITTER_EMAIL": "docs@example.com",
        "GIT_AUTHOR_DATE": "2026-10-01T00:00:00Z",
        "GIT_COMMITTER_DATE": "2026-10-01T00:00:00Z",
    }
    subprocess.run(  # noqa: S603 - fixed argument list, no shell
        ["git", "-C", str(repo), *args],  # noqa: S607 - git from PATH, as `netfence diff` uses it
        check=True,
        env=env,
        capture_output=True,
    )


@contextlib.contextmanager
def _pull_request() -> Iterator[None]:
    """The working directory is a repository holding the demo under deploy/ at revision
    `origin/main`, with a change: an allow-all beside payments' default-deny."""
    with tempfile.TemporaryDirectory(prefix="netfence-docs-") as tmp:
        repo = Path(tmp)
        shutil.copytree(DEMO, repo / "deploy", ignore=shutil.ignore_patterns("README.md"))
        _git(repo, "init", "-q", "-b", "main")
        _git(repo, "add", "-A")
        _git(repo, "commit", "-q", "-m", "demo")
        _git(repo, "update-ref", "refs/remotes/origin/main", "HEAD")
        (repo / "deploy" / "payments" / "oops.yaml").write_text(OOPS_POLICY)
        cwd = Path.cwd()
        os.chdir(repo)
        try:
            yield
        finally:
            os.chdir(cwd)


DIFF = ["diff", "--base", "origin/main", "--head", "deploy"]


def diff_json() -> str:
    """`diff -o json` of the pull request (_pull_request)."""
    with _pull_request():
        data = _json([*DIFF, "-o", "json"])
    data["base"] = re.sub(r"\([0-9a-f]{12}\)", "(3f2a9c1b0d4e)", data["base"])
    for ns in data["namespaces"]:
        # one entry of a long list is enough to show its shape
        ns["connections"]["added"] = ns["connections"]["added"][:1]
    return fenced(compact(data), "json")


def diff_markdown() -> str:
    """`diff -o markdown` of the same pull request: the comment as posted."""
    with _pull_request():
        _code, text = run([*DIFF, "-o", "markdown"])
    return fenced(text, "markdown")


@contextlib.contextmanager
def _history() -> Iterator[str]:
    """A store URL with three scans of prod-eu: payments loses its default-deny at 14:10."""
    from exporter.store import FindingRow, NamespaceRow, PolicyDigest, ScanRecord, Store

    t0 = datetime(2026, 10, 3, 14, 0, tzinfo=UTC).timestamp()
    policy = PolicyDigest(
        "NetworkPolicy", "networking.k8s.io/v1", "payments", "default-deny", "a" * 64
    )

    def scan(at: float, deny: bool) -> ScanRecord:
        return ScanRecord(
            cluster="prod-eu",
            started_at=at,
            duration_seconds=1.0,
            success=True,
            namespaces=(
                NamespaceRow("payments", 4, deny, True, 4 if deny else 0, 4),
                NamespaceRow("shop", 2, False, False, 0, 0),
            ),
            policies=(policy,) if deny else (),
            findings=()
            if deny
            else (FindingRow("payments", "no-default-deny", "high", "Namespace/payments", "open"),),
            interval_seconds=300,
        )

    with tempfile.TemporaryDirectory(prefix="netfence-docs-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'netfence.db'}"
        store = Store.open(url, clock=lambda: t0 + 3600)
        for at, deny in ((t0, True), (t0 + 300, True), (t0 + 600, False)):
            store.record(scan(at, deny))
        store.close()
        yield url


def history_table() -> str:
    """`netfence history` over the seeded store: the change log of a day."""
    argv = ["--since", "2026-10-03", "--until", "2026-10-04"]
    with _history() as url:
        _code, text = run(["history", "--store", url, *argv])
    return fenced(f"$ netfence history --store sqlite:///netfence.db {' '.join(argv)}\n{text}")


def history_at() -> str:
    """`netfence history --at T` over the seeded store: the state at 14:05."""
    with _history() as url:
        _code, text = run(["history", "--store", url, "--at", "2026-10-03T14:05"])
    return fenced(f"$ netfence history --store sqlite:///netfence.db --at 2026-10-03T14:05\n{text}")


def demo_exposures() -> str:
    """The demo's exposures through a route or from the internet, as `scan` finds them."""
    data = _json(["scan", "--manifests", str(DEMO), "-o", "json"])
    rows = [
        "| namespace | object | category | permitted ports | opened by |",
        "|---|---|---|---|---|",
    ]
    for e in data["exposures"]:
        if e["category"] not in ("internet", "ingress", "gateway"):
            continue
        ports = e["ports"] if isinstance(e["ports"], str) else ", ".join(e["ports"])
        opened = ", ".join(f"`{o}`" for o in e["objects"])
        rows.append(
            f"| {e['namespace']} | {e['kind']} `{e['name']}` | {e['category']} | "
            f"{ports or 'none (denied by policy)'} | {opened} |"
        )
    return "\n".join(rows) + "\n"


BLOCKS: dict[str, Callable[[], str]] = {
    "scan-json": scan_json,
    "exposure-json": exposure_json,
    "connectivity-json": connectivity_json,
    "intent-json": intent_json,
    "explain-json": explain_json,
    "explain-table": explain_table,
    "diff-json": diff_json,
    "diff-markdown": diff_markdown,
    "history-table": history_table,
    "history-at": history_at,
    "demo-exposures": demo_exposures,
}
"""Every generated block, by the name its markers carry."""

DOCS = (
    "README.md",
    "docs/json-output.md",
    "docs/diff-output.md",
    "docs/history.md",
    "examples/demo-cluster/README.md",
)
"""The files that hold generated blocks."""


def blocks_in(text: str) -> list[tuple[str, int, int]]:
    """(name, start, end) of each block's contents, in file order."""
    found = []
    for match in BEGIN.finditer(text):
        end = text.find(END, match.end())
        if end < 0:
            raise ValueError(f"block {match.group(1)} has no {END}")
        found.append((match.group(1), match.end(), end))
    return found


def render(text: str, produce: Callable[[str], str]) -> str:
    """`text` with every block's contents replaced by `produce(name)`."""
    out, pos = [], 0
    for name, start, end in blocks_in(text):
        out += [text[pos:start], produce(name)]
        pos = end
    return "".join([*out, text[pos:]])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a doc differs; write nothing")
    args = parser.parse_args(argv)
    cache: dict[str, str] = {}

    def produce(name: str) -> str:
        if name not in cache:
            cache[name] = BLOCKS[name]()
        return cache[name]

    stale = []
    for doc in DOCS:
        path = ROOT / doc
        text = path.read_text()
        new = render(text, produce)
        if new != text:
            stale.append(doc)
            if not args.check:
                path.write_text(new)
    verb = "differ from the program (run `make docs`)" if args.check else "rewritten"
    if stale:
        print(f"{verb}: {', '.join(stale)}", file=sys.stderr)
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())

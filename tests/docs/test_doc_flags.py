"""Every command-line flag the docs quote exists on the command they name, and every
default they state is the program's (issue 11: docs that disagree with the program).

Covered, in README.md, docs/**/*.md, examples/**/README.md, deploy/netfence/README.md and
benchmarks/README.md:
- each `netfence COMMAND ...` line (code blocks, with `\\` continuations and synopsis
  continuation lines, and inline code): COMMAND exists, each `--flag` is one of its
  options, and each `-o a|b|c` / `--flag a|b` alternative is one of the flag's choices;
- every other `--flag` in the text: a flag of some netfence command, of the
  `python -m benchmarks.X` command on the same line, or of another tool (FOREIGN);
- each default the prose states ("`--flag` ... (default X)", "`--flag` (X)"): equal to
  the parser's default, or for `serve` to the loaded Config (exporter/config/settings.py
  is where serve's defaults live); prose defaults are listed in PROSE with their check;
- each default the `--help` text states ("default X"): equal to the same real default.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import importlib
import io
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from exporter.cli import build_parser
from exporter.config import load_config
from exporter.config.values import parse_duration

ROOT = Path(__file__).resolve().parents[2]
DOCS = sorted(
    {
        ROOT / "README.md",
        *ROOT.glob("docs/**/*.md"),
        *ROOT.glob("examples/**/README.md"),
        ROOT / "deploy" / "netfence" / "README.md",
        ROOT / "benchmarks" / "README.md",
    }
)
FLAG = re.compile(r"(?<![\w-])(--[a-z][a-z0-9.-]*[a-z0-9])")

FOREIGN = {
    "--create-namespace": "helm install",
    "--set": "helm install",
    "--build-arg": "docker build",
    "--body-file": "gh pr comment",
    "--fail": "curl",
    "--silent": "curl",
    "--request": "curl",
    "--header": "curl",
    "--data-urlencode": "curl",
    "--verdict": "hubble observe",
    "--last": "hubble observe",
    "--namespace": "hubble observe / helm",
    "--server": "hubble status",
    "--as": "kubectl auth can-i",
    "--metric-labels-allowlist": "kube-state-metrics",
    "--strict": "mypy",
    "--context": "kubectl",
}
"""Flags of other tools that the docs quote."""


def _commands() -> dict[str, dict[str, argparse.Action]]:
    """`scan`, `flows replay`, ... -> option string -> its argparse action."""
    out: dict[str, dict[str, argparse.Action]] = {}

    def walk(parser: argparse.ArgumentParser, prefix: str) -> None:
        out[prefix] = {s: a for a in parser._actions for s in a.option_strings}
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, f"{prefix} {name}".strip())

    walk(build_parser(), "")
    return out


COMMANDS = _commands()
NAMES = sorted((name for name in COMMANDS if name), key=len, reverse=True)
ALL_FLAGS = {flag for options in COMMANDS.values() for flag in options}


def _quoted_commands(text: str) -> Iterator[str]:
    """Each `netfence ...` command line the text quotes, continuations joined."""
    for block in re.findall(r"```[a-z]*\n(.*?)```", text, re.S):
        current: str | None = None
        for line in block.splitlines():
            stripped = line.strip()
            if current is not None and (
                current.endswith("\\") or re.match(r"^\s+[\[-]", line) is not None
            ):
                current = current.rstrip("\\") + " " + stripped
                continue
            if current:
                yield current
            current = stripped if re.search(r"(^|[|;&($]\s*|bin/)netfence ", stripped) else None
        if current:
            yield current
    for span in re.findall(r"`([^`\n]+)`", text):
        if re.match(r"(\.venv/bin/)?netfence [a-z]", span):
            yield span


def _split(line: str) -> tuple[str, str]:
    """(command name, the rest) of a quoted netfence command line."""
    rest = re.sub(r"^.*?netfence ", "", line.split(" # ")[0])
    for name in NAMES:
        if rest == name or rest.startswith(name + " "):
            return name, rest[len(name) :]
    raise AssertionError(f"no netfence command in {line!r}")


QUOTED = [
    (doc.relative_to(ROOT).as_posix(), line)
    for doc in DOCS
    for line in _quoted_commands(doc.read_text())
]


def test_the_docs_quote_commands() -> None:
    assert len(QUOTED) > 80  # the extraction finds them (README, docs, runbooks)
    assert {_split(line)[0] for _doc, line in QUOTED} >= {
        "scan",
        "connectivity",
        "explain",
        "diff",
        "serve",
        "flows replay",
        "flows watch",
        "history",
        "report",
    }


@pytest.mark.parametrize(
    ("doc", "line"), QUOTED, ids=[f"{d}:{i}" for i, (d, _) in enumerate(QUOTED)]
)
def test_each_quoted_flag_is_an_option_of_its_command(doc: str, line: str) -> None:
    name, rest = _split(line)
    options = COMMANDS[name]
    tokens = rest.replace("[", " ").replace("]", " ").split()
    for i, token in enumerate(tokens):
        flag = token.split("=")[0].strip("`")
        if not FLAG.fullmatch(flag) and flag != "-o":
            continue
        assert flag in options, f"{doc}: `netfence {name}` has no {flag}: {line}"
        choices = options[flag].choices
        value = tokens[i + 1].strip("`\"'") if i + 1 < len(tokens) else ""
        if choices is not None and re.fullmatch(r"[a-z_]+(\|[a-z_]+)*", value):
            for alternative in value.split("|"):
                assert alternative in choices, f"{doc}: {name} {flag} has no {alternative!r}"


def _bench(module: str) -> ModuleType:
    """`benchmarks.MODULE` (benchmarks/ is no installed package: imported from the tree)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return importlib.import_module(f"benchmarks.{module}")


@functools.cache
def _benchmark_flags(module: str) -> frozenset[str]:
    """The options `python -m benchmarks.MODULE --help` lists."""
    mod = _bench(module)
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        mod.main(["--help"])
    return frozenset(FLAG.findall(out.getvalue()))


def test_every_other_flag_the_docs_name_exists() -> None:
    """Outside quoted netfence commands: a netfence flag, a flag of the benchmark the
    paragraph runs (`python -m benchmarks.X`), or another tool's (FOREIGN)."""
    unknown = []
    for doc in DOCS:
        rel = doc.relative_to(ROOT).as_posix()
        for paragraph in re.split(r"\n\s*\n", doc.read_text()):
            benches = set(re.findall(r"benchmarks\.(\w+)", paragraph))
            if rel == "benchmarks/README.md":
                benches |= {"run", "generate"}
            known = set().union(*(_benchmark_flags(b) for b in benches))
            for flag in FLAG.findall(paragraph):
                if flag not in ALL_FLAGS | known and flag not in FOREIGN:
                    unknown.append(f"{rel}: {flag}")
    assert unknown == []


# ---- defaults ---------------------------------------------------------------------

SERVE_ARGS = ["serve", "--manifests", str(ROOT / "examples" / "demo-cluster")]


def _serve_defaults() -> dict[str, Any]:
    """serve's effective defaults: what load_config makes of no flags."""
    args = build_parser().parse_args(SERVE_ARGS)
    c = load_config(vars(args))
    return {
        "--web.listen-address": f"{c.listen_host}:{c.listen_port}",
        "--store": c.store_url,
        "--store.retention": c.retention_days * 86400,
        "--scan.interval": c.scan.interval,
        "--scan.jitter": c.scan.jitter,
        "--scan.timeout": c.scan.timeout,
        "--scan.page-size": c.scan.page_size,
        "--scan.retries": c.scan.retries,
        "--ready.grace": c.ready_grace,
        "--log.level": c.log_level,
        "--metrics.exposure-info-limit": c.exposure_info_limit,
        "--flows.shard": c.flows.shard,
        "--flows.top-n": c.flows.top_n,
        "--flows.max-namespaces": c.flows.max_namespaces,
        "--flows.matrix-top-n": c.flows.matrix_top_n,
        "--flows.unused-window": c.flows.unused_window,
        "--flows.policy-unused-window": c.flows.policy_unused_window,
        "--flows.flush-interval": c.flows.flush_interval,
        "--flows.namespace-ttl": c.flows.namespace_ttl,
        "--reports.schedule": c.reports.schedule,
    }


SERVE = _serve_defaults()


def _defaults(flag: str) -> list[Any]:
    """The real default of `flag` on every command that has it (None: no value)."""
    if flag in SERVE:  # serve's (history and report require --store)
        return [SERVE[flag]]
    return [options[flag].default for options in COMMANDS.values() if flag in options]


def _choices(flag: str) -> set[str]:
    return {str(c) for o in COMMANDS.values() if flag in o for c in o[flag].choices or ()}


def _value(text: str, choices: set[str]) -> Any:
    """A stated default as a value: a number, a duration in seconds, a quoted literal or
    one of the flag's choices; None for prose ("detected from ...", "current")."""
    quoted = text[:1] in "`'\""
    text = text.strip("`'\" ")
    number = text.replace(",", "")
    if re.fullmatch(r"\d+", number):
        return int(number)
    spelled = re.fullmatch(r"(\d+(?:\.\d+)?) ?(s|m|h|d|days?|hours?|minutes?)", text)
    if spelled:
        unit = {"day": "d", "hour": "h", "minute": "m"}.get(spelled.group(2).rstrip("s"))
        return parse_duration(spelled.group(1) + (unit or spelled.group(2)))
    if quoted or text in choices or re.fullmatch(r":\d+|[a-z]+:///\S+", text):
        return text
    return None


def _same(stated: Any, real: Any) -> bool:
    if isinstance(stated, int | float) and real is not None:
        with contextlib.suppress(ValueError):
            return float(stated) == float(real)
        return float(stated) == parse_duration(real)
    return bool(stated == real)


def _bench_defaults(flag: str) -> list[Any]:
    """Defaults of `python -m benchmarks.run` and `benchmarks.generate`."""
    parsers = [_bench(m)._parser() for m in ("run", "generate")]
    return [a.default for p in parsers for a in p._actions if flag in a.option_strings]


PROSE: dict[tuple[str, str], Callable[[], bool]] = {
    ("README.md", "--network-plugin"): lambda: _defaults("--network-plugin") == [None] * 5,
    ("docs/semantics.md", "--network-plugin"): lambda: _defaults("--network-plugin") == [None] * 5,
    ("README.md", "--reports.schedule"): lambda: SERVE["--reports.schedule"] == "0 6 1 1,4,7,10 *",
    ("docs/diff-output.md", "--manifests-subdir"): lambda: (
        _defaults("--manifests-subdir") == [None]
    ),
    ("benchmarks/README.md", "--connectivity-sizes"): (
        lambda: _bench_defaults("--connectivity-sizes") == ["small,medium"]  # "small and medium"
    ),
}
"""Defaults stated in words, with what makes them true (None: detected, not a value)."""

STATED = re.compile(
    r"`(--[a-z][\w.-]*)[^`]*`((?:[^.;`]|`[^`-][^`]*`){0,60}?)\bdefault:?\s+"
    r"(`[^`]+`|'[^']+'|[\w:/.,]+(?: [a-z]+)?)"
)
BARE = re.compile(r"`(--[a-z][\w.-]*)`,? \((\d[\w,. ]*)\)")


def _stated_defaults() -> list[tuple[str, str, str]]:
    found = []
    for doc in DOCS:
        text = re.sub(r"\s*\n\s*", " ", doc.read_text())
        rel = doc.relative_to(ROOT).as_posix()
        found += [(rel, m.group(1), m.group(3)) for m in STATED.finditer(text)]
        found += [(rel, m.group(1), m.group(2)) for m in BARE.finditer(text)]
    return found


STATED_DEFAULTS = _stated_defaults()


def test_the_docs_state_defaults() -> None:
    flags = {flag for _doc, flag, _value in STATED_DEFAULTS}
    assert {"--fail-on", "--store.retention", "--flows.top-n", "--top"} <= flags


@pytest.mark.parametrize(("doc", "flag", "stated"), STATED_DEFAULTS)
def test_a_stated_default_is_the_programs(doc: str, flag: str, stated: str) -> None:
    value = _value(stated, _choices(flag))
    if value is None:
        assert (doc, flag) in PROSE, f"{doc}: {flag} default {stated!r}: add it to PROSE"
        assert PROSE[(doc, flag)](), f"{doc}: {flag} default {stated!r}"
        return
    real = _bench_defaults(flag) if doc == "benchmarks/README.md" else _defaults(flag)
    assert real, f"{doc}: no command has {flag}"
    assert all(_same(value, r) for r in real), f"{doc}: {flag} default {stated!r}, program {real}"


def _help_defaults() -> list[tuple[str, str, str]]:
    found = []
    for name, options in COMMANDS.items():
        for flag, action in options.items():
            if flag != action.option_strings[-1] or not action.help:
                continue
            m = re.search(r"default:? ('[^']+'|[\w:/.]+)|\((\d+)\)$", action.help)
            if m:
                found.append((name, flag, m.group(1) or m.group(2)))
    return found


HELP_DEFAULTS = _help_defaults()


@pytest.mark.parametrize(("command", "flag", "stated"), HELP_DEFAULTS)
def test_a_default_in_the_help_text_is_the_programs(command: str, flag: str, stated: str) -> None:
    value = _value(stated, {str(c) for c in COMMANDS[command][flag].choices or ()})
    if value is None:
        return  # prose: "default: the current one", "default: every cluster", ...
    real = SERVE[flag] if command == "serve" and flag in SERVE else COMMANDS[command][flag].default
    assert _same(value, real), f"netfence {command} {flag}: help says {stated}, program {real!r}"


def test_the_example_config_file_has_every_key_with_its_default() -> None:
    """README: examples/netfence.yaml "shows every key with its default" (but the demo's
    listen address, store and intent)."""
    from exporter.config import load as config_load

    example = ROOT / "examples" / "netfence.yaml"
    text = example.read_text()
    keys = re.findall(r"^\s*#?\s*([a-z_]+):", text, re.M)  # commented-out keys count
    for section, names in config_load._SECTION_KEYS.items():
        assert section in keys, section
        assert set(names) <= set(keys), (section, set(names) - set(keys))
    assert set(keys) >= config_load._TOP_KEYS
    loaded = load_config({"config_file": str(example)})
    defaults = load_config(vars(build_parser().parse_args(SERVE_ARGS)))
    demo_choices = {"clusters", "listen_host", "store_url", "intent"}
    differ = {
        f.name
        for f in dataclasses.fields(loaded)
        if getattr(loaded, f.name) != getattr(defaults, f.name)
    }
    assert differ == demo_choices
    assert "127.0.0.1:9873" in text and "sqlite:///demo-out/history.db" in text


def test_the_readme_lists_every_command_as_netfence_help_does() -> None:
    from exporter.cli.app import COMMANDS as REGISTRY

    names = [c.name for c in REGISTRY]
    readme = (ROOT / "README.md").read_text()
    layout = re.search(
        r"`netfence ([a-z |]+)`: one module per command", re.sub(r"\s+", " ", readme)
    )
    assert layout is not None
    assert [n.strip() for n in layout.group(1).split("|")] == names
    synopsis = readme.split("## Command line", 1)[1].split("```")[1]
    quoted = {_split(line)[0].split()[0] for line in _quoted_commands(f"```sh\n{synopsis}```")}
    assert quoted == set(names) - {"serve"}  # serve has its own section

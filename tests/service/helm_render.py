"""A small renderer for the subset of Helm templates `deploy/netfence` uses, so the chart
is tested where `helm` is not installed (the test runs `helm template` too when it is).

Supported: `{{ }}` with `-` trimming; `if` / `else` / `end`; `range $k, $v := ...`;
pipelines; fields (`.Values.x`, `$.Release.Name`, `$var`); string and number literals;
`( ... )`; functions default, quote, toYaml, nindent, indent, base, trimSuffix, not,
contains; `.Files.Glob` and `.Files.Get`. Anything else raises, so a template that
outgrows the subset fails loudly instead of rendering wrongly.
"""

from __future__ import annotations

import fnmatch
import json
import os
import posixpath
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

_ACTION = re.compile(r"\{\{(-?)\s*(.*?)\s*(-?)\}\}", re.S)
_TOKEN = re.compile(
    r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<op>:=|[(),|])|(?P<var>\$[A-Za-z_]\w*|\$)'
    r"(?P<varfields>(?:\.[A-Za-z_]\w*)*)|(?P<field>(?:\.[A-Za-z_]\w*)+|\.)|"
    r"(?P<num>-?\d+)|(?P<ident>[A-Za-z_]\w*))"
)


class TemplateError(ValueError):
    pass


@dataclass
class _Node:
    kind: str  # text | action | if | range
    text: str = ""
    tokens: list[tuple[str, str]] = field(default_factory=list)
    body: list[_Node] = field(default_factory=list)
    orelse: list[_Node] = field(default_factory=list)
    vars: list[str] = field(default_factory=list)


def _tokens(expr: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    expr = expr.strip()
    while pos < len(expr):
        m = _TOKEN.match(expr, pos)
        if m is None or m.end() == pos:
            raise TemplateError(f"cannot parse {expr[pos:]!r}")
        pos = m.end()
        kind = m.lastgroup
        if m.group("var") is not None:
            out.append(("var", m.group("var") + (m.group("varfields") or "")))
        else:
            assert kind is not None
            out.append((kind, m.group(kind)))
    return out


def _segments(source: str) -> list[tuple[str, str]]:
    """[(text|action, content)] with `{{-` / `-}}` whitespace trimming applied."""
    parts: list[tuple[str, str]] = []
    pos = 0
    trim_next = False
    for m in _ACTION.finditer(source):
        text = source[pos : m.start()]
        if trim_next:
            text = text.lstrip()
        if m.group(1):
            text = text.rstrip()
        parts.append(("text", text))
        parts.append(("action", m.group(2)))
        trim_next = bool(m.group(3))
        pos = m.end()
    tail = source[pos:]
    parts.append(("text", tail.lstrip() if trim_next else tail))
    return parts


def _parse(
    segments: Iterator[tuple[str, str]], until: tuple[str, ...] = ()
) -> tuple[list[_Node], str]:
    nodes: list[_Node] = []
    for kind, content in segments:
        if kind == "text":
            nodes.append(_Node("text", text=content))
            continue
        if content.startswith("/*"):
            continue
        word = content.split(None, 1)[0] if content else ""
        if word in until:
            return nodes, word
        if word == "if":
            node = _Node("if", tokens=_tokens(content[2:]))
            node.body, stop = _parse(segments, ("else", "end"))
            if stop == "else":
                node.orelse, _ = _parse(segments, ("end",))
            nodes.append(node)
        elif word == "range":
            rest = content[5:].strip()
            names: list[str] = []
            if ":=" in rest:
                left, rest = rest.split(":=", 1)
                names = [n.strip() for n in left.split(",")]
            node = _Node("range", tokens=_tokens(rest), vars=names)
            node.body, _ = _parse(segments, ("end",))
            nodes.append(node)
        elif word in ("else", "end", "with", "define", "template", "block"):
            raise TemplateError(f"unsupported or unbalanced action {{{{ {content} }}}}")
        else:
            nodes.append(_Node("action", tokens=_tokens(content)))
    if until:
        raise TemplateError(f"missing {{{{ end }}}} (wanted one of {until})")
    return nodes, ""


def _truthy(value: Any) -> bool:
    return bool(value) if value is not None else False


def _to_yaml(value: Any) -> str:
    if value in ({}, [], None):
        return "{}" if isinstance(value, dict) else "[]" if isinstance(value, list) else "null"
    return str(yaml.safe_dump(value, default_flow_style=False, sort_keys=True)).rstrip("\n")


def _indent(n: int, text: str) -> str:
    pad = " " * int(n)
    return "\n".join(pad + line for line in str(text).split("\n"))


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "default": lambda d, v=None: v if _truthy(v) else d,
    "quote": lambda v: json.dumps("" if v is None else _print(v)),
    "toYaml": _to_yaml,
    "nindent": lambda n, s: "\n" + _indent(n, s),
    "indent": _indent,
    "base": lambda p: posixpath.basename(str(p)),
    "trimSuffix": lambda suffix, s: str(s)[: -len(suffix)] if str(s).endswith(suffix) else str(s),
    "not": lambda v: not _truthy(v),
    "contains": lambda sub, s: str(sub) in str(s),
}


def _print(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class Files:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _all(self) -> list[str]:
        # Helm follows symlinks inside a chart (files/alerts -> ../../../alerts).
        found = []
        for folder, _dirs, files in os.walk(self.root, followlinks=True):
            rel = Path(folder).relative_to(self.root)
            found += [(rel / f).as_posix() for f in files]
        return sorted(found)

    def Glob(self, pattern: str) -> dict[str, str]:
        # As in Helm (gobwas/glob with "/" as separator), `*` does not cross a "/".
        depth = pattern.count("/")
        return {
            p: self.Get(p)
            for p in self._all()
            if p.count("/") == depth and fnmatch.fnmatch(p, pattern)
        }

    def Get(self, path: str) -> str:
        return (self.root / path).read_text()


class _Scope:
    def __init__(self, root: Any, dot: Any, variables: dict[str, Any]) -> None:
        self.root, self.dot, self.vars = root, dot, variables


def _lookup(value: Any, path: str) -> Any:
    for name in [p for p in path.split(".") if p]:
        if isinstance(value, dict):
            value = value.get(name)
        elif value is None:
            return None
        else:
            value = getattr(value, name)
    return value


def _eval(tokens: list[tuple[str, str]], scope: _Scope) -> Any:
    # split into commands at top-level `|`
    commands: list[list[tuple[str, str]]] = [[]]
    depth = 0
    for tok in tokens:
        if tok == ("op", "(") or tok == ("op", ")"):
            depth += 1 if tok[1] == "(" else -1
        if tok == ("op", "|") and depth == 0:
            commands.append([])
        else:
            commands[-1].append(tok)
    value: Any = _NOTHING
    for command in commands:
        value = _command(command, scope, value)
    return value


_NOTHING = object()


def _args(tokens: list[tuple[str, str]], scope: _Scope) -> list[Any]:
    out: list[Any] = []
    i = 0
    while i < len(tokens):
        kind, text = tokens[i]
        if (kind, text) == ("op", "("):
            depth, j = 1, i + 1
            while depth:
                if tokens[j] == ("op", "("):
                    depth += 1
                elif tokens[j] == ("op", ")"):
                    depth -= 1
                j += 1
            out.append(_eval(tokens[i + 1 : j - 1], scope))
            i = j
            continue
        if kind == "str":
            out.append(json.loads(text))
        elif kind == "num":
            out.append(int(text))
        elif kind == "field":
            out.append(_lookup(scope.dot, text))
        elif kind == "var":
            name, _, rest = text.partition(".")
            base = scope.root if name == "$" else scope.vars[name]
            out.append(_lookup(base, rest))
        elif kind == "ident":
            if text in ("true", "false"):
                out.append(text == "true")
            else:
                out.append(_Func(text))
        else:
            raise TemplateError(f"unexpected {text!r}")
        i += 1
    return out


@dataclass
class _Func:
    name: str


def _command(tokens: list[tuple[str, str]], scope: _Scope, piped: Any) -> Any:
    args = _args(tokens, scope)
    if piped is not _NOTHING:
        args.append(piped)
    head, rest = args[0], args[1:]
    if isinstance(head, _Func):
        if head.name not in FUNCTIONS:
            raise TemplateError(f"unsupported function {head.name}")
        return FUNCTIONS[head.name](*rest)
    if callable(head):
        return head(*rest)
    if rest:
        raise TemplateError(f"cannot apply arguments to {head!r}")
    return head


def _render(nodes: list[_Node], scope: _Scope, out: list[str]) -> None:
    for node in nodes:
        if node.kind == "text":
            out.append(node.text)
        elif node.kind == "action":
            out.append(_print(_eval(node.tokens, scope)))
        elif node.kind == "if":
            branch = node.body if _truthy(_eval(node.tokens, scope)) else node.orelse
            _render(branch, scope, out)
        else:
            items = _eval(node.tokens, scope)
            pairs = (
                sorted(items.items()) if isinstance(items, dict) else list(enumerate(items or []))
            )
            for key, item in pairs:
                variables = dict(scope.vars)
                if len(node.vars) == 2:
                    variables[node.vars[0]], variables[node.vars[1]] = key, item
                elif len(node.vars) == 1:
                    variables[node.vars[0]] = item
                _render(node.body, _Scope(scope.root, item, variables), out)


def render_chart(
    chart: Path,
    release: str = "netfence",
    namespace: str = "default",
    values: dict[str, Any] | None = None,
) -> str:
    """`helm template RELEASE CHART --namespace NAMESPACE` for the supported subset."""
    meta = yaml.safe_load((chart / "Chart.yaml").read_text())
    merged = yaml.safe_load((chart / "values.yaml").read_text()) or {}
    _merge(merged, values or {})
    root = {
        "Values": merged,
        "Release": {"Name": release, "Namespace": namespace, "Service": "Helm"},
        "Chart": {
            "Name": meta["name"],
            "Version": meta["version"],
            "AppVersion": meta["appVersion"],
        },
        "Files": Files(chart),
    }
    docs: list[str] = []
    for path in sorted((chart / "templates").glob("*.yaml")):
        nodes, _ = _parse(iter(_segments(path.read_text())))
        out: list[str] = []
        _render(nodes, _Scope(root, root, {"$": root}), out)
        text = "".join(out).strip("\n")
        if text.strip():
            docs.append(f"---\n# Source: {meta['name']}/templates/{path.name}\n{text}\n")
    return "".join(docs)


def _merge(base: dict[str, Any], override: dict[str, Any]) -> None:
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value

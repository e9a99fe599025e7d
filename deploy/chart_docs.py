"""Writes deploy/netfence/README.md from values.yaml, as helm-docs does.

A comment block starting with `# --` right above a key documents that key (its following
`#` lines continue the text); every value must be documented, itself or through a
documented parent. The values table (key, type, default, description) replaces the
`{{ values_table }}` line of README.tmpl.md. `python deploy/chart_docs.py --check` fails
when README.md is out of date or a value has no description (a test runs it).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

CHART = Path(__file__).resolve().parent / "netfence"
_KEY = re.compile(r"^(?P<indent>\s*)(?P<key>[A-Za-z0-9_.-]+):(\s|$)")
_DOC = re.compile(r"^\s*# -- ?(?P<text>.*)$")
_MORE = re.compile(r"^\s*#(?P<text>.*)$")


def documented(values_yaml: str) -> dict[str, str]:
    """Key path -> description, from the `# --` comments of values.yaml."""
    out: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    doc: list[str] | None = None
    for line in values_yaml.splitlines():
        if m := _DOC.match(line):
            doc = [m["text"].strip()]
            continue
        if doc is not None and (m := _MORE.match(line)):
            doc.append(m["text"].strip())
            continue
        m = _KEY.match(line)
        if m is None or line.lstrip().startswith("- "):
            if line.strip() == "":
                doc = None
            continue
        indent = len(m["indent"])
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, m["key"]))
        if doc is not None:
            out[".".join(k for _, k in stack)] = " ".join(t for t in doc if t)
        doc = None
    return out


def _leaves(value: Any, path: str = "") -> list[str]:
    if isinstance(value, dict) and value:
        return [leaf for k, v in value.items() for leaf in _leaves(v, f"{path}.{k}" if path else k)]
    return [path]


def _lookup(values: dict[str, Any], path: str) -> Any:
    node: Any = values
    for part in path.split("."):
        node = node[part]
    return node


def _type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "object"
    return "string"


def undocumented(values: dict[str, Any], docs: dict[str, str]) -> list[str]:
    """Values with no description of their own or of a parent."""
    return [
        leaf
        for leaf in _leaves(values)
        if not any(leaf == key or leaf.startswith(key + ".") for key in docs)
    ]


def render(chart: Path = CHART) -> str:
    text = (chart / "values.yaml").read_text()
    values = yaml.safe_load(text)
    docs = documented(text)
    rows = ["| Key | Type | Default | Description |", "|-----|------|---------|-------------|"]
    for key, description in docs.items():
        value = _lookup(values, key)
        default = json.dumps(value, separators=(",", ":")).replace("|", "\\|")
        rows.append(f"| `{key}` | {_type(value)} | `{default}` | {description} |")
    template = (chart / "README.tmpl.md").read_text()
    return template.replace("{{ values_table }}", "\n".join(rows))


def main(argv: list[str]) -> int:
    text = (CHART / "values.yaml").read_text()
    missing = undocumented(yaml.safe_load(text), documented(text))
    if missing:
        print(f"values without a `# --` description: {', '.join(missing)}", file=sys.stderr)
        return 1
    readme = CHART / "README.md"
    if "--check" in argv:
        if not readme.exists() or readme.read_text() != render():
            print(f"{readme} is out of date: run `make chart-docs`", file=sys.stderr)
            return 1
        return 0
    readme.write_text(render())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

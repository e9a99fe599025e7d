"""Exit codes and the writers every command shares: JSON, plain tables, input errors."""

from __future__ import annotations

import json
import sys
from typing import TextIO

from exporter.core.findings import InputError

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


def dump_json(value: object, out: TextIO, depth: int = 0, inline_below: int = 2) -> None:
    """Indented down to `inline_below` levels, one compact object per line beneath.

    Readable and grep-friendly (one namespace, finding or connection per line), and
    fast: the C encoder does each line, where `indent=` would force the slow Python one.
    """
    pad = "  " * (depth + 1)
    if depth >= inline_below or not isinstance(value, dict | list) or not value:
        out.write(json.dumps(value))
    elif isinstance(value, dict):
        out.write("{\n")
        for i, (key, item) in enumerate(value.items()):
            out.write(f"{pad}{json.dumps(key)}: ")
            dump_json(item, out, depth + 1, inline_below)
            out.write(",\n" if i < len(value) - 1 else "\n")
        out.write("  " * depth + "}")
    else:
        out.write("[\n")
        for i, item in enumerate(value):
            out.write(pad)
            dump_json(item, out, depth + 1, inline_below)
            out.write(",\n" if i < len(value) - 1 else "\n")
        out.write("  " * depth + "]")
    if depth == 0:
        out.write("\n")


def report_errors(errors: list[InputError]) -> int:
    for err in errors:
        print(f"error: {err}", file=sys.stderr)
    if errors:
        print(f"netfence: {len(errors)} input error(s); the rest was analysed", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


def table(rows: list[tuple[str, ...]], out: TextIO, indent: str = "") -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        line = "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        out.write(indent + line + "\n")

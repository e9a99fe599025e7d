"""`netfence diff` for people: a terminal table, and Markdown for a pull-request comment
(a short summary first, each namespace's details folded in `<details>`).

Long lists are cut at `LIST_LIMIT` entries with the count of the rest: a PR that opens a
namespace to the internet can add thousands of connections, and the comment must stay
readable (GitHub refuses comments over 65,536 characters). The JSON has everything.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TextIO

from exporter.core.diff import NamespaceDiff, PolicyDiff

LIST_LIMIT = 20
MARKDOWN_MAX_CHARS = 60_000


def _cut(lines: Sequence[str], limit: int = LIST_LIMIT) -> list[str]:
    if len(lines) <= limit:
        return list(lines)
    return [*lines[:limit], f"... and {len(lines) - limit} more"]


def headline(d: PolicyDiff) -> str:
    every = d.all()
    lost = sum(1 for ns in every for c in ns.default_deny if not c.gained)
    gained = sum(1 for ns in every for c in ns.default_deny if c.gained)
    policies = [p for ns in every for p in ns.policies]
    idle = sum(1 for p in policies if not p.effect)

    def count(attr: str) -> int:
        return sum(len(getattr(ns, attr)) for ns in every)

    conns = (
        f"connections +{count('connections_added')} -{count('connections_removed')}"
        if d.connections_compared
        else "connections NOT compared"
    )
    parts = [
        f"default-deny lost {lost}, gained {gained}",
        f"exposures +{count('exposures_added')} -{count('exposures_removed')}",
        conns,
        f"findings +{count('findings_new')} -{count('findings_resolved')}",
        f"policies changed {len(policies)} ({idle} without effect)",
    ]
    return f"{d.changed_namespaces} namespace(s) with changed objects: " + "; ".join(parts)


def _detail_lines(d: NamespaceDiff) -> list[tuple[str, list[str]]]:
    sections: list[tuple[str, list[str]]] = [
        (
            "default-deny",
            [
                f"{c.direction}: {'gained' if c.gained else 'LOST'} ({c.reason})"
                for c in d.default_deny
            ],
        ),
        ("exposures added", [f"{e.label} via {', '.join(e.objects)}" for e in d.exposures_added]),
        ("exposures removed", [e.label for e in d.exposures_removed]),
        ("connections added", [f"{c.src} => {c.dst} : {c.conns}" for c in d.connections_added]),
        ("connections removed", [f"{c.src} => {c.dst} : {c.conns}" for c in d.connections_removed]),
        (
            "new findings",
            [f"[{f.severity}] {f.check} {f.object}: {f.message}" for f in d.findings_new],
        ),
        (
            "resolved findings",
            [f"[{f.severity}] {f.check} {f.object}" for f in d.findings_resolved],
        ),
        (
            "policies changed",
            [
                f"{p.policy} ({p.change}{'' if p.effect else ', WITHOUT EFFECT'})"
                for p in d.policies
            ],
        ),
    ]
    return [(title, lines) for title, lines in sections if lines]


def _name(d: NamespaceDiff) -> str:
    return d.name or "(cluster-scoped)"


def table(d: PolicyDiff, out: TextIO, note: Sequence[str] = ()) -> None:
    out.write(headline(d) + "\n")
    for line in note:
        out.write(line + "\n")
    for ns in d.all():
        sections = _detail_lines(ns)
        if not sections:
            continue
        out.write(f"\n{_name(ns)} [{ns.status}]\n")
        for title, lines in sections:
            out.write(f"  {title} ({len(lines)})\n")
            for line in _cut(lines):
                out.write(f"    {line}\n")


def _md_escape(text: str) -> str:
    """Text from manifests goes into a comment: no HTML, no Markdown tricks."""
    for ch in "\\`*_{}[]<>#|!":
        text = text.replace(ch, "\\" + ch)
    return text.replace("\n", " ")


def markdown(d: PolicyDiff, out: TextIO, failures: Sequence[str], note: Sequence[str] = ()) -> None:
    verdict = (
        f"**{len(failures)} problem(s) block this change**"
        if failures
        else "no lost default-deny, no new exposure, no finding over the threshold"
    )
    text = [f"### netfence diff: {verdict}", "", _md_escape(headline(d)), ""]
    text += [f"> {_md_escape(n)}" for n in note]
    if failures:
        text += [f"- {_md_escape(f)}" for f in _cut(failures)]
        text.append("")
    rows = [ns for ns in d.all() if _detail_lines(ns)]
    if rows:
        text += [
            "| namespace | default-deny | exposures | connections | findings | policies |",
            "|---|---|---|---|---|---|",
        ]
        for ns in rows:
            lost = [str(c.direction) for c in ns.default_deny if not c.gained]
            gained = [str(c.direction) for c in ns.default_deny if c.gained]
            dd = ", ".join([*(f"lost {x}" for x in lost), *(f"gained {x}" for x in gained)]) or "-"
            text.append(
                f"| {_md_escape(_name(ns))} | {dd} | +{len(ns.exposures_added)} "
                f"-{len(ns.exposures_removed)} | +{len(ns.connections_added)} "
                f"-{len(ns.connections_removed)} | +{len(ns.findings_new)} "
                f"-{len(ns.findings_resolved)} | {len(ns.policies)} |"
            )
        text.append("")
        for ns in rows:
            text += [f"<details><summary>{_md_escape(_name(ns))} ({ns.status})</summary>", ""]
            for title, lines in _detail_lines(ns):
                text.append(f"**{title}** ({len(lines)})")
                text.append("")
                text += [f"- {_md_escape(line)}" for line in _cut(lines)]
                text.append("")
            text += ["</details>", ""]
    body = "\n".join(text)
    if len(body) > MARKDOWN_MAX_CHARS:
        body = body[:MARKDOWN_MAX_CHARS] + "\n\n(cut: see `netfence diff -o json` for all)\n"
    out.write(body.rstrip("\n") + "\n")

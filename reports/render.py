"""View model -> evidence bundle, HTML (Jinja2) and PDF (WeasyPrint).

The evidence bundle is a folder beside the report: report.json (the whole view model),
one CSV per table and series, the charts as SVG, and MANIFEST.sha256 listing each file's
SHA-256 in `sha256sum` format. The hash printed on the cover and the sign-off page is the
SHA-256 of MANIFEST.sha256, so anyone can recompute it:
`sha256sum -c MANIFEST.sha256 && sha256sum MANIFEST.sha256`.
"""

from __future__ import annotations

import base64
import csv
import dataclasses
import enum
import hashlib
import io
import json
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from reports import charts
from reports.model import Report
from reports.tables import Cell, Kind, Series, Table

TEMPLATES = Path(__file__).resolve().parent / "templates"
MANIFEST = "MANIFEST.sha256"
FORMATS = ("pdf", "html", "json")


@dataclass(frozen=True, slots=True)
class Rendered:
    path: Path
    bundle: Path
    bundle_sha256: str
    pages: int | None = None


def render(report: Report, out: Path, fmt: str = "pdf") -> Rendered:
    """Write the bundle beside `out` (`<out>.evidence/`), then the report itself."""
    if fmt not in FORMATS:
        raise ValueError(f"format {fmt!r}: expected one of {', '.join(FORMATS)}")
    out.parent.mkdir(parents=True, exist_ok=True)
    svgs = chart_svgs(report)
    bundle = out.with_name(out.name + ".evidence")
    digest = write_bundle(report, svgs, bundle)
    if fmt == "json":
        shutil.copyfile(bundle / "report.json", out)
        return Rendered(out, bundle, digest)
    html = render_html(report, svgs, digest)
    if fmt == "html":
        out.write_text(html, encoding="utf-8")
        return Rendered(out, bundle, digest)
    from weasyprint import HTML  # imported late: pango loads only when a PDF is wanted

    doc = HTML(string=html, base_url=str(TEMPLATES)).render()
    doc.write_pdf(out)
    return Rendered(out, bundle, digest, pages=len(doc.pages))


def chart_svgs(report: Report) -> dict[str, str | None]:
    s = report.series
    top = report.top_denied_namespaces
    return {
        "coverage_daily": charts.line_chart(s["coverage_daily"], percent=True),
        "exposures_daily": charts.line_chart(s["exposures_daily"]),
        "denied_weekly": charts.weekly_chart(s["denied_weekly"]),
        "top_denied": charts.bar_chart(
            [n for n, _ in top], [float(v) for _, v in top], "denied connections"
        ),
    }


# -- the bundle ---------------------------------------------------------------------------


def jsonable(value: object) -> object:
    """Plain JSON values from the view model (dataclasses, enums, tuples, sets)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted(jsonable(v) for v in value)  # type: ignore[type-var]
    return value


def report_json(report: Report) -> str:
    doc = jsonable(report)
    assert isinstance(doc, dict)
    # Tables travel as lists of objects (column key -> value): self-describing for tools.
    doc["tables"] = {
        key: {
            "title": t.title,
            "columns": [c.key for c in t.columns],
            "rows": [dict(zip([c.key for c in t.columns], r, strict=True)) for r in t.rows],
        }
        for key, t in report.tables.items()
    }
    return json.dumps(doc, indent=1, sort_keys=True, allow_nan=False) + "\n"


def table_csv(table: Table) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([c.key for c in table.columns])
    for row in table.rows:
        w.writerow([_csv_cell(v, c.kind) for v, c in zip(row, table.columns, strict=True)])
    return buf.getvalue()


def series_csv(series: Series) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([series.step, *(line.name for line in series.lines)])
    for i, x in enumerate(series.x):
        w.writerow(
            [_iso(x), *("" if ln.values[i] is None else ln.values[i] for ln in series.lines)]
        )
    return buf.getvalue()


def _csv_cell(v: Cell, kind: Kind) -> object:
    if v is None:
        return ""  # empty = not verifiable; never 0
    if kind is Kind.TIME and isinstance(v, int | float):
        return _iso(float(v))
    return v


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


def write_bundle(report: Report, svgs: Mapping[str, str | None], bundle: Path) -> str:
    if bundle.exists():
        shutil.rmtree(bundle)
    files: dict[str, bytes] = {"report.json": report_json(report).encode()}
    for key, table in report.tables.items():
        files[f"tables/{key}.csv"] = table_csv(table).encode()
    for key, series in report.series.items():
        files[f"series/{key}.csv"] = series_csv(series).encode()
    for key, svg in svgs.items():
        if svg is not None:
            files[f"charts/{key}.svg"] = svg.encode()
    lines = []
    for name in sorted(files):
        path = bundle / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(files[name])
        lines.append(f"{hashlib.sha256(files[name]).hexdigest()}  {name}\n")
    manifest = "".join(lines).encode()
    (bundle / MANIFEST).write_bytes(manifest)
    return hashlib.sha256(manifest).hexdigest()


# -- HTML ---------------------------------------------------------------------------------


def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["cell"] = format_cell
    env.filters["when"] = lambda t: "not verifiable" if t is None else _when(float(t))
    env.filters["pct"] = lambda v: format_cell(v, Kind.FRACTION)
    env.filters["pp"] = lambda v: format_cell(v, Kind.POINTS)
    env.filters["count"] = lambda v: format_cell(v, Kind.COUNT)
    env.filters["duration"] = lambda v: format_cell(v, Kind.DURATION)
    env.filters["b64"] = lambda s: base64.b64encode(s.encode()).decode("ascii")
    return env


def _when(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M UTC")


def format_cell(v: Cell, kind: Kind | str = Kind.TEXT) -> str:
    """One cell as text; None is "not verifiable" (or "—" where nothing applies)."""
    kind = Kind(kind)
    if v is None:
        return "—" if kind in (Kind.TEXT, Kind.TIME) else "not verifiable"
    if kind is Kind.FRACTION:
        return f"{100.0 * float(v):.1f}%"
    if kind is Kind.POINTS:
        return f"{100.0 * float(v):+.1f} pp"
    if kind is Kind.TIME:
        return _when(float(v))
    if kind is Kind.DURATION:
        from reports.model import _duration

        return _duration(float(v))
    if kind is Kind.FLAG:
        return "yes" if v else "no"
    if kind is Kind.COUNT:
        return f"{int(v):,}" if float(v).is_integer() else f"{float(v):,.1f}"
    return str(v)


def render_html(report: Report, svgs: Mapping[str, str | None], digest: str) -> str:
    env = environment()
    return env.get_template("report.html.j2").render(
        r=report,
        h=report.headline,
        t=report.tables,
        charts=svgs,
        bundle_sha256=digest,
        css=(TEMPLATES / "report.css").read_text(encoding="utf-8"),
    )

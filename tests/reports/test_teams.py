"""Teams in the report (docs/intent.md, "Reports"): the per-team summary and guardrail
section of the full report, and a team's report over its namespaces only. The history
is report_history.quarter_history: payments (label pci-dss/scope=cde, loses ingress
default-deny for three days), web (gains an internet exposure; 7 denials a week) and
batch (no default-deny; 100 denials a week)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from report_history import CLUSTER, DAY, Q3, quarter_history

from exporter.cli import main
from exporter.core.history import ClusterState, OpenFinding, ScanInfo
from exporter.core.intent.schema import Teams
from reports.model import Options, Report, build
from reports.teams import TeamHistory, guardrail_findings

AFTER = Q3.until + DAY
TEAMS = Teams(namespace_label="pci-dss/scope", namespaces={"web": "storefront"})


def _build(reader: object, **options: object) -> Report:
    return build(
        reader,  # type: ignore[arg-type]
        Q3,
        clusters=None,
        generated_at=AFTER,
        version="test",
        options=Options(**options),  # type: ignore[arg-type]
    )


def test_the_full_report_has_a_per_team_summary() -> None:
    r = _build(quarter_history(), teams=TEAMS)
    rows = {row[0]: row[1:] for row in r.tables["teams"].rows}
    # namespaces, ingress dd, egress dd, internet exposures, open findings, intent findings
    assert rows == {
        "cde": (1, 1, 1, 0, 0, 0),  # payments: by label
        "storefront": (1, 1, 0, 1, 0, 0),  # web: by the explicit map
        "unowned": (1, 0, 0, 0, 1, 0),  # batch: no rule names it; its no-default-deny finding
    }
    assert r.tables["guardrails"].rows == ()  # no scan ran with an intent file
    assert "team" not in r.title


def test_without_an_intent_every_namespace_is_unowned() -> None:
    r = _build(quarter_history())
    assert [row[:2] for row in r.tables["teams"].rows] == [("unowned", 3)]


def test_the_guardrail_section_lists_the_intent_findings_open_at_the_end() -> None:
    scan = ScanInfo(CLUSTER, Q3.since, 1.0, True)
    finding = OpenFinding(
        "legacy", "guardrail-violation", "high", "Namespace legacy", "guardrail g: ...", Q3.since
    )
    other = OpenFinding("legacy", "no-default-deny", "medium", "Namespace legacy", "m", Q3.since)
    state = ClusterState(CLUSTER, Q3.until, scan, findings=(finding, other))
    table = guardrail_findings({CLUSTER: state})
    assert [row[:5] for row in table.rows] == [
        (CLUSTER, "legacy", "guardrail-violation", "high", "Namespace legacy")
    ]


def test_a_team_report_covers_the_team_s_namespaces_only() -> None:
    history = quarter_history()
    team = TeamHistory(history, TEAMS, "storefront", Q3.since, Q3.until)
    r = _build(team, teams=TEAMS, team="storefront")
    assert r.title.endswith("for team storefront")
    ingress, egress = r.headline.coverage_end
    assert (ingress.namespaces, ingress.protected, egress.protected) == (1, 1, 0)
    assert r.headline.internet_services_end == 1  # web's storefront Service
    assert r.headline.losses == 0  # payments' loss is another team's
    assert {row[1] for row in r.tables["namespaces"].rows} == {"web"}
    weeks = len(range(0, 92, 7))
    assert r.headline.denied == 7 * weeks  # web's denials, not batch's
    daily = history.daily(CLUSTER, Q3.since, Q3.until)
    mine = team.daily(CLUSTER, Q3.since, Q3.until)
    assert len(mine) == len(daily)
    known = [p for p in mine if p.namespaces is not None]
    assert known and all(p.namespaces == 1 for p in known)
    assert all(p.ingress_default_deny_namespaces == 1 for p in known)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--team", "storefront"], "--team needs --intent"),
        (["--intent", "/does/not/exist.yaml"], "intent file rejected (1 problems)"),
    ],
)
def test_team_usage_errors_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    store = tmp_path / "h.db"
    store.write_bytes(b"")
    code = main(["report", "--store", f"sqlite:///{store}", *argv], out=io.StringIO())
    assert code == 2
    assert message in capsys.readouterr().err


def test_a_team_report_from_a_real_store(tmp_path: Path) -> None:
    """`netfence report --intent FILE --team T` end to end (JSON): the store's history,
    the intent's explicit team map, the team's namespaces only."""
    import json

    from test_report_cli import _seed

    from reports.period import explicit

    period = explicit("2026-07-01", "2026-07-11")
    url = f"sqlite:///{tmp_path / 'h.db'}"
    _seed(url, period.since, 10)  # namespaces web and db
    intent = tmp_path / "intent.yaml"
    intent.write_text("teams:\n  namespaces: {db: data}\n")
    out = tmp_path / "r.json"
    argv = ["report", "--store", url, "--since", "2026-07-01", "--until", "2026-07-11"]
    code = main([*argv, "--format", "json", "--intent", str(intent), "--team", "data",
                 "-o", str(out)], out=io.StringIO())  # fmt: skip
    assert code == 0
    doc = json.loads(out.read_text())
    assert doc["title"].endswith("for team data")
    namespaces = doc["tables"]["namespaces"]
    assert {row["namespace"] for row in namespaces["rows"]} == {"db"}
    full = tmp_path / "full.json"
    code = main([*argv, "--format", "json", "--intent", str(intent), "-o", str(full)],
                out=io.StringIO())  # fmt: skip
    assert code == 0
    teams = json.loads(full.read_text())["tables"]["teams"]["rows"]
    assert {row["team"]: row["namespaces"] for row in teams} == {"data": 1, "unowned": 1}

"""The view model alone (pure, no I/O): every figure from a hand-built history."""

from __future__ import annotations

import pytest
from report_history import (
    CLUSTER,
    DAY,
    EXPOSURE_DAY,
    GAP,
    LOSS_DAY,
    Q3,
    REGAIN_DAY,
    quarter_history,
)

from exporter.core.history import ClusterState, NamespaceState, ScanInfo
from reports.control_files import load_controls
from reports.model import NoEvidence, Options, Report, build
from reports.period import explicit, parse_quarter, previous_quarter
from reports.static_history import StaticHistory

AFTER = Q3.until + DAY


def _build(history: StaticHistory, **kw: object) -> Report:
    opts = Options(controls=load_controls())
    return build(
        history,
        Q3,
        clusters=None,
        generated_at=kw.pop("now", AFTER),  # type: ignore[arg-type]
        version="test",
        options=opts,
    )


def test_periods() -> None:
    assert Q3.label == "2026Q3" and Q3.previous().label == "2026Q2"
    assert parse_quarter("2026Q1").previous().label == "2025Q4"
    assert Q3.until - Q3.since == 92 * DAY
    assert previous_quarter(Q3.since + 5).label == "2026Q2"
    assert explicit("2026-07-01", "2026-07-08").seconds == 7 * DAY


def test_coverage_at_end_and_previous_end() -> None:
    r = _build(quarter_history())
    ingress, egress = r.headline.coverage_end
    assert (ingress.protected, ingress.namespaces, ingress.fraction) == (2, 3, pytest.approx(2 / 3))
    assert (egress.protected, egress.namespaces) == (1, 3)
    assert ingress.isolated_pods == 30 and ingress.pods == 35
    delta = r.tables["coverage"].column("delta")
    assert delta == [pytest.approx(0.0), pytest.approx(0.0)]


def test_loss_of_default_deny_with_duration_and_cause() -> None:
    r = _build(quarter_history())
    (row,) = r.tables["losses"].rows
    cluster, ns, direction, lost, _ended, how, seconds, cause = row
    assert (cluster, ns, direction, how) == (CLUSTER, "payments", "ingress", "regained")
    assert lost == Q3.since + LOSS_DAY * DAY + 3600
    assert seconds == (REGAIN_DAY - LOSS_DAY) * DAY
    assert "NetworkPolicy/payments/default-deny" in str(cause)


def test_exposures_start_vs_end_and_internet_services() -> None:
    r = _build(quarter_history())
    rows = {row[0]: row[1:] for row in r.tables["exposures_summary"].rows}
    assert rows["internet"] == (0, 1, 1)
    assert rows["other_namespaces"] == (2, 2, 0)
    (svc,) = r.tables["internet_services"].rows
    assert svc[:3] == (CLUSTER, "web", "Service/storefront")
    assert r.headline.internet_services_end == 1


def test_evidence_completeness_and_gaps_make_the_period_partial() -> None:
    r = _build(quarter_history())
    gap = (GAP[1] - GAP[0]) * DAY
    assert r.headline.completeness == pytest.approx(1 - gap / (92 * DAY))
    assert r.headline.gaps == 1 and r.headline.failed_scans == 2
    assert any("gap" in why for why in r.partial)
    # without the outage, the quarter is complete
    assert _build(quarter_history(gap=False)).partial == ()


def test_days_without_evidence_are_none_never_zero() -> None:
    r = _build(quarter_history())
    ingress = r.series["coverage_daily"].lines[0].values
    assert ingress[GAP[0]] is None and ingress[GAP[0] - 1] == pytest.approx(2 / 3)
    internet = dict((ln.name, ln.values) for ln in r.series["exposures_daily"].lines)["internet"]
    assert internet[EXPOSURE_DAY - 1] == 0 and internet[EXPOSURE_DAY] == 1


def test_denied_connections_vs_previous_period() -> None:
    r = _build(quarter_history())
    weeks = len(range(0, 92, 7))
    assert r.headline.denied == weeks * 107
    assert r.headline.denied_previous == 500
    assert r.headline.denied_delta == weeks * 107 - 500
    assert r.headline.default_deny_drops == weeks * 100
    assert r.top_denied_namespaces[0] == ("batch", weeks * 100)


def test_no_flow_records_is_not_verifiable_not_zero() -> None:
    r = _build(quarter_history(flows=False))
    assert r.headline.denied is None and r.headline.denied_previous is None
    assert r.headline.unused_exposures is None
    denied_col = r.tables["namespaces"].column("denied")
    assert denied_col == [None, None, None]


def test_namespaces_riskiest_first_and_top_n() -> None:
    r = _build(quarter_history())
    t = r.tables["namespaces"]
    order = t.column("namespace")
    assert order[-1] == "payments"  # protected 87 of 90 observed days, both directions
    fractions = dict(zip(order, t.column("ingress_fraction"), strict=True))
    assert fractions["payments"] == pytest.approx(87 / 90)
    small = build(
        quarter_history(),
        Q3,
        clusters=None,
        generated_at=AFTER,
        version="t",
        options=Options(top_n=1),
    )
    assert len(small.tables["namespaces"].shown_rows) == 1
    assert small.tables["namespaces"].hidden == 2
    assert small.tables["losses"].shown == 1  # the PDF shows the longest; the bundle all


def test_controls_scoped_to_namespace_selector() -> None:
    r = _build(quarter_history())
    pci = {c.control.id: c for c in r.controls if c.control.framework.startswith("PCI")}
    scoped = pci["1.3.1"]
    assert "(1 namespaces)" in scoped.scope  # only payments carries pci-dss/scope=cde
    ingress = scoped.lines[0]
    assert ingress.observed.startswith("1 of 1 (100.0%)")
    assert "1 loss(es)" in ingress.observed
    egress = next(c for c in r.controls if c.control.id == "1.3.2").lines[0]
    assert "0 loss(es)" in egress.observed  # payments lost ingress only
    cis = next(c for c in r.controls if c.control.id == "5.3.2")
    assert cis.lines[0].observed.startswith("2 of 3")


def test_unrecorded_labels_are_said_not_guessed() -> None:
    h = quarter_history()
    stripped = [
        ClusterState(
            s.cluster,
            s.at,
            s.scan,
            tuple(
                NamespaceState(
                    n.namespace, n.ingress_default_deny, n.egress_default_deny, n.exposures
                )
                for n in s.namespaces
            ),
            s.policies,
            s.findings,
            s.exposures,
        )
        for s in h.states
    ]
    r = _build(StaticHistory(states=stripped, change_log=h.change_log, flows=h.flows))
    scoped = next(c for c in r.controls if c.control.id == "1.3.1")
    assert "3 namespaces could not be placed" in scoped.scope
    assert not scoped.lines[0].verifiable
    assert scoped.lines[0].observed.startswith("not verifiable: 3 namespaces at period end")


def test_unknown_default_deny_is_counted_apart() -> None:
    scan = ScanInfo(CLUSTER, Q3.since + 10, 1.0, True, degraded=True)
    st = ClusterState(
        CLUSTER,
        Q3.since + 10,
        scan,
        (NamespaceState("a", None, None), NamespaceState("b", True, False)),
    )
    r = _build(StaticHistory(states=[st]))
    ingress = r.headline.coverage_end[0]
    assert (ingress.protected, ingress.namespaces, ingress.unknown) == (1, 1, 1)
    assert r.headline.degraded_scans == 1
    assert any("evidence starts" in why for why in r.partial)


def test_empty_period_raises_no_evidence() -> None:
    with pytest.raises(NoEvidence, match="no evidence"):
        _build(StaticHistory())


def test_period_in_progress_is_partial() -> None:
    r = _build(quarter_history(days=30), now=Q3.since + 30 * DAY)
    assert any("has not ended" in why for why in r.partial)
    assert len(r.series["coverage_daily"].x) == 30

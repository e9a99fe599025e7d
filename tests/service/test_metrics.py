"""The Collector, the docs that describe it, and the HTTP endpoints."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import gzip
import os
import re
import shutil
import ssl
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bcrypt
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from exporter.config import ClusterConfig
from exporter.core.coverage import DirectionCoverage, NamespaceCoverage
from exporter.core.exposure import Category, Exposure
from exporter.core.findings import Check, Finding, Severity
from exporter.core.flows import DEFAULT_DENY, Aggregator, FlowsConfig
from exporter.core.intent import (
    DriftEntry,
    DriftState,
    ExceptionStatus,
    IntentReport,
    TeamMap,
    Violation,
)
from exporter.core.intent.schema import GuardrailException
from exporter.core.ports import NONE
from exporter.metrics import (
    FAMILIES,
    PREFIX,
    ClusterMetrics,
    FlowCollector,
    FlowMetrics,
    MetricsServer,
    NetfenceCollector,
    WebSettings,
    exposition,
    new_registry,
)
from exporter.metrics.flows import FLOW_FAMILIES
from exporter.metrics.reports import REPORT_FAMILIES, ReportCollector
from exporter.serve.clusters import Cluster, SourceRead, manifests_reader
from exporter.serve.scans import Scanner

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "examples" / "demo-cluster"
DOCS = ROOT / "docs" / "metrics.md"


def _cov(dd: bool, isolated: int) -> DirectionCoverage:
    return DirectionCoverage(dd, isolated, (), (), "")


def _intent_report() -> IntentReport:
    """An intent result for `shop`: one guardrail applying to it (one violation, one
    exception), one baseline policy modified there, and no label allowlist (so the
    documented label set of netfence_namespace_info is exact)."""
    exception = GuardrailException("shop", "migrating", "ops", dt.date(2026, 1, 31), "web")
    return IntentReport(
        teams=TeamMap({"shop": "storefront"}),
        namespace_labels={"shop": {}},
        label_allowlist=(),
        violations=(
            Violation(
                "prod",
                "default-deny-egress",
                "shop",
                "Namespace shop",
                "storefront",
                Severity.HIGH,
                "m",
            ),
        ),
        exceptions=(ExceptionStatus("prod", exception, expired=False, matched=0),),
        drift=(DriftEntry("shop", "NetworkPolicy/deny", DriftState.MODIFIED, "m", Severity.HIGH),),
        intended={("shop", "web", "internet"): "r"},
        guardrails=("prod",),
        scope={"prod": ("shop",)},
    )


FULL = ClusterMetrics(
    cluster="prod",
    success=True,
    timestamp=1_700_000_000.0,
    duration=1.5,
    errors={"list": 1, "load": 0},
    namespaces=(NamespaceCoverage("shop", 4, _cov(True, 4), _cov(False, 1)),),
    findings=(
        Finding(Check.NO_DEFAULT_DENY, Severity.HIGH, "shop", "Namespace/shop", "m"),
        Finding(Check.NO_DEFAULT_DENY, Severity.HIGH, "shop", "Namespace/shop", "m2"),
    ),
    exposure={"shop": {"internet": 2, "ingress": 1}},
    internet_egress_workloads={"shop": 3},
    policies_by_kind={("shop", "NetworkPolicy"): 5, ("", "GlobalNetworkPolicy"): 1},
    unreadable_kinds=("cilium.io/CiliumNetworkPolicy",),
    exposures=(Exposure("shop", "web", "Service", Category.INTERNET, True, True, NONE, (), ()),),
    interval=60.0,
    intent=_intent_report(),
    intended_exposure={"shop": {"internet": 1}},
    intended_egress={"shop": 2},
)


DEGRADED = ClusterMetrics(
    cluster="gap",
    success=True,
    degraded=True,
    timestamp=1_700_000_000.0,
    namespaces=(
        NamespaceCoverage("seen", 2, _cov(True, 2), _cov(True, 2)),
        NamespaceCoverage("unseen", 3, _cov(True, 3), _cov(False, 0)),
    ),
    exposure={"seen": {"internet": 0}, "unseen": {"internet": 1}},
    internet_egress_workloads={"seen": 0, "unseen": 2},
    unknown_coverage={"unseen": [("networking.k8s.io/NetworkPolicy", "unparsable")]},
    unknown_exposure={"unseen": [("networking.k8s.io/NetworkPolicy", "unparsable")]},
)


def _families(text: str) -> dict[str, dict[str, object]]:
    out: dict[str, dict[str, object]] = {}
    for fam in text_string_to_metric_families(text):
        labels = {k for s in fam.samples for k in s.labels}
        out[fam.name] = {"type": fam.type, "labels": labels, "samples": fam.samples}
    return out


def _render(*results: ClusterMetrics) -> str:
    return generate_latest(new_registry(NetfenceCollector(lambda: results, "1.2.3"))).decode()


def _documented() -> dict[str, tuple[str, set[str]]]:
    rows: dict[str, tuple[str, set[str]]] = {}
    for line in DOCS.read_text().splitlines():
        m = re.match(r"^\| (netfence_\w+) \| (\w+) \| ([^|]*) \| (.*) \|$", line)
        if m:
            labels = {x.strip() for x in m.group(3).split(",") if x.strip()}
            rows[m.group(1)] = (m.group(2), labels)
    return rows


def _flow_render() -> str:
    agg = Aggregator(FlowsConfig("prod"))
    agg.connection(1_700_000_000, "shop", "cart", 1, 2, 133, DEFAULT_DENY, "batch")
    agg.drop(1_700_000_000, "shop", "cart", 1, 133, "batch")
    agg.l7(1_700_000_000, "shop", "cart", 2, 1, "http", "payments")
    agg.lost(1, 1)
    flows = FlowMetrics(agg.snapshot(1_700_000_000), True, {("shop", "ingress"): 1},
                        {("shop", "ingress"): 0}, {("shop", "other"): 3},
                        {("shop", "shop/p"): 1.0}, {("shop",): 1}, 1.0,
                        last_event=1_700_000_000)  # fmt: skip
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FlowCollector(lambda: [flows]))
    return generate_latest(registry).decode()


def _report_render() -> str:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ReportCollector(lambda: 1_700_000_000.0))
    return generate_latest(registry).decode()


def test_docs_and_code_list_the_same_families() -> None:
    """Every family the code exports (scan and Hubble flow families) is documented with
    the same type and labels, and every documented family is exported."""
    exported = {
        name.removesuffix("_total") if info["type"] == "counter" else name: info
        for text in (_render(FULL, DEGRADED), _flow_render(), _report_render())
        for name, info in _families(text).items()
        if name.startswith(PREFIX)
    }
    documented = _documented()
    code = (
        {PREFIX + n for n in FAMILIES}
        | {PREFIX + n for n in FLOW_FAMILIES}
        | {PREFIX + n for n in REPORT_FAMILIES}
    )
    assert code == set(documented)
    for name in code:
        kind, labels = documented[name]
        family = exported[name.removesuffix("_total")]
        assert family["type"] == kind, name
        assert family["labels"] == labels, name


def test_values_follow_the_result() -> None:
    fams = _families(_render(FULL))

    def value(name: str, **labels: str) -> float:
        samples = fams[name]["samples"]
        assert isinstance(samples, list)
        (hit,) = [s for s in samples if all(s.labels.get(k) == v for k, v in labels.items())]
        return float(hit.value)

    assert value("netfence_build_info", version="1.2.3") == 1
    assert value("netfence_namespace_default_deny", namespace="shop", direction="ingress") == 1
    assert value("netfence_namespace_default_deny", namespace="shop", direction="egress") == 0
    assert value("netfence_namespace_isolated_pods", namespace="shop", direction="egress") == 1
    assert value("netfence_exposures", namespace="shop", exposure="internet",
                 intended="false") == 1  # fmt: skip
    assert value("netfence_exposures", namespace="shop", exposure="internet",
                 intended="true") == 1  # fmt: skip
    assert value("netfence_exposures", namespace="shop", exposure="ingress",
                 intended="true") == 0  # fmt: skip
    assert value("netfence_internet_egress_workloads", namespace="shop", intended="false") == 1
    assert value("netfence_internet_egress_workloads", namespace="shop", intended="true") == 2
    assert value("netfence_namespace_info", namespace="shop", team="storefront") == 1
    assert value("netfence_guardrail_violations", namespace="shop", guardrail="prod") == 1
    expiry = value("netfence_guardrail_exception_expiry_timestamp_seconds", object="web")
    assert expiry == dt.datetime(2026, 2, 1, tzinfo=dt.UTC).timestamp()
    assert value("netfence_baseline_drift", namespace="shop", state="modified") == 1
    assert value("netfence_baseline_drift", namespace="shop", state="in_sync") == 0
    assert value("netfence_policies", namespace="", kind="GlobalNetworkPolicy") == 1
    assert value("netfence_findings", check="no-default-deny", severity="high") == 2
    assert value("netfence_scan_errors", stage="list") == 1
    assert value("netfence_scan_unreadable_kinds", kind="cilium.io/CiliumNetworkPolicy") == 1
    assert value("netfence_scan_timestamp_seconds", cluster="prod") == 1_700_000_000


def test_help_says_values_come_from_the_last_scheduled_scan() -> None:
    text = _render(FULL)
    for name in ("namespace_default_deny", "findings", "policies", "exposures", "exposure_info"):
        (help_line,) = [ln for ln in text.splitlines() if ln.startswith(f"# HELP {PREFIX}{name} ")]
        assert "last scheduled scan" in help_line


@pytest.mark.skipif(
    shutil.which("promtool") is None and os.environ.get("CI") != "true",
    reason="needs promtool (Debian package prometheus; make test installs it)",
)
def test_output_passes_promtool() -> None:
    broken = ClusterMetrics(cluster="down", success=False, duration=3.0, errors={"scan": 2})
    svc = Scanner(
        [Cluster("demo", manifests_reader(ClusterConfig("demo", manifests=(DEMO,))), "t")]
    )
    svc.scan("demo")
    text = _render(FULL, broken, *svc.metrics()) + _flow_render()
    proc = subprocess.run(
        ["promtool", "check", "metrics"], input=text, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_failing_cluster_keeps_its_last_good_values() -> None:
    good = manifests_reader(ClusterConfig("demo", manifests=(DEMO,)))
    calls = {"n": 0}

    def flaky() -> SourceRead:
        calls["n"] += 1
        if calls["n"] > 1:
            raise TimeoutError("API server timed out")
        return good()

    steady = Cluster("steady", good, "t")
    clock = iter([100.0, 200.0, 300.0, 400.0])
    svc = Scanner([Cluster("flaky", flaky, "t"), steady], clock=lambda: next(clock))
    svc.scan("flaky")  # t=100, good
    svc.scan("steady")  # t=200
    svc.scan("flaky")  # t=300, fails
    fams = _families(_render(*svc.metrics()))

    def value(name: str, cluster: str, **labels: str) -> float:
        samples = fams[name]["samples"]
        assert isinstance(samples, list)
        hits = [
            s
            for s in samples
            if s.labels["cluster"] == cluster
            and all(s.labels.get(k) == v for k, v in labels.items())
        ]
        return float(hits[0].value)

    assert value("netfence_scan_success", "flaky") == 0
    assert value("netfence_scan_success", "steady") == 1
    assert value("netfence_scan_timestamp_seconds", "flaky") == 100
    assert value("netfence_namespaces", "flaky") == value("netfence_namespaces", "steady") == 10
    assert value("netfence_scan_errors", "flaky", stage="scan") == 1
    assert value("netfence_scan_errors", "steady", stage="scan") == 0


# -- HTTP ---------------------------------------------------------------------------------


def _get(
    url: str, auth: str | None = None, context: ssl.SSLContext | None = None
) -> tuple[int, str]:
    request = urllib.request.Request(url)
    if auth:
        request.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@pytest.fixture
def demo_scanner() -> Scanner:
    return Scanner(
        [Cluster("demo", manifests_reader(ClusterConfig("demo", manifests=(DEMO,))), "t")],
        ready_grace=3600,
    )


def _serve(svc: Scanner, web: WebSettings | None = None) -> Iterator[MetricsServer]:
    server = MetricsServer(
        exposition(svc.metrics, "t"),
        "127.0.0.1",
        0,
        healthy=svc.healthy,
        ready=svc.ready,
        web=web,
    )
    server.start()
    try:
        yield server
    finally:
        server.shutdown()


def test_health_readiness_and_metrics(demo_scanner: Scanner) -> None:
    for server in _serve(demo_scanner):
        base = f"http://127.0.0.1:{server.port}"
        assert _get(base + "/healthz")[0] == 200
        status, body = _get(base + "/readyz")
        assert status == 503 and "demo" in body
        demo_scanner.scan("demo")
        assert _get(base + "/readyz")[0] == 200
        status, body = _get(base + "/metrics")
        assert status == 200 and 'netfence_namespaces{cluster="demo"} 10.0' in body
        assert _get(base + "/nope")[0] == 404


def test_readiness_grace() -> None:
    """The grace period makes a slow cluster's first scan not hold the others back; it
    never makes a process with no published answer ready."""
    now = {"t": 0.0}
    svc = Scanner(
        [Cluster("x", lambda: SourceRead([]), "t"), Cluster("slow", lambda: SourceRead([]), "t")],
        ready_grace=60,
        monotonic=lambda: now["t"],
    )
    assert not svc.ready()[0]
    now["t"] = 61
    ok, why = svc.ready()
    assert not ok and "waiting" in why
    svc.scan("x")
    ok, why = svc.ready()
    assert ok and "grace" in why and "slow" in why


def test_not_ready_while_every_scan_fails() -> None:
    """/readyz is 503 while a cluster's every scan fails, however long it has been."""
    now = {"t": 0.0}

    def broken() -> SourceRead:
        raise RuntimeError("cluster unreachable")

    svc = Scanner([Cluster("dead", broken, "t")], ready_grace=60, monotonic=lambda: now["t"])
    for _ in range(3):
        svc.scan("dead")
    now["t"] = 10_000
    ok, why = svc.ready()
    assert not ok and "no scan has succeeded" in why


def test_unknown_answers_are_absent_not_zero() -> None:
    """A namespace whose coverage is unknown has no default-deny, isolation, exposure or
    egress series; coverage_known says 0 and unverified_kinds says why; the scan state is
    degraded and scan_success 0."""
    fams = _families(_render(DEGRADED))

    def series(name: str) -> dict[tuple[tuple[str, str], ...], float]:
        samples = fams[name]["samples"]
        assert isinstance(samples, list)
        return {tuple(sorted(s.labels.items())): s.value for s in samples}

    for name in (
        "netfence_namespace_default_deny",
        "netfence_namespace_isolated_pods",
        "netfence_exposures",
        "netfence_internet_egress_workloads",
    ):
        namespaces = {dict(k)["namespace"] for k in series(name)}
        assert namespaces == {"seen"}, name
    known = {
        dict(k)["namespace"]: v for k, v in series("netfence_namespace_coverage_known").items()
    }
    assert known == {"seen": 1, "unseen": 0}
    exposure = series("netfence_namespace_exposure_known")
    assert {dict(k)["namespace"]: v for k, v in exposure.items()} == {"seen": 1, "unseen": 0}
    (why,) = series("netfence_namespace_unverified_kinds")
    assert dict(why) == {
        "cluster": "gap",
        "namespace": "unseen",
        "kind": "networking.k8s.io/NetworkPolicy",
        "reason": "unparsable",
    }
    states = {dict(k)["state"]: v for k, v in series("netfence_scan_state").items()}
    assert states == {"success": 0, "degraded": 1, "failure": 0}
    assert series("netfence_scan_success") == {(("cluster", "gap"),): 0}


def test_basic_auth_and_tls(demo_scanner: Scanner, tmp_path: Path, openssl: str) -> None:
    cert, key = tmp_path / "tls.crt", tmp_path / "tls.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    hashed = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(rounds=4)).decode()
    web = WebSettings(cert_file=cert, key_file=key, basic_auth_users={"prom": hashed})
    context = ssl.create_default_context(cafile=str(cert))
    demo_scanner.scan("demo")
    for server in _serve(demo_scanner, web):
        base = f"https://127.0.0.1:{server.port}"
        assert _get(base + "/metrics", context=context)[0] == 401
        assert _get(base + "/metrics", "prom:wrong", context)[0] == 401
        assert _get(base + "/metrics", "nobody:s3cret", context)[0] == 401
        status, body = _get(base + "/metrics", "prom:s3cret", context)
        assert status == 200 and "netfence_namespaces" in body
        assert _get(base + "/metrics", "prom:s3cret", context)[0] == 200  # cached check
        assert _get(base + "/healthz", context=context)[0] == 200  # probes need no auth
        with pytest.raises((urllib.error.URLError, ConnectionError)):  # plain HTTP refused
            urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=5)


def test_exposition_is_cached_per_result_and_gzip_is_valid() -> None:
    import gzip
    import time

    from prometheus_client.openmetrics.parser import (
        text_string_to_metric_families as parse_openmetrics,
    )

    results = [FULL]
    expo = exposition(lambda: results, "t")
    om_accept = "application/openmetrics-text;version=1.0.0"
    body, ctype, zipped = expo.render(om_accept, None)
    assert ctype.startswith("application/openmetrics-text") and not zipped
    text = body.decode()
    assert text.endswith("# EOF\n") and text.count("# EOF") == 1
    names = {f.name for f in parse_openmetrics(text)}  # the strict OpenMetrics parser
    assert {"netfence_namespaces", "netfence_scan_errors", "process_cpu_seconds"} <= names
    zbody, _, zipped = expo.render(om_accept, "gzip, deflate")
    assert zipped
    cached_part = zbody[: zbody.index(b"\x1f\x8b", 2)]  # first gzip member: the cached part
    assert gzip.decompress(zbody).decode().startswith(text.split("# HELP process_")[0])
    again, _, _ = expo.render(om_accept, "gzip")
    assert again.startswith(cached_part)  # netfence part served from the cache
    results[0] = ClusterMetrics(cluster="prod", success=False)  # a new result
    # Without a warm, scrapes get the previous body until a background render of the
    # new result is installed (test_a_scrape_never_renders_while_it_has_a_previous_body).
    deadline = time.monotonic() + 10
    while True:
        changed = gzip.decompress(expo.render(om_accept, "gzip")[0]).decode()
        if 'netfence_scan_success{cluster="prod"} 0.0' in changed:
            break
        assert time.monotonic() < deadline, "the new result never reached /metrics"
        time.sleep(0.01)
    plain, ctype, _ = expo.render(None, None)
    assert ctype.startswith("text/plain") and b"# EOF" not in plain


@pytest.mark.parametrize("openmetrics", [False, True], ids=["text", "openmetrics"])
def test_the_fast_renderer_writes_what_prometheus_client_writes(openmetrics: bool) -> None:
    from prometheus_client.openmetrics.exposition import generate_latest as om_latest

    from exporter.metrics.exposition import render_families

    odd = Finding(Check.ALLOW_ALL_RULE, Severity.LOW, 'we"ird\\ns\nx', "o", "m")
    results = [
        dataclasses.replace(FULL, findings=(*FULL.findings, odd), duration=0.1 + 0.2),
        ClusterMetrics(cluster="down", success=False, duration=1e22, errors={"scan": 3}),
    ]
    collector = NetfenceCollector(lambda: results, "9.9.9")
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    expected = (om_latest if openmetrics else generate_latest)(registry)
    assert render_families(collector.collect(), openmetrics) == expected


def test_results_stay_the_same_objects_until_something_changes() -> None:
    """/metrics caches on the identity of the results: they must not be rebuilt per scrape."""
    svc = Scanner([Cluster("never", lambda: SourceRead([]), "t")])
    first = svc.metrics()
    assert [m.cluster for m in first] == ["never"] and not first[0].success
    assert all(a is b for a, b in zip(first, svc.metrics(), strict=True))
    svc.count("never", "scheduler")
    (changed,) = svc.metrics()
    assert changed is not first[0] and changed.errors["scheduler"] == 1


@pytest.mark.parametrize("accept", [None, "application/openmetrics-text;version=1.0.0"])
def test_a_lone_surrogate_never_fails_the_scrape(accept: str | None) -> None:
    """A namespace `"\\ud800"` (JSON from a Hubble flow or a manifest) used to make
    /metrics answer 500 for everything; now that one value reads U+FFFD and the rest
    of the scrape is served."""
    odd = "bad\ud800ns"
    results = [
        dataclasses.replace(
            FULL,
            namespaces=(*FULL.namespaces, NamespaceCoverage(odd, 1, _cov(True, 1), _cov(True, 1))),
        )
    ]
    agg = Aggregator(FlowsConfig("prod"))
    agg.connection(1_700_000_000, odd, "cart", 1, 2, 133, DEFAULT_DENY, "batch")
    flows = FlowMetrics(agg.snapshot(1_700_000_000), True, {}, {})
    expo = exposition(lambda: results, "t", [FlowCollector(lambda: [flows])])
    for zipped in (None, "gzip"):
        body, _, gz = expo.render(accept, zipped)
        text = (gzip.decompress(body) if gz else body).decode("utf-8")  # valid UTF-8
        assert 'namespace="bad\ufffdns"' in text
        assert 'netfence_namespace_pods{cluster="prod",namespace="shop"} 4' in text
        assert "netfence_policy_verdicts" in text


def _slow_exposition() -> tuple[Any, list[ClusterMetrics], Any, Any]:
    """An Exposition over results ["old"] whose render of results named "new" sets
    `rendering` and then blocks until `release` is set."""
    import threading

    from exporter.metrics.exposition import Exposition

    rendering, release = threading.Event(), threading.Event()

    class Slow(NetfenceCollector):
        def collect_from(self, results):  # type: ignore[no-untyped-def]
            if results and results[0].cluster == "new":
                rendering.set()
                release.wait(30)
            return super().collect_from(results)

    current = [dataclasses.replace(FULL, cluster="old")]
    return Exposition(Slow(lambda: current, "t"), lambda: current), current, rendering, release


def test_a_scrape_never_waits_behind_a_render() -> None:
    """While the scan thread renders new results (warm), scrapes are answered at once
    with the previous body; they used to queue on the render's lock for its duration."""
    import threading
    import time

    expo, current, rendering, release = _slow_exposition()
    om = "application/openmetrics-text;version=1.0.0"
    assert b'cluster="old"' in expo.render(om, None)[0]
    current[:] = [dataclasses.replace(FULL, cluster="new")]
    warm = threading.Thread(target=expo.warm)
    warm.start()
    try:
        assert rendering.wait(10)
        t0 = time.perf_counter()
        body, _, _ = expo.render(om, None)
        assert time.perf_counter() - t0 < 1.0  # the render is still blocked
        assert b'cluster="old"' in body
    finally:
        release.set()
        warm.join(10)
    assert b'cluster="new"' in expo.render(om, None)[0]


def test_a_scrape_never_renders_while_it_has_a_previous_body() -> None:
    """Between a scan publishing new results and its warm starting (the store write,
    the hooks), nothing was rendering, so the next scrape rendered itself and took over
    a second on 2,000 namespaces (scrape_bench: 3-9 scrapes of 5,000 over 0.9 s). Now it
    is answered with the previous body and the new one renders in the background."""
    import time

    expo, current, rendering, release = _slow_exposition()
    om = "application/openmetrics-text;version=1.0.0"
    assert b'cluster="old"' in expo.render(om, None)[0]
    current[:] = [dataclasses.replace(FULL, cluster="new")]  # published, no warm
    try:
        t0 = time.perf_counter()
        body, _, _ = expo.render(om, None)
        assert time.perf_counter() - t0 < 1.0
        assert b'cluster="old"' in body
        assert rendering.wait(10)  # the new results render in the background
        body, _, _ = expo.render(om, None)  # meanwhile: the old body again, at once
        assert b'cluster="old"' in body
    finally:
        release.set()
    deadline = time.monotonic() + 10
    while b'cluster="new"' not in expo.render(om, None)[0]:
        assert time.monotonic() < deadline, "the background render never installed"
        time.sleep(0.01)

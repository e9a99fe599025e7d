"""The committed stubs are what `make protos` generates from the committed .proto files,
and the subset keeps upstream's names and field numbers."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from exporter.sources.hubble._pb.flow import flow_pb2
from exporter.sources.hubble._pb.observer import observer_pb2

HUBBLE = Path(__file__).resolve().parents[2] / "exporter" / "sources" / "hubble"


def test_committed_stubs_are_up_to_date(tmp_path: Path) -> None:
    pytest.importorskip("grpc_tools")
    if shutil.which("bash") is None:
        pytest.skip("bash not available")
    env = {**os.environ, "OUT": str(tmp_path / "_pb"), "PYTHON": sys.executable}
    subprocess.run(["bash", str(HUBBLE / "regenerate_protos.sh")], env=env, check=True, timeout=60)
    committed = sorted(p.relative_to(HUBBLE / "_pb") for p in (HUBBLE / "_pb").rglob("*.py*"))
    fresh = sorted(p.relative_to(tmp_path / "_pb") for p in (tmp_path / "_pb").rglob("*.py*"))
    assert committed == fresh
    for rel in committed:
        assert (HUBBLE / "_pb" / rel).read_text() == (tmp_path / "_pb" / rel).read_text(), rel


def test_wire_names_and_numbers_match_upstream() -> None:
    svc = observer_pb2.DESCRIPTOR.services_by_name["Observer"]
    assert svc.full_name == "observer.Observer"
    assert {m.name for m in svc.methods} >= {"GetFlows", "ServerStatus"}
    req = observer_pb2.GetFlowsRequest.DESCRIPTOR.fields_by_name
    assert {n: req[n].number for n in ("number", "follow", "whitelist", "since")} == {
        "number": 1,
        "follow": 3,
        "whitelist": 6,
        "since": 7,
    }
    flow = flow_pb2.Flow.DESCRIPTOR
    assert flow.full_name == "flow.Flow"
    numbers = {f.name: f.number for f in flow.fields}
    assert numbers["event_type"] == 19 and numbers["traffic_direction"] == 22
    assert numbers["ingress_denied_by"] == 21005 and numbers["egress_denied_by"] == 21004
    assert numbers["drop_reason_desc"] == 25 and numbers["uuid"] == 34
    assert flow_pb2.DropReason.Value("POLICY_DENIED") == 133
    assert flow_pb2.DropReason.Value("POLICY_DENY") == 181
    resp = observer_pb2.GetFlowsResponse.DESCRIPTOR.fields_by_name
    assert (resp["flow"].number, resp["lost_events"].number, resp["time"].number) == (1, 3, 1001)

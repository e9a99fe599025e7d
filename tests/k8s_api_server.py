"""A small Kubernetes API server for tests: discovery and the list endpoints netfence
uses, served from fixture objects on loopback, so the real `kubernetes` client is
exercised end to end (kubeconfig, bearer token, HTTP, paging).

Faults are injected per list path (`/apis/apps/v1/deployments`, ...):

- `forbidden`: 403 on every request to that path;
- `gone_after`: a 410 Gone on the next continued page request (once per injection);
- `errors`: the next N requests answer 500;
- `delay`: seconds to sleep before answering.

Continue tokens are opaque offsets; the server counts every request so tests can
check paging and retries happened.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

TOKEN = "netfence-test-token"

# kind -> (group, version, plural, namespaced)
RESOURCES: dict[str, tuple[str, str, str, bool]] = {
    "Namespace": ("", "v1", "namespaces", False),
    "Pod": ("", "v1", "pods", True),
    "Service": ("", "v1", "services", True),
    "Node": ("", "v1", "nodes", False),
    "ReplicationController": ("", "v1", "replicationcontrollers", True),
    "Secret": ("", "v1", "secrets", True),
    "Deployment": ("apps", "v1", "deployments", True),
    "StatefulSet": ("apps", "v1", "statefulsets", True),
    "DaemonSet": ("apps", "v1", "daemonsets", True),
    "ReplicaSet": ("apps", "v1", "replicasets", True),
    "Job": ("batch", "v1", "jobs", True),
    "CronJob": ("batch", "v1", "cronjobs", True),
    "NetworkPolicy": ("networking.k8s.io", "v1", "networkpolicies", True),
    "Ingress": ("networking.k8s.io", "v1", "ingresses", True),
    "IngressClass": ("networking.k8s.io", "v1", "ingressclasses", False),
    "EndpointSlice": ("discovery.k8s.io", "v1", "endpointslices", True),
    "Gateway": ("gateway.networking.k8s.io", "v1", "gateways", True),
    "GatewayClass": ("gateway.networking.k8s.io", "v1", "gatewayclasses", False),
    "HTTPRoute": ("gateway.networking.k8s.io", "v1", "httproutes", True),
    "ReferenceGrant": ("gateway.networking.k8s.io", "v1beta1", "referencegrants", True),
    "CiliumNetworkPolicy": ("cilium.io", "v2", "ciliumnetworkpolicies", True),
    "GlobalNetworkPolicy": ("crd.projectcalico.org", "v1", "globalnetworkpolicies", False),
}
# Optional groups (CRDs) are served only when the fixture holds an object of theirs or
# the test asks for them, as discovery on a real cluster would show.
BUILTIN_GROUPS = ("", "apps", "batch", "networking.k8s.io", "discovery.k8s.io")


def list_path(kind: str) -> str:
    group, version, plural, _ns = RESOURCES[kind]
    return f"/api/{version}/{plural}" if not group else f"/apis/{group}/{version}/{plural}"


@dataclass
class Faults:
    forbidden: set[str] = field(default_factory=set)
    gone_after: set[str] = field(default_factory=set)
    errors: Counter[str] = field(default_factory=Counter)
    delay: dict[str, float] = field(default_factory=dict)
    down: bool = False
    """Every request answers 503 (a cluster that is unavailable)."""


class FakeApiServer:
    def __init__(self, objects: Iterable[Mapping[str, Any]], extra_groups: Iterable[str] = ()):
        self.faults = Faults()
        self.requests: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._objects: dict[str, list[dict[str, Any]]] = defaultdict(list)
        groups = set(BUILTIN_GROUPS) | set(extra_groups)
        for obj in objects:
            kind = str(obj.get("kind"))
            if kind not in RESOURCES:
                continue
            group = RESOURCES[kind][0]
            groups.add(group)
            item = {k: v for k, v in obj.items() if k not in ("kind", "apiVersion")}
            self._objects[list_path(kind)].append(item)
        self.groups = groups
        server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)

    # -- lifecycle ----------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeApiServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> FakeApiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def kubeconfig(self, path: Path, context: str = "test") -> Path:
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": context, "cluster": {"server": self.url}}],
            "users": [{"name": context, "user": {"token": TOKEN}}],
            "contexts": [{"name": context, "context": {"cluster": context, "user": context}}],
            "current-context": context,
        }
        path.write_text(json.dumps(config))
        return path

    # -- HTTP ---------------------------------------------------------------------

    def _discovery(self, path: str) -> dict[str, Any] | None:
        if path == "/api":
            return {"kind": "APIVersions", "versions": ["v1"]}
        if path == "/apis":
            by_group: dict[str, set[str]] = defaultdict(set)
            for group, version, _plural, _ns in RESOURCES.values():
                if group and group in self.groups:
                    by_group[group].add(f"{group}/{version}")
            return {
                "kind": "APIGroupList",
                "apiVersion": "v1",
                "groups": [
                    {
                        "name": g,
                        "versions": [{"groupVersion": v} for v in sorted(vs)],
                        "preferredVersion": {"groupVersion": sorted(vs)[-1]},
                    }
                    for g, vs in sorted(by_group.items())
                ],
            }
        for kind, (group, version, plural, _namespaced) in RESOURCES.items():
            gv_path = "/api/v1" if not group else f"/apis/{group}/{version}"
            if path == gv_path and group in self.groups:
                return {
                    "kind": "APIResourceList",
                    "groupVersion": f"{group}/{version}" if group else "v1",
                    "resources": [
                        {
                            "name": p,
                            "kind": k,
                            "namespaced": n,
                            "verbs": ["get", "list", "watch"],
                        }
                        for k, (g, v, p, n) in RESOURCES.items()
                        if g == group and v == version
                    ]
                    + [{"name": f"{plural}/status", "kind": kind, "verbs": ["get"]}],
                }
        return None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def _send(self, status: int, body: Mapping[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                # the client may have timed out and gone away
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(data)

            def _status(self, code: int, reason: str) -> None:
                self._send(
                    code,
                    {
                        "kind": "Status",
                        "apiVersion": "v1",
                        "status": "Failure",
                        "code": code,
                        "reason": reason,
                        "message": reason,
                    },
                )

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                path = parts.path.rstrip("/") or "/"
                query = parse_qs(parts.query)
                with api._lock:
                    api.requests[path] += 1
                    faults = api.faults
                    delay = faults.delay.get(path, 0.0)
                    fail = faults.errors[path] > 0
                    if fail:
                        faults.errors[path] -= 1
                    gone = "continue" in query and path in faults.gone_after
                    if gone:
                        faults.gone_after.discard(path)
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    return self._status(401, "Unauthorized")
                if delay:
                    time.sleep(delay)
                if faults.down:
                    return self._status(503, "ServiceUnavailable")
                if fail:
                    return self._status(500, "InternalError")
                discovery = api._discovery(path)
                if discovery is not None:
                    return self._send(200, discovery)
                if path in faults.forbidden:
                    return self._status(403, "Forbidden")
                if gone:
                    return self._status(410, "Expired")
                known = {list_path(k) for k, v in RESOURCES.items() if v[0] in api.groups}
                if path not in known:
                    return self._status(404, "NotFound")
                items = api._objects.get(path, [])
                limit = int(query.get("limit", ["0"])[0]) or len(items) or 1
                start = int(query.get("continue", ["0"])[0])
                page = items[start : start + limit]
                more = start + limit < len(items)
                return self._send(
                    200,
                    {
                        "kind": "List",
                        "apiVersion": "v1",
                        "metadata": {
                            "resourceVersion": "1",
                            **({"continue": str(start + limit)} if more else {}),
                        },
                        "items": page,
                    },
                )

        return Handler

"""Live clusters through the official `kubernetes` client.

List responses are read as raw JSON (`json.loads` of the body) straight into the same
plain dicts the manifest loader produces: the client's model deserialisation costs
milliseconds per object, which is minutes at 100,000 pods. The client still does
everything else (kubeconfig and in-cluster config, auth plugins, TLS).

- Every list is paged (`limit` / `continue`); a 410 Gone (the continue token expired)
  restarts that list from the beginning, a bounded number of times.
- Which kinds exist comes from discovery, so a cluster without Cilium, Calico, Gateway
  API or AdminNetworkPolicy is normal: those kinds are simply not read.
- 403 on a kind: the scan goes on without it and the gap is reported (`unreadable`),
  so the service can turn it into a finding and a metric.
- Timeouts, connection errors, 429 and 5xx: bounded retries with exponential backoff
  and jitter; when they run out the read fails with `ClusterUnavailable`.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import kubernetes
import urllib3

from exporter.core.findings import InputError
from exporter.core.inventory import RawObject
from exporter.core.policies import PolicyAPI
from exporter.core.policies.kinds import POLICY_KINDS

DEFAULT_PAGE_SIZE = 500
DEFAULT_RETRIES = 4
DEFAULT_BACKOFF_SECONDS = 0.5
MAX_BACKOFF_SECONDS = 8.0
MAX_LIST_RESTARTS = 3
LIST_STAGE = "list"


@dataclass(frozen=True, slots=True)
class Kind:
    """A kind the engine reads, and the API groups that may serve it (first found wins)."""

    kind: str
    plural: str
    groups: tuple[str, ...]


def _policy_kinds(*apis: PolicyAPI) -> tuple[Kind, ...]:
    """The enforced policy kinds of these APIs, from the registry (core/policies/kinds.py)."""
    return tuple(
        Kind(k.kind, k.plural, k.groups) for k in POLICY_KINDS if k.enforced and k.api in apis
    )


# Every kind the inventory and the analyses use (exporter/core/inventory.py). Core and
# built-in groups are looked up through discovery like the CRDs, so one code path covers
# clusters old and new. Endpoints, Secrets and ConfigMaps are never read.
KINDS: tuple[Kind, ...] = (
    Kind("Namespace", "namespaces", ("",)),
    Kind("Pod", "pods", ("",)),
    Kind("Service", "services", ("",)),
    Kind("Node", "nodes", ("",)),
    Kind("ReplicationController", "replicationcontrollers", ("",)),
    Kind("Deployment", "deployments", ("apps",)),
    Kind("StatefulSet", "statefulsets", ("apps",)),
    Kind("DaemonSet", "daemonsets", ("apps",)),
    Kind("ReplicaSet", "replicasets", ("apps",)),
    Kind("Job", "jobs", ("batch",)),
    Kind("CronJob", "cronjobs", ("batch",)),
    *_policy_kinds(PolicyAPI.KUBERNETES),
    Kind("Ingress", "ingresses", ("networking.k8s.io",)),
    Kind("IngressClass", "ingressclasses", ("networking.k8s.io",)),
    Kind("EndpointSlice", "endpointslices", ("discovery.k8s.io",)),
    Kind("Gateway", "gateways", ("gateway.networking.k8s.io",)),
    Kind("GatewayClass", "gatewayclasses", ("gateway.networking.k8s.io",)),
    Kind("HTTPRoute", "httproutes", ("gateway.networking.k8s.io",)),
    Kind("GRPCRoute", "grpcroutes", ("gateway.networking.k8s.io",)),
    Kind("TLSRoute", "tlsroutes", ("gateway.networking.k8s.io",)),
    Kind("TCPRoute", "tcproutes", ("gateway.networking.k8s.io",)),
    Kind("UDPRoute", "udproutes", ("gateway.networking.k8s.io",)),
    Kind("ReferenceGrant", "referencegrants", ("gateway.networking.k8s.io",)),
    Kind("Route", "routes", ("route.openshift.io",)),
    *_policy_kinds(PolicyAPI.CILIUM, PolicyAPI.ADMIN, PolicyAPI.CALICO),
)


class ClusterUnavailable(RuntimeError):
    """The cluster could not be read (after retries); the scan of this cluster fails."""


class _Forbidden(Exception):
    pass


class _Gone(Exception):
    pass


class _NotFound(Exception):
    pass


@dataclass(slots=True)
class ReadResult:
    objects: list[RawObject]
    errors: list[InputError] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    """Kinds the API refused (403): not analysed in this scan."""
    kinds: dict[str, int] = field(default_factory=dict)
    """Objects read per kind (`group/kind`, core kinds without a group)."""
    requests: int = 0
    retries: int = 0
    list_seconds: float = 0.0
    api_groups: frozenset[str] = frozenset()
    """API groups the server serves (discovery): tells which network plugin's CRDs exist."""


ApiClientFactory = Callable[[], Any]
Sleep = Callable[[float], None]


def kubeconfig_client(path: str | None, context: str | None) -> ApiClientFactory:
    """A factory of API clients from a kubeconfig file (None: $KUBECONFIG or ~/.kube/config).

    A new client per scan, so rotated credentials and exec plugins are picked up."""

    def make() -> Any:
        configuration = kubernetes.client.Configuration()
        kubernetes.config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=path, context=context, client_configuration=configuration
        )
        return _client(configuration)

    return make


def describe_kubeconfig(path: str | None, context: str | None) -> tuple[str, str]:
    """(context name, API server URL) that `kubeconfig_client(path, context)` would use,
    for a one-shot command to say which cluster it reads, as kubectl users expect.
    Raises ClusterUnavailable when there is no usable kubeconfig."""
    try:
        _, active = kubernetes.config.list_kube_config_contexts(  # type: ignore[no-untyped-call]
            config_file=path
        )
        configuration = kubernetes.client.Configuration()
        kubernetes.config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=path, context=context, client_configuration=configuration
        )
    except Exception as exc:
        raise ClusterUnavailable(f"no usable kubeconfig: {exc}") from exc
    name = context or str((active or {}).get("name", ""))
    return name, str(configuration.host)


def in_cluster_client() -> ApiClientFactory:
    """The pod's service account (token re-read per scan: projected tokens rotate)."""

    def make() -> Any:
        configuration = kubernetes.client.Configuration()
        kubernetes.config.load_incluster_config(  # type: ignore[no-untyped-call]
            client_configuration=configuration
        )
        return _client(configuration)

    return make


def _client(configuration: Any) -> Any:
    # Retries are ours (bounded, with backoff, counted); urllib3's would multiply them.
    configuration.retries = urllib3.util.Retry(
        total=0, redirect=0, raise_on_redirect=False, raise_on_status=False
    )
    return kubernetes.client.ApiClient(configuration)


def in_cluster_available() -> bool:
    """Running in a pod with a service account token (the in-cluster default)."""
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST")) and os.path.exists(
        "/var/run/secrets/kubernetes.io/serviceaccount/token"
    )


class KubernetesSource:
    """Reads every kind the engine uses from one cluster, as plain dicts."""

    def __init__(
        self,
        client_factory: ApiClientFactory,
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
        retries: int = DEFAULT_RETRIES,
        backoff_seconds: float = DEFAULT_BACKOFF_SECONDS,
        timeout_seconds: float = 60.0,
        sleep: Sleep = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        kinds: Sequence[Kind] = KINDS,
    ) -> None:
        self._factory = client_factory
        self._page_size = page_size
        self._retries = retries
        self._backoff = backoff_seconds
        self._timeout = timeout_seconds
        self._sleep = sleep
        self._monotonic = monotonic
        self._kinds = tuple(kinds)
        self._random = random.Random()  # noqa: S311 - backoff jitter, not security

    def read(self) -> ReadResult:
        try:
            client = self._factory()
        except Exception as exc:
            raise ClusterUnavailable(f"cannot configure the API client: {exc}") from exc
        started = self._monotonic()
        result = ReadResult(objects=[])
        try:
            host = str(getattr(client.configuration, "host", ""))
            for kind, group_version, path in self._discover(client, result):
                self._read_kind(client, host, kind, group_version, path, result)
        finally:
            close = getattr(client, "close", None)
            if callable(close):
                close()
        result.list_seconds = self._monotonic() - started
        return result

    # -- discovery ------------------------------------------------------------------

    def _discover(self, client: Any, result: ReadResult) -> Iterator[tuple[Kind, str, str]]:
        """(kind, apiVersion, list path) for every wanted kind the cluster serves."""
        groups: dict[str, list[str]] = {"": ["v1"]}
        body = self._get(client, "/apis", {}, result)
        for group in body.get("groups") or []:
            name = group.get("name")
            versions = [v.get("groupVersion") for v in group.get("versions") or []]
            preferred = (group.get("preferredVersion") or {}).get("groupVersion")
            ordered = [preferred] if preferred else []
            ordered += [v for v in versions if v and v != preferred]
            if isinstance(name, str):
                groups[name] = [str(v) for v in ordered if v]
        result.api_groups = frozenset(g for g in groups if g)
        resources: dict[str, set[str]] = {}

        def served(group_version: str) -> set[str]:
            if group_version not in resources:
                path = "/api/v1" if group_version == "v1" else f"/apis/{group_version}"
                try:
                    listing = self._get(client, path, {}, result)
                except (_NotFound, _Forbidden):
                    listing = {}
                resources[group_version] = {
                    str(r.get("name"))
                    for r in listing.get("resources") or []
                    if "list" in (r.get("verbs") or []) and "/" not in str(r.get("name"))
                }
            return resources[group_version]

        for kind in self._kinds:
            for group in kind.groups:
                found = next(
                    (gv for gv in groups.get(group, []) if kind.plural in served(gv)), None
                )
                if found is not None:
                    prefix = "/api/v1" if group == "" else f"/apis/{found}"
                    yield kind, found, f"{prefix}/{kind.plural}"
                    break

    # -- lists ----------------------------------------------------------------------

    def _read_kind(
        self, client: Any, host: str, kind: Kind, api_version: str, path: str, result: ReadResult
    ) -> None:
        source = f"{host}{path}"
        label = (
            kind.kind if api_version.count("/") == 0 else f"{api_version.split('/')[0]}/{kind.kind}"
        )
        for _attempt in range(MAX_LIST_RESTARTS + 1):
            try:
                items = self._list(client, path, result)
            except _Gone:
                continue  # the continue token expired: start this list again
            except _Forbidden:
                result.unreadable.append(label)
                result.errors.append(
                    InputError(
                        source=source,
                        kind=kind.kind,
                        message=f"forbidden (403): cannot list {label}; it is not analysed "
                        "(grant get/list/watch on it to netfence)",
                        stage=LIST_STAGE,
                    )
                )
                return
            except _NotFound:
                return  # removed since discovery: as if never installed
            for item in items:
                if isinstance(item, dict):
                    item["kind"] = kind.kind
                    item["apiVersion"] = api_version
                    meta = item.get("metadata")
                    if isinstance(meta, dict):
                        meta.pop("managedFields", None)
                result.objects.append(RawObject(item, source))
            result.kinds[label] = len(items)
            return
        raise ClusterUnavailable(
            f"{source}: the list kept expiring (410 Gone) {MAX_LIST_RESTARTS + 1} times"
        )

    def _list(self, client: Any, path: str, result: ReadResult) -> list[Any]:
        items: list[Any] = []
        token: str | None = None
        while True:
            query: dict[str, str | int] = {"limit": self._page_size}
            if token:
                query["continue"] = token
            page = self._get(client, path, query, result)
            items.extend(page.get("items") or [])
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return items

    def _get(
        self, client: Any, path: str, query: dict[str, str | int], result: ReadResult
    ) -> dict[str, Any]:
        """One GET as raw JSON, with bounded retries on transient failures."""
        attempt = 0
        while True:
            result.requests += 1
            status, reason, data = self._request(client, path, query)
            if 200 <= status <= 299:
                try:
                    body = json.loads(data)
                except ValueError as exc:
                    reason = f"invalid JSON in the response: {exc}"
                else:
                    if isinstance(body, dict):
                        return body
                    reason = "the response is not a JSON object"
                status = 0
            elif status == 403:
                raise _Forbidden(path)
            elif status == 404:
                raise _NotFound(path)
            elif status == 410:
                raise _Gone(path)
            elif status in (401,) or (400 <= status < 500 and status != 429):
                raise ClusterUnavailable(f"{path}: HTTP {status} {reason}")
            if attempt >= self._retries:
                raise ClusterUnavailable(
                    f"{path}: {reason or f'HTTP {status}'} (gave up after {attempt + 1} attempts)"
                )
            delay = min(MAX_BACKOFF_SECONDS, self._backoff * 2**attempt)
            self._sleep(delay * (0.5 + self._random.random() / 2))
            attempt += 1
            result.retries += 1

    def _request(
        self, client: Any, path: str, query: dict[str, str | int]
    ) -> tuple[int, str, bytes]:
        """(HTTP status or 0 for a transport failure, reason, body)."""
        try:
            request = client.param_serialize(
                method="GET",
                resource_path=path,
                query_params=list(query.items()),
                header_params={"Accept": "application/json"},
                auth_settings=["BearerToken"],
            )
            response = client.call_api(*request, _request_timeout=self._timeout)
            data = response.read()
            return int(response.status), str(response.reason or ""), bytes(data or b"")
        except kubernetes.client.exceptions.ApiException as exc:
            return int(exc.status or 0), str(exc.reason or exc), b""
        except (urllib3.exceptions.HTTPError, OSError, TimeoutError) as exc:
            return 0, f"{type(exc).__name__}: {exc}", b""

"""`Snapshot`: everything one scan knows about one cluster, in the core's own types.

Its own module, above the model, the policy form, Services and routes, so that none of
them needs to know it (the model once named these types only for its annotations).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from exporter.core.model import Namespace, PodGroup
from exporter.core.policies.normal_form import Policy
from exporter.core.routes import Gateway, GatewayRoute, Ingress, ReferenceGrant
from exporter.core.services import EndpointSlice, Service


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything one scan knows about one cluster."""

    namespaces: Mapping[str, Namespace]
    pod_groups: tuple[PodGroup, ...]
    policies: tuple[Policy, ...] = ()
    carried: tuple[Mapping[str, object], ...] = ()
    """Raw objects of kinds a later analysis reads (Service, Ingress, routes, other policy APIs)."""
    ignored_kinds: Mapping[str, int] = field(default_factory=dict)
    """Objects of kinds no analysis reads, counted by kind so nothing vanishes unsaid."""
    services: tuple[Service, ...] = ()
    endpoint_slices: tuple[EndpointSlice, ...] = ()
    ingresses: tuple[Ingress, ...] = ()
    """Ingress objects and OpenShift Routes (both served by in-cluster router pods)."""
    gateways: tuple[Gateway, ...] = ()
    routes: tuple[GatewayRoute, ...] = ()
    reference_grants: tuple[ReferenceGrant, ...] = ()
    unparsed: tuple[tuple[str, str], ...] = ()
    """(`group/Kind`, namespace or "" when cluster-scoped) of every object that could not
    be used at all: the answers its kind decides are unknown (core/verification.py)."""

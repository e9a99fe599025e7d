"""Every policy kind netfence reads, in one registry.

The inventory (which kinds are cluster-scoped), each API module (which kinds it parses),
the live source (which kinds it lists, from which API groups) and the service (which
objects are policies whose versions the history keeps) all read this table, so a new
policy kind is added here once.
"""

from __future__ import annotations

from dataclasses import dataclass

from exporter.core.policies.normal_form import PolicyAPI


@dataclass(frozen=True, slots=True)
class PolicyKind:
    kind: str
    api: PolicyAPI
    plural: str
    groups: tuple[str, ...]
    """API groups that may serve it on a live cluster, first found wins."""
    cluster_scoped: bool = False
    enforced: bool = True
    """False: parsed when present in manifests (reported as not enforced), but not listed
    from live clusters nor versioned in the history (Calico's StagedNetworkPolicy)."""


_CALICO_GROUPS = ("projectcalico.org", "crd.projectcalico.org")
_ADMIN_GROUPS = ("policy.networking.k8s.io",)

POLICY_KINDS: tuple[PolicyKind, ...] = (
    PolicyKind("NetworkPolicy", PolicyAPI.KUBERNETES, "networkpolicies", ("networking.k8s.io",)),
    PolicyKind("CiliumNetworkPolicy", PolicyAPI.CILIUM, "ciliumnetworkpolicies", ("cilium.io",)),
    PolicyKind(
        "CiliumClusterwideNetworkPolicy",
        PolicyAPI.CILIUM,
        "ciliumclusterwidenetworkpolicies",
        ("cilium.io",),
        cluster_scoped=True,
    ),
    PolicyKind(
        "AdminNetworkPolicy",
        PolicyAPI.ADMIN,
        "adminnetworkpolicies",
        _ADMIN_GROUPS,
        cluster_scoped=True,
    ),
    PolicyKind(
        "BaselineAdminNetworkPolicy",
        PolicyAPI.ADMIN,
        "baselineadminnetworkpolicies",
        _ADMIN_GROUPS,
        cluster_scoped=True,
    ),
    PolicyKind(
        "ClusterNetworkPolicy",
        PolicyAPI.ADMIN,
        "clusternetworkpolicies",
        _ADMIN_GROUPS,
        cluster_scoped=True,
    ),
    # Calico: the projectcalico.org API server when installed, else its CRDs.
    PolicyKind("NetworkPolicy", PolicyAPI.CALICO, "networkpolicies", _CALICO_GROUPS),
    PolicyKind(
        "GlobalNetworkPolicy",
        PolicyAPI.CALICO,
        "globalnetworkpolicies",
        _CALICO_GROUPS,
        cluster_scoped=True,
    ),
    PolicyKind(
        "StagedNetworkPolicy",
        PolicyAPI.CALICO,
        "stagednetworkpolicies",
        _CALICO_GROUPS,
        enforced=False,
    ),
)
"""In the order a live cluster is listed."""

ENFORCED_POLICY_KINDS = frozenset(k.kind for k in POLICY_KINDS if k.enforced)
"""Kind names of policies a network plugin may enforce."""
CLUSTER_SCOPED_POLICY_KINDS = frozenset(k.kind for k in POLICY_KINDS if k.cluster_scoped)


def kinds_of(api: PolicyAPI) -> frozenset[str]:
    """The kind names of one policy API."""
    return frozenset(k.kind for k in POLICY_KINDS if k.api is api)

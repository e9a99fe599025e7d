"""Policy APIs -> one normal form: normal_form.py holds the form (Policy, Rule, the
peers, tiers and actions), kinds.py the registry of every policy kind read, and one
module per API parses into the form: kubernetes.py, cilium.py, admin.py, calico.py.

The names of the form are handed on here, so `from exporter.core.policies import
Policy` reads as before.
"""

from exporter.core.policies.normal_form import (
    ADMIN_TIER,
    BASELINE_TIER,
    DEFAULT_TIER,
    ENFORCED_APIS,
    Action,
    EndpointPeer,
    Entity,
    EntityPeer,
    IPBlockPeer,
    LabelView,
    NamedPeer,
    NamedPort,
    NetworkPeer,
    NetworkPlugin,
    Peer,
    PodPeer,
    Policy,
    PolicyAPI,
    PortMatch,
    PortRange,
    Rule,
    Selector,
    detect_network_plugin,
    network_plugin_from_api_groups,
    network_plugin_from_crds,
)

__all__ = [
    "ADMIN_TIER",
    "BASELINE_TIER",
    "DEFAULT_TIER",
    "ENFORCED_APIS",
    "Action",
    "EndpointPeer",
    "Entity",
    "EntityPeer",
    "IPBlockPeer",
    "LabelView",
    "NamedPeer",
    "NamedPort",
    "NetworkPeer",
    "NetworkPlugin",
    "Peer",
    "PodPeer",
    "Policy",
    "PolicyAPI",
    "PortMatch",
    "PortRange",
    "Rule",
    "Selector",
    "detect_network_plugin",
    "network_plugin_from_api_groups",
    "network_plugin_from_crds",
]

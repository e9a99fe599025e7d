"""Isolation and reachability over pod equivalence classes, for every policy API.

`Engine` (build.py) is built once per snapshot in four layers, one module each:
matching.py (peers -> classes and atoms), selection.py (policies -> isolation and
tiers), decision.py (one connection side, with reasons) and connectivity_map.py (every
allowed pair). classes.py holds the pod classes, peers.py what a peer or rule covers on
its own, lookups.py finding workloads by name.
"""

from exporter.core.engine.build import Engine
from exporter.core.engine.classes import Endpoint, PodClass
from exporter.core.engine.decision import RuleMatch, SideDecision
from exporter.core.engine.lookups import find_workloads, workload_classes
from exporter.core.engine.peers import (
    covers_every_address,
    covers_every_pod,
    covers_everything,
    selector_keys,
)
from exporter.core.engine.selection import denies_everything

__all__ = [
    "Endpoint",
    "Engine",
    "PodClass",
    "RuleMatch",
    "SideDecision",
    "covers_every_address",
    "covers_every_pod",
    "covers_everything",
    "denies_everything",
    "find_workloads",
    "selector_keys",
    "workload_classes",
]

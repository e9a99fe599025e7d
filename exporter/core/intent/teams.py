"""Who owns each namespace (and, in shared namespaces, each workload).

A namespace's team comes from the intent's explicit map, else its team label, else its
team annotation, else it is `unowned`. With `teams.pod_label`, a workload whose pods
carry that label belongs to that team: violations about the workload (an exposure, its
internet egress, its pods unselected) carry the workload's team; violations about the
namespace as a whole (default-deny) and `netfence_namespace_info` carry the namespace's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from exporter.core.engine import Engine
from exporter.core.intent.schema import UNOWNED, Teams


@dataclass(frozen=True, slots=True)
class TeamMap:
    namespaces: Mapping[str, str]
    """namespace -> team (every namespace of the scan)."""
    workloads: Mapping[str, str] = field(default_factory=dict)
    """workload id (`ns/name[Kind]`) -> team, where the pods name one (teams.pod_label)."""

    def of(self, namespace: str, workloads: Iterable[str] = ()) -> str:
        """The team of an object: its workloads' team when they all name the same one."""
        found = {self.workloads.get(w) for w in workloads}
        if len(found) == 1 and None not in found:
            return next(iter(found)) or UNOWNED
        return self.namespaces.get(namespace, UNOWNED)

    def to_json(self) -> dict[str, object]:
        return {"namespaces": dict(self.namespaces), "workloads": dict(self.workloads)}


def team_map(teams: Teams, engine: Engine) -> TeamMap:
    out: dict[str, str] = {}
    for name, ns in engine.namespaces.items():
        team = teams.namespaces.get(name)
        if team is None and teams.namespace_label:
            team = ns.labels.get(teams.namespace_label)
        if team is None and teams.namespace_annotation:
            team = ns.annotations.get(teams.namespace_annotation)
        out[name] = team or UNOWNED
    workloads: dict[str, str] = {}
    if teams.pod_label:
        for cls in engine.classes:
            team = cls.labels.get(teams.pod_label)
            if team:
                for wl in cls.workloads:
                    workloads[wl.id] = team
    return TeamMap(out, dict(sorted(workloads.items())))

"""Finding the pod classes of workloads by id or by the name a user typed."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from exporter.core.engine.build import Engine
from exporter.core.engine.classes import PodClass


def workload_classes(engine: Engine) -> dict[str, list[PodClass]]:
    out: dict[str, list[PodClass]] = defaultdict(list)
    for cls in engine.classes:
        for wl in cls.workloads:
            out[wl.id].append(cls)
    return out


def find_workloads(engine: Engine, text: str) -> Sequence[PodClass]:
    """Classes of the workload a user named as `ns/name`, `ns/name[Kind]` or `name` (default ns)."""
    target = text if "/" in text else f"default/{text}"
    exact = "[" in target
    found: list[PodClass] = []
    for cls in engine.classes:
        for wl in cls.workloads:
            if (wl.id == target) if exact else (f"{wl.namespace}/{wl.name}" == target):
                found.append(cls)
                break
    return found

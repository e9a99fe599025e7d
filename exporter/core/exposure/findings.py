"""Findings of the exposure analysis: egress to every address on every port, database
ports open to every namespace, sensitive namespaces open to every namespace."""

from __future__ import annotations

from exporter.core.exposure.admission import Admissions, workload_names
from exporter.core.exposure.results import ExposureReport
from exporter.core.findings import Check, Finding, Severity
from exporter.core.model import Direction
from exporter.core.policies import (
    IPBlockPeer,
    PodPeer,
    Policy,
    PortRange,
)


class ExposureFindings(Admissions):
    """The broad-rule and sensitive-namespace findings."""

    def _findings(self, report: ExposureReport) -> list[Finding]:
        found = list(report.findings)
        engine, cfg = self.engine, self.config
        for policy in engine.snapshot.policies:
            if Direction.EGRESS in policy.isolates:
                for rule in policy.egress:
                    if rule.all_ports and any(
                        isinstance(p, IPBlockPeer)
                        and p.block.cidr.prefixlen == 0
                        and not p.block.excepts
                        for p in rule.peers or ()
                    ):
                        found.append(
                            Finding(
                                Check.EGRESS_INTERNET_ANY_PORT,
                                Severity.MEDIUM,
                                policy.namespace,
                                policy.id,
                                f"{policy.id} egress rule #{rule.index} allows "
                                "every port to every address (ipBlock /0)",
                                direction="egress",
                            )
                        )
            if Direction.INGRESS in policy.isolates:
                yield_db = self._database_rule(policy)
                if yield_db:
                    found.append(yield_db)
        for name, ns in engine.namespaces.items():
            if ns.labels.get(cfg.sensitive_label) != cfg.sensitive_value:
                continue
            for cls in engine.classes_by_ns.get(name, ()):
                _, every = self.from_other_namespaces(cls)
                if every.ports:
                    found.append(
                        Finding(
                            Check.SENSITIVE_NAMESPACE_OPEN,
                            Severity.HIGH,
                            name,
                            workload_names(cls),
                            f"{workload_names(cls)} in sensitive namespace {name} admits "
                            f"every namespace on {every.ports} "
                            f"({', '.join(every.objects) or 'not isolated'})",
                            direction="ingress",
                        )
                    )
        return found

    def _database_rule(self, policy: Policy) -> Finding | None:
        selected = [
            c
            for c in self.engine.classes_by_ns.get(policy.namespace, ())
            if any(p is policy for p in self.engine.selecting(c))
        ]
        for rule in policy.ingress:
            if rule.peers is not None and not any(
                isinstance(p, PodPeer)
                and p.namespace_selector is not None
                and p.namespace_selector.is_empty
                for p in rule.peers
            ):
                continue
            hits = set()
            for cls in selected:
                ports = self.engine.rule_ports(rule.ports, cls)
                for cp in cls.ports:
                    if cp.port in self.config.database_ports and ports.contains(
                        cp.protocol, cp.port
                    ):
                        hits.add(cp.port)
            # A rule naming a database port opens it whether or not the pods declare it.
            for m in rule.ports or ():
                if (
                    isinstance(m, PortRange)
                    and m.start == m.end
                    and m.start in self.config.database_ports
                ):
                    hits.add(m.start)
            if hits:
                return Finding(
                    Check.DATABASE_PORT_ALL_NAMESPACES,
                    Severity.HIGH,
                    policy.namespace,
                    policy.id,
                    f"{policy.id} ingress rule #{rule.index} admits every namespace to database "
                    f"port(s) {', '.join(map(str, sorted(hits)))}",
                    direction="ingress",
                )
        return None

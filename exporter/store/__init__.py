"""Scan history as a change log: SQLite by default, PostgreSQL for fleets.

Write with `Store.record(ScanRecord)`, read with `Store.history` (a `HistoryQueries`,
the `exporter.core.history.HistoryReader`); see `exporter.store.scan_history`.
"""

from exporter.store.queries import HistoryQueries
from exporter.store.records import (
    ExposureRow,
    FindingRow,
    NamespaceRow,
    PolicyDigest,
    ScanChanges,
    ScanRecord,
    StoredScan,
)
from exporter.store.scan_history import SCHEMA_VERSION, Store, StoreError

__all__ = [
    "SCHEMA_VERSION",
    "ExposureRow",
    "FindingRow",
    "HistoryQueries",
    "NamespaceRow",
    "PolicyDigest",
    "ScanChanges",
    "ScanRecord",
    "Store",
    "StoreError",
    "StoredScan",
]

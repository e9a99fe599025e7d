"""Scan history: SQLite by default, PostgreSQL for fleets (see `exporter.store.scan_history`)."""

from exporter.store.records import (
    FindingRow,
    NamespaceRow,
    PolicyDigest,
    ScanRecord,
    StoredScan,
)
from exporter.store.scan_history import SCHEMA_VERSION, Store, StoreError

__all__ = [
    "SCHEMA_VERSION",
    "FindingRow",
    "NamespaceRow",
    "PolicyDigest",
    "ScanRecord",
    "Store",
    "StoreError",
    "StoredScan",
]

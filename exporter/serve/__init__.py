"""`netfence serve`, the long-running service, wired from the layers.

    clusters.py  where each cluster's objects come from (a live API server, manifests)
    scans.py     Scanner: one scan of one cluster -> latest results, metrics, store record
    flows.py     FlowConsumer: one cluster's Hubble flows -> counters, roll-ups, joins
    server.py    Server: scanner + flow consumers + store + scheduler + HTTP, started together

Sources, the store, the metrics and the scheduler never import each other; this
package joins them (the import-linter contracts in pyproject.toml hold it so).
"""

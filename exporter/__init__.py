"""netfence: the truth about Kubernetes network policy."""

__version__ = "0.1.0"

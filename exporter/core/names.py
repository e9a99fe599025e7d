"""Object names as the Kubernetes API server validates them (apimachinery's
`ValidateObjectMeta`: docs/semantics.md §6.11).

An object the API server would refuse cannot be in force, so it is reported and skipped
rather than analysed; it also keeps hostile strings (NUL bytes, lone surrogates, names
of megabytes) out of metric labels and the history store.

- `metadata.namespace` and a Namespace's name: an RFC 1123 label (at most 63
  characters of `a-z`, `0-9` and `-`, starting and ending alphanumeric);
- every other name: an RFC 1123 subdomain (at most 253 characters, dot-separated
  labels). Most built-in kinds and all CustomResources use this rule; the kinds with a
  stricter one (Service: RFC 1035 label) are a subset, so nothing valid is refused.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

MAX_LABEL = 63
MAX_SUBDOMAIN = 253
_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?\Z")
_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\Z")


def valid_namespace(name: str) -> bool:
    return len(name) <= MAX_LABEL and _LABEL.match(name) is not None


def valid_name(name: str) -> bool:
    return len(name) <= MAX_SUBDOMAIN and _SUBDOMAIN.match(name) is not None


def _shown(value: str) -> str:
    """The value in a message: quoted with escapes, and cut short when long."""
    text = ascii(value[:80])
    return text + (f" (+{len(value) - 80} characters)" if len(value) > 80 else "")


def names_problem(kind: str, meta: object, namespaced: bool) -> str | None:
    """Why the API server would refuse this object's metadata names; None when valid."""
    if not isinstance(meta, Mapping):
        return "metadata is missing or not a mapping"
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        return "metadata.name is missing"
    if kind == "Namespace" and not valid_namespace(name):
        return (
            f"metadata.name {_shown(name)} is not a valid namespace name (lowercase "
            f"letters, digits and '-', at most {MAX_LABEL} characters); object skipped"
        )
    if not valid_name(name):
        return (
            f"metadata.name {_shown(name)} is not a valid name (lowercase letters, digits, "
            f"'-' and '.', at most {MAX_SUBDOMAIN} characters); object skipped"
        )
    ns = meta.get("namespace")
    if ns is None:
        return None
    if not isinstance(ns, str):
        return "metadata.namespace must be a string"
    if namespaced and ns and not valid_namespace(ns):
        return (
            f"metadata.namespace {_shown(ns)} is not a valid namespace name (lowercase "
            f"letters, digits and '-', at most {MAX_LABEL} characters); object skipped"
        )
    return None

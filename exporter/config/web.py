"""The Prometheus exporter-toolkit web config file (`--web.config.file`): TLS, client
certificates and basic auth, the parts netfence uses."""

from __future__ import annotations

from pathlib import Path

from exporter.config.files import read_yaml
from exporter.config.settings import WebConfig

CLIENT_AUTH_TYPES = (
    "NoClientCert",
    "VerifyClientCertIfGiven",
    "RequireAndVerifyClientCert",
)
# RequestClientCert and RequireAnyClientCert (no verification) have no Python ssl
# equivalent: they are refused rather than silently weakened or strengthened.


def web_config(path: Path, problems: list[str]) -> WebConfig:
    data = read_yaml(path, "web config file", problems)
    where = f"web config file {path}"
    for key in sorted(set(data) - {"tls_server_config", "basic_auth_users", "http_server_config"}):
        problems.append(f"{where}: unsupported key {key!r}")
    tls = data.get("tls_server_config") or {}
    users = data.get("basic_auth_users") or {}
    if not isinstance(tls, dict):
        problems.append(f"{where}: tls_server_config must be a mapping")
        tls = {}
    if not isinstance(users, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in users.items()
    ):
        problems.append(f"{where}: basic_auth_users must map user names to bcrypt hashes")
        users = {}
    for user, hashed in users.items():
        if not hashed.startswith(("$2a$", "$2b$", "$2y$")):
            problems.append(f"{where}: basic_auth_users.{user} is not a bcrypt hash")

    def file_key(name: str) -> Path | None:
        value = tls.get(name)
        if value is None:
            return None
        p = Path(str(value))
        p = p if p.is_absolute() else path.parent / p
        if not p.is_file():
            problems.append(f"{where}: tls_server_config.{name} {p}: not a file")
        return p

    cert, key_file = file_key("cert_file"), file_key("key_file")
    if (cert is None) != (key_file is None):
        problems.append(f"{where}: tls_server_config needs both cert_file and key_file")
    auth_type = str(tls.get("client_auth_type") or "NoClientCert")
    if auth_type not in CLIENT_AUTH_TYPES:
        problems.append(
            f"{where}: client_auth_type {auth_type!r} is not one of {CLIENT_AUTH_TYPES}"
        )
    ca = file_key("client_ca_file")
    if auth_type in ("RequireAndVerifyClientCert", "VerifyClientCertIfGiven") and ca is None:
        problems.append(f"{where}: client_auth_type {auth_type} needs client_ca_file")
    return WebConfig(
        cert_file=cert,
        key_file=key_file,
        client_ca_file=ca,
        client_auth_type=auth_type,
        basic_auth_users=dict(users),
    )

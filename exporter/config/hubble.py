"""A cluster's Hubble source (Relay and/or recorded files), from the --hubble.* flags
or a cluster's `hubble:` in the file, and the checks both get."""

from __future__ import annotations

from pathlib import Path

from exporter.config.settings import Flags, HubbleConfig

_HUBBLE_KEYS = {"address", "tls", "node_names", "replay"}
_TLS_KEYS = {"enabled", "ca_file", "cert_file", "key_file", "server_name"}


def hubble_from_flags(flags: Flags) -> HubbleConfig | None:
    """The --hubble.* flags of one cluster (`serve`, `flows watch`); None when none is given."""

    def path(key: str) -> Path | None:
        value = flags.get(key)
        return Path(str(value)) if value else None

    hubble = HubbleConfig(
        address=flags.get("hubble_address") or None,
        tls=bool(flags.get("hubble_tls")),
        ca_file=path("hubble_tls_ca_file"),
        cert_file=path("hubble_tls_cert_file"),
        key_file=path("hubble_tls_key_file"),
        server_name=flags.get("hubble_tls_server_name") or None,
        node_names=tuple(str(n) for n in flags.get("hubble_node_name") or ()),
        replay=tuple(Path(str(f)) for f in flags.get("hubble_replay") or ()),
    )
    return None if hubble == HubbleConfig() else hubble


def hubble_from_file(
    raw: object, where: str, base: Path, problems: list[str]
) -> HubbleConfig | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        problems.append(f"config: {where} must be a mapping")
        return None
    for key in sorted(set(raw) - _HUBBLE_KEYS):
        problems.append(f"config: unknown key {where}.{key}")
    tls = raw.get("tls")
    if tls is None:
        tls = {}
    elif isinstance(tls, bool):
        tls = {"enabled": tls}
    elif not isinstance(tls, dict):
        problems.append(f"config: {where}.tls must be a mapping (or true)")
        tls = {}
    for key in sorted(set(tls) - _TLS_KEYS):
        problems.append(f"config: unknown key {where}.tls.{key}")

    def path(value: object) -> Path:
        p = Path(str(value))
        return p if p.is_absolute() else base / p

    def paths(key: str) -> tuple[str, ...]:
        value = raw.get(key) or []
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            problems.append(f"config: {where}.{key} must be a list")
            return ()
        return tuple(str(v) for v in value)

    address = raw.get("address")
    return HubbleConfig(
        address=str(address) if address else None,
        # Any TLS setting turns TLS on, as in the Hubble CLI; `enabled: false` alone is off.
        tls=bool(tls.get("enabled", bool(set(tls) - {"enabled"}))),
        ca_file=path(tls["ca_file"]) if tls.get("ca_file") else None,
        cert_file=path(tls["cert_file"]) if tls.get("cert_file") else None,
        key_file=path(tls["key_file"]) if tls.get("key_file") else None,
        server_name=str(tls["server_name"]) if tls.get("server_name") else None,
        node_names=paths("node_names"),
        replay=tuple(path(f) for f in paths("replay")),
    )


def hubble_problems(hubble: HubbleConfig) -> list[str]:
    """Everything wrong with a Hubble source, for the config file and the flags alike."""
    out: list[str] = []
    if hubble.address is None and not hubble.replay:
        out.append("hubble needs an address (Relay, HOST:PORT) or files to replay")
    if hubble.address is not None:
        host, sep, port = hubble.address.removeprefix("tls://").rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) <= 65535:
            out.append(f"hubble address {hubble.address!r} is not HOST:PORT")
    elif any((hubble.tls, hubble.ca_file, hubble.cert_file, hubble.key_file, hubble.node_names)):
        out.append("hubble TLS and node names need a hubble address")
    if (hubble.cert_file is None) != (hubble.key_file is None):
        out.append("hubble mTLS needs both a client certificate and its key")
    for what, p in (
        ("CA file", hubble.ca_file),
        ("certificate file", hubble.cert_file),
        ("key file", hubble.key_file),
        *(("replay file", f) for f in hubble.replay),
    ):
        if p is not None and not p.is_file():
            out.append(f"hubble {what} {p}: not a file")
    return out

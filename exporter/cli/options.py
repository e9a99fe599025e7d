"""Options and helpers that several commands share."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from exporter import usecases
from exporter.cli.inputs import add_input_options


def manifest_options(p: argparse.ArgumentParser, outputs: Sequence[str]) -> None:
    """--manifests or a live cluster (exporter.cli.inputs), -o and --ingress-controller:
    the inputs of the one-shot analyses."""
    add_input_options(p)
    p.add_argument("-o", "--output", choices=outputs, default=outputs[0], help="output format")
    p.add_argument(
        "--ingress-controller",
        action="append",
        metavar="[NS:]K=V,...",
        help="pods that are ingress controllers or gateways (repeatable; replaces the "
        "defaults for common controllers), e.g. ingress-nginx:app=ingress-nginx",
    )


def plugin_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--network-plugin",
        choices=("cilium", "calico", "generic"),
        default=None,
        help="which policy APIs the cluster enforces (default: detected from the policy "
        "kinds present: Cilium kinds -> cilium, Calico kinds -> calico, else generic)",
    )


def progress(args: argparse.Namespace) -> usecases.Progress | None:
    """A one-line file counter on an interactive stderr; never in JSON or piped output."""
    if args.output != "table" or not sys.stderr.isatty():
        return None

    def show(done: int, total: int) -> None:
        end = "\n" if done == total else ""
        print(f"\rreading manifests: {done}/{total} files", end=end, file=sys.stderr, flush=True)

    return show


def exposure_config(args: argparse.Namespace) -> usecases.ExposureConfig | None:
    if not args.ingress_controller:
        return None
    try:
        specs = tuple(usecases.parse_controller(t) for t in args.ingress_controller)
    except ValueError as exc:
        raise usecases.UsageError(str(exc)) from None
    return usecases.ExposureConfig(controllers=specs)


def add_hubble_flags(p: argparse._ActionsContainer, required: bool = False) -> None:
    """`--hubble.address` and `--hubble.tls.*` for one cluster (`serve`, `flows watch`;
    several clusters set `hubble:` in the config file)."""
    flag = p.add_argument
    flag(
        "--hubble.address",
        dest="hubble_address",
        metavar="HOST:PORT",
        required=required,
        help="Hubble Relay (plaintext by default, as Relay serves; tls:// or any "
        "--hubble.tls.* flag turns TLS on), e.g. hubble-relay.kube-system:4245",
    )
    flag("--hubble.tls", dest="hubble_tls", action="store_true", help="use TLS")
    flag("--hubble.tls.ca-file", dest="hubble_tls_ca_file", metavar="FILE", help="CA bundle")
    flag(
        "--hubble.tls.cert-file",
        dest="hubble_tls_cert_file",
        metavar="FILE",
        help="client certificate (mTLS)",
    )
    flag("--hubble.tls.key-file", dest="hubble_tls_key_file", metavar="FILE", help="its key")
    flag(
        "--hubble.tls.server-name",
        dest="hubble_tls_server_name",
        metavar="NAME",
        help="name to verify in Relay's certificate (e.g. ui.hubble-relay.cilium.io)",
    )

"""The container image, built for real as `make image` builds it: buildah (vfs storage,
chroot isolation) on a Debian base made by mmdebstrap, Python packages from a wheelhouse
prepared outside the build (deploy/image/build.sh). Then it is run: `netfence --version`
and a scan of the demo cluster with `buildah run`, and `netfence serve` on a read-only
root filesystem (a read-only bind mount of the image's root, entered with chroot as the
image's user), scraped from outside.

The first build takes minutes (base and wheelhouse are cached under .cache/image/).
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from deploy_tools import ROOT, require_tools

from exporter import __version__
from exporter.cli import main

BUILDAH = str(ROOT / "deploy" / "image" / "buildah.sh")
DEMO = ROOT / "examples" / "demo-cluster"
USER = "65532:65532"


def _buildah(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([BUILDAH, *args], capture_output=True, text=True, check=False)
    if check:
        assert proc.returncode == 0, f"buildah {' '.join(args)}: {proc.stderr}"
    return proc


@pytest.fixture(scope="module")
def image() -> Iterator[str]:
    require_tools("buildah", "mmdebstrap", "podman")
    name = f"localhost/netfence-test:{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "IMAGE": name, "PYTHON": str(ROOT / ".venv" / "bin" / "python")}
    proc = subprocess.run(
        [str(ROOT / "deploy" / "image" / "build.sh")],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=1800,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # "image NAME: SIZE (build N s, total M s)": the figures the report quotes
    print(proc.stdout.strip())
    assert re.search(rf"image {re.escape(name)}: [\d.]+ [kMG]B", proc.stdout), proc.stdout
    yield name
    _buildah("rmi", "--force", name, check=False)


@pytest.fixture(scope="module")
def container(image: str) -> Iterator[str]:
    """A working container of the image with the demo cluster copied in at /tmp/demo."""
    ctr = _buildah("from", "--quiet", image).stdout.strip()
    _buildah("copy", ctr, str(DEMO), "/tmp/demo")
    yield ctr
    _buildah("rm", ctr, check=False)


def _run(ctr: str, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """argv in the container as the image's user. Its output goes to files in the
    container, read through the host's mount of its root: buildah 1.28's chroot run can
    drop the stdout of a process that exits at once when the machine is loaded (seen
    with `id -u`)."""
    shell = 'exec "$@" >/tmp/.test-out 2>/tmp/.test-err'
    proc = _buildah("run", "--isolation", "chroot", ctr, "--", "sh", "-c", shell, "sh", *argv,
                    check=False)  # fmt: skip
    root = Path(_buildah("mount", ctr).stdout.strip())
    out, err = (root / "tmp" / name for name in (".test-out", ".test-err"))
    result = subprocess.CompletedProcess(
        argv, proc.returncode, out.read_text() if out.exists() else "",
        (err.read_text() if err.exists() else "") + proc.stderr,
    )  # fmt: skip
    out.unlink(missing_ok=True)
    err.unlink(missing_ok=True)
    if check:
        assert result.returncode == 0, f"{' '.join(argv)}: {result.stderr}"
    return result


def _config(image: str) -> dict[str, Any]:
    info = json.loads(_buildah("inspect", "--type", "image", image).stdout)
    return info["OCIv1"]["config"]  # type: ignore[no-any-return]


def test_image_metadata(image: str) -> None:
    config = _config(image)
    labels = config["Labels"]
    assert labels["org.opencontainers.image.version"] == __version__
    assert labels["org.opencontainers.image.licenses"] == "Apache-2.0"
    assert labels["org.opencontainers.image.source"].startswith("https://")
    assert config["User"] == USER
    assert config["Entrypoint"] == ["netfence"]
    assert "9873/tcp" in config["ExposedPorts"]


def test_version_and_demo_scan_in_the_image(container: str) -> None:
    assert _run(container, "netfence", "--version").stdout.strip() == f"netfence {__version__}"
    assert _run(container, "id", "-u").stdout.strip() == USER.split(":")[0]
    scan = _run(container, "netfence", "scan", "--manifests", "/tmp/demo", "-o", "json",
                "--fail-on", "never")  # fmt: skip
    # The same report as the source tree's netfence gives for the same files.
    here = StringIO()
    assert main(["scan", "--manifests", str(DEMO), "-o", "json", "--fail-on", "never"], here) == 0
    assert json.loads(scan.stdout) == json.loads(here.getvalue())
    assert json.loads(scan.stdout)["summary"]["namespaces"] >= 5


def test_every_netfence_module_imports_in_the_image(container: str) -> None:
    """Not only what a manifest scan touches: the live-cluster source (kubernetes), the
    Hubble client (grpc), the stores (SQLAlchemy, psycopg), the scheduler, the reports."""
    code = (
        "import importlib, pkgutil, exporter, reports\n"
        "names = [m.name for p in (exporter, reports)\n"
        "         for m in pkgutil.walk_packages(p.__path__, p.__name__ + '.')\n"
        "         if not m.name.endswith('__main__')]\n"
        "for name in names: importlib.import_module(name)\n"
        "print(len(names))"
    )
    imported = _run(container, "python3", "-c", code)
    assert int(imported.stdout) >= 50, imported.stdout


def test_renders_a_pdf_in_the_image(container: str) -> None:
    """The reports' PDF engine works there: WeasyPrint finds pango and a font."""
    code = (
        "from weasyprint import HTML\n"
        "pdf = HTML(string='<h1>netfence</h1><p>quarterly report</p>').write_pdf()\n"
        "print(len(pdf), pdf[:5].decode())"
    )
    size, magic = _run(container, "python3", "-c", code).stdout.split()
    assert magic == "%PDF-" and int(size) > 1000


def test_no_compilers_package_caches_or_build_leftovers(container: str) -> None:
    for tool in ("gcc", "cc", "c++", "make", "pip", "pip3"):
        assert _run(container, "sh", "-c", f"command -v {tool}", check=False).returncode != 0, tool
    for path in ("/root/.cache", "/wheelhouse", "/src", "/dist", "/opt/build", "/tmp/pip*"):
        probe = _run(container, "sh", "-c", f"ls -d {path}", check=False)
        assert probe.returncode != 0, f"{path} is in the image"
    lists = _run(container, "sh", "-c", "ls /var/lib/apt/lists").stdout.split()
    assert set(lists) <= {"lock", "partial", "auxfiles"}
    caches = _run(container, "sh", "-c", "ls /var/cache/apt/archives").stdout.split()
    assert not [c for c in caches if c.endswith(".deb")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serves_metrics_on_a_read_only_root_filesystem(container: str, tmp_path: Path) -> None:
    """Root mounted read-only, the image's user, writable only /tmp and the data volume:
    serve scans the demo, stores it and answers /metrics with this version."""
    require_tools("unshare", "chroot", "mount")
    root = _buildah("mount", container).stdout.strip()
    data = tmp_path / "data"
    data.mkdir()
    os.chown(data, 65532, 65532)
    port = _free_port()
    path = "PATH=/opt/netfence/bin:/usr/bin:/bin"
    serve = (
        f"exec chroot --userspec={USER} {root} /usr/bin/env -i {path} HOME=/tmp"
        " sh -c 'cd /var/lib/netfence && exec netfence serve --manifests /tmp/demo"
        f" --cluster-name demo --web.listen-address 127.0.0.1:{port}"
        " --store sqlite:////var/lib/netfence/netfence.db --scan.interval 1h'"
    )
    script = "\n".join(
        [
            "set -e",
            f"mount --bind {root} {root}",
            f"mount -o remount,bind,ro {root}",
            f"mount -t tmpfs -o mode=1777 tmpfs {root}/tmp",
            f"cp -r {DEMO} {root}/tmp/demo",
            f"mount --bind {data} {root}/var/lib/netfence",
            f"mount -t proc proc {root}/proc",
            f"mount --bind /dev {root}/dev",
            f"touch {root}/etc/probe 2>/dev/null && exit 97",  # must be read-only
            serve,
        ]
    )
    proc = subprocess.Popen(
        ["unshare", "--mount", "--fork", "sh", "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        body = _scrape(f"http://127.0.0.1:{port}/metrics", proc)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        output = proc.communicate(timeout=30)[0]
    assert proc.returncode != 97, "the root filesystem was writable"
    assert f'netfence_build_info{{version="{__version__}"}} 1.0' in body, output
    assert 'netfence_namespaces{cluster="demo"} 10.0' in body  # examples/demo-cluster
    assert (data / "netfence.db").stat().st_size > 0  # the store went to the data volume


def _scrape(url: str, proc: subprocess.Popen[str]) -> str:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(
                f"serve exited {proc.returncode}: {proc.stdout.read() if proc.stdout else ''}"
            )
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                body = str(resp.read().decode())
            if 'netfence_scan_success{cluster="demo"} 1.0' in body:
                return body
        except OSError:
            pass
        time.sleep(0.5)
    pytest.fail("no successful scan of the demo cluster on /metrics within 120 s")


def test_build_context_holds_only_what_the_image_needs() -> None:
    """.dockerignore keeps the context small (no .venv, .git, tests, caches)."""
    ignore = (ROOT / ".dockerignore").read_text().split()
    assert ignore[ignore.index("*") :][0] == "*"
    allowed = {line[1:] for line in ignore if line.startswith("!")}
    copied = set(
        re.findall(
            r"^COPY (?!--from)(.+) \S+$", (ROOT / "deploy/image/Containerfile").read_text(), re.M
        )
    )
    sources = {src.rstrip("/") for line in copied for src in line.split()}
    assert sources == allowed, (sources, allowed)

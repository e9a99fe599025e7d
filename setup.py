"""Package list for setuptools (everything else is in pyproject.toml).

The Grafana dashboards (dashboards/*.json) and Prometheus rules (alerts/*.yaml) live at the
top of the repository, where their own tools (and the Helm chart) expect them; they go in
the wheel as the data package `netfence_assets` (netfence_assets/dashboards/...,
netfence_assets/alerts/...), which pyproject's `[tool.setuptools.packages.find]` cannot
express: it has no way to map a folder to a package name.
"""

from pathlib import Path

from setuptools import find_namespace_packages, setup

HERE = Path(__file__).parent
ASSET_DIRS = ("dashboards", "alerts")


def _assets() -> dict[str, str]:
    """netfence_assets.<dir>[.<sub>...] -> its folder, for every folder under ASSET_DIRS."""
    out: dict[str, str] = {}
    for top in ASSET_DIRS:
        for folder in [HERE / top, *sorted((HERE / top).rglob("*"))]:
            if folder.is_dir() and "__pycache__" not in folder.parts:
                rel = folder.relative_to(HERE)
                out[".".join(("netfence_assets", *rel.parts))] = rel.as_posix()
    return out


ASSETS = _assets()
setup(
    packages=[
        *find_namespace_packages(include=["exporter*", "reports*"], exclude=["*__pycache__*"]),
        *ASSETS,
    ],
    package_dir=ASSETS,
)

"""`python -m exporter.cli`: the same as the `netfence` console script."""

from exporter.cli.app import run

run()

"""Fixtures for the service tests: the fake API server, stores on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from k8s_api_server import FakeApiServer

from exporter.sources.manifests import read_objects

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "examples" / "demo-cluster"
POSTGRES_ENV = "NETFENCE_TEST_POSTGRES_URL"
POSTGRES_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"


def demo_objects() -> list[dict[str, Any]]:
    raws, errors = read_objects([DEMO])
    assert not errors
    return [r.obj for r in raws]


@pytest.fixture
def api_server() -> Iterator[FakeApiServer]:
    with FakeApiServer(demo_objects()) as server:
        yield server


def _postgres_url() -> str:
    return os.environ.get(POSTGRES_ENV, POSTGRES_DEFAULT)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh schema in the test PostgreSQL, dropped afterwards.

    Needs a PostgreSQL server: $NETFENCE_TEST_POSTGRES_URL, default the local one
    (postgresql://postgres@127.0.0.1:5432/test, trust auth). Unreachable: the test
    FAILS in CI (CI=true) and is skipped with this reason elsewhere.
    """
    import psycopg

    url = _postgres_url()
    try:
        admin = psycopg.connect(url, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        message = (
            f"PostgreSQL store tests need a server at {url} (set {POSTGRES_ENV}); "
            f"cannot connect: {str(exc).strip()}"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    schema = f"netfence_test_{uuid.uuid4().hex[:12]}"
    with admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
        sep = "&" if "?" in url else "?"
        try:
            yield f"{url}{sep}options=-csearch_path%3D{schema}"
        finally:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'history.db'}"
    return str(request.getfixturevalue("postgres_url"))

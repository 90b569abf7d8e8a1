from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.config import Settings
from tests.support.http import serve_directory
from tests.support.s3 import FOREIGN_ENV, TEST_ENV, moto_server


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Embedded-mode settings in a fresh data dir, with one project key."""
    env = {
        "STROBE_DATA_DIR": str(tmp_path / "data"),
        "STROBE_API_KEYS": "sk_a:prj_a,sk_b:prj_b",
        "STROBE_FETCH_TIMEOUT": "2",
    }
    return Settings.from_env(env).with_generated_secrets()


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def http_base(media_dir: Path) -> Iterator[str]:
    with serve_directory(media_dir) as base:
        yield base


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """An S3-compatible server (moto) for the session, with dummy credentials in the env."""
    with pytest.MonkeyPatch.context() as env, moto_server() as endpoint:
        for name in FOREIGN_ENV:
            env.delenv(name, raising=False)
        for name, value in TEST_ENV.items():
            env.setenv(name, value)
        yield endpoint


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL server for the session: the superuser's URL to its `postgres`
    database (make a database per test with tests.support.postgres.create_database)."""
    from tests.support.postgres import find_bindir, postgres_server

    try:
        find_bindir()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    with postgres_server() as server:
        yield server.url()

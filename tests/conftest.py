from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.config import Settings
from tests.support.http import serve_directory


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

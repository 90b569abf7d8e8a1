"""Every store and storage adapter as a fixture parameter.

Add an adapter to STORE_ADAPTERS or STORAGE_ADAPTERS and every contract test runs against it.
A store factory gets an empty directory (and the servers it needs) and returns a picklable
opener, so tests can open the same store from other processes; an opener with a `close()` is
closed after the test.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipeline.storage import LocalStorage, Storage
from pipeline.storage.s3 import S3Storage
from pipeline.store import Store
from pipeline.store.sqlite import SQLiteStore
from tests.support.postgres import PostgresOpener, create_database
from tests.support.s3 import new_bucket

StoreOpener = Callable[[], Store]


def sqlite_store(tmp: Path) -> StoreOpener:
    return functools.partial(SQLiteStore, tmp / "strobe.db")


def postgres_store(tmp: Path, admin_url: str) -> StoreOpener:
    return PostgresOpener(create_database(admin_url))  # a fresh database each


@dataclass(frozen=True)
class StoreAdapter:
    make: Callable[..., StoreOpener]  # make(tmp_path, *values of the fixtures in `needs`)
    needs: tuple[str, ...] = ()  # session fixtures (servers) the adapter runs against


STORE_ADAPTERS = [
    pytest.param(StoreAdapter(sqlite_store), id="sqlite"),
    pytest.param(StoreAdapter(postgres_store, needs=("postgres_url",)), id="postgres"),
]


@pytest.fixture(params=STORE_ADAPTERS)
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreOpener]:
    """Opens a fresh, empty store; call it again (here or in a child process) for another
    connection to the same store."""
    adapter: StoreAdapter = request.param
    servers = [request.getfixturevalue(name) for name in adapter.needs]
    opener = adapter.make(tmp_path, *servers)
    yield opener
    close: Callable[[], None] | None = getattr(opener, "close", None)
    if close is not None:
        close()


@pytest.fixture
def store(open_store: StoreOpener) -> Store:
    return open_store()


@dataclass(frozen=True)
class StorageAdapter:
    make: Callable[..., Storage]  # make(tmp_path, *values of the fixtures in `needs`)
    presigns: bool  # hands out direct download links (S3) rather than None (local disk)
    needs: tuple[str, ...] = ()  # session fixtures (servers) the adapter runs against


def local_storage(tmp: Path) -> Storage:
    return LocalStorage(tmp / "objects")


def s3_storage(tmp: Path, endpoint: str) -> Storage:
    return S3Storage(new_bucket(endpoint), "strobe/objects", endpoint)  # a fresh bucket each


STORAGE_ADAPTERS = [
    pytest.param(StorageAdapter(local_storage, presigns=False), id="local"),
    pytest.param(StorageAdapter(s3_storage, presigns=True, needs=("s3_endpoint",)), id="s3"),
]


@pytest.fixture(params=STORAGE_ADAPTERS)
def storage_adapter(request: pytest.FixtureRequest) -> StorageAdapter:
    adapter: StorageAdapter = request.param
    return adapter


@pytest.fixture
def storage(
    storage_adapter: StorageAdapter, tmp_path: Path, request: pytest.FixtureRequest
) -> Storage:
    servers = [request.getfixturevalue(name) for name in storage_adapter.needs]
    return storage_adapter.make(tmp_path, *servers)

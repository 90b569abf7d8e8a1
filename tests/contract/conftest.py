"""Every store and storage adapter as a fixture parameter.

Add an adapter to STORE_ADAPTERS or STORAGE_ADAPTERS and every contract test runs against it.
A store factory gets an empty directory and returns a picklable opener, so tests can open
the same store from other processes.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipeline.storage import LocalStorage, Storage
from pipeline.store import Store
from pipeline.store.sqlite import SQLiteStore

StoreOpener = Callable[[], Store]


def sqlite_store(tmp: Path) -> StoreOpener:
    return functools.partial(SQLiteStore, tmp / "strobe.db")


STORE_ADAPTERS = [pytest.param(sqlite_store, id="sqlite")]


@pytest.fixture(params=STORE_ADAPTERS)
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> StoreOpener:
    """Opens a fresh, empty store; call it again (here or in a child process) for another
    connection to the same store."""
    factory: Callable[[Path], StoreOpener] = request.param
    return factory(tmp_path)


@pytest.fixture
def store(open_store: StoreOpener) -> Store:
    return open_store()


@dataclass(frozen=True)
class StorageAdapter:
    make: Callable[[Path], Storage]
    presigns: bool  # hands out direct download links (S3) rather than None (local disk)


def local_storage(tmp: Path) -> Storage:
    return LocalStorage(tmp / "objects")


STORAGE_ADAPTERS = [pytest.param(StorageAdapter(local_storage, presigns=False), id="local")]


@pytest.fixture(params=STORAGE_ADAPTERS)
def storage_adapter(request: pytest.FixtureRequest) -> StorageAdapter:
    adapter: StorageAdapter = request.param
    return adapter


@pytest.fixture
def storage(storage_adapter: StorageAdapter, tmp_path: Path) -> Storage:
    return storage_adapter.make(tmp_path)

"""Per-app wiring and per-request helpers the routes share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import JSONResponse

from pipeline.api.auth import ApiKeys, bearer
from pipeline.api.errors import ApiError
from pipeline.api.presenters import Presenter
from pipeline.api.presenters_2025 import Presenter2025
from pipeline.api.versions import V2025, View, answered
from pipeline.config import Settings
from pipeline.contract.errors import UNAUTHORIZED
from pipeline.storage import Storage
from pipeline.store import ApiReads, Store


@dataclass(frozen=True)
class AppState:
    settings: Settings
    store: Store
    storage: Storage
    enabled_kinds: frozenset[str]
    keys: ApiKeys


def state(request: Request) -> AppState:
    app_state: AppState = request.app.state.strobe
    return app_state


def reads(request: Request) -> ApiReads:
    """The store's reads for the event loop (`Store.api_reads`, opened by the app's lifespan;
    on a worker thread when the app runs without its lifespan)."""
    found: ApiReads = request.app.state.reads
    return found


def base_url(request: Request) -> str:
    return state(request).settings.public_url or str(request.base_url).rstrip("/")


def item_links(request: Request, collection: str, ident: str) -> dict[str, str]:
    """An object's `self` and its collection's `parent` link: `item_links(r, "tasks", id)`."""
    root = f"{base_url(request)}/{collection}"
    return {"self": f"{root}/{ident}", "parent": root}


def view(request: Request) -> View:
    """The presenter of the version this request is answered in (a route dependency)."""
    settings = state(request).settings
    kind = Presenter2025 if answered(request) == V2025 else Presenter
    return kind(base_url(request), settings.secret_key, state(request).storage, settings.url_ttl_s)


def project_of(request: Request) -> str:
    """The project whose API key is in `Authorization: Bearer …`; 401 otherwise."""
    key = bearer(request.headers)
    if key is None:
        raise ApiError(401, UNAUTHORIZED, "send your API key as 'Authorization: Bearer <key>'")
    found = state(request).keys.find(key)
    if found is None:
        raise ApiError(401, UNAUTHORIZED, "unknown API key")
    request.state.project_id = found[1]
    return found[1]


def error_response(request: Request, exc: ApiError) -> JSONResponse:
    return view(request).error(request, exc)


async def _view(request: Request) -> View:
    # Async: FastAPI runs a plain-function dependency on a worker thread, a hop per request.
    return view(request)


ViewOf = Annotated[View, Depends(_view)]  # a route parameter: this request's presenter

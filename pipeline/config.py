"""Settings read once from the environment and passed down explicitly."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

from pipeline.storage.keys import PROJECT_ID

DEFAULT_PROJECT = "prj_default"


class ConfigError(ValueError):
    """A setting has a value Strobe cannot use."""


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    storage_url: str
    s3_endpoint_url: str | None = None
    ray_address: str | None = None
    api_keys: Mapping[str, str] = field(default_factory=dict)  # key -> project id
    models_dir: Path | None = None
    allow_private_urls: bool = False
    public_url: str | None = None
    cors_origins: tuple[str, ...] = ()  # origins allowed cross-origin; ("*",) for any; (): none
    secret_key: str = ""
    webhook_secret: str = ""  # the old shared secret; see pipeline.webhook_secrets
    webhook_secret_overlap_s: float = 24 * 3600  # a replaced webhook secret signs this long
    max_concurrent_ingests: int = 8  # URL ingests (POST /files with a url) running at once
    api_workers: int = 1  # API processes serving one port (`strobe api --workers`)
    max_upload_bytes: int = 2 * 1024**3
    max_json_bytes: int = 1024**2  # any request body that is not an upload
    body_idle_s: float = 30.0  # a request body silent this long is cut (408)
    rate_limit: float = 0.0  # requests per second per API key; 0: no limit
    rate_limit_burst: int = 0  # requests a key may make at once; 0: twice the rate (at least 1)
    max_input_bytes: int = 2 * 1024**3
    fetch_timeout_s: float = 60.0
    max_input_pixels: int = 100_000_000
    actors_per_kind: int = 0  # a cap per kind and worker; 0: as many as the queue and cluster hold
    lease_seconds: float = 60.0
    max_attempts: int = 3
    url_ttl_s: int = 24 * 3600
    require_gpu: bool = False  # GPU/custom resources asked for even where no node has them yet
    autoscale_interval_s: float = 5.0  # backlog -> Ray resource requests; 0 turns it off
    autoscale_max_per_kind: int = 100  # bundles requested per kind at most
    task_timeout_s: float | None = None  # one budget for every kind instead of the per-kind ones
    kind_timeouts_s: Mapping[str, float] = field(default_factory=dict)  # kind -> budget
    ray_num_cpus: int | None = None  # CPUs of the embedded local Ray (None: all of them)
    placement_timeout_s: float = 60.0  # an actor Ray has not placed and started by then goes
    setup_timeout_s: float = 600.0  # an actor whose model has not loaded by then goes
    actor_idle_s: float = 300.0  # an actor idle this long is retired (nodes may scale down)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        data_dir = Path(env.get("STROBE_DATA_DIR", "./.strobe")).resolve()
        return cls(
            data_dir=data_dir,
            database_url=env.get("STROBE_DATABASE_URL", f"sqlite:///{data_dir / 'strobe.db'}"),
            storage_url=env.get("STROBE_STORAGE_URL", f"file://{data_dir / 'objects'}"),
            s3_endpoint_url=env.get("STROBE_S3_ENDPOINT_URL") or None,
            ray_address=env.get("STROBE_RAY_ADDRESS") or None,
            api_keys=parse_api_keys(env.get("STROBE_API_KEYS", "")),
            models_dir=Path(env.get("STROBE_MODELS_DIR", str(data_dir / "models"))),
            allow_private_urls=_flag(env, "STROBE_ALLOW_PRIVATE_URLS"),
            public_url=_public_url(env),
            cors_origins=parse_cors_origins(env.get("STROBE_CORS_ORIGINS", "")),
            secret_key=env.get("STROBE_SECRET_KEY", ""),
            webhook_secret=env.get("STROBE_WEBHOOK_SECRET", ""),
            webhook_secret_overlap_s=_float(env, "STROBE_WEBHOOK_SECRET_OVERLAP_S", 24 * 3600),
            max_concurrent_ingests=_int(env, "STROBE_MAX_CONCURRENT_INGESTS", 8),
            api_workers=_int(env, "STROBE_API_WORKERS", 1),
            max_upload_bytes=_int(env, "STROBE_MAX_UPLOAD_BYTES", 2 * 1024**3),
            max_json_bytes=_int(env, "STROBE_MAX_JSON_BYTES", 1024**2),
            body_idle_s=_float(env, "STROBE_BODY_IDLE_S", 30.0),
            rate_limit=_float(env, "STROBE_RATE_LIMIT", 0.0),
            rate_limit_burst=_int(env, "STROBE_RATE_LIMIT_BURST", 0),
            max_input_bytes=_int(env, "STROBE_MAX_INPUT_BYTES", 2 * 1024**3),
            fetch_timeout_s=_float(env, "STROBE_FETCH_TIMEOUT", 60.0),
            max_input_pixels=_int(env, "STROBE_MAX_INPUT_PIXELS", 100_000_000),
            actors_per_kind=_int(env, "STROBE_ACTORS_PER_KIND", 0),
            lease_seconds=_float(env, "STROBE_LEASE_SECONDS", 60.0),
            max_attempts=_int(env, "STROBE_MAX_ATTEMPTS", 3),
            require_gpu=_flag(env, "STROBE_REQUIRE_GPU"),
            autoscale_interval_s=_float(env, "STROBE_AUTOSCALE_INTERVAL", 5.0),
            autoscale_max_per_kind=_int(env, "STROBE_AUTOSCALE_MAX_PER_KIND", 100),
            task_timeout_s=_optional_float(env, "STROBE_TASK_TIMEOUT_S"),
            kind_timeouts_s=_kind_timeouts(env),
            ray_num_cpus=int(_optional_float(env, "STROBE_RAY_NUM_CPUS") or 0) or None,
            placement_timeout_s=_float(env, "STROBE_PLACEMENT_TIMEOUT_S", 60.0),
            setup_timeout_s=_float(env, "STROBE_SETUP_TIMEOUT_S", 600.0),
            actor_idle_s=_float(env, "STROBE_ACTOR_IDLE_S", 300.0),
            url_ttl_s=_url_ttl(env),
        )

    def with_generated_secrets(self) -> Settings:
        """Fill the API key and signing secret from the data dir, creating them once.

        Both the API and the workers call this so they agree on the same values.
        """
        self.data_dir.mkdir(parents=True, exist_ok=True)
        secret = self.secret_key or _read_or_create(self.data_dir / "secret_key", "")
        hooks = self.webhook_secret or _read_or_create(self.data_dir / "webhook_secret", "whsec_")
        keys = dict(self.api_keys) or {
            _read_or_create(self.data_dir / "api_key", "sk_"): DEFAULT_PROJECT
        }
        return replace(self, secret_key=secret, webhook_secret=hooks, api_keys=keys)


def parse_api_keys(raw: str) -> dict[str, str]:
    keys: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in raw.split(","))):
        key, sep, project = pair.partition(":")
        if not sep or not key or not project:
            raise ConfigError(f"STROBE_API_KEYS: expected 'key:project_id' pairs, got {pair!r}")
        if not PROJECT_ID.fullmatch(project):  # it starts every key of the project's objects
            raise ConfigError(
                f"STROBE_API_KEYS: project id {project!r} must be letters, digits, '_' or '-' "
                "(at most 64, starting with a letter or digit)"
            )
        keys[key] = project
    return keys


def _public_url(env: Mapping[str, str]) -> str | None:
    """STROBE_PUBLIC_URL: the base of every link the API hands out (`https://host[/path]`)."""
    url = (env.get("STROBE_PUBLIC_URL") or "").strip().rstrip("/")
    parts = urlsplit(url)
    if url and (parts.scheme not in ("http", "https") or not parts.netloc or parts.query):
        raise ConfigError(f"STROBE_PUBLIC_URL: expected http(s)://host[:port][/path], got {url!r}")
    return url or None


KIND_TIMEOUT_PREFIX = "STROBE_TASK_TIMEOUT_S_"


def parse_cors_origins(raw: str) -> tuple[str, ...]:
    """STROBE_CORS_ORIGINS: `*`, or origins (`scheme://host[:port]`) separated by commas.

    Browsers send the origin exactly so (no path, no trailing slash), and it is compared as is,
    so anything else here would silently never match."""
    origins: list[str] = []
    for origin in filter(None, (o.strip() for o in raw.split(","))):
        if origin == "*":
            origins.append(origin)
            continue
        origin = origin.lower()  # as browsers send it
        parts = urlsplit(origin)
        try:
            port_ok = parts.port is None or 0 < parts.port < 65536
        except ValueError:
            port_ok = False
        if (
            parts.scheme not in ("http", "https")
            or not parts.hostname
            or not port_ok
            or f"{parts.scheme}://{parts.netloc}" != origin
            or "@" in parts.netloc
        ):
            raise ConfigError(
                f"STROBE_CORS_ORIGINS: expected '*' or origins like https://host[:port] "
                f"separated by commas, got {origin!r}"
            )
        origins.append(origin)
    if "*" in origins and len(origins) > 1:
        raise ConfigError("STROBE_CORS_ORIGINS: '*' allows every origin; list no others with it")
    return tuple(dict.fromkeys(origins))


def _kind_timeouts(env: Mapping[str, str]) -> dict[str, float]:
    """`STROBE_TASK_TIMEOUT_S_SPEECH=1800` -> {"speech": 1800.0}."""
    return {
        name.removeprefix(KIND_TIMEOUT_PREFIX).lower(): _positive(env, name)
        for name in env
        if name.startswith(KIND_TIMEOUT_PREFIX)
    }


def _optional_float(env: Mapping[str, str], name: str) -> float | None:
    return _positive(env, name) if env.get(name, "").strip() else None


def _positive(env: Mapping[str, str], name: str) -> float:
    value = _float(env, name, 0.0)
    if value <= 0:
        raise ConfigError(f"{name} must be a number above 0")
    return value


def _read_or_create(path: Path, prefix: str) -> str:
    if path.exists():
        return path.read_text().strip()
    value = prefix + secrets.token_urlsafe(24)
    path.write_text(value + "\n")
    path.chmod(0o600)
    return value


def _flag(env: Mapping[str, str], name: str) -> bool:
    return env.get(name, "0").strip().lower() in {"1", "true", "yes", "on"}


def _url_ttl(env: Mapping[str, str]) -> int:
    seconds = _int(env, "STROBE_URL_TTL_S", 24 * 3600)
    if not 1 <= seconds <= 7 * 24 * 3600:  # S3 presigned links cannot live longer
        raise ConfigError("STROBE_URL_TTL_S must be 1 to 604800 seconds (7 days)")
    return seconds


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    try:
        return int(env.get(name, default))
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer") from exc


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    try:
        return float(env.get(name, default))
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number") from exc

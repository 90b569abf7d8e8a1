"""Settings from the environment, API key parsing, and secrets generated once per data dir."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from pipeline.config import DEFAULT_PROJECT, ConfigError, Settings, parse_api_keys


def test_defaults_live_under_dot_strobe_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings.from_env({})
    data_dir = tmp_path.resolve() / ".strobe"
    assert settings.data_dir == data_dir
    assert settings.database_url == f"sqlite:///{data_dir / 'strobe.db'}"
    assert settings.storage_url == f"file://{data_dir / 'objects'}"
    assert settings.models_dir == data_dir / "models"
    assert settings.api_keys == {}
    assert settings.secret_key == settings.webhook_secret == ""
    assert (settings.s3_endpoint_url, settings.ray_address, settings.public_url) == (None,) * 3
    assert settings.allow_private_urls is False
    assert settings.max_upload_bytes == settings.max_input_bytes == 2 * 1024**3
    assert settings.fetch_timeout_s == 60.0
    assert settings.max_input_pixels == 100_000_000
    assert (settings.actors_per_kind, settings.lease_seconds, settings.max_attempts) == (0, 60, 3)
    assert not data_dir.exists()  # reading settings creates nothing


def test_every_variable_is_read(tmp_path: Path) -> None:
    env = {
        "STROBE_DATA_DIR": str(tmp_path / "d"),
        "STROBE_DATABASE_URL": "sqlite:////var/strobe.db",
        "STROBE_STORAGE_URL": "file:///var/objects",
        "STROBE_S3_ENDPOINT_URL": "http://minio:9000",
        "STROBE_RAY_ADDRESS": "ray://head:10001",
        "STROBE_API_KEYS": "sk_one:prj_one, sk_two:prj_two",
        "STROBE_MODELS_DIR": "/models",
        "STROBE_ALLOW_PRIVATE_URLS": "1",
        "STROBE_PUBLIC_URL": "https://strobe.example/",
        "STROBE_SECRET_KEY": "hush",
        "STROBE_WEBHOOK_SECRET": "whsec_mine",
        "STROBE_MAX_UPLOAD_BYTES": "1000",
        "STROBE_MAX_INPUT_BYTES": "2000",
        "STROBE_FETCH_TIMEOUT": "2.5",
        "STROBE_MAX_INPUT_PIXELS": "3000",
        "STROBE_ACTORS_PER_KIND": "4",
        "STROBE_LEASE_SECONDS": "15",
        "STROBE_MAX_ATTEMPTS": "5",
        "STROBE_URL_TTL_S": "600",
        "STROBE_BODY_IDLE_S": "12.5",
    }
    settings = Settings.from_env(env)
    assert settings.data_dir == (tmp_path / "d").resolve()
    assert settings.database_url == "sqlite:////var/strobe.db"
    assert settings.storage_url == "file:///var/objects"
    assert settings.s3_endpoint_url == "http://minio:9000"
    assert settings.ray_address == "ray://head:10001"
    assert settings.api_keys == {"sk_one": "prj_one", "sk_two": "prj_two"}
    assert settings.models_dir == Path("/models")
    assert settings.allow_private_urls is True
    assert settings.public_url == "https://strobe.example"
    assert settings.secret_key == "hush"
    assert settings.webhook_secret == "whsec_mine"
    assert (settings.max_upload_bytes, settings.max_input_bytes) == (1000, 2000)
    assert settings.fetch_timeout_s == 2.5
    assert settings.max_input_pixels == 3000
    assert (settings.actors_per_kind, settings.lease_seconds, settings.max_attempts) == (4, 15, 5)
    assert settings.url_ttl_s == 600
    assert settings.body_idle_s == 12.5


@pytest.mark.parametrize("raw", ["0", "-5", "604801", "a day"])
def test_a_link_lifetime_outside_one_second_to_seven_days_fails_startup(raw: str) -> None:
    with pytest.raises(ConfigError, match="STROBE_URL_TTL_S"):
        Settings.from_env({"STROBE_URL_TTL_S": raw})


@pytest.mark.parametrize(
    ("raw", "allowed"),
    [("1", True), ("true", True), ("YES", True), (" on ", True), ("0", False), ("no", False)],
)
def test_allow_private_urls_flag(tmp_path: Path, raw: str, allowed: bool) -> None:
    env = {"STROBE_DATA_DIR": str(tmp_path), "STROBE_ALLOW_PRIVATE_URLS": raw}
    assert Settings.from_env(env).allow_private_urls is allowed


@pytest.mark.parametrize("name", ["STROBE_S3_ENDPOINT_URL", "STROBE_RAY_ADDRESS"])
def test_empty_optional_addresses_mean_none(tmp_path: Path, name: str) -> None:
    settings = Settings.from_env({"STROBE_DATA_DIR": str(tmp_path), name: ""})
    assert getattr(settings, name.removeprefix("STROBE_").lower()) is None


@pytest.mark.parametrize("public_url", ["", "/"])
def test_an_empty_public_url_means_none(tmp_path: Path, public_url: str) -> None:
    env = {"STROBE_DATA_DIR": str(tmp_path), "STROBE_PUBLIC_URL": public_url}
    assert Settings.from_env(env).public_url is None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("STROBE_MAX_UPLOAD_BYTES", "2GB"),
        ("STROBE_MAX_ATTEMPTS", "3.5"),
        ("STROBE_ACTORS_PER_KIND", ""),
        ("STROBE_FETCH_TIMEOUT", "soon"),
        ("STROBE_LEASE_SECONDS", ""),
    ],
)
def test_a_non_number_is_a_config_error_naming_the_variable(
    tmp_path: Path, name: str, value: str
) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({"STROBE_DATA_DIR": str(tmp_path), name: value})


@pytest.mark.parametrize(
    ("raw", "keys"),
    [
        ("", {}),
        (" , ,", {}),
        ("sk_a:prj_a", {"sk_a": "prj_a"}),
        (" sk_a:prj_a ,sk_b:prj_b,", {"sk_a": "prj_a", "sk_b": "prj_b"}),
        ("sk_a:prj_a,sk_c:prj_a", {"sk_a": "prj_a", "sk_c": "prj_a"}),
    ],
)
def test_parse_api_keys(raw: str, keys: dict[str, str]) -> None:
    assert parse_api_keys(raw) == keys


@pytest.mark.parametrize("raw", ["sk_a", "sk_a:", ":prj_a", "sk_a:prj_a,oops"])
def test_parse_api_keys_refuses_a_pair_without_key_or_project(raw: str) -> None:
    with pytest.raises(ConfigError, match="key:project_id"):
        parse_api_keys(raw)


def test_a_bad_api_keys_variable_fails_settings(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="STROBE_API_KEYS"):
        Settings.from_env({"STROBE_DATA_DIR": str(tmp_path), "STROBE_API_KEYS": "nope"})


def test_secrets_are_generated_once_and_reused(tmp_path: Path) -> None:
    env = {"STROBE_DATA_DIR": str(tmp_path / "data")}
    first = Settings.from_env(env).with_generated_secrets()
    data_dir = tmp_path / "data"
    key_file, secret_file = data_dir / "api_key", data_dir / "secret_key"
    hooks_file = data_dir / "webhook_secret"
    [(key, project)] = first.api_keys.items()
    assert key.startswith("sk_") and len(key) > 20
    assert project == DEFAULT_PROJECT
    assert len(first.secret_key) >= 24
    assert key_file.read_text().strip() == key
    assert secret_file.read_text().strip() == first.secret_key
    assert first.webhook_secret.startswith("whsec_")
    assert hooks_file.read_text().strip() == first.webhook_secret
    for path in (key_file, secret_file, hooks_file):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600

    again = Settings.from_env(env).with_generated_secrets()
    assert again == first


def test_another_data_dir_gets_other_secrets(tmp_path: Path) -> None:
    one = Settings.from_env({"STROBE_DATA_DIR": str(tmp_path / "one")}).with_generated_secrets()
    two = Settings.from_env({"STROBE_DATA_DIR": str(tmp_path / "two")}).with_generated_secrets()
    assert one.secret_key != two.secret_key
    assert one.webhook_secret != two.webhook_secret
    assert one.api_keys != two.api_keys


def test_configured_secrets_are_kept_and_no_files_are_written(tmp_path: Path) -> None:
    env = {
        "STROBE_DATA_DIR": str(tmp_path / "data"),
        "STROBE_SECRET_KEY": "hush",
        "STROBE_WEBHOOK_SECRET": "whsec_mine",
        "STROBE_API_KEYS": "sk_mine:prj_mine",
    }
    settings = Settings.from_env(env).with_generated_secrets()
    assert settings.secret_key == "hush"
    assert settings.webhook_secret == "whsec_mine"
    assert settings.api_keys == {"sk_mine": "prj_mine"}
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == []


def test_ingest_limit_and_webhook_secret_overlap_are_read() -> None:
    defaults = Settings.from_env({})
    assert defaults.max_concurrent_ingests == 8
    assert defaults.webhook_secret_overlap_s == 24 * 3600
    given = Settings.from_env(
        {"STROBE_MAX_CONCURRENT_INGESTS": "3", "STROBE_WEBHOOK_SECRET_OVERLAP_S": "600"}
    )
    assert (given.max_concurrent_ingests, given.webhook_secret_overlap_s) == (3, 600.0)


@pytest.mark.parametrize("project", ["../prj_b", "prj/a", ".", "prj a", "é"])
def test_a_project_id_that_cannot_start_a_storage_key_is_refused(project: str) -> None:
    with pytest.raises(ConfigError, match="project id"):
        parse_api_keys(f"sk_a:{project}")


@pytest.mark.parametrize(
    "url", ["media.example.com", "ftp://media.example.com", "https://", "https://h/?x=1"]
)
def test_a_public_url_must_be_an_http_base(tmp_path: Path, url: str) -> None:
    env = {"STROBE_DATA_DIR": str(tmp_path), "STROBE_PUBLIC_URL": url}
    with pytest.raises(ConfigError, match="STROBE_PUBLIC_URL"):
        Settings.from_env(env)


def test_cors_origins_default_to_none_and_parse_a_list() -> None:
    assert Settings.from_env({}).cors_origins == ()
    env = {"STROBE_CORS_ORIGINS": " https://app.example, http://127.0.0.1:8081 ,HTTPS://B.example"}
    assert Settings.from_env(env).cors_origins == (
        "https://app.example",
        "http://127.0.0.1:8081",
        "https://b.example",
    )
    assert Settings.from_env({"STROBE_CORS_ORIGINS": "*"}).cors_origins == ("*",)


@pytest.mark.parametrize(
    "origin",
    [
        "app.example",
        "https://app.example/",
        "https://app.example/player",
        "ftp://app.example",
        "https://",
        "https://app.example:99999",
        "https://user@app.example",
        "https://app.example?x=1",
        "*, https://app.example",
    ],
)
def test_a_cors_origin_must_be_scheme_host_and_port(origin: str) -> None:
    with pytest.raises(ConfigError, match="STROBE_CORS_ORIGINS"):
        Settings.from_env({"STROBE_CORS_ORIGINS": origin})

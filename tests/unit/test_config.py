from pathlib import Path

import pytest

from stepwise.config import ConfigError, load_settings


def test_defaults_use_embedded_sqlite_and_memory_broker():
    settings = load_settings({"HOME": "/home/ada"})
    assert settings.database_url == "sqlite:///home/ada/.local/share/stepwise/stepwise.sqlite3"
    assert settings.broker_is_memory and settings.max_request_bytes == 10 * 1024 * 1024


def test_the_default_data_directory_follows_the_xdg_rules_whatever_the_current_directory():
    assert load_settings({"HOME": "/home/ada"}).data_dir == Path("/home/ada/.local/share/stepwise")
    assert load_settings({"HOME": "/home/ada", "XDG_DATA_HOME": "/data"}).data_dir == Path("/data/stepwise")
    # A relative XDG_DATA_HOME is ignored, as the specification says.
    assert load_settings({"HOME": "/home/ada", "XDG_DATA_HOME": "data"}).data_dir == Path("/home/ada/.local/share/stepwise")
    explicit = load_settings({"HOME": "/home/ada", "STEPWISE_DATA_DIR": "here"})
    assert explicit.data_dir == Path("here") and explicit.files_dir == Path("here/files")


def test_values_are_read():
    settings = load_settings({
        "STEPWISE_DATABASE_URL": "postgres://u@h/db", "STEPWISE_BROKER_URL": "redis://h:6379",
        "STEPWISE_ALLOWED_ORIGINS": "https://a.test, https://b.test/", "STEPWISE_MAX_REQUEST_MB": "2.5",
        "STEPWISE_MAX_QUERY_DEPTH": "8", "STEPWISE_LOG_LEVEL": "debug",
    })
    assert settings.allowed_origins == ("https://a.test", "https://b.test")
    assert settings.max_request_bytes == int(2.5 * 1024 * 1024) and settings.max_query_depth == 8
    assert settings.log_level == "DEBUG" and not settings.uses_sqlite


def test_the_sqlite_engine_settings_default_to_inline_and_unchecked():
    assert (load_settings({}).sqlite_engine, load_settings({}).sqlite_loop_budget_ms) == ("inline", 0)
    settings = load_settings({"STEPWISE_SQLITE_ENGINE": "aiosqlite", "STEPWISE_SQLITE_LOOP_BUDGET_MS": "20"})
    assert (settings.sqlite_engine, settings.sqlite_loop_budget_ms) == ("aiosqlite", 20)
    assert load_settings({"STEPWISE_SQLITE_LOOP_BUDGET_MS": "0"}).sqlite_loop_budget_ms == 0


@pytest.mark.parametrize(
    ("env", "mentions"),
    [
        ({"STEPWISE_DATABASE_URL": "mysql://x"}, "STEPWISE_DATABASE_URL"),
        ({"STEPWISE_BROKER_URL": "kafka://x"}, "STEPWISE_BROKER_URL"),
        ({"STEPWISE_MAX_REQUEST_MB": "ten"}, "STEPWISE_MAX_REQUEST_MB"),
        ({"STEPWISE_MAX_QUERY_DEPTH": "0"}, "STEPWISE_MAX_QUERY_DEPTH"),
        ({"STEPWISE_MAX_ALIASES": "1.5"}, "STEPWISE_MAX_ALIASES"),
        ({"STEPWISE_ALLOWED_ORIGINS": "example.com"}, "STEPWISE_ALLOWED_ORIGINS"),
        ({"STEPWISE_LOG_LEVEL": "LOUD"}, "STEPWISE_LOG_LEVEL"),
        ({"STEPWISE_PASSWORD_HASHING": "none"}, "STEPWISE_PASSWORD_HASHING"),
        ({"STEPWISE_DATABSE_URL": "sqlite://x"}, "STEPWISE_DATABSE_URL"),
        ({"STEPWISE_SQLITE_ENGINE": "threads"}, "STEPWISE_SQLITE_ENGINE"),
        ({"STEPWISE_SQLITE_LOOP_BUDGET_MS": "-5"}, "STEPWISE_SQLITE_LOOP_BUDGET_MS"),
        ({"STEPWISE_SQLITE_LOOP_BUDGET_MS": "fast"}, "STEPWISE_SQLITE_LOOP_BUDGET_MS"),
        ({"STEPWISE_WS_DEFLATE": "maybe"}, "STEPWISE_WS_DEFLATE"),
    ],
)
def test_bad_values_give_one_readable_line(env, mentions):
    with pytest.raises(ConfigError) as caught:
        load_settings(env)
    message = str(caught.value)
    assert mentions in message and "\n" not in message


def test_uploads_have_their_own_directory_and_limit():
    settings = load_settings({"STEPWISE_DATA_DIR": "/srv/stepwise"})
    assert str(settings.files_dir) == "/srv/stepwise/files" and settings.max_upload_bytes == 20 * 1024 * 1024
    # A multipart request may carry an allowed file although the general limit is smaller.
    assert settings.max_multipart_request_bytes == 21 * 1024 * 1024 > settings.max_request_bytes
    settings = load_settings({"STEPWISE_FILES_DIR": "/mnt/files", "STEPWISE_MAX_UPLOAD_MB": "0.5"})
    assert str(settings.files_dir) == "/mnt/files" and settings.max_upload_bytes == 512 * 1024
    assert settings.max_multipart_request_bytes == settings.max_request_bytes
    for bad in ("-1", "abc", "4096"):
        with pytest.raises(ConfigError, match="STEPWISE_MAX_UPLOAD_MB"):
            load_settings({"STEPWISE_MAX_UPLOAD_MB": bad})


def test_the_notification_interval_is_positive_and_at_most_an_hour():
    assert load_settings({}).notification_interval_seconds == 60.0
    assert load_settings({"STEPWISE_NOTIFICATION_INTERVAL_SECONDS": "0.5"}).notification_interval_seconds == 0.5
    for bad in ("0", "-1", "soon", "3601"):
        with pytest.raises(ConfigError, match="STEPWISE_NOTIFICATION_INTERVAL_SECONDS"):
            load_settings({"STEPWISE_NOTIFICATION_INTERVAL_SECONDS": bad})


def test_websocket_deflate_is_off_unless_asked():
    assert load_settings({}).ws_deflate is False
    assert [load_settings({"STEPWISE_WS_DEFLATE": v}).ws_deflate for v in ("on", "1", "TRUE", "off", "0", "")] == \
        [True, True, True, False, False, False]

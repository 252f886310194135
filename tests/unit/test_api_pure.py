"""Pure parts of bai_bridge.api: configuration, the error table, models, version rules."""

import json

import attrs
import pytest

from bai_bridge.api.config import DEFAULT_ENDPOINT, APIConfig, APIConfigError
from bai_bridge.api.errors import (
    BackendAPIError,
    BackendAuthError,
    BackendConflictError,
    BackendInvalidParamsError,
    BackendNotFoundError,
    BackendRateLimitError,
    BackendServerError,
    BackendUnavailableError,
    api_error_from_body,
)
from bai_bridge.api.kernel import execute_mode
from bai_bridge.api.listing import _missing
from bai_bridge.api.models import (
    BatchOptions,
    CreatedSession,
    ExecutionResult,
    FileListing,
    Html,
    Media,
    SessionEventData,
    Stderr,
    Stdout,
    UnknownConsoleItem,
    converter,
)
from bai_bridge.api.session import APISession
from bai_bridge.api.versioning import ApiVersion, manager_version_tuple, parse_api_version

PROBS = "https://api.backend.ai/probs/"


def test_config_from_env_reads_every_variable() -> None:
    env = {
        "BACKEND_ENDPOINT": "http://127.0.0.1:1, http://127.0.0.1:2/prefix",
        "BACKEND_ENDPOINT_TYPE": "api",
        "BACKEND_ACCESS_KEY": "AKTEST",
        "BACKEND_SECRET_KEY": "very-secret",
        "BACKEND_DOMAIN": "dom",
        "BACKEND_GROUP": "grp",
        "BACKEND_VFOLDER_MOUNTS": "data, models",
        "BACKEND_SKIP_SSLCERT_VALIDATION": "yes",
        "BACKEND_CONNECTION_TIMEOUT": "2.5",
        "BACKEND_READ_TIMEOUT": "0",
        "BACKEND_API_VERSION": "v4.20190615",
    }
    config = APIConfig.from_env(env, vfolder_mounts=["extra", "data"])
    assert [str(u) for u in config.endpoints] == ["http://127.0.0.1:1", "http://127.0.0.1:2/prefix"]
    assert (config.access_key, config.secret_key) == ("AKTEST", "very-secret")
    assert (config.domain, config.group) == ("dom", "grp")
    assert config.vfolder_mounts == ("data", "models", "extra")
    assert config.skip_ssl_validation is True
    assert (config.connection_timeout, config.read_timeout) == (2.5, 0.0)
    assert config.api_version == ApiVersion(4, "20190615")
    assert "very-secret" not in repr(config)


def test_explicit_arguments_win_and_sorna_is_the_fallback() -> None:
    config = APIConfig.from_env(
        {"SORNA_ACCESS_KEY": "legacy", "BACKEND_DOMAIN": "env"}, domain="explicit"
    )
    assert config.access_key == "legacy"
    assert config.domain == "explicit"


def test_no_arguments_read_backend_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BACKEND_ENDPOINT", "http://127.0.0.1:5")
    monkeypatch.setenv("BACKEND_ACCESS_KEY", "AKENV")
    monkeypatch.setenv("BACKEND_SECRET_KEY", "env-secret")
    monkeypatch.setenv("BACKEND_VFOLDER_MOUNTS", "data")
    monkeypatch.setenv("BACKEND_READ_TIMEOUT", "7")
    monkeypatch.setenv("SORNA_DOMAIN", "legacy-dom")
    config = APIConfig()
    assert str(config.endpoint) == "http://127.0.0.1:5"
    assert (config.access_key, config.secret_key) == ("AKENV", "env-secret")
    assert (config.domain, config.group) == ("legacy-dom", "default")
    assert (config.connection_timeout, config.read_timeout) == (10.0, 7.0)
    assert APISession().config == config
    explicit = APIConfig(endpoint="http://127.0.0.1:6", secret_key="mine", vfolder_mounts=["x"])
    assert str(explicit.endpoint) == "http://127.0.0.1:6"
    assert (explicit.access_key, explicit.secret_key) == ("AKENV", "mine")
    assert explicit.vfolder_mounts == ("data", "x")  # merged, as the official client does
    assert attrs.evolve(explicit, domain="d").endpoints == explicit.endpoints


def test_an_explicit_env_mapping_shuts_out_the_process_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BACKEND_ACCESS_KEY", "AKENV")
    config = APIConfig(endpoint="http://127.0.0.1:7", env={})
    assert (config.access_key, config.domain, config.read_timeout) == ("", "default", None)
    assert str(APIConfig(env={}).endpoint) == DEFAULT_ENDPOINT


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"BACKEND_ENDPOINT_TYPE": "session"}, "not supported"),
        ({"BACKEND_ENDPOINT": "ftp://x"}, "absolute http(s)"),
        ({"BACKEND_ENDPOINT": "relative/path"}, "absolute http(s)"),
        ({"BACKEND_SKIP_SSLCERT_VALIDATION": "maybe"}, "boolean"),
        ({"BACKEND_CONNECTION_TIMEOUT": "soon"}, "seconds"),
        ({"BACKEND_API_VERSION": "8"}, "BACKEND_API_VERSION"),
    ],
)
def test_config_errors_are_clear(env: dict[str, str], needle: str) -> None:
    with pytest.raises(APIConfigError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        APIConfig.from_env(env)


def test_endpoint_configured() -> None:
    assert not APIConfig.endpoint_configured({})
    assert APIConfig.endpoint_configured({"BACKEND_ENDPOINT": "http://x"})


@pytest.mark.parametrize(
    ("status", "slug", "cls"),
    [
        (401, "auth-failed", BackendAuthError),
        (400, "invalid-auth-params", BackendAuthError),
        (400, "invalid-api-params", BackendInvalidParamsError),
        (400, "session-already-exists", BackendConflictError),
        (404, "kernel-not-found", BackendNotFoundError),
        (404, "object-not-found", BackendNotFoundError),
        (429, "rate-limit-exceeded", BackendRateLimitError),
        (500, "internal-server-error", BackendServerError),
        (503, "server-frozen", BackendUnavailableError),
        (418, "teapot", BackendAPIError),
    ],
)
def test_error_table(status: int, slug: str, cls: type) -> None:
    body = {"type": PROBS + slug, "title": "t"}
    error = api_error_from_body(status, "Reason", json.dumps(body).encode())
    assert type(error) is cls
    assert (error.status, error.type, error.title) == (status, slug, "t")


def test_error_fields_msg_data_and_agent_details() -> None:
    body = {
        "type": PROBS + "invalid-api-params",
        "title": "Bad.",
        "msg": "Input validation error",
        "data": {"image": "is required"},
    }
    error = api_error_from_body(400, "Bad Request", json.dumps(body).encode())
    assert error.msg == "Input validation error"
    assert error.data == {"image": "is required"}
    assert "Input validation error" in str(error)
    agent = {
        "type": PROBS + "kernel-execution-failed",
        "title": "T",
        "agent-details": {"type": "x", "title": "agent timed out"},
    }
    assert api_error_from_body(500, "", json.dumps(agent).encode()).msg == "agent timed out"


def test_error_from_non_json_body() -> None:
    error = api_error_from_body(502, "Bad Gateway", b"<html>proxy down</html>")
    assert isinstance(error, BackendServerError)
    assert (error.type, error.title, error.msg) == (
        "generic-error",
        "Bad Gateway",
        "<html>proxy down</html>",
    )


def test_execution_result_renames_and_console_items() -> None:
    raw = {
        "runId": "r1",
        "status": "waiting-input",
        "exitCode": None,
        "options": {"is_password": True},
        "console": [
            ["stdout", "Password: "],
            ["stderr", "warn"],
            ["media", ["image/png", "data:image/png;base64,AAAA"]],
            ["html", "<table></table>"],
            ["strange", 1],
            "garbage",
        ],
        "files": [],
        "somethingNew": 1,
    }
    result = converter.structure(raw, ExecutionResult)
    assert (result.run_id, result.status, result.exit_code) == ("r1", "waiting-input", None)
    assert result.input_options.is_password is True
    assert result.console[:4] == [
        Stdout("Password: "),
        Stderr("warn"),
        Media("image/png", "data:image/png;base64,AAAA"),
        Html("<table></table>"),
    ]
    assert result.console[4] == UnknownConsoleItem("strange", 1)
    assert result.console[5].kind == "unknown"
    assert not result.is_final


def test_batch_options_and_events_use_wire_names() -> None:
    assert converter.unstructure(BatchOptions(build="make", exec="./a", build_log=True)) == {
        "clean": None,
        "build": "make",
        "exec": "./a",
        "buildLog": True,
    }
    data = converter.structure(
        {"sessionName": "s", "ownerAccessKey": "AK", "exitCode": 3, "x": 1}, SessionEventData
    )
    assert (data.session_name, data.owner_access_key, data.exit_code) == ("s", "AK", 3)


def test_created_session_reads_both_service_port_keys() -> None:
    reused = converter.structure(
        {
            "sessionId": "u",
            "status": "RUNNING",
            "service_ports": [{"name": "jupyter"}],
            "created": False,
        },
        CreatedSession,
    )
    assert (reused.session_id, reused.created, reused.service_ports) == (
        "u",
        False,
        [{"name": "jupyter"}],
    )
    assert converter.structure({"kernelId": "k"}, CreatedSession).status == "RUNNING"


def test_file_listing_decodes_the_json_string() -> None:
    raw = {
        "files": json.dumps(
            [{"mode": "drwxr-xr-x", "size": 0, "ctime": 1, "mtime": 2, "atime": 3, "filename": "d"}]
        ),
        "errors": "",
        "abspath": ".",
    }
    listing = converter.structure(raw, FileListing)
    assert listing.files[0].filename == "d"
    assert listing.files[0].is_dir


def test_versions() -> None:
    assert parse_api_version("v8.20240915") > parse_api_version("v7.20230615")
    assert str(ApiVersion(4, "20190615")) == "v4.20190615"
    assert ApiVersion(4, "20190615").path_prefix == "kernel"
    assert ApiVersion(5, "20191215").name_field == "name"
    assert not ApiVersion(5, "20191215").top_level_cluster_size
    assert ApiVersion(6, "20200815").top_level_cluster_size
    assert manager_version_tuple("24.09.14") == (24, 9, 14)
    assert manager_version_tuple("unknown") is None
    with pytest.raises(ValueError, match="not an API version"):
        parse_api_version("v8")


@pytest.mark.parametrize(
    ("mode", "wire"),
    [("user-input", "input"), ("input", "input"), ("query", "query"), ("continue", "continue")],
)
def test_execute_mode_takes_the_seeds_user_input(mode: str, wire: str) -> None:
    assert execute_mode(mode) == wire


def test_an_unknown_execute_mode_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"invalid execution mode 'complete'.*'user-input'"):
        execute_mode("complete")


REAL_AGENT_MISSING = """Traceback (most recent call last):
  File "<string>", line 8, in <module>
FileNotFoundError: [Errno 2] No such file or directory: 'pkg/sub'
"""


def test_only_the_folder_itself_missing_reads_as_an_empty_listing() -> None:
    """The agent's `errors` text: the real one's traceback and the embedded server's line
    both say the folder is missing; a missing entry inside it, or any other error, does not."""
    assert _missing(REAL_AGENT_MISSING, "pkg/sub")
    assert _missing("FileNotFoundError: No such file or directory: 'pkg/sub'\n", "pkg/sub")
    assert not _missing(REAL_AGENT_MISSING.replace("pkg/sub", "pkg/sub/dangling"), "pkg/sub")
    assert not _missing("PermissionError: Permission denied: 'pkg/sub'\n", "pkg/sub")
    assert not _missing("NotADirectoryError: [Errno 20] Not a directory: 'pkg/sub'", "pkg/sub")
    assert not _missing("", "pkg/sub")

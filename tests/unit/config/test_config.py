"""gateway.toml and GATEWAY_* environment: defaults, overrides, and precise problems."""

from pathlib import Path

import pytest

from gateway.config import load_config
from gateway.problems import ConfigError


def problems(text: str | None, env: dict | None = None, tmp_path: Path | None = None):
    path = None
    if text is not None:
        path = tmp_path / "gateway.toml"
        path.write_text(text)
    with pytest.raises(ConfigError) as e:
        load_config(path, environ=env or {})
    return [(p.key, p.line, p.message) for p in e.value.problems]


def test_embedded_defaults():
    config = load_config(None, environ={})
    assert config.database_url == "sqlite:///var/gateway.db"
    assert (config.as2.host, config.as2.port) == ("127.0.0.1", 4080)
    assert (config.sftp.port, config.metrics.port) == (4022, 9464)
    assert config.gateway.partners_dir == Path("partners")


def test_file_then_environment_override(tmp_path):
    path = tmp_path / "gateway.toml"
    path.write_text('[database]\nurl = "postgresql+psycopg://db/gw"\n[jobs]\nconcurrency = 8\n')
    config = load_config(path, environ={"GATEWAY_JOBS_CONCURRENCY": "16",
                                        "GATEWAY_AS2_MAX_BODY_BYTES": "2048"})
    assert config.database_url == "postgresql+psycopg://db/gw"
    assert config.jobs.concurrency == 16
    assert config.as2.max_body_bytes == 2048


def test_gateway_config_variable_names_the_file(tmp_path):
    path = tmp_path / "g.toml"
    path.write_text("[metrics]\nport = 9999\n")
    assert load_config(None, environ={"GATEWAY_CONFIG": str(path)}).metrics.port == 9999


@pytest.mark.parametrize("text, expected", [
    ("[as2]\nport = 4080\nprot = 1\n", [("as2.prot", 3, "unknown key")]),
    ("[as2]\nport = 'x'\n", [("as2.port", 2, "Input should be a valid integer, unable to parse "
                                               "string as an integer")]),
    ("[jobs]\n\nconcurrency = 0\n", [("jobs.concurrency", 3,
                                       "Input should be greater than or equal to 1")]),
    ("[nonsense]\na = 1\n", [("nonsense", 1, "unknown key")]),
    ("[as2]\ntls_port = 4443\n", [("as2.tls_cert", 2, "required when as2.tls_port is set"),
                                  ("as2.tls_key", 2, "required when as2.tls_port is set")]),
    ("[gateway]\nlog_level = 'loud'\n", [("gateway.log_level", 2,
                                           "Input should be 'debug', 'info', 'warn' or 'error'")]),
])
def test_bad_file_names_key_and_line(tmp_path, text, expected):
    assert problems(text, tmp_path=tmp_path) == expected


def test_not_toml(tmp_path):
    [(key, line, message)] = problems("[as2\nport=1", tmp_path=tmp_path)
    assert key == "" and message.startswith("not valid TOML")


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "absent.toml", environ={})


def test_bad_environment_is_reported_with_every_other_problem(tmp_path):
    found = problems("[as2]\nport = -1\n", {"GATEWAY_AS2_PROT": "1", "GATEWAY_METRICS_PORT": "x"},
                     tmp_path)
    assert ("GATEWAY_AS2_PROT", None, "unknown setting") in found
    assert ("as2.port", 2, "Input should be greater than or equal to 0") in found
    assert any(k == "metrics.port" for k, _, _ in found)

"""gateway.toml plus ``GATEWAY_<SECTION>_<KEY>`` environment variables -> a typed, validated Config.

Every key has an embedded default, so ``gateway serve`` runs with no file at all. Relative paths
are resolved against the working directory the gateway is started in.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway.problems import ConfigError, Problem, from_validation, toml_line

ENV_PREFIX = "GATEWAY_"


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GatewaySettings(Section):
    data_dir: Path = Path("var")
    partners_dir: Path = Path("partners")
    certs_dir: Path = Path("certs")
    mapping_dir: Path = Path("mapping")
    log_level: Literal["debug", "info", "warn", "error"] = "info"
    node_name: str = Field(default_factory=lambda: os.uname().nodename, min_length=1)


class IdentitySettings(Section):
    as2_id: str = Field(default="GATEWAY", min_length=1, max_length=128)
    key: Path = Path("gateway/as2.key")
    cert: Path = Path("gateway/as2.crt")
    isa_qualifier: str = Field(default="ZZ", min_length=2, max_length=2)
    isa_id: str = Field(default="GATEWAY", min_length=1, max_length=15)


class DatabaseSettings(Section):
    url: str | None = None
    pool_size: int = Field(default=4, ge=1, le=64)
    retries: int = Field(default=5, ge=0)


class As2Settings(Section):
    host: str = "127.0.0.1"
    port: int = Field(default=4080, ge=0, le=65535)
    tls_port: int | None = Field(default=None, ge=0, le=65535)
    tls_cert: Path | None = None
    tls_key: Path | None = None
    client_ca: Path | None = None
    max_body_bytes: int = Field(default=200 * 1024 * 1024, ge=1024)
    receipt_url: str | None = None
    # Processes that open received messages and sign MDNs (gateway.as2.offload); 0: threads.
    helper_processes: int | None = Field(default=None, ge=0, le=64)   # None: one per core, <= 4


class SftpSettings(Section):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=4022, ge=0, le=65535)
    host_key: Path | None = None
    max_file_bytes: int = Field(default=200 * 1024 * 1024, ge=1024)
    sessions_per_partner: int = Field(default=8, ge=1)
    idle_timeout_s: float = Field(default=600, gt=0)


class MetricsSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(default=9464, ge=0, le=65535)


class JobSettings(Section):
    concurrency: int = Field(default=32, ge=1, le=256)
    lease_s: float = Field(default=60, gt=0)
    poll_interval_s: float = Field(default=0.5, gt=0)
    max_attempts: int = Field(default=10, ge=1)
    backoff_base_s: float = Field(default=2, gt=0)
    backoff_max_s: float = Field(default=3600, gt=0)
    shutdown_grace_s: float = Field(default=20, ge=0)
    keep_done_s: float = Field(default=7 * 86400, ge=0)


class CustomsSettings(Section):
    products: Path | None = None     # the seller's product master (CSV or YAML), re-read on change
    seller: Path | None = None       # YAML: identities (eori, ioss, us_importer, cn) and consignor
    data_dir: Path | None = None     # rules and code tables; default <mapping_dir>/customs
    filings_dir: Path = Path("var/customs")   # every filing is written here as well
    broker: str | None = None        # partner id filings are sent to (AS2 or SFTP)
    simulate: bool = True            # check and produce filings, send nothing
    receipt_timeout_s: float = Field(default=86400, gt=0)   # a filing with no answer by then


class Config(Section):
    gateway: GatewaySettings = GatewaySettings()
    identity: IdentitySettings = IdentitySettings()
    database: DatabaseSettings = DatabaseSettings()
    as2: As2Settings = As2Settings()
    sftp: SftpSettings = SftpSettings()
    metrics: MetricsSettings = MetricsSettings()
    jobs: JobSettings = JobSettings()
    customs: CustomsSettings = CustomsSettings()

    @property
    def database_url(self) -> str:
        return self.database.url or f"sqlite:///{self.gateway.data_dir / 'gateway.db'}"

    @property
    def host_key_path(self) -> Path:
        return self.sftp.host_key or self.gateway.data_dir / "ssh_host_ed25519_key"

    def cert_path(self, path: Path) -> Path:
        """Certificate paths in config and partner files are relative to ``certs_dir``."""
        return path if path.is_absolute() else self.gateway.certs_dir / path


def _env_overrides(environ) -> tuple[dict, list[Problem]]:
    overrides: dict = {}
    problems = []
    sections = Config.model_fields
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or name == "GATEWAY_CONFIG":
            continue
        rest = name[len(ENV_PREFIX):].lower()
        section, _, key = rest.partition("_")
        if section not in sections or key not in sections[section].annotation.model_fields:
            problems.append(Problem("environment", name, "unknown setting"))
            continue
        overrides.setdefault(section, {})[key] = None if value == "" else value
    return overrides, problems


def load_config(path: Path | None = None, environ=None) -> Config:
    """Read ``path`` (optional) and the environment; raise ConfigError listing every problem."""
    environ = os.environ if environ is None else environ
    if path is None and environ.get("GATEWAY_CONFIG"):
        path = Path(environ["GATEWAY_CONFIG"])
    data: dict = {}
    text = ""
    problems: list[Problem] = []
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
            data = tomllib.loads(text)
        except OSError as e:
            raise ConfigError([Problem(str(path), "", f"cannot read: {e.strerror}")]) from e
        except tomllib.TOMLDecodeError as e:
            raise ConfigError([Problem(str(path), "", f"not valid TOML: {e}")]) from e
    overrides, problems = _env_overrides(environ)
    for section, values in overrides.items():
        if not isinstance(data.get(section, {}), dict):
            continue
        data.setdefault(section, {}).update(values)
    try:
        config = Config.model_validate(data)
    except ValidationError as e:
        problems += from_validation(e, path or "environment", lambda loc: toml_line(text, loc))
        config = None
    if config is not None and config.as2.tls_port is not None:
        for key in ("tls_cert", "tls_key"):
            if getattr(config.as2, key) is None:
                problems.append(Problem(str(path or "environment"), f"as2.{key}",
                                        "required when as2.tls_port is set",
                                        toml_line(text, ("as2", "tls_port"))))
    if problems:
        raise ConfigError(problems)
    return config

"""Trading partners from ``partners/<id>.yaml``: the typed model, and loading a whole directory.

A directory is loaded as one set: every file is checked, then cross-partner rules (duplicate AS2
ids, X12 identities, SFTP users) and referenced files. Either the whole set is valid or the
caller gets every problem and keeps what it had.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationError,
    model_validator,
)
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from gateway.config import Config
from gateway.problems import ConfigError, Problem, from_validation, yaml_line
from gateway.reconcile.checks import settings_for

PARTNER_ID = r"^[a-z0-9][a-z0-9_-]{0,62}$"
DIGESTS = Literal["sha1", "sha256", "sha384", "sha512"]
# bcrypt ($2a$/$2b$/$2y$) or argon2 PHC strings; a plaintext password is refused.
PASSWORD_HASH = re.compile(r"^(\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}|\$argon2(id|i|d)\$.+)$")


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Contact(Model):
    name: str
    role: str | None = None
    email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+$")
    phone: str | None = None


class Certificates(Model):
    signing: Path | None = None      # verifies the partner's signatures
    encryption: Path | None = None   # we encrypt to this certificate
    tls_ca: Path | None = None       # trust anchor for the partner's HTTPS server


class Security(Model):
    sign: bool = True
    sign_alg: DIGESTS = "sha256"
    sign_padding: Literal["pkcs1v15", "pss"] = "pkcs1v15"
    encrypt: bool = True
    encrypt_alg: Literal["aes128-cbc", "aes192-cbc", "aes256-cbc", "aes128-gcm", "aes256-gcm",
                         "3des"] = "aes256-cbc"
    key_transport: Literal["rsa-pkcs1v15", "oaep"] = "rsa-pkcs1v15"
    compress: bool = False
    compress_before_sign: bool = True
    require_signature: bool = True
    require_encryption: bool = True
    allow_expired_certs: bool = False
    verify_chain: bool = False
    max_decompressed_bytes: int = Field(default=500 * 1024 * 1024, ge=1024)
    max_ratio: int = Field(default=200, ge=1)


class Mdn(Model):
    mode: Literal["sync", "async", "none"] = "sync"
    signed: bool = True
    sign_alg: DIGESTS = "sha256"
    timeout_s: float = Field(default=3600, gt=0)


class Retry(Model):
    max_attempts: int = Field(default=10, ge=1)
    backoff_s: float = Field(default=60, gt=0)
    timeout_s: float = Field(default=120, gt=0)


class As2(Model):
    as2_id: str = Field(min_length=1, max_length=128)
    url: str | None = Field(default=None, pattern=r"^https?://")
    certificates: Certificates = Certificates()
    security: Security = Security()
    mdn: Mdn = Mdn()
    retry: Retry = Retry()

    @model_validator(mode="after")
    def _possible(self):
        problems = []
        sec, certs = self.security, self.certificates
        if sec.encrypt and certs.encryption is None:
            problems.append("security.encrypt needs certificates.encryption")
        if (sec.require_signature or self.mdn.signed) and certs.signing is None:
            problems.append("a required signature (security.require_signature or mdn.signed) "
                            "needs certificates.signing to verify it")
        if self.mdn.signed and self.mdn.mode == "none":
            problems.append("mdn.signed is set but mdn.mode is none")
        if problems:
            raise ValueError("; ".join(problems))
        return self


class SftpRemote(Model):
    host: str
    port: int = Field(default=22, ge=1, le=65535)
    username: str
    key: Path | None = None
    password_env: str | None = None   # name of the environment variable holding the password
    host_key: str = Field(min_length=16)  # pinned: OpenSSH public key line or SHA256:fingerprint
    remote_dir: str = "/"
    interval_s: float = Field(default=300, gt=0)
    after: Literal["delete", "move"] = "delete"
    move_to: str | None = None


class Sftp(Model):
    username: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")
    authorized_keys: tuple[str, ...] = ()
    password_hash: str | None = None
    after_download: Literal["delete", "move"] = "move"
    push: SftpRemote | None = None
    poll: SftpRemote | None = None

    @model_validator(mode="after")
    def _auth(self):
        if not self.authorized_keys and not self.password_hash:
            raise ValueError("an SFTP account needs authorized_keys or password_hash")
        if self.password_hash and not PASSWORD_HASH.match(self.password_hash):
            raise ValueError("password_hash must be a bcrypt or argon2 hash, never a password")
        for key in self.authorized_keys:
            if not re.match(r"^(ssh-(rsa|ed25519)|ecdsa-sha2-nistp\d+) [A-Za-z0-9+/=]+", key):
                raise ValueError(f"authorized_keys entry is not an OpenSSH public key: {key[:30]!r}")
        return self


class X12(Model):
    isa_qualifier: str = Field(min_length=2, max_length=2)
    isa_id: str = Field(min_length=1, max_length=15)
    gs_id: str = Field(min_length=2, max_length=15)
    our_gs_id: str | None = Field(default=None, min_length=2, max_length=15)
    versions: tuple[Literal["004010", "004030", "005010"], ...] = ("004010",)
    ack: Literal["997", "999", "none"] = "997"
    ta1: Literal["on-request", "always", "never"] = "on-request"
    test_indicator: Literal["P", "T"] = "P"
    ack_timeout_s: float = Field(default=86400, gt=0)   # a 997/999 later than this is overdue
    profile: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    overlay: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9_-]*$")

    @model_validator(mode="after")
    def _ack_version(self):
        if self.ack == "999" and "005010" not in self.versions:
            raise ValueError("ack 999 is an X12 5010 acknowledgment; versions has no 005010")
        return self


class Document(Model):
    type: str = Field(pattern=r"^[A-Z0-9]{3,6}$")   # 850, 856, CEB303, ...
    direction: Literal["inbound", "outbound"]
    guide: Path | None = None   # under mapping/
    map: Path | None = None     # under mapping/


class DirectorySink(Model):
    directory: Path


class WebhookSink(Model):
    webhook: str = Field(pattern=r"^https?://")


HANDLERS = ("reconcile", "customs")


def _target(value):
    if value in HANDLERS:
        return value
    if isinstance(value, dict) and set(value) == {"directory"}:
        return DirectorySink.model_validate(value)
    if isinstance(value, dict) and set(value) == {"webhook"}:
        return WebhookSink.model_validate(value)
    raise ValueError(f"{value!r} is not a route target: use reconcile, customs, "
                     "{directory: PATH} or {webhook: URL}")


Target = Annotated[str | DirectorySink | WebhookSink, PlainValidator(_target)]


class Route(Model):
    match: dict[Literal["type", "direction"], str] = {}
    to: Annotated[list[Target], Field(min_length=1)]


class Customs(Model):
    """How this partner's orders are declared: the regime and the terms of the sale."""

    regime: Literal["eu", "cn", "us"]
    incoterm: str = Field(default="DAP", pattern=r"^[A-Z]{3}$")
    transport: Literal["air", "sea", "rail", "road", "post"] = "air"
    procedure_codes: tuple[str, ...] = ()   # EU additional procedure codes; default from incoterm


class Partner(Model):
    """A trading partner as its file describes it."""

    id: str = Field(pattern=PARTNER_ID)
    name: str = Field(min_length=1)
    enabled: bool = True
    contacts: tuple[Contact, ...] = ()
    as2: As2 | None = None
    sftp: Sftp | None = None
    x12: X12 | None = None
    documents: tuple[Document, ...] = ()
    routes: tuple[Route, ...] = ()
    customs: Customs | None = None
    reconcile: dict = {}   # overrides of gateway.reconcile.checks.DEFAULT_SETTINGS

    @property
    def x12_profile(self) -> str:
        """Where its guides and maps live: mapping/x12/<version>/<profile>/, the partner id
        unless set; a set the profile has no guide or map for uses mapping/x12/<version>/generic/."""
        return (self.x12 and self.x12.profile) or self.id

    @model_validator(mode="after")
    def _acks_can_go_back(self):
        if self.x12 and self.x12.ack != "none" and not (self.as2 and self.as2.url) \
                and not self.sftp:
            raise ValueError(f"x12.ack {self.x12.ack} needs a way to send it back: as2.url or "
                             "an sftp account (or set x12.ack: none)")
        return self

    @model_validator(mode="after")
    def _reconcile_settings(self):
        settings_for(self.reconcile)   # raises ValueError naming the bad key or value
        return self


@dataclass(frozen=True)
class PartnerSet:
    """An immutable, validated set of partners with the lookups the transports need."""

    partners: dict[str, Partner]

    def by_as2_id(self, as2_id: str) -> Partner | None:
        return next((p for p in self.partners.values() if p.as2 and p.as2.as2_id == as2_id), None)

    def by_sftp_user(self, username: str) -> Partner | None:
        return next((p for p in self.partners.values()
                     if p.sftp and p.sftp.username == username), None)

    def by_isa(self, qualifier: str, isa_id: str) -> Partner | None:
        return next((p for p in self.partners.values() if p.x12 and
                     (p.x12.isa_qualifier, p.x12.isa_id.strip()) == (qualifier, isa_id.strip())),
                    None)

    def __len__(self):
        return len(self.partners)


def _load_file(path: Path) -> tuple[Partner | None, object, list[Problem]]:
    try:
        data = YAML(typ="rt").load(path.read_text(encoding="utf-8"))
    except OSError as e:
        return None, None, [Problem(str(path), "", f"cannot read: {e.strerror}")]
    except (YAMLError, UnicodeDecodeError) as e:
        mark = getattr(e, "problem_mark", None)
        return None, None, [Problem(str(path), "", f"not valid YAML: {getattr(e, 'problem', e)}",
                                    mark.line + 1 if mark else None)]
    if not isinstance(data, dict):
        return None, data, [Problem(str(path), "", "a partner file must be a YAML mapping")]
    try:
        partner = Partner.model_validate(data)
    except ValidationError as e:
        return None, data, from_validation(e, path, lambda loc: yaml_line(data, loc))
    if partner.id != path.stem:
        return None, data, [Problem(str(path), "id", f"id {partner.id!r} must match the file "
                                    f"name {path.stem!r}", yaml_line(data, ("id",)))]
    return partner, data, []


def _file_problems(config: Config, path: Path, data, partner: Partner) -> list[Problem]:
    """Referenced certificate, guide and map files must exist."""
    problems = []
    refs = []
    if partner.as2:
        for usage in ("signing", "encryption", "tls_ca"):
            ref = getattr(partner.as2.certificates, usage)
            if ref is not None:
                refs.append((("as2", "certificates", usage), config.cert_path(ref), "certificate"))
    if partner.sftp and partner.sftp.push and partner.sftp.push.key:
        refs.append((("sftp", "push", "key"), config.cert_path(partner.sftp.push.key), "key"))
    for i, doc in enumerate(partner.documents):
        for attr in ("guide", "map"):
            ref = getattr(doc, attr)
            if ref is not None:
                refs.append((("documents", i, attr), config.gateway.mapping_dir / ref, attr))
    for loc, file, what in refs:
        if not file.is_file():
            problems.append(Problem(str(path), ".".join(map(str, loc)),
                                    f"{what} file {file} does not exist", yaml_line(data, loc)))
    return problems


def _cross_problems(loaded: list[tuple[Path, object, Partner]]) -> list[Problem]:
    problems = []
    keys = {
        ("as2", "as2_id"): lambda p: p.as2 and p.as2.as2_id,
        ("x12", "isa_id"): lambda p: p.x12 and f"{p.x12.isa_qualifier}/{p.x12.isa_id.strip()}",
        ("sftp", "username"): lambda p: p.sftp and p.sftp.username,
    }
    for loc, key in keys.items():
        seen = defaultdict(list)
        for path, data, partner in loaded:
            value = key(partner)
            if value:
                seen[value].append((path, data))
        for value, holders in seen.items():
            if len(holders) > 1:
                names = ", ".join(p.name for p, _ in holders)
                for path, data in holders:
                    problems.append(Problem(str(path), ".".join(loc),
                                            f"{value!r} is used by more than one partner ({names})",
                                            yaml_line(data, loc)))
    return problems


def load_partners(config: Config) -> PartnerSet:
    """Load and check every ``*.yaml`` in the partners directory; raise ConfigError on any problem."""
    directory = config.gateway.partners_dir
    if not directory.is_dir():
        raise ConfigError([Problem(str(directory), "", "partners directory does not exist")])
    problems: list[Problem] = []
    loaded = []
    for path in sorted(directory.glob("*.y*ml")):
        partner, data, found = _load_file(path)
        problems += found
        if partner is not None:
            problems += _file_problems(config, path, data, partner)
            loaded.append((path, data, partner))
    problems += _cross_problems(loaded)
    if problems:
        raise ConfigError(problems)
    return PartnerSet({p.id: p for _, _, p in loaded})

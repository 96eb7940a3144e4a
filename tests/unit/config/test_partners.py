"""Partner files: the shipped examples load, and every bad file gets its precise problem."""

import shutil
from pathlib import Path

import pytest

from gateway.config import load_config
from gateway.partners import load_partners
from gateway.problems import ConfigError
from tests.support import REPO

GOOD = """\
id: acme
name: ACME Retail
as2:
  as2_id: ACME
  url: https://as2.acme.example/as2
  certificates: {signing: p.pem, encryption: p.pem}
x12: {isa_qualifier: ZZ, isa_id: ACME, gs_id: ACME}
"""


@pytest.fixture
def home(tmp_path, monkeypatch):
    (tmp_path / "partners").mkdir()
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "p.pem").write_bytes((REPO / "certs/partners/amazon-vc.pem").read_bytes())
    monkeypatch.chdir(tmp_path)
    return tmp_path


def load(home, files: dict[str, str]):
    for name, text in files.items():
        (home / "partners" / name).write_text(text)
    return load_partners(load_config(None, environ={}))


def problems(home, files):
    with pytest.raises(ConfigError) as e:
        load(home, files)
    return [(Path(p.file).name, p.key, p.line, p.message) for p in e.value.problems]


def test_shipped_examples_load(monkeypatch):
    monkeypatch.chdir(REPO)
    partners = load_partners(load_config(None, environ={}))
    assert set(partners.partners) == {"amazon-vc", "customs-broker"}
    assert partners.by_as2_id("BROKER AS2").id == "customs-broker"
    assert partners.by_isa("ZZ", "AMAZON        ").id == "amazon-vc"
    assert partners.by_sftp_user("broker").id == "customs-broker"


def test_good_partner(home):
    assert load(home, {"acme.yaml": GOOD}).partners["acme"].as2.security.encrypt_alg == "aes256-cbc"


CASES = [
    ("unknown key", GOOD + "colour: red\n", [("colour", 8, "unknown key")]),
    ("nested unknown key", GOOD.replace("as2_id: ACME", "as2_id: ACME\n  urll: x"),
     [("as2.urll", 5, "unknown key")]),
    ("missing name", GOOD.replace("name: ACME Retail\n", ""), [("name", None,
                                                                  "required key is missing")]),
    ("id not the file name", GOOD.replace("id: acme", "id: other"),
     [("id", 1, "id 'other' must match the file name 'acme'")]),
    ("bad algorithm", GOOD.replace("as2_id: ACME", "as2_id: ACME\n  security: {sign_alg: md5}"),
     [("as2.security.sign_alg", 5,
       "Input should be 'sha1', 'sha256', 'sha384' or 'sha512'")]),
    ("encrypt without certificate", GOOD.replace("certificates: {signing: p.pem, encryption: p.pem}",
                                                 "certificates: {signing: p.pem}"),
     [("as2", 3, "Value error, security.encrypt needs certificates.encryption")]),
    ("signed MDN without MDN", GOOD.replace("as2_id: ACME", "as2_id: ACME\n  mdn: {mode: none}"),
     [("as2", 3, "Value error, mdn.signed is set but mdn.mode is none")]),
    ("acks with no way back", GOOD.replace("  url: https://as2.acme.example/as2\n", ""),
     [("", None, "Value error, x12.ack 997 needs a way to send it back: as2.url or an sftp "
       "account (or set x12.ack: none)")]),
    ("999 without 5010", GOOD.replace("gs_id: ACME}", "gs_id: ACME, ack: '999'}"),
     [("x12", 7, "Value error, ack 999 is an X12 5010 acknowledgment; versions has no 005010")]),
    ("missing certificate file", GOOD.replace("encryption: p.pem", "encryption: gone.pem"),
     [("as2.certificates.encryption", 6, "certificate file certs/gone.pem does not exist")]),
    ("plaintext SFTP password", GOOD + "sftp: {username: acme, password_hash: hunter2}\n",
     [("sftp", 8, "Value error, password_hash must be a bcrypt or argon2 hash, never a password")]),
    ("SFTP without credentials", GOOD + "sftp: {username: acme}\n",
     [("sftp", 8, "Value error, an SFTP account needs authorized_keys or password_hash")]),
    ("route to nowhere", GOOD + "routes:\n  - to: []\n",
     [("routes[0].to", 9, "List should have at least 1 item after validation, not 0")]),
    ("unknown route target", GOOD + "routes:\n  - to: [printer]\n",
     [("routes[0].to[0]", 9, "Value error, 'printer' is not a route target: use reconcile, "
       "customs, {directory: PATH} or {webhook: URL}")]),
    ("bad directory sink", GOOD + "routes:\n  - to: [{directory: 5, extra: 1}]\n",
     [("routes[0].to[0]", 9, "Value error, {'directory': 5, 'extra': 1} is not a route target: "
       "use reconcile, customs, {directory: PATH} or {webhook: URL}")]),
    ("not a mapping", "- just\n- a list\n", [("", None, "a partner file must be a YAML mapping")]),
    ("broken YAML", "id: acme\nname: [unclosed\n", [("", 3, "not valid YAML: expected ',' or ']', "
                                                     "but got '<stream end>'")]),
]


@pytest.mark.parametrize("text, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_partner_file(home, text, expected):
    found = problems(home, {"acme.yaml": text})
    assert [(k, line, m) for _, k, line, m in found] == expected


def test_duplicates_across_partners_name_both_files(home):
    other = GOOD.replace("id: acme", "id: beta").replace("name: ACME Retail", "name: Beta")
    found = problems(home, {"acme.yaml": GOOD, "beta.yaml": other})
    assert ("acme.yaml", "as2.as2_id", 4, "'ACME' is used by more than one partner "
            "(acme.yaml, beta.yaml)") in found
    assert ("beta.yaml", "x12.isa_id", 7, "'ZZ/ACME' is used by more than one partner "
            "(acme.yaml, beta.yaml)") in found
    assert len(found) == 4


def test_every_file_is_checked_not_just_the_first(home):
    found = problems(home, {"a.yaml": "id: a\n", "b.yaml": "id: b\nname: B\nx: 1\n"})
    assert {(f, k) for f, k, _, _ in found} == {("a.yaml", "name"), ("b.yaml", "x")}


def test_missing_partners_directory(home):
    shutil.rmtree(home / "partners")
    with pytest.raises(ConfigError, match="partners directory does not exist"):
        load_partners(load_config(None, environ={}))

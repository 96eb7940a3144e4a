#!/usr/bin/env bash
# The whole test suite: a virtualenv with the gateway and its dev extras, ruff, then pytest.
# Needs PostgreSQL at 127.0.0.1:5432 (database `test`, trust auth) and OpenSSH (sftp, sshd).
set -euo pipefail
cd "$(dirname "$0")"
python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -e '.[dev,postgres]'
bash tests/interop/install-pyas2lib.sh .venv/bin/python   # the interop tests' partner
.venv/bin/ruff check .
.venv/bin/pytest -q "$@"

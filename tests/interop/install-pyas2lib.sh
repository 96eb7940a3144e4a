#!/usr/bin/env bash
# pyas2lib, the independent AS2 implementation the interop tests trade with, into a virtualenv
# (test environments only), with its oscrypto made to load OpenSSL 3.0.10 and later.
# Usage: tests/interop/install-pyas2lib.sh [PYTHON]   (default: .venv/bin/python)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
python="${1:-$here/../../.venv/bin/python}"
"$python" -m pip install -q --disable-pip-version-check 'pyas2lib>=1.4.4,<1.5'
"$python" "$here/patch_oscrypto.py"

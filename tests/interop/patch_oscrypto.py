"""Make oscrypto 1.3.0 (pyas2lib's pinned dependency) load OpenSSL 3.0.10 and later.

oscrypto 1.3.0 finds the libcrypto version with a pattern that allows one digit per part, so
"OpenSSL 3.0.10" does not match and importing it raises "Error detecting the version of
libcrypto". This rewrites that pattern in the installed module to allow any number of digits.
Nothing is changed when oscrypto already loads OpenSSL (a fixed release); otherwise the
result is checked by loading oscrypto's OpenSSL backend.

Usage: python tests/interop/patch_oscrypto.py   (with the virtualenv's python)
"""

import importlib.util
import subprocess
import sys
from pathlib import Path

ONE_DIGIT = r"'\\b(\\d\\.\\d\\.\\d[a-z]*)\\b'"
ANY_DIGITS = r"'\\b(\\d+\\.\\d+\\.\\d+[a-z]*)\\b'"
MODULES = ("_libcrypto_cffi.py", "_libcrypto_ctypes.py")
CHECK = "import oscrypto.asymmetric, oscrypto._openssl._libcrypto as l; print(l.libcrypto_version)"


def loads() -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True)


def patch(package: Path) -> list[str]:
    """Rewrite the version pattern in oscrypto's OpenSSL loaders; the files it changed."""
    changed = []
    for name in MODULES:
        path = package / "_openssl" / name
        text = path.read_text()
        if ONE_DIGIT not in text:
            raise SystemExit(f"{path}: the libcrypto version pattern of oscrypto 1.3.0 is not "
                             "there; this oscrypto is not the release this patch is for")
        path.write_text(text.replace(ONE_DIGIT, ANY_DIGITS, 1))
        for cached in (path.parent / "__pycache__").glob(f"{path.stem}.*.pyc"):
            cached.unlink()
        changed.append(str(path))
    return changed


def main() -> None:
    spec = importlib.util.find_spec("oscrypto")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"oscrypto is not installed for {sys.executable}")
    loaded = loads()
    if loaded.returncode == 0:
        print(f"oscrypto loads OpenSSL {loaded.stdout.strip()}; nothing to patch")
        return
    changed = patch(Path(spec.submodule_search_locations[0]))
    loaded = loads()
    if loaded.returncode != 0:
        raise SystemExit(f"oscrypto still cannot load OpenSSL:\n{loaded.stderr}")
    for path in changed:
        print(f"patched {path}")
    print(f"oscrypto loads OpenSSL {loaded.stdout.strip()}")


if __name__ == "__main__":
    main()

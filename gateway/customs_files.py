"""The ``[customs]`` files (product master, seller, reference data) as the customs handler and
the ``gateway customs`` commands read them: cached, and re-read whenever a file changes on disk."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from gateway import customs
from gateway.worker import PermanentError


@lru_cache(maxsize=8)
def products(path: Path, mtime_ns: int) -> dict:
    return customs.load_products(path)


@lru_cache(maxsize=8)
def seller(path: Path, mtime_ns: int) -> dict:
    return YAML(typ="safe").load(path.read_text(encoding="utf-8")) or {}


@lru_cache(maxsize=4)
def data(path: Path | None) -> customs.CustomsData:
    return customs.load_data(path) if path else customs.default_data()


def fresh(loader, path: Path | None, what: str):
    """The file's content, re-read whenever it changes on disk (the seller edits it live)."""
    if path is None:
        raise PermanentError(f"customs.{what} is not set in gateway.toml")
    try:
        return loader(path, path.stat().st_mtime_ns)
    except FileNotFoundError:
        raise PermanentError(f"customs.{what} file {path} does not exist") from None
    except UnicodeDecodeError as e:
        raise PermanentError(f"customs.{what} file {path} is not UTF-8 (byte {e.start})") \
            from None
    except YAMLError as e:
        # Never the parser's own text: it quotes the line, and the seller file holds addresses.
        mark = getattr(e, "problem_mark", None)
        raise PermanentError(f"customs.{what} file {path} is not valid YAML"
                             f"{f' (line {mark.line + 1})' if mark else ''}") from None

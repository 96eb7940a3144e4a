"""Reference data under mapping/customs/: rules, word lists, code tables and exchange rates."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from ruamel.yaml import YAML

from gateway.customs.rates import RateTable

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "mapping" / "customs"


@dataclass(frozen=True)
class CustomsData:
    rules: dict  # regime -> list of rule definitions (id, severity, message, check, params)
    settings: dict  # regime -> limits and dates the checks and filings share
    vague_terms: tuple[str, ...]
    no_postcode: frozenset[str]  # ISO alpha-2 countries without postal codes
    cn: dict  # China Customs code tables, see cn_codes.yaml
    rates: RateTable


def _yaml(path: Path):
    return YAML(typ="safe").load(path.read_text(encoding="utf-8"))


def load_data(directory: str | Path = DEFAULT_DIR) -> CustomsData:
    directory = Path(directory)
    words = _yaml(directory / "vague_terms.yaml")
    rules = _yaml(directory / "rules.yaml")
    return CustomsData(
        rules={k: v for k, v in rules.items() if k != "settings"},
        settings=rules["settings"],
        vague_terms=tuple(str(t).lower() for t in words["terms"]),
        no_postcode=frozenset(_yaml(directory / "no_postcode.yaml")["countries"]),
        cn=_yaml(directory / "cn_codes.yaml"),
        rates=RateTable.from_csv((directory / "exchange_rates.csv").read_text(encoding="utf-8")),
    )


@functools.cache
def default_data() -> CustomsData:
    return load_data()

"""Fixtures for the customs library: the example shipment, product master and identities."""

import copy

import pytest
from lxml import etree
from ruamel.yaml import YAML

from gateway.customs import load_consignment, load_identities, load_products
from tests.unit.customs.customs_support import DATA, EXAMPLE, SHARED


@pytest.fixture(scope="session")
def products():
    return load_products(DATA / "products.csv")


@pytest.fixture(scope="session")
def identities():
    return load_identities(YAML(typ="safe").load((DATA / "identities.yaml").read_text("utf-8")))


@pytest.fixture
def doc():
    """A fresh copy of the example shipment (EU import, DDP with IOSS) to mutate."""
    return copy.deepcopy(EXAMPLE)


@pytest.fixture
def make(products, identities):
    def build(document, ids=None, master=None):
        return load_consignment(document, master or products, ids or identities)

    return build


@pytest.fixture(scope="session")
def export_schema():
    return etree.XMLSchema(etree.parse(str(SHARED / "xsd" / "ceb-export-business-202205.xsd")))

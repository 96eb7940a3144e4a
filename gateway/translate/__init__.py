"""The map engine: X12 transaction sets to internal JSON documents through declarative maps
(mapping/x12/<version>/<profile>/maps/*.yaml, format in mapping/x12/MAPS.md) and back."""

from .errors import RenderError, TranslationError
from .inbound import translate
from .maps import Map, MapError, find_map, load_map
from .outbound import render
from .schemas import DocumentError, validate_document

__all__ = [
    "DocumentError",
    "Map",
    "MapError",
    "RenderError",
    "TranslationError",
    "find_map",
    "load_map",
    "render",
    "translate",
    "validate_document",
]

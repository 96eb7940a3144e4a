"""The internal JSON document schemas (mapping/schemas/*.schema.json), loaded once, and checks
of documents against them."""

import datetime as dt
import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path

# The Rust validator answers valid-or-not some fifty times faster: translation is on the hot
# path. jsonschema stays the reference, and explains any document the fast check refuses.
import jsonschema_rs
from jsonschema import Draft202012Validator, FormatChecker, ValidationError

SCHEMAS = Path(__file__).resolve().parents[2] / "mapping" / "schemas"


def date_or_datetime(text) -> bool:
    """The schemas' own format: an ISO date, or an ISO date-time."""
    if not isinstance(text, str):
        return True
    try:
        (dt.date if len(text) == 10 else dt.datetime).fromisoformat(text)
    except ValueError:
        return False
    return True


FORMATS = FormatChecker()
FORMATS.checks("date-or-date-time")(date_or_datetime)


class DocumentError(ValueError):
    """A document that does not match its schema; names the JSON path."""

    def __init__(self, doc_type: str, path: str, message: str):
        super().__init__(f"{doc_type} document, {path or 'top level'}: {message}")
        self.doc_type = doc_type
        self.path = path


@cache
def _schema(name: str) -> dict:
    return json.loads((SCHEMAS / name).read_text())


def _inline(node, name: str):
    """`node` with every $ref replaced by what it points to. The schemas are not recursive, and
    validating without references is several times faster (lookups dominate otherwise); a $ref
    beside other keywords becomes an allOf, which unevaluatedProperties sees through."""
    if isinstance(node, list):
        return [_inline(item, name) for item in node]
    if not isinstance(node, dict):
        return node
    out = {k: _inline(v, name) for k, v in node.items() if k != "$ref"}
    if "$ref" not in node:
        return out
    target_file, _, pointer = node["$ref"].partition("#")
    target_file = target_file or name
    target = _schema(target_file)
    for part in filter(None, pointer.split("/")):
        target = target[part]
    resolved = _inline(target, target_file)
    return {**out, "allOf": [resolved]} if out else resolved


@cache
def validator(doc_type: str) -> Draft202012Validator:
    """The validator of one document type, e.g. "invoice" for invoice.schema.json."""
    name = f"{doc_type}.schema.json"
    if not (SCHEMAS / name).exists():
        raise KeyError(f"no schema {name}")
    return Draft202012Validator(_inline(_schema(name), name), format_checker=FORMATS)


@cache
def _fast(doc_type: str):
    return jsonschema_rs.validator_for(validator(doc_type).schema, validate_formats=True,
                                       formats={"date-or-date-time": date_or_datetime})


def is_valid(doc: dict, doc_type: str) -> bool:
    return _fast(doc_type).is_valid(doc)


def document_errors(doc: dict, doc_type: str) -> Iterator[ValidationError]:
    return validator(doc_type).iter_errors(doc)


def first_error(doc: dict, doc_type: str) -> ValidationError | None:
    """The error that best explains why `doc` breaks its schema, or None."""
    if is_valid(doc, doc_type):
        return None
    echo = None
    for error in document_errors(doc, doc_type):
        # Unevaluated properties are mostly the echo of another error (a subschema that failed
        # evaluates nothing): reported only when there is nothing else.
        if error.validator != "unevaluatedProperties":
            return error
        echo = echo or error
    return echo


def json_path(path) -> str:
    return "/".join(str(p) for p in path)


def describe(error: ValidationError) -> str:
    """A short message: alternatives (anyOf) are explained by their schema's description
    rather than by echoing the whole instance."""
    if error.validator in ("anyOf", "oneOf") and error.schema.get("description"):
        return f"not {error.schema['description']}"
    if error.validator == "required":
        missing = [name for name in error.validator_value if name not in error.instance]
        return f"required {missing[0]!r} missing"
    return error.message if len(error.message) <= 200 else error.message[:200] + "..."


def validate_document(doc: dict, doc_type: str) -> None:
    """Raise DocumentError, naming the JSON path, when `doc` breaks its schema."""
    error = first_error(doc, doc_type)
    if error is not None:
        raise DocumentError(doc_type, json_path(error.absolute_path), describe(error))

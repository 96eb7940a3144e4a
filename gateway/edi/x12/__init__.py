"""X12 engine: streaming reader, envelope checks, writer, 997/999/TA1 and guide validation."""

from .acks import functional_ack, needs_ta1, reply_gs, reply_isa, ta1
from .delimiters import Delimiters
from .envelope import (
    FunctionalGroup,
    GroupEnd,
    Interchange,
    InterchangeEnd,
    TransactionSet,
    load,
    read_units,
)
from .errors import Problem, X12Error
from .guide import Guide, GuideError, find_guide, load_guide
from .reader import Segment, SegmentReader, read_segments
from .validate import Validator, validate
from .writer import format_segment, gs, interchange, isa, transaction_set, write_segments

__all__ = [
    "Delimiters",
    "FunctionalGroup",
    "GroupEnd",
    "Guide",
    "GuideError",
    "Interchange",
    "InterchangeEnd",
    "Problem",
    "Segment",
    "SegmentReader",
    "TransactionSet",
    "Validator",
    "X12Error",
    "find_guide",
    "format_segment",
    "functional_ack",
    "gs",
    "interchange",
    "isa",
    "load",
    "load_guide",
    "needs_ta1",
    "read_segments",
    "read_units",
    "reply_gs",
    "reply_isa",
    "ta1",
    "transaction_set",
    "validate",
    "write_segments",
]

"""Shared helpers for the X12 tests: the corpus location and small interchanges built in code."""

import io
from pathlib import Path

from gateway.edi.x12 import load

CORPUS = Path(__file__).parents[3] / ".." / "shared" / "corpus" / "x12"
CORPUS_FILES = sorted(CORPUS.glob("*.x12"))

ISA = ("ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       "
       "*240101*1200*U*00401*000000101*0*P*>~")


def interchange(*sets: str, isa: str = ISA, gs_control: str = "7", ge: str | None = None,
                iea: str | None = None) -> bytes:
    """A one-group interchange around transaction sets given as '~'-terminated text."""
    ge = ge if ge is not None else f"GE*{len(sets)}*{gs_control}~"
    iea = iea if iea is not None else "IEA*1*000000101~"
    text = (isa + f"GS*PO*SENDER*RECEIVER*20240101*1200*{gs_control}*X*004010~"
            + "".join(sets) + ge + iea)
    return text.encode()


def parse(data: bytes):
    return load(io.BytesIO(data))


def po(control: str = "0001", body: str = "BEG*00*SA*PO1**20240101~", count: int | None = None,
       se_control: str | None = None) -> str:
    """An 850 transaction set; count defaults to the right SE01."""
    n = 2 + body.count("~")
    return (f"ST*850*{control}~{body}SE*{count if count is not None else n}*"
            f"{se_control or control}~")

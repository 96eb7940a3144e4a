"""Helpers of the translation tests: the corpus, and transaction sets written and read back."""

import io
from pathlib import Path

from gateway.edi.x12 import Delimiters, TransactionSet, load
from gateway.edi.x12.writer import gs, interchange, isa

CORPUS = Path(__file__).resolve().parents[3].parent / "shared" / "corpus" / "x12"
MAPPED = ("850", "855", "856", "810", "820")
FUNCTIONAL_IDS = {"850": "PO", "855": "PR", "856": "SH", "810": "IN", "820": "RA"}
DELIMITERS = Delimiters("*", ">", "~")


def corpus_sets(name: str) -> list[TransactionSet]:
    """The mapped transaction sets of one corpus file, in order."""
    with (CORPUS / name).open("rb") as fh:
        return [ts for ic in load(fh) for group in ic.groups for ts in group.sets
                if ts.id in MAPPED]


def x12(segments: list[list], set_id: str) -> bytes:
    """One interchange around a rendered transaction set."""
    text = interchange(isa(("ZZ", "VENDOR"), ("ZZ", "AMAZON"), 1, DELIMITERS),
                       [(gs(FUNCTIONAL_IDS[set_id], "VENDOR", "AMAZON", 1), [segments])],
                       DELIMITERS)
    return text.encode()


def read_back(data: bytes) -> TransactionSet:
    (ic,) = load(io.BytesIO(data))
    (ts,) = ic.groups[0].sets
    return ts


def one_set(set_id: str, body: list[str], control: str = "0001") -> TransactionSet:
    """A transaction set around body segments given as '*'-separated text."""
    segments = [f"ST*{set_id}*{control}", *body, f"SE*{len(body) + 2}*{control}"]
    text = ("ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       "
            "*240101*1200*U*00401*000000101*0*P*>~"
            f"GS*{FUNCTIONAL_IDS[set_id]}*SENDER*RECEIVER*20240101*1200*7*X*004010~"
            + "~".join(segments) + "~GE*1*7~IEA*1*000000101~")
    return read_back(text.encode())


def content(doc: dict) -> dict:
    """A document without its envelope: what the map made of the set."""
    return {k: v for k, v in doc.items() if k != "envelope"}

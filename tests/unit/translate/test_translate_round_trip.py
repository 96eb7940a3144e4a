"""Round trip over the corpus: every 850/855/856/810/820 set that translates becomes X12 again
through the same map (both directions) and reads back into the same document.

The corpus's 855s (855-004010UCS-01.x12) acknowledge lines without the ACK segments the
po_acknowledgment document needs, and its 856s carry 22-digit SSCCs: both are refused with their
position, and documents of those two sets go round in test_translate_outbound."""

import pytest

from gateway.translate import TranslationError, render, translate
from gateway.translate.maps import find_map
from tests.unit.translate.support import CORPUS, MAPPED, content, corpus_sets, read_back, x12

FILES = sorted(p.name for p in CORPUS.glob("*.x12") if corpus_sets(p.name))


def documents(profile: str):
    """(file, set, map, document) for every corpus set the profile's map translates."""
    for name in FILES:
        for ts in corpus_sets(name):
            m = find_map(ts.id, profile=profile)
            try:
                yield name, ts, m, translate(ts, m)
            except TranslationError:
                continue   # refused with its position: test_translate_corpus covers those


@pytest.mark.parametrize("profile", ["amazon-vc", "generic"])
def test_json_x12_json_is_identity(profile):
    seen = set()
    for name, ts, m, doc in documents(profile):
        rendered = read_back(x12(render(doc, m, 1), ts.id))
        again = translate(rendered, m)
        assert content(again) == content(doc), f"{name}: {ts.id} {ts.control_number}"
        seen.add(ts.id)
    assert seen == set(MAPPED) - {"855", "856"}   # every other mapped set took part

"""RSASSA-PSS signatures whose AlgorithmIdentifier has no parameters: read as the RFC 4055
defaults (SHA-1, MGF1 with SHA-1, 20-byte salt), verified under them, refused by name if not."""

import pytest
from asn1crypto import algos, core
from asn1crypto import cms as acms

from gateway.as2 import AuthenticationFailed, cms

DATA = b"Content-Type: application/edi-x12\r\n\r\nISA*00*          *00*~GS*PO~\r\n"


def without_pss_parameters(der: bytes) -> bytes:
    """A SignedData as some products write it: ``rsassa_pss`` with its parameters left out,
    the signature value and everything else unchanged."""
    info = acms.ContentInfo.load(der)
    signer = info["content"]["signer_infos"][0]
    assert signer["signature_algorithm"]["parameters"]["salt_length"].native > 0
    signer["signature_algorithm"] = algos.SignedDigestAlgorithm({"algorithm": "rsassa_pss"})
    stripped = info.dump(force=True)
    params = acms.ContentInfo.load(stripped)["content"]["signer_infos"][0][
        "signature_algorithm"]["parameters"]
    assert isinstance(params, core.Void)
    return stripped


def test_absent_parameters_verify_a_sha1_default_signature(ours):
    # SHA-1, MGF1-SHA-1 and a 20-byte salt are exactly the defaults, so dropping the
    # parameters leaves a signature that verifies under them.
    signature = without_pss_parameters(cms.sign(DATA, ours.key, ours.cert, "sha1", "pss"))
    assert cms.verify(DATA, signature, [ours.cert]) == "sha1"


@pytest.mark.parametrize("alg", ["sha256", "sha384"])
def test_absent_parameters_on_a_signature_made_otherwise_are_refused_by_name(ours, alg):
    signature = without_pss_parameters(cms.sign(DATA, ours.key, ours.cert, alg, "pss"))
    with pytest.raises(AuthenticationFailed) as raised:
        cms.verify(DATA, signature, [ours.cert])
    assert "RSASSA-PSS signature with default (SHA-1) parameters does not verify" in str(raised.value)
    assert "the signer may have omitted its parameters" in str(raised.value)
    assert "malformed" not in str(raised.value)


def test_absent_parameters_do_not_excuse_altered_content(ours):
    signature = without_pss_parameters(cms.sign(DATA, ours.key, ours.cert, "sha1", "pss"))
    with pytest.raises(AuthenticationFailed, match="messageDigest"):
        cms.verify(DATA.replace(b"PO", b"IN"), signature, [ours.cert])


def test_explicit_parameters_that_fail_keep_the_plain_reason(ours):
    signature = bytearray(cms.sign(DATA, ours.key, ours.cert, "sha256", "pss"))
    signature[-5] ^= 0x01
    with pytest.raises(AuthenticationFailed, match="signature does not verify") as raised:
        cms.verify(DATA, bytes(signature), [ours.cert])
    assert "default" not in str(raised.value)


def test_unsupported_mask_generation_function_is_refused(ours):
    info = acms.ContentInfo.load(cms.sign(DATA, ours.key, ours.cert, "sha256", "pss"))
    algorithm = info["content"]["signer_infos"][0]["signature_algorithm"]
    params = algorithm["parameters"]
    algorithm["parameters"] = algos.RSASSAPSSParams({
        "hash_algorithm": params["hash_algorithm"],
        "mask_gen_algorithm": {"algorithm": "1.2.3.4",
                               "parameters": algos.DigestAlgorithm({"algorithm": "sha256"})},
        "salt_length": params["salt_length"],
    })
    with pytest.raises(AuthenticationFailed, match="mask generation function 1.2.3.4"):
        cms.verify(DATA, info.dump(force=True), [ours.cert])
